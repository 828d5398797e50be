// Command demo-upstream is a small HTTP upstream for gatewayd's demo
// (`make run`), its benchmarks and the container tests' upstream stub. It
// answers every path with a short JSON document after a configurable service
// time: a default, per path prefix, or per request (?delay=250ms).
//
//	demo-upstream -listen 127.0.0.1:9000 -delay 2ms -route /v1/reports/=1200ms -route /v1/health=0s
//
// The environment can set the same: DEMO_UPSTREAM_LISTEN, DEMO_UPSTREAM_DELAY
// and DEMO_UPSTREAM_ROUTES ("/v1/reports/=1200ms,/v1/health=0s"); flags win.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// routeDelays maps path prefixes to service times; the longest prefix wins.
type routeDelays struct {
	prefixes []string
	delays   map[string]time.Duration
}

func (r *routeDelays) String() string {
	var parts []string
	for _, p := range r.prefixes {
		parts = append(parts, p+"="+r.delays[p].String())
	}
	return strings.Join(parts, ",")
}

// Set parses "prefix=duration", possibly several separated by commas.
func (r *routeDelays) Set(v string) error {
	if r.delays == nil {
		r.delays = map[string]time.Duration{}
	}
	for _, item := range strings.Split(v, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		p, d, ok := strings.Cut(item, "=")
		if !ok || !strings.HasPrefix(p, "/") {
			return fmt.Errorf("route delay %q: want /prefix=duration", item)
		}
		dur, err := time.ParseDuration(d)
		if err != nil || dur < 0 {
			return fmt.Errorf("route delay %q: bad duration %q", item, d)
		}
		if _, dup := r.delays[p]; !dup {
			r.prefixes = append(r.prefixes, p)
		}
		r.delays[p] = dur
	}
	sort.Slice(r.prefixes, func(i, j int) bool { return len(r.prefixes[i]) > len(r.prefixes[j]) })
	return nil
}

func (r *routeDelays) lookup(path string, def time.Duration) time.Duration {
	for _, p := range r.prefixes {
		if strings.HasPrefix(path, p) {
			return r.delays[p]
		}
	}
	return def
}

func main() {
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	fs := flag.NewFlagSet("demo-upstream", flag.ExitOnError)
	listen := fs.String("listen", envOr("DEMO_UPSTREAM_LISTEN", "127.0.0.1:9000"), "listen address host:port")
	defDelay, err := time.ParseDuration(envOr("DEMO_UPSTREAM_DELAY", "0s"))
	if err != nil {
		log.Error("DEMO_UPSTREAM_DELAY", "err", err)
		os.Exit(2)
	}
	delay := fs.Duration("delay", defDelay, "default service time per request")
	var routes routeDelays
	if v := os.Getenv("DEMO_UPSTREAM_ROUTES"); v != "" {
		if err := routes.Set(v); err != nil {
			log.Error("DEMO_UPSTREAM_ROUTES", "err", err)
			os.Exit(2)
		}
	}
	fs.Var(&routes, "route", "service time for a path prefix, /prefix=duration (repeatable, or comma-separated)")
	quiet := fs.Bool("quiet", false, "log nothing but errors")
	_ = fs.Parse(os.Args[1:])
	if *quiet {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	}

	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d := routes.lookup(r.URL.Path, *delay)
		if q := r.URL.Query().Get("delay"); q != "" {
			if v, err := time.ParseDuration(q); err == nil && v >= 0 && v <= 10*time.Minute {
				d = v
			}
		}
		n, _ := io.Copy(io.Discard, r.Body)
		if d > 0 {
			select {
			case <-time.After(d):
			case <-r.Context().Done():
				return
			}
		}
		body, _ := json.Marshal(map[string]any{"ok": true, "method": r.Method, "path": r.URL.Path,
			"tier": r.Header.Get("X-Tollgate-Tier"), "request_id": r.Header.Get("X-Request-Id"),
			"body_bytes": n, "service_ms": float64(d.Microseconds()) / 1000})
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", strconv.Itoa(len(body)+1))
		_, _ = w.Write(append(body, '\n'))
	})
	srv := &http.Server{Addr: *listen, Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
		<-sig
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	}()
	log.Info("demo-upstream listening", "addr", *listen, "delay", *delay, "routes", routes.String())
	if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Error("listen", "err", err)
		os.Exit(1)
	}
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}
