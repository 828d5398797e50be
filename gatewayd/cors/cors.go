// Package cors answers CORS preflights at the gateway and decorates
// responses with the route's CORS headers (Fetch standard, CORS protocol).
package cors

import (
	"net/http"
	"strconv"
	"strings"

	"tollgate/gatewayd/config"
)

// Policy is one route's compiled CORS policy. Immutable, safe for concurrent use.
type Policy struct {
	any         bool
	origins     map[string]bool
	methods     map[string]bool
	allowMeth   string
	headers     map[string]bool
	allowHdrs   string
	expose      string
	credentials bool
	maxAge      string
}

// New compiles a validated config.
func New(c config.CORS) *Policy {
	p := &Policy{origins: map[string]bool{}, methods: map[string]bool{}, headers: map[string]bool{},
		allowMeth: strings.Join(c.AllowMethods, ", "), allowHdrs: strings.Join(c.AllowHeaders, ", "),
		expose: strings.Join(c.ExposeHeaders, ", "), credentials: c.AllowCredentials,
		maxAge: strconv.Itoa(int(c.MaxAge.D().Seconds()))}
	for _, o := range c.AllowOrigins {
		if o == "*" {
			p.any = true
		}
		p.origins[strings.TrimSuffix(o, "/")] = true
	}
	for _, m := range c.AllowMethods {
		p.methods[strings.ToUpper(m)] = true
	}
	for _, h := range c.AllowHeaders {
		p.headers[strings.ToLower(h)] = true
	}
	return p
}

// IsPreflight reports whether r is a CORS preflight request.
func IsPreflight(r *http.Request) bool {
	return r.Method == http.MethodOptions && r.Header.Get("Origin") != "" &&
		r.Header.Get("Access-Control-Request-Method") != ""
}

// allowed reports whether the origin may read responses.
func (p *Policy) allowed(origin string) bool { return origin != "" && (p.any || p.origins[origin]) }

func (p *Policy) origin(h http.Header, origin string) {
	if p.any && !p.credentials {
		h.Set("Access-Control-Allow-Origin", "*")
	} else {
		h.Set("Access-Control-Allow-Origin", origin)
		h.Add("Vary", "Origin")
	}
	if p.credentials {
		h.Set("Access-Control-Allow-Credentials", "true")
	}
}

// Preflight checks a preflight: it reports whether the origin, method and
// requested headers are allowed and, if so, sets the response headers.
func (p *Policy) Preflight(h http.Header, r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if !p.allowed(origin) {
		return false
	}
	if !p.methods[strings.ToUpper(r.Header.Get("Access-Control-Request-Method"))] {
		return false
	}
	for _, v := range r.Header.Values("Access-Control-Request-Headers") {
		for _, name := range strings.Split(v, ",") {
			name = strings.ToLower(strings.TrimSpace(name))
			if name != "" && !p.headers[name] {
				return false
			}
		}
	}
	p.origin(h, origin)
	h.Set("Access-Control-Allow-Methods", p.allowMeth)
	if p.allowHdrs != "" {
		h.Set("Access-Control-Allow-Headers", p.allowHdrs)
	}
	h.Set("Access-Control-Max-Age", p.maxAge)
	h.Add("Vary", "Access-Control-Request-Method")
	h.Add("Vary", "Access-Control-Request-Headers")
	return true
}

// Decorate adds the CORS response headers for an allowed origin, including on
// refusals (401, 429) so browsers can read them.
func (p *Policy) Decorate(h http.Header, origin string) {
	if !p.allowed(origin) {
		return
	}
	p.origin(h, origin)
	if p.expose != "" {
		h.Set("Access-Control-Expose-Headers", p.expose)
	}
}
