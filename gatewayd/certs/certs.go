// Package certs serves gatewayd's TLS certificate: it loads the PEM pair a
// config names, checks it, and holds it behind an atomic pointer so a SIGHUP
// can swap in a renewed certificate while connections keep being accepted.
//
//	pair, err := certs.Load(cfg.Server.TLS, time.Now())
//	h, err := certs.New(cfg.Server.TLS, pair)
//	srv.TLSConfig = h.TLSConfig()
//	...
//	pair, err := certs.Load(newCfg.Server.TLS, time.Now()) // on SIGHUP
//	h.Set(pair)                                              // once the rest of the reload succeeded
package certs

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"tollgate/gatewayd/config"
)

// Holder serves the current certificate. Safe for concurrent use.
type Holder struct {
	cur atomic.Pointer[tls.Certificate]
	min uint16
}

// Load reads and checks the pair c names: both files readable, the key
// matching the certificate, the leaf parseable and not expired at now.
// Errors name the config field and the file.
func Load(c config.TLS, now time.Time) (*tls.Certificate, error) {
	if c.CertFile == "" || c.KeyFile == "" {
		return nil, errors.New("server.tls: cert_file and key_file are both required")
	}
	pair, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("server.tls: cert_file %q, key_file %q: %w", c.CertFile, c.KeyFile, err)
	}
	leaf := pair.Leaf
	if leaf == nil {
		if leaf, err = x509.ParseCertificate(pair.Certificate[0]); err != nil {
			return nil, fmt.Errorf("server.tls.cert_file %q: %w", c.CertFile, err)
		}
		pair.Leaf = leaf
	}
	if now.After(leaf.NotAfter) {
		return nil, fmt.Errorf("server.tls.cert_file %q: certificate expired at %s", c.CertFile, leaf.NotAfter.UTC().Format(time.RFC3339))
	}
	return &pair, nil
}

// minVersion maps the config's "1.2"/"1.3" ("" is 1.2).
func minVersion(v string) (uint16, error) {
	switch v {
	case "", "1.2":
		return tls.VersionTLS12, nil
	case "1.3":
		return tls.VersionTLS13, nil
	}
	return 0, fmt.Errorf("server.tls.min_version: must be 1.2 or 1.3, got %q", v)
}

// New returns a Holder serving pair (from Load; nil loads c's files) with
// c's minimum version.
func New(c config.TLS, pair *tls.Certificate) (*Holder, error) {
	mv, err := minVersion(c.MinVersion)
	if err != nil {
		return nil, err
	}
	if pair == nil {
		if pair, err = Load(c, time.Now()); err != nil {
			return nil, err
		}
	}
	h := &Holder{min: mv}
	h.cur.Store(pair)
	return h, nil
}

// Set serves pair (from Load) from the next handshake on. The minimum
// version is fixed at New.
func (h *Holder) Set(pair *tls.Certificate) { h.cur.Store(pair) }

// Current returns the pair being served.
func (h *Holder) Current() *tls.Certificate { return h.cur.Load() }

// TLSConfig is the server's TLS configuration: the held certificate for every
// handshake, HTTP/2 and HTTP/1.1 by ALPN, and the configured minimum version.
func (h *Holder) TLSConfig() *tls.Config {
	return &tls.Config{
		MinVersion:     h.min,
		NextProtos:     []string{"h2", "http/1.1"},
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return h.cur.Load(), nil },
	}
}
