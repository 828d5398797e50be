// Command gatewayd is tollgate's production gateway: a reverse proxy that
// authenticates clients (API keys, JWT), prices and rate-limits their
// requests with the engine (in memory or on a shared Redis), meters every
// request into a usage ledger, and drains cleanly on SIGTERM.
//
//	gatewayd -config gatewayd/example.yaml
//
// Signals: SIGTERM or SIGINT drains (/readyz turns 503, in-flight requests
// finish within shutdown.grace, the ledger is flushed, exit 0); SIGHUP
// reloads the config file (an invalid one is refused, the reason logged and
// the old config kept). Logs go to stderr.
package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"tollgate/gatewayd/certs"
	"tollgate/gatewayd/config"
	"tollgate/gatewayd/gateway"
	"tollgate/gatewayd/park"
	"tollgate/gatewayd/protoerr"
	"tollgate/gatewayd/redact"
)

// options are the command-line flags.
type options struct {
	config      string
	listen      string
	adminListen string
	logLevel    string
	logFormat   string
	check       bool
	pprof       bool
}

func newFlags(out io.Writer) (*flag.FlagSet, *options) {
	o := &options{}
	fs := flag.NewFlagSet("gatewayd", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.StringVar(&o.config, "config", "gatewayd.yaml",
		"path of the YAML config file (see gatewayd/example.yaml and docs/gatewayd.md); re-read on SIGHUP")
	fs.StringVar(&o.listen, "listen", "",
		"proxy listener address host:port, overriding the file's listen (default from the file, else 127.0.0.1:8080)")
	fs.StringVar(&o.adminListen, "admin-listen", "",
		"admin listener address host:port for /healthz, /readyz and /metrics, overriding the file's admin_listen")
	fs.StringVar(&o.logLevel, "log-level", "info", "log level: debug, info, warn or error (logs go to stderr)")
	fs.StringVar(&o.logFormat, "log-format", "text", "log format: text or json")
	fs.BoolVar(&o.pprof, "pprof", false,
		"serve Go's runtime profiles (net/http/pprof) under /debug/pprof/ on the admin listener; off by default, for profiling only")
	fs.BoolVar(&o.check, "check", false, "validate the config file, print every problem, and exit (0 if valid)")
	fs.Usage = func() {
		fmt.Fprintf(out, `gatewayd: tollgate's API gateway (auth, pricing, rate limiting, usage ledger).

Usage: gatewayd -config FILE [flags]
       gatewayd ledger verify|migrate|ship ...   (gatewayd ledger, for its usage)

Signals: SIGTERM/SIGINT drain and exit 0 (readyz 503, in-flight requests finish within
shutdown.grace, ledger flushed); SIGHUP reloads FILE atomically (an invalid file is
refused with the reason logged, and the running config is kept).

Flags:
`)
		fs.PrintDefaults()
	}
	return fs, o
}

func main() {
	os.Exit(run(os.Args[1:], os.Stderr))
}

func run(args []string, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "ledger" {
		return ledgerCmd(args[1:], os.Stdout, stderr)
	}
	fs, o := newFlags(stderr)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "gatewayd: unexpected arguments %q (flags only; see -help)\n", fs.Args())
		return 2
	}
	log, redactor, err := newLogger(stderr, o.logLevel, o.logFormat)
	if err != nil {
		fmt.Fprintf(stderr, "gatewayd: %v\n", err)
		return 2
	}
	cfg, pair, err := load(o)
	if err != nil {
		fmt.Fprintf(stderr, "gatewayd: invalid config:\n%s\n", redact.String(indent(err)))
		return 1
	}
	redactor.SetSecrets(secrets(cfg)...)
	if o.check {
		fmt.Fprintf(stderr, "gatewayd: %s is valid\n", o.config)
		return 0
	}
	return serve(o, cfg, pair, log, redactor)
}

