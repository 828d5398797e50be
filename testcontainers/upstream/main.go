// Command upstream is the container suite's backend stub: an HTTP server whose
// service time is configured per route, so a test knows exactly what the
// gateway in front of it should observe and the simulator can be calibrated
// with the same figures.
//
//	upstream -listen :9000 -route /v1/fast=5ms -route /v1/report=120ms -default 2ms
//
// A route matches by path prefix (longest prefix wins). Each request sleeps
// for its route's service time, then answers 200 with a small JSON body naming
// the route and the host. /healthz answers at once and is never delayed. The
// process prints "upstream: listening on ADDR" once it accepts connections and
// exits cleanly on SIGTERM or SIGINT after in-flight requests finish (at most
// -grace).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
	"time"
)

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(2)
		}
		fmt.Fprintf(os.Stderr, "upstream: %v\n", err)
		os.Exit(1)
	}
}

// routeFlag collects repeated -route PREFIX=DURATION flags.
type routeFlag []Route

func (r *routeFlag) String() string {
	parts := make([]string, len(*r))
	for i, x := range *r {
		parts[i] = x.Prefix + "=" + x.ServiceTime.String()
	}
	return strings.Join(parts, ",")
}

func (r *routeFlag) Set(s string) error {
	rt, err := ParseRoute(s)
	if err != nil {
		return err
	}
	*r = append(*r, rt)
	return nil
}

func run(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("upstream", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", ":9000", "address to listen on")
	def := fs.Duration("default", 0, "service time of paths that match no -route")
	grace := fs.Duration("grace", 5*time.Second, "how long in-flight requests may take after SIGTERM")
	var routes routeFlag
	fs.Var(&routes, "route", "PREFIX=DURATION: service time of paths starting with PREFIX (repeatable)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *def < 0 {
		return fmt.Errorf("-default: must be >= 0, got %s", *def)
	}
	h, err := NewHandler(routes, *def)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return fmt.Errorf("-listen %q: %w", *listen, err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	fmt.Fprintf(stdout, "upstream: listening on %s routes=%s default=%s\n", ln.Addr(), routes.String(), *def)
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), *grace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	fmt.Fprintln(stdout, "upstream: stopped")
	return nil
}

// Route is one path prefix and the time a request to it takes to serve.
type Route struct {
	// Prefix is the path prefix, starting with "/".
	Prefix string
	// ServiceTime is how long the handler holds the request before answering;
	// zero answers at once.
	ServiceTime time.Duration
}

// ParseRoute parses "PREFIX=DURATION", for example "/v1/report=120ms".
func ParseRoute(s string) (Route, error) {
	prefix, dur, ok := strings.Cut(s, "=")
	if !ok {
		return Route{}, fmt.Errorf("route %q: want PREFIX=DURATION", s)
	}
	if !strings.HasPrefix(prefix, "/") {
		return Route{}, fmt.Errorf("route %q: prefix must start with /, got %q", s, prefix)
	}
	d, err := time.ParseDuration(dur)
	if err != nil {
		return Route{}, fmt.Errorf("route %q: service time: %w", s, err)
	}
	if d < 0 || d > time.Minute {
		return Route{}, fmt.Errorf("route %q: service time must be in [0, 1m], got %s", s, d)
	}
	return Route{Prefix: prefix, ServiceTime: d}, nil
}

// Handler serves requests after their route's service time. It is safe for
// concurrent use; its routes never change after NewHandler.
type Handler struct {
	routes []Route // longest prefix first
	def    time.Duration
	host   string
}

// NewHandler returns a handler for routes (duplicates are an error) with def
// as the service time of unmatched paths.
func NewHandler(routes []Route, def time.Duration) (*Handler, error) {
	seen := map[string]bool{}
	rs := append([]Route(nil), routes...)
	for i, r := range rs {
		if seen[r.Prefix] {
			return nil, fmt.Errorf("routes[%d].prefix: duplicate %q", i, r.Prefix)
		}
		seen[r.Prefix] = true
	}
	sort.SliceStable(rs, func(i, j int) bool { return len(rs[i].Prefix) > len(rs[j].Prefix) })
	host, _ := os.Hostname()
	return &Handler{routes: rs, def: def, host: host}, nil
}

// ServiceTime returns the service time and the matched prefix for path ("" when
// no route matches).
func (h *Handler) ServiceTime(path string) (time.Duration, string) {
	for _, r := range h.routes {
		if strings.HasPrefix(path, r.Prefix) {
			return r.ServiceTime, r.Prefix
		}
	}
	return h.def, ""
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/healthz" {
		w.WriteHeader(http.StatusOK)
		_, _ = io.WriteString(w, "ok\n")
		return
	}
	d, prefix := h.ServiceTime(r.URL.Path)
	if d > 0 {
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return
		}
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{
		"route":           prefix,
		"path":            r.URL.Path,
		"host":            h.host,
		"service_time_ms": float64(d) / float64(time.Millisecond),
	})
}
