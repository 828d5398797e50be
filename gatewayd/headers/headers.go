// Package headers writes the rate-limit response headers in the IETF httpapi
// draft's structured-field form (draft-ietf-httpapi-ratelimit-headers-10,
// https://datatracker.ietf.org/doc/draft-ietf-httpapi-ratelimit-headers/) and Retry-After (RFC 9110 10.2.3), and
// parses them back for clients and tests.
//
//	RateLimit-Policy: "basic";q=10;w=10
//	RateLimit: "basic";r=3;t=1
//	Retry-After: 1
//
// q is the policy's capacity in whole tokens and w its window in seconds
// (engine.Policy.WindowSeconds: the time a bucket takes to refill its
// capacity, or the window); r is the whole tokens remaining and t the seconds
// until more quota is available (the retry-after on a denial, else the time
// to the next whole token, bounded by the full reset). Concurrency policies
// carry qu="concurrent-requests" and no w.
package headers

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"tollgate/engine"
)

// Header names.
const (
	Policy     = "RateLimit-Policy"
	Limit      = "RateLimit"
	RetryAfter = "Retry-After"
)

// PolicyValue returns the RateLimit-Policy value for a plan: one item per
// policy, in plan order. It is pure; callers may cache it per plan.
func PolicyValue(pl *engine.Plan) string {
	var b strings.Builder
	for i, p := range pl.Policies {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteByte('"')
		b.WriteString(p.Name)
		b.WriteString(`";q=`)
		b.WriteString(strconv.FormatInt(p.CapMilli/engine.MilliPerToken, 10))
		if p.Algorithm == engine.Concurrency {
			b.WriteString(`;qu="concurrent-requests"`)
			continue
		}
		b.WriteString(";w=")
		b.WriteString(strconv.FormatInt(p.WindowSeconds(), 10))
	}
	return b.String()
}

// ceilSeconds converts microseconds to whole seconds, rounding up.
func ceilSeconds(us int64) int64 {
	if us <= 0 {
		return 0
	}
	return (us + 999_999) / 1_000_000
}

// nextTokenUS is how long a bucket-family policy takes to refill one token,
// in microseconds; 0 for other algorithms.
func nextTokenUS(p *engine.Policy) int64 {
	switch p.Algorithm {
	case engine.TokenBucket, engine.GCRA, engine.PTBCWD:
		if p.Rate > 0 {
			// Rate is millitokens per second: one token takes 1000/Rate s.
			return (engine.MilliPerToken*1_000_000 + p.Rate - 1) / p.Rate
		}
	}
	return 0
}

// SecondsUntilMore returns the t parameter for one policy's decision.
func SecondsUntilMore(p *engine.Policy, d engine.Decision) int64 {
	if !d.Allowed && d.RetryAfterUS > 0 {
		return ceilSeconds(d.RetryAfterUS)
	}
	if d.Remaining >= d.Limit {
		return 0
	}
	us := d.ResetUS
	if n := nextTokenUS(p); n > 0 && n < us {
		us = n
	}
	return ceilSeconds(us)
}

// LimitValue returns the RateLimit value for a result against its plan: one
// item per policy, in plan order.
func LimitValue(pl *engine.Plan, res engine.Result) string {
	var b strings.Builder
	for i, p := range pl.Policies {
		if i >= len(res.Policies) {
			break
		}
		d := res.Policies[i]
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteByte('"')
		b.WriteString(p.Name)
		b.WriteString(`";r=`)
		b.WriteString(strconv.FormatInt(d.Remaining/engine.MilliPerToken, 10))
		b.WriteString(";t=")
		b.WriteString(strconv.FormatInt(SecondsUntilMore(p, d), 10))
	}
	return b.String()
}

// RetryAfterSeconds returns the Retry-After delay in whole seconds for a
// denial: the wait rounded up, at least 1, so a client that honours it is
// never early.
func RetryAfterSeconds(d engine.Decision) int64 {
	s := ceilSeconds(d.RetryAfterUS)
	if s < 1 {
		s = 1
	}
	return s
}

// Item is one parsed structured-field list member: a string name and its
// integer or string parameters.
type Item struct {
	Name   string
	Params map[string]string
}

// Int returns an integer parameter.
func (it Item) Int(key string) (int64, bool) {
	v, ok := it.Params[key]
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(v, 10, 64)
	return n, err == nil
}

// ErrSyntax marks a value that is not the structured-field list these
// headers use.
var ErrSyntax = errors.New("headers: syntax")

// ParseList parses a RateLimit or RateLimit-Policy value: a list of quoted
// names, each with ;key=value parameters (integers or quoted strings). It
// covers the subset of RFC 9651 those headers use.
func ParseList(v string) ([]Item, error) {
	var out []Item
	rest := strings.TrimSpace(v)
	if rest == "" {
		return nil, fmt.Errorf("%w: empty list", ErrSyntax)
	}
	for {
		rest = strings.TrimLeft(rest, " \t")
		name, r, err := quoted(rest)
		if err != nil {
			return nil, err
		}
		it := Item{Name: name, Params: map[string]string{}}
		rest = r
		for strings.HasPrefix(rest, ";") {
			rest = strings.TrimLeft(rest[1:], " ")
			k := 0
			for k < len(rest) && (rest[k] >= 'a' && rest[k] <= 'z' || rest[k] >= '0' && rest[k] <= '9' || rest[k] == '-' || rest[k] == '_') {
				k++
			}
			if k == 0 {
				return nil, fmt.Errorf("%w: parameter key expected at %q", ErrSyntax, rest)
			}
			key := rest[:k]
			rest = rest[k:]
			if !strings.HasPrefix(rest, "=") {
				it.Params[key] = "?1"
				continue
			}
			rest = rest[1:]
			if strings.HasPrefix(rest, `"`) {
				s, r, err := quoted(rest)
				if err != nil {
					return nil, err
				}
				it.Params[key], rest = s, r
				continue
			}
			j := 0
			for j < len(rest) && (rest[j] >= '0' && rest[j] <= '9' || (j == 0 && rest[j] == '-')) {
				j++
			}
			if j == 0 || rest[:j] == "-" {
				return nil, fmt.Errorf("%w: integer expected for %q at %q", ErrSyntax, key, rest)
			}
			it.Params[key], rest = rest[:j], rest[j:]
		}
		out = append(out, it)
		rest = strings.TrimLeft(rest, " \t")
		if rest == "" {
			return out, nil
		}
		if rest[0] != ',' {
			return nil, fmt.Errorf("%w: ',' expected at %q", ErrSyntax, rest)
		}
		rest = rest[1:]
	}
}

// quoted parses a structured-field string at the start of s.
func quoted(s string) (string, string, error) {
	if !strings.HasPrefix(s, `"`) {
		return "", "", fmt.Errorf("%w: string expected at %q", ErrSyntax, s)
	}
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		switch c := s[i]; c {
		case '\\':
			if i+1 >= len(s) || (s[i+1] != '"' && s[i+1] != '\\') {
				return "", "", fmt.Errorf("%w: bad escape in %q", ErrSyntax, s)
			}
			i++
			b.WriteByte(s[i])
		case '"':
			return b.String(), s[i+1:], nil
		default:
			if c < 0x20 || c > 0x7e {
				return "", "", fmt.Errorf("%w: bad character %q in string", ErrSyntax, c)
			}
			b.WriteByte(c)
		}
	}
	return "", "", fmt.Errorf("%w: unterminated string %q", ErrSyntax, s)
}