// load reads the config and applies the flag overrides, validating again.
func load(o *options) (*config.Config, *tls.Certificate, error) {
	cfg, err := config.Load(o.config)
	if err != nil {
		return nil, nil, err
	}
	if err := gateway.Check(cfg); err != nil {
		return nil, nil, fmt.Errorf("%s: %w", o.config, err)
	}
	var pair *tls.Certificate
	if cfg.Server.TLS.Enabled() {
		if pair, err = certs.Load(cfg.Server.TLS, time.Now()); err != nil {
			return nil, nil, fmt.Errorf("%s: %w", o.config, err)
		}
	}
	if o.listen != "" || o.adminListen != "" {
		if o.listen != "" {
			cfg.Listen = o.listen
		}
		if o.adminListen != "" {
			cfg.AdminListen = o.adminListen
		}
		if err := cfg.Validate(); err != nil {
			return nil, nil, fmt.Errorf("flags: %w", err)
		}
	}
	return cfg, pair, nil
}

func indent(err error) string {
	return "  " + strings.ReplaceAll(err.Error(), "\n", "\n  ")
}

// newLogger returns the process logger: every line passes through the
// redactor, which removes URL userinfo, token text and the config's literal
// secrets (docs/security.md).
func newLogger(w io.Writer, level, format string) (*slog.Logger, *redact.Handler, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, nil, fmt.Errorf("-log-level: %q: want debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: lv}
	var h slog.Handler
	switch format {
	case "text":
		h = slog.NewTextHandler(w, opts)
	case "json":
		h = slog.NewJSONHandler(w, opts)
	default:
		return nil, nil, fmt.Errorf("-log-format: %q: want text or json", format)
	}
	r := redact.NewHandler(h)
	return slog.New(r), r, nil
}

// secrets are the config's literal secrets the log redactor removes: the
// Redis password, inline or from its file, and the ledger's PostgreSQL DSN
// (whole, and its URL password).
func secrets(cfg *config.Config) []string {
	out := []string{cfg.Store.Redis.Password}
	if f := cfg.Store.Redis.PasswordFile; f != "" {
		if b, err := os.ReadFile(f); err == nil {
			out = append(out, strings.TrimRight(string(b), "\r\n"))
		}
	}
	if pg := cfg.Ledger.Postgres; pg != nil {
		for _, dsn := range []string{pg.DSN, os.Getenv(pg.DSNEnv)} {
			if dsn == "" {
				continue
			}
			out = append(out, dsn)
			if u, err := url.Parse(dsn); err == nil && u.User != nil {
				if pw, ok := u.User.Password(); ok {
					out = append(out, pw)
				}
			}
		}
	}
	return out
}

// serve runs the gateway; pair is cfg's TLS certificate, loaded by load
// (nil without TLS).
func serve(o *options, cfg *config.Config, pair *tls.Certificate, log *slog.Logger, redactor *redact.Handler) int {
	// Signals are caught before anything listens, so a SIGHUP or SIGTERM
	// that follows the first /readyz is never lost to the default action.
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	g, err := gateway.New(cfg, log)
	if err != nil {
		log.Error("start failed", "err", err)
		return 1
	}
	s := cfg.Server
	srv := &http.Server{Handler: g, ReadHeaderTimeout: s.ReadHeaderTimeout.D(), ReadTimeout: s.ReadTimeout.D(),
		IdleTimeout: s.IdleTimeout.D(), MaxHeaderBytes: s.MaxHeaderBytes,
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelDebug)}
	var adminH http.Handler = g.Admin()
	if o.pprof {
		adminH = withPprof(adminH)
	}
	admin := &http.Server{Handler: adminH, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second,
		IdleTimeout: 60 * time.Second}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		log.Error("listen failed", "addr", cfg.Listen, "err", err)
		_ = g.Close()
		return 1
	}
	aln, err := net.Listen("tcp", cfg.AdminListen)
	if err != nil {
		log.Error("admin listen failed", "addr", cfg.AdminListen, "err", err)
		_ = ln.Close()
		_ = g.Close()
		return 1
	}
	if s.ProxyProtocol {
		ln = proxyProtocol(ln, s)
		log.Info("PROXY protocol on: trusted proxies must send the header; connection parking is off", "trusted_proxies", s.TrustedProxies)
	}
	var tlsCerts *certs.Holder
	if s.TLS.Enabled() {
		if tlsCerts, err = certs.New(s.TLS, pair); err != nil {
			log.Error("tls failed", "err", err)
			_ = ln.Close()
			_ = aln.Close()
			_ = g.Close()
			return 1
		}
		srv.TLSConfig = tlsCerts.TLSConfig()
		if !s.DisableParking {
			log.Info("connection parking is off with TLS")
		}
	} else if !s.DisableParking && !s.ProxyProtocol {
		ln = park.Wrap(ln, s.IdleTimeout.D())
		srv.ConnState = park.ConnState
	}
	if tlsCerts == nil {
		// The server's own protocol errors (400, 431, 501, 505) are counted,
		// ledgered and answered in JSON (package protoerr; not under TLS).
		ln = protoerr.Wrap(ln, g.ProtocolError)
		srv.ConnState = protoerr.ConnState(srv.ConnState)
		srv.ConnContext = protoerr.ConnContext
	}
	errc := make(chan error, 2)
	go func() {
		if tlsCerts != nil {
			errc <- srv.ServeTLS(ln, "", "") // the certificate comes from TLSConfig
			return
		}
		errc <- srv.Serve(ln)
	}()
	go func() { errc <- admin.Serve(aln) }()
	log.Info("gatewayd started", "listen", ln.Addr().String(), "tls", tlsCerts != nil, "admin", aln.Addr().String(),
		"store", cfg.Store.Kind, "routes", len(cfg.Routes), "tiers", len(cfg.Tiers), "config", o.config, "pid", os.Getpid())

	for {
		select {
		case err := <-errc:
			log.Error("listener failed", "err", err)
			_ = g.Close()
			return 1
		case sig := <-sigs:
			if sig == syscall.SIGHUP {
				reload(o, g, tlsCerts, log, redactor)
				continue
			}
			return shutdown(g, srv, admin, log, sig)
		}
	}
}

