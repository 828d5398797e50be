// Package tier compiles a customer tier (burst, sustained rate, calendar
// quotas, per-method limits, a concurrency cap and an operational bucket) into
// the engine plans a request is checked against.
//
// Policy names, which are also the names in RateLimit headers and the suffix of
// the per-key state:
//
//	"<tier>"             main budget: Algorithm (default token-bucket) with Burst as capacity, Rate per Period
//	"<tier>-hour"        fixed-window quota over the UTC hour   (if Quotas.Hour > 0)
//	"<tier>-day"         fixed-window quota over the UTC day    (if Quotas.Day > 0)
//	"<tier>-month"       fixed-window quota over the UTC month  (if Quotas.Month > 0)
//	"<tier>-<method>"    token bucket per HTTP method, method lowercased (Methods); HEAD shares GET's unless named
//	"<tier>-concurrency" in-flight limit (if Concurrency > 0); release it after the response
//	"<tier>-ops"         operational bucket for health and metrics routes, used instead of the main budget
//
// Example:
//
//	c, err := tier.Compile(tier.Tier{Name: "basic", Burst: 20, Rate: 10, Period: engine.Duration(time.Second),
//		Quotas: tier.Quotas{Day: 100_000}, Methods: map[string]tier.Rate{"POST": {Burst: 5, Rate: 1}}})
//	plan := c.Plan("POST") // basic, basic-day, basic-post
package tier

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"tollgate/engine"
)

// Default operational bucket, used when Tier.Operational is zero: enough for a
// load balancer's health checks and a scraper, never the customer's budget.
const (
	DefaultOperationalBurst = 20
	DefaultOperationalRate  = 10
)

// Rate is a token bucket: Burst tokens of capacity refilled at Rate tokens per
// Period (0 means one second).
type Rate struct {
	Burst  float64         `yaml:"burst"`
	Rate   float64         `yaml:"rate"`
	Period engine.Duration `yaml:"period"`
}

// Quotas are long-window limits in tokens, aligned to the UTC calendar. Zero
// means no quota for that window.
type Quotas struct {
	Hour  float64 `yaml:"hour"`
	Day   float64 `yaml:"day"`
	Month float64 `yaml:"month"`
}

// Tier is a customer tier as gatewayd configs and scenario files both write
// it (the yaml tags are the one spelling of the policy vocabulary). Compile
// validates it; the zero values of Algorithm, Period, RefillCap and
// Operational mean the defaults documented on each field, applied by Compile
// and nowhere else.
type Tier struct {
	// Name names the tier and prefixes its policies; it must be a valid engine
	// policy name (no spaces, quotes, commas, semicolons, colons, braces, '=').
	Name string `yaml:"name"`
	// Algorithm of the main budget; "" means token-bucket.
	Algorithm engine.Algorithm `yaml:"algorithm"`
	// Burst is the main budget's capacity in tokens (the limit per window for
	// the window algorithms). Must be > 0.
	Burst float64 `yaml:"burst"`
	// Rate is the main budget's refill in tokens per Period (bucket family).
	Rate float64 `yaml:"rate"`
	// Period is the rate's period (bucket family; 0 means 1s) or the window
	// length (fixed-window, sliding-window).
	Period engine.Duration `yaml:"period"`
	// RefillCap is ptb-cwd's refill ceiling as a fraction of Burst; 0 means
	// engine.DefaultRefillCap.
	RefillCap float64 `yaml:"refill_cap"`
	// Quotas are the hour/day/month quotas.
	Quotas Quotas `yaml:"quotas"`
	// Methods are extra per-method token buckets, keyed by HTTP method (any
	// case; "GET" and "get" are the same method).
	Methods map[string]Rate `yaml:"methods"`
	// Operational is the bucket health and metrics routes use instead of the
	// main budget; zero means DefaultOperationalBurst and DefaultOperationalRate
	// per second.
	Operational Rate `yaml:"operational"`
	// Concurrency caps the tokens in flight; 0 means no cap.
	Concurrency float64 `yaml:"concurrency"`
	// FailOpen admits requests (counted as unmetered) when the store fails;
	// false refuses them.
	FailOpen bool `yaml:"fail_open"`
}

// MainPeriod returns the main budget's period with its default applied.
func (t Tier) MainPeriod() time.Duration {
	if t.Period == 0 {
		return time.Second
	}
	return t.Period.D()
}

// MainAlgorithm returns the main budget's algorithm with its default applied.
func (t Tier) MainAlgorithm() engine.Algorithm { return t.algorithm() }

// Compiled is a validated tier with its plans built once. It is immutable and
// safe for concurrent use.
type Compiled struct {
	tier    Tier
	base    *engine.Plan
	methods map[string]*engine.Plan // keyed by upper-case method
	ops     *engine.Plan
}

// FieldError is one validation problem: the field's path and what is wrong
// with its value. It wraps engine.ErrInvalid.
type FieldError struct {
	Path string
	Msg  string
}

func (e *FieldError) Error() string { return e.Path + ": " + e.Msg }

// Unwrap returns engine.ErrInvalid.
func (e *FieldError) Unwrap() error { return engine.ErrInvalid }

