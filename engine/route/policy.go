package route

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"tollgate/engine"
)

// Defaults of a Route's zero fields, applied by ApplyDefaults and nowhere
// else.
const (
	// DefaultReference is the service time a route's cost is priced at.
	DefaultReference = 100 * time.Millisecond
	// MaxCost bounds a route's base cost in tokens.
	MaxCost = 1_000_000
)

// DefaultMethods are a route's methods when none are given.
var DefaultMethods = []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"}

// KnownMethods are the HTTP methods a route or a tier's per-method limit may
// name.
var KnownMethods = []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "CONNECT", "TRACE"}

// Route is the policy side of an API route, as gatewayd configs and
// scenario files both write it: which requests it matches (Prefix, Methods),
// what they cost (Cost, priced at Reference) and whether they are
// operational (health and metrics, charged to the tier's operational bucket
// instead of its budget).
type Route struct {
	// Name labels the route in metrics, headers, the ledger and summaries
	// (default: the prefix).
	Name string `yaml:"name"`
	// Prefix is the path prefix, starting with "/"; the longest matching
	// prefix wins (default: the name, when the name starts with "/").
	Prefix string `yaml:"prefix"`
	// Methods allowed, upper case (default DefaultMethods).
	Methods []string `yaml:"methods"`
	// Cost is the route's base cost in tokens (default: pricing.default_cost).
	Cost float64 `yaml:"cost"`
	// Reference is the service time Cost is priced at; with dynamic pricing,
	// observed latency above it raises the cost (default DefaultReference).
	Reference engine.Duration `yaml:"reference"`
	// Operational routes (health, metrics) use the tier's operational bucket.
	Operational bool `yaml:"operational"`
}

// ApplyDefaults fills the zero fields; defaultCost is pricing.default_cost.
func (r *Route) ApplyDefaults(defaultCost float64) {
	if r.Prefix == "" && strings.HasPrefix(r.Name, "/") {
		r.Prefix = r.Name
	}
	if r.Name == "" {
		r.Name = r.Prefix
	}
	if len(r.Methods) == 0 {
		r.Methods = append([]string(nil), DefaultMethods...)
	}
	for i, m := range r.Methods {
		r.Methods[i] = strings.ToUpper(m)
	}
	if r.Cost == 0 {
		r.Cost = defaultCost
	}
	if r.Reference == 0 {
		r.Reference = engine.Duration(DefaultReference)
	}
}

// ValidName reports whether s can name a tier or a route: usable in a
// header's quoted string and a metric label.
func ValidName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	return !strings.ContainsAny(s, " \t\r\n\",;{}:\\=")
}

// KnownMethod reports whether m (upper case) is one of KnownMethods.
func KnownMethod(m string) bool {
	for _, k := range KnownMethods {
		if k == m {
			return true
		}
	}
	return false
}

// Validate checks a defaulted route and returns every problem at once, each
// prefixed with path (e.g. "routes[2]") and naming the value.
func (r Route) Validate(path string) error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s.%s: %s", path, field, fmt.Sprintf(format, args...)))
	}
	if !strings.HasPrefix(r.Prefix, "/") {
		bad("prefix", "must start with /, got %q", r.Prefix)
	}
	if !ValidName(r.Name) {
		bad("name", "must be 1 to 64 characters without spaces, quotes, commas, semicolons, colons, braces or '=', got %q", r.Name)
	}
	for j, m := range r.Methods {
		if !KnownMethod(m) {
			bad(fmt.Sprintf("methods[%d]", j), "unknown method %q (known: %s)", m, strings.Join(KnownMethods, ", "))
		}
	}
	if math.IsNaN(r.Cost) || r.Cost < 0 || r.Cost > MaxCost {
		bad("cost", "must be in [0, %d], got %v", MaxCost, r.Cost)
	} else if _, err := engine.ParseCost(r.Cost); err != nil {
		bad("cost", "%v", err)
	}
	if r.Reference <= 0 {
		bad("reference", "must be > 0, got %v", r.Reference)
	}
	return errors.Join(errs...)
}

// Allows reports whether the route allows method m (upper case).
func (r Route) Allows(m string) bool {
	for _, x := range r.Methods {
		if x == m {
			return true
		}
	}
	return false
}