// reload re-reads the config file; an invalid one is refused and logged.
// A TLS listener re-reads its certificate and key (a renewed certificate is
// served from the next handshake); turning TLS on or off needs a restart.
func reload(o *options, g *gateway.Gateway, tlsCerts *certs.Holder, log *slog.Logger, redactor *redact.Handler) {
	cfg, pair, err := load(o) // load refuses a certificate pair that does not load
	if err != nil {
		log.Error("reload refused: invalid config; keeping the running one", "config", o.config, "err", err)
		g.ReloadRefused()
		return
	}
	var tlsNote string
	if cfg.Server.TLS.Enabled() != (tlsCerts != nil) {
		tlsNote, pair = "server.tls turned on or off; that takes effect on restart", nil
	}
	notes, err := g.Reload(cfg)
	if err != nil {
		log.Error("reload refused; keeping the running config", "config", o.config, "err", err)
		return
	}
	redactor.SetSecrets(secrets(cfg)...)
	if pair != nil {
		tlsCerts.Set(pair)
	}
	if tlsNote != "" {
		notes = append(notes, tlsNote)
	}
	for _, n := range notes {
		log.Warn("reload: " + n)
	}
	log.Info("config reloaded", "config", o.config, "routes", len(cfg.Routes), "tiers", len(cfg.Tiers))
}

// shutdown drains: not ready, wait drain_delay, stop accepting, finish
// in-flight requests within grace, flush the ledger.
func shutdown(g *gateway.Gateway, srv, admin *http.Server, log *slog.Logger, sig os.Signal) int {
	cfg := g.Config()
	g.SetReady(false)
	log.Info("draining", "signal", sig.String(), "in_flight", g.InFlight(),
		"drain_delay", cfg.Shutdown.DrainDelay.D(), "grace", cfg.Shutdown.Grace.D())
	time.Sleep(cfg.Shutdown.DrainDelay.D())
	code := 0
	ctx, cancel := context.WithTimeout(context.Background(), cfg.Shutdown.Grace.D())
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		log.Error("grace period expired with requests in flight; closing them", "in_flight", g.InFlight(), "err", err)
		_ = srv.Close()
		code = 1
	}
	if err := g.Close(); err != nil {
		log.Error("ledger flush failed", "err", err)
		code = 1
	}
	actx, acancel := context.WithTimeout(context.Background(), time.Second)
	defer acancel()
	_ = admin.Shutdown(actx)
	log.Info("stopped", "ledger_records", g.LedgerWritten(), "exit", code)
	return code
}

// withPprof adds net/http/pprof's handlers under /debug/pprof/ to the admin
// handler (gatewayd -pprof). The admin listener should stay on loopback or a
// private network: profiles reveal internals, and a CPU profile costs CPU.
func withPprof(h http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	mux.Handle("/", h)
	return mux
}