type checker struct {
	prefix string
	errs   []error
}

func (c *checker) bad(field, format string, args ...any) {
	c.errs = append(c.errs, &FieldError{Path: c.prefix + field, Msg: fmt.Sprintf(format, args...)})
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// positive checks a required capacity or rate: finite and > 0.
func (c *checker) positive(field string, v float64) {
	if !finite(v) || v <= 0 {
		c.bad(field, "must be > 0, got %v", v)
	}
}

// optional checks a value where 0 means "none" or "default".
func (c *checker) optional(field string, v float64) {
	if !finite(v) || v < 0 {
		c.bad(field, "must be >= 0, got %v", v)
	}
}

func (c *checker) period(field string, d engine.Duration) {
	if d < 0 {
		c.bad(field, "must be >= 0, got %v", d)
	}
}

func (c *checker) rate(field string, r Rate) {
	c.positive(field+".burst", r.Burst)
	c.positive(field+".rate", r.Rate)
	c.period(field+".period", r.Period)
}

// validMethod reports whether m is an HTTP method token made of letters.
func validMethod(m string) bool {
	if m == "" || len(m) > 32 {
		return false
	}
	for _, r := range m {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return false
		}
	}
	return true
}

// Path returns the tier's field path prefix in errors: "tiers.<name>".
func (t Tier) Path() string {
	if t.Name == "" {
		return "tiers.(unnamed)"
	}
	return "tiers." + t.Name
}

// Validate returns every problem with the tier at once (errors.Join), each a
// *FieldError naming the field and value, e.g.
// "tiers.basic.burst: must be > 0, got -5".
func (t Tier) Validate() error { return t.ValidateAt(t.Path()) }

// ValidateAt is Validate with the fields named under path (e.g. "tiers[2]",
// as a config file's reader knows the tier).
func (t Tier) ValidateAt(path string) error {
	c := &checker{prefix: path + "."}
	if t.Name == "" {
		c.bad("name", "must not be empty")
	} else if strings.ContainsAny(t.Name, " \t\r\n\",;{}:\\=") || len(t.Name) > 40 {
		c.bad("name", "must be at most 40 characters without spaces, quotes, commas, semicolons, colons, braces or '=', got %q", t.Name)
	}
	alg := t.algorithm()
	if _, err := engine.ParseAlgorithm(string(alg)); err != nil {
		c.bad("algorithm", "unknown %q (known: %v)", t.Algorithm, engine.Algorithms())
	} else if alg == engine.Concurrency {
		c.bad("algorithm", "the main budget cannot be %q (use concurrency), got %q", engine.Concurrency, t.Algorithm)
	}
	c.positive("burst", t.Burst)
	switch alg {
	case engine.TokenBucket, engine.GCRA, engine.PTBCWD:
		c.positive("rate", t.Rate)
	default:
		c.optional("rate", t.Rate)
	}
	c.period("period", t.Period)
	if !finite(t.RefillCap) || t.RefillCap < 0 || t.RefillCap > 1 {
		c.bad("refill_cap", "must be in (0, 1] (0 for the default %v), got %v", engine.DefaultRefillCap, t.RefillCap)
	} else if t.RefillCap != 0 && alg != engine.PTBCWD {
		c.bad("refill_cap", "only applies to %s, got %v with algorithm %q", engine.PTBCWD, t.RefillCap, alg)
	}
	c.optional("quotas.hour", t.Quotas.Hour)
	c.optional("quotas.day", t.Quotas.Day)
	c.optional("quotas.month", t.Quotas.Month)
	seen := map[string]string{}
	for _, m := range sortedMethods(t.Methods) {
		field := "methods." + m
		if !validMethod(m) {
			c.bad(field, "method must be 1 to 32 letters, got %q", m)
			continue
		}
		up := strings.ToUpper(m)
		if prev, dup := seen[up]; dup {
			c.bad(field, "duplicate of method %q", prev)
			continue
		}
		seen[up] = m
		c.rate(field, t.Methods[m])
	}
	if t.Operational != (Rate{}) {
		c.rate("operational", t.Operational)
	}
	c.optional("concurrency", t.Concurrency)
	return errors.Join(c.errs...)
}

func (t Tier) algorithm() engine.Algorithm {
	if t.Algorithm == "" {
		return engine.TokenBucket
	}
	return t.Algorithm
}

