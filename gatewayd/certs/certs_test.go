package certs

import (
	"crypto/tls"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"tollgate/gatewayd/config"
	"tollgate/gatewayd/internal/testcerts"
)

func TestLoadAndServe(t *testing.T) {
	dir := t.TempDir()
	c := testcerts.WritePair(t, dir, 7, time.Now().Add(24*time.Hour))
	h, err := New(c, nil)
	if err != nil {
		t.Fatal(err)
	}
	if h.Current().Leaf.SerialNumber.Int64() != 7 {
		t.Fatalf("serial %v", h.Current().Leaf.SerialNumber)
	}
	cfg := h.TLSConfig()
	if cfg.MinVersion != tls.VersionTLS12 || len(cfg.NextProtos) != 2 || cfg.NextProtos[0] != "h2" {
		t.Errorf("tls config: min %x protos %v", cfg.MinVersion, cfg.NextProtos)
	}
	// A new pair is served from the next handshake.
	dir2 := t.TempDir()
	pair, err := Load(testcerts.WritePair(t, dir2, 8, time.Now().Add(24*time.Hour)), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	h.Set(pair)
	got, _ := cfg.GetCertificate(&tls.ClientHelloInfo{})
	if got.Leaf.SerialNumber.Int64() != 8 {
		t.Errorf("after Set the handshake gets serial %v, want 8", got.Leaf.SerialNumber)
	}
	c.MinVersion = "1.3"
	if h, err := New(c, nil); err != nil || h.TLSConfig().MinVersion != tls.VersionTLS13 {
		t.Errorf("min_version 1.3: %v", err)
	}
}

func TestLoadErrorsNameFieldAndFile(t *testing.T) {
	dir := t.TempDir()
	good := testcerts.WritePair(t, dir, 1, time.Now().Add(time.Hour))
	other := testcerts.WritePair(t, t.TempDir(), 2, time.Now().Add(time.Hour))
	expired := testcerts.WritePair(t, t.TempDir(), 3, time.Now().Add(-time.Minute))
	garbage := filepath.Join(dir, "garbage.pem")
	if err := os.WriteFile(garbage, []byte("not a pem file"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		c    config.TLS
		want []string
	}{
		{"missing cert", config.TLS{CertFile: filepath.Join(dir, "nope.pem"), KeyFile: good.KeyFile}, []string{"server.tls", "nope.pem", "no such file"}},
		{"key of another cert", config.TLS{CertFile: good.CertFile, KeyFile: other.KeyFile}, []string{"server.tls", good.CertFile, "does not match"}},
		{"garbage key", config.TLS{CertFile: good.CertFile, KeyFile: garbage}, []string{"server.tls", garbage}},
		{"expired", expired, []string{"server.tls.cert_file", expired.CertFile, "expired"}},
		{"no key", config.TLS{CertFile: good.CertFile}, []string{"cert_file and key_file are both required"}},
	} {
		_, err := Load(tc.c, time.Now())
		if err == nil {
			t.Errorf("%s: no error", tc.name)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q lacks %q", tc.name, err, w)
			}
		}
	}
	if _, err := New(config.TLS{CertFile: good.CertFile, KeyFile: good.KeyFile, MinVersion: "1.1"}, nil); err == nil ||
		!strings.Contains(err.Error(), `server.tls.min_version: must be 1.2 or 1.3, got "1.1"`) {
		t.Errorf("min_version 1.1: %v", err)
	}
}