func sortedMethods(m map[string]Rate) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Compile validates the tier and builds its plans. Errors name the field and
// the value and are all reported at once.
func Compile(t Tier) (*Compiled, error) {
	if err := t.Validate(); err != nil {
		return nil, err
	}
	c := &checker{prefix: t.Path() + "."}
	compile := func(field string, l engine.Limit) *engine.Policy {
		p, err := engine.Compile(l)
		if err != nil {
			c.errs = append(c.errs, fmt.Errorf("%s%s: %w", c.prefix, field, err))
		}
		return p
	}
	main := compile("burst", engine.Limit{Name: t.Name, Algorithm: t.algorithm(), Capacity: t.Burst,
		Rate: t.Rate, Period: t.MainPeriod(), RefillCap: t.RefillCap})
	var quotas []*engine.Policy
	for _, q := range []struct {
		field string
		v     float64
		cal   engine.Calendar
	}{{"quotas.hour", t.Quotas.Hour, engine.CalendarHour}, {"quotas.day", t.Quotas.Day, engine.CalendarDay},
		{"quotas.month", t.Quotas.Month, engine.CalendarMonth}} {
		if q.v > 0 {
			quotas = append(quotas, compile(q.field, engine.Limit{Name: t.Name + "-" + string(q.cal),
				Algorithm: engine.FixedWindow, Capacity: q.v, Calendar: q.cal}))
		}
	}
	var conc *engine.Policy
	if t.Concurrency > 0 {
		conc = compile("concurrency", engine.Limit{Name: t.Name + "-concurrency", Algorithm: engine.Concurrency,
			Capacity: t.Concurrency})
	}
	ops := t.Operational
	if ops == (Rate{}) {
		ops = Rate{Burst: DefaultOperationalBurst, Rate: DefaultOperationalRate, Period: engine.Duration(time.Second)}
	}
	opsPol := compile("operational", engine.Limit{Name: t.Name + "-ops", Algorithm: engine.TokenBucket,
		Capacity: ops.Burst, Rate: ops.Rate, Period: ops.Period.D()})
	build := func(extra *engine.Policy) *engine.Plan {
		ps := append([]*engine.Policy{main}, quotas...)
		if extra != nil {
			ps = append(ps, extra)
		}
		if conc != nil {
			ps = append(ps, conc)
		}
		return engine.NewPlan(ps...)
	}
	out := &Compiled{tier: t, methods: make(map[string]*engine.Plan, len(t.Methods)), ops: engine.NewPlan(opsPol)}
	out.base = build(nil)
	names := map[string]string{}
	for _, m := range sortedMethods(t.Methods) {
		r := t.Methods[m]
		name := t.Name + "-" + strings.ToLower(m)
		names[name] = "methods." + m
		out.methods[strings.ToUpper(m)] = build(compile("methods."+m, engine.Limit{Name: name,
			Algorithm: engine.TokenBucket, Capacity: r.Burst, Rate: r.Rate, Period: r.Period.D()}))
	}
	// HEAD is GET without the body (RFC 9110 9.3.2): it counts against the
	// GET limit, on the same state, unless the tier names HEAD itself.
	if get, ok := out.methods["GET"]; ok {
		if _, own := out.methods["HEAD"]; !own {
			out.methods["HEAD"] = get
		}
	}
	// A method named like a built-in suffix would share its state.
	for _, reserved := range []string{"hour", "day", "month", "concurrency", "ops"} {
		if f, ok := names[t.Name+"-"+reserved]; ok {
			c.bad(f, "method name clashes with the %q policy %q", reserved, t.Name+"-"+reserved)
		}
	}
	if len(c.errs) > 0 {
		return nil, errors.Join(c.errs...)
	}
	for m, pl := range out.methods {
		if err := pl.Validate(); err != nil {
			return nil, fmt.Errorf("%smethods.%s: %w", c.prefix, m, err)
		}
	}
	if err := out.base.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", t.Path(), err)
	}
	return out, nil
}

// CompileAll compiles several tiers, reporting every problem at once, and
// rejects duplicate names. The result is keyed by tier name.
func CompileAll(ts []Tier) (map[string]*Compiled, error) {
	out := make(map[string]*Compiled, len(ts))
	var errs []error
	for i, t := range ts {
		if _, dup := out[t.Name]; dup && t.Name != "" {
			errs = append(errs, &FieldError{Path: fmt.Sprintf("tiers[%d].name", i), Msg: fmt.Sprintf("duplicate tier %q", t.Name)})
			continue
		}
		c, err := Compile(t)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out[t.Name] = c
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return out, nil
}

// Plan returns the plan for a request with the given HTTP method (any case):
// the main budget, the quotas, the method's limit if the tier has one, and the
// concurrency cap. HEAD gets GET's plan unless the tier has a HEAD limit of
// its own. The plan is built once; the same pointer is returned on
// every call.
func (c *Compiled) Plan(method string) *engine.Plan {
	if pl, ok := c.methods[method]; ok {
		return pl
	}
	if len(c.methods) > 0 {
		if pl, ok := c.methods[strings.ToUpper(method)]; ok {
			return pl
		}
	}
	return c.base
}

// OperationalPlan returns the plan health and metrics routes use instead of
// the main budget: the "<tier>-ops" bucket alone.
func (c *Compiled) OperationalPlan() *engine.Plan { return c.ops }

// Tier returns the tier the plans were compiled from.
func (c *Compiled) Tier() Tier { return c.tier }

// ConcurrencyPolicy returns the name of the tier's concurrency policy, or ""
// if the tier has no concurrency cap; a request admitted under it must be
// released with an engine.Release op of the same cost.
func (c *Compiled) ConcurrencyPolicy() string {
	if c.tier.Concurrency > 0 {
		return c.tier.Name + "-concurrency"
	}
	return ""
}
