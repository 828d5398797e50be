package auth

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"log/slog"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"tollgate/gatewayd/config"
)

var now = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func quiet() *slog.Logger { return slog.New(slog.DiscardHandler) }

func req(h map[string]string) *http.Request {
	r := httptest.NewRequest("GET", "/v1/x", nil)
	for k, v := range h {
		r.Header.Set(k, v)
	}
	return r
}

func TestAPIKeys(t *testing.T) {
	a, err := New(config.Auth{APIKeys: config.APIKeys{Header: "X-API-Key", Keys: []config.APIKey{
		{SHA256: HashKey("demo-key"), Tier: "basic"},
	}}}, []string{"basic"}, nil, quiet())
	if err != nil {
		t.Fatal(err)
	}
	id, aerr := a.Authenticate(req(map[string]string{"X-API-Key": "demo-key"}), now)
	if aerr != nil || id.Tier != "basic" || id.KeyHash != HashKey("demo-key") || id.Key != "k:"+HashKey("demo-key") {
		t.Fatalf("demo-key: %+v %v", id, aerr)
	}
	if strings.Contains(id.Key, "demo-key") {
		t.Error("identity carries the raw key")
	}
	for name, h := range map[string]map[string]string{
		"unknown":   {"X-API-Key": "other"},
		"missing":   {},
		"malformed": {"X-API-Key": "demo key"},
		"bearer":    {"Authorization": "Bearer abc"},
	} {
		if _, aerr := a.Authenticate(req(h), now); aerr == nil || aerr.Status() != 401 {
			t.Errorf("%s: want 401, got %v", name, aerr)
		}
	}
}

func TestParseBearer(t *testing.T) {
	for in, want := range map[string]string{"Bearer abc.def": "abc.def", "bearer  x": "x", " BEARER y ": "y"} {
		if got, ok := ParseBearer(in); !ok || got != want {
			t.Errorf("ParseBearer(%q) = %q %v, want %q", in, got, ok, want)
		}
	}
	for _, in := range []string{"", "Bearer", "Bearer ", "Basic abc", "Bearer a b", "Bearer a\x01", "Bearerabc"} {
		if got, ok := ParseBearer(in); ok {
			t.Errorf("ParseBearer(%q) = %q, want refusal", in, got)
		}
	}
}

func writeFile(t *testing.T, name string, b []byte) string {
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func sign(t *testing.T, m jwt.SigningMethod, key any, kid string, claims jwt.MapClaims) string {
	tok := jwt.NewWithClaims(m, claims)
	if kid != "" {
		tok.Header["kid"] = kid
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func claims(tier string) jwt.MapClaims {
	return jwt.MapClaims{"sub": "user-1", "iss": "idp", "tier": tier, "exp": now.Add(time.Hour).Unix()}
}

func TestJWTFromFiles(t *testing.T) {
	secret := []byte("0123456789abcdef0123456789abcdef")
	ek, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, _ := x509.MarshalPKIXPublicKey(&ek.PublicKey)
	pemFile := writeFile(t, "ec.pem", pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
	cfg := config.Config{Auth: config.Auth{JWT: &config.JWT{HMACSecretFile: writeFile(t, "secret", secret),
		PublicKeys: []config.PublicKey{{File: pemFile}}, Issuer: "idp"}}}
	cfg.ApplyDefaults()
	a, err := New(cfg.Auth, []string{"basic", "pro"}, nil, quiet())
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	check := func(name, tok string, wantTier, wantCode string) {
		t.Helper()
		id, aerr := a.Authenticate(req(map[string]string{"Authorization": "Bearer " + tok}), now)
		switch {
		case wantCode == "" && aerr != nil:
			t.Errorf("%s: %v", name, aerr)
		case wantCode == "" && id.Tier != wantTier:
			t.Errorf("%s: tier %q, want %q", name, id.Tier, wantTier)
		case wantCode != "" && (aerr == nil || aerr.Code != wantCode):
			t.Errorf("%s: got %+v %v, want code %s", name, id, aerr, wantCode)
		}
	}
	check("HS256", sign(t, jwt.SigningMethodHS256, secret, "", claims("pro")), "pro", "")
	check("ES256", sign(t, jwt.SigningMethodES256, ek, "", claims("basic")), "basic", "")
	check("wrong secret", sign(t, jwt.SigningMethodHS256, []byte("x123456789abcdef0123456789abcdef"), "", claims("pro")), "", "invalid_token")
	expired := claims("pro")
	expired["exp"] = now.Add(-time.Hour).Unix()
	check("expired", sign(t, jwt.SigningMethodHS256, secret, "", expired), "", "token_expired")
	noexp := claims("pro")
	delete(noexp, "exp")
	check("no exp", sign(t, jwt.SigningMethodHS256, secret, "", noexp), "", "invalid_token")
	check("unknown tier", sign(t, jwt.SigningMethodHS256, secret, "", claims("gold")), "", "unknown_tier")
	badIss := claims("pro")
	badIss["iss"] = "evil"
	check("issuer", sign(t, jwt.SigningMethodHS256, secret, "", badIss), "", "invalid_token")
	check("none alg", sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, "", claims("pro")), "", "invalid_token")
	check("garbage", "a.b.c", "", "invalid_token")
}

// jwksServer serves a key set that the test can rotate.
type jwksServer struct {
	mu    sync.Mutex
	keys  []map[string]string
	hits  int
	serve *httptest.Server
}

func rsaJWK(kid string, k *rsa.PublicKey) map[string]string {
	return map[string]string{"kty": "RSA", "kid": kid, "use": "sig",
		"n": base64.RawURLEncoding.EncodeToString(k.N.Bytes()),
		"e": base64.RawURLEncoding.EncodeToString(big.NewInt(int64(k.E)).Bytes())}
}

func ecJWK(kid string, k *ecdsa.PublicKey) map[string]string {
	b, _ := k.Bytes()
	return map[string]string{"kty": "EC", "kid": kid, "crv": "P-256",
		"x": base64.RawURLEncoding.EncodeToString(b[1:33]), "y": base64.RawURLEncoding.EncodeToString(b[33:])}
}

func TestJWKSRotation(t *testing.T) {
	k1, _ := rsa.GenerateKey(rand.Reader, 2048)
	k2, _ := rsa.GenerateKey(rand.Reader, 2048)
	ek, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	js := &jwksServer{keys: []map[string]string{rsaJWK("k1", &k1.PublicKey), ecJWK("e1", &ek.PublicKey)}}
	js.serve = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		js.mu.Lock()
		defer js.mu.Unlock()
		js.hits++
		_ = json.NewEncoder(w).Encode(map[string]any{"keys": js.keys})
	}))
	defer js.serve.Close()
	cfg := config.Config{Auth: config.Auth{JWT: &config.JWT{JWKSURL: js.serve.URL, JWKSMinRefresh: config.Duration(time.Nanosecond)}}}
	cfg.ApplyDefaults()
	a, err := New(cfg.Auth, []string{"basic"}, js.serve.Client(), quiet())
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	auth := func(tok string) *Error {
		_, aerr := a.Authenticate(req(map[string]string{"Authorization": "Bearer " + tok}), now)
		return aerr
	}
	if e := auth(sign(t, jwt.SigningMethodRS256, k1, "k1", claims("basic"))); e != nil {
		t.Fatalf("k1: %v", e)
	}
	if e := auth(sign(t, jwt.SigningMethodES256, ek, "e1", claims("basic"))); e != nil {
		t.Fatalf("e1: %v", e)
	}
	// Rotate: k2 replaces k1 at the provider; a token with kid k2 triggers a refetch.
	js.mu.Lock()
	js.keys = []map[string]string{rsaJWK("k2", &k2.PublicKey)}
	js.mu.Unlock()
	if e := auth(sign(t, jwt.SigningMethodRS256, k2, "k2", claims("basic"))); e != nil {
		t.Fatalf("k2 after rotation: %v", e)
	}
	if e := auth(sign(t, jwt.SigningMethodRS256, k1, "k1", claims("basic"))); e == nil {
		t.Fatal("k1 accepted after it left the key set")
	}
	// A token signed by k1 but claiming kid k2 fails its signature.
	if e := auth(sign(t, jwt.SigningMethodRS256, k1, "k2", claims("basic"))); e == nil {
		t.Fatal("forged kid accepted")
	}
}

// FuzzAuthenticate: arbitrary header values never panic, and never
// authenticate unless they carry the real key.
func FuzzAuthenticate(f *testing.F) {
	secret := []byte("0123456789abcdef0123456789abcdef")
	dir := f.TempDir()
	sf := filepath.Join(dir, "s")
	if err := os.WriteFile(sf, secret, 0o600); err != nil {
		f.Fatal(err)
	}
	cfg := config.Config{Auth: config.Auth{APIKeys: config.APIKeys{Keys: []config.APIKey{{SHA256: HashKey("demo-key"), Tier: "basic"}}},
		JWT: &config.JWT{HMACSecretFile: sf}}}
	cfg.ApplyDefaults()
	a, err := New(cfg.Auth, []string{"basic"}, nil, quiet())
	if err != nil {
		f.Fatal(err)
	}
	good, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"sub": "u", "tier": "basic", "exp": now.Add(time.Hour).Unix()}).SignedString(secret)
	f.Add("", "Bearer "+good)
	f.Add("demo-key", "")
	f.Add("", "Bearer eyJhbGciOiJub25lIn0.e30.")
	f.Add("", "Basic dXNlcjpwYXNz")
	f.Add("demo-key\x00", "Bearer")
	f.Fuzz(func(t *testing.T, key, authz string) {
		r := httptest.NewRequest("GET", "/", nil)
		if key != "" {
			r.Header["X-Api-Key"] = []string{key}
		}
		if authz != "" {
			r.Header["Authorization"] = []string{authz}
		}
		id, aerr := a.Authenticate(r, now)
		if aerr != nil {
			if aerr.Status() != 401 || aerr.Code == "" {
				t.Fatalf("bad error %+v", aerr)
			}
			return
		}
		if key != "" && key != "demo-key" {
			t.Fatalf("key %q authenticated as %+v", key, id)
		}
		if key == "" {
			tok, _ := ParseBearer(authz)
			if tok != good {
				// Any other accepted token must still verify with the secret.
				if _, err := jwt.Parse(tok, func(*jwt.Token) (any, error) { return secret, nil }, jwt.WithTimeFunc(func() time.Time { return now })); err != nil {
					t.Fatalf("token %q accepted: %v", authz, err)
				}
			}
		}
	})
}

// TestJWTRefusalsNameTheClaim: a refused token's message names each failing
// claim and never holds the token.
func TestJWTRefusalsNameTheClaim(t *testing.T) {
	secret := []byte("0123456789abcdef0123456789abcdef")
	cfg := config.Config{Auth: config.Auth{JWT: &config.JWT{HMACSecretFile: writeFile(t, "secret", secret),
		Issuer: "idp", Audience: "api"}}}
	cfg.ApplyDefaults()
	a, err := New(cfg.Auth, []string{"pro"}, nil, quiet())
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	good := func() jwt.MapClaims { c := claims("pro"); c["aud"] = "api"; return c }
	for name, tc := range map[string]struct {
		edit     func(jwt.MapClaims)
		code     string
		contains []string
	}{
		"no exp":       {func(c jwt.MapClaims) { delete(c, "exp") }, "invalid_token", []string{`claim "exp" is required and missing`}},
		"no aud":       {func(c jwt.MapClaims) { delete(c, "aud") }, "invalid_token", []string{`claim "aud" is required and missing`}},
		"no exp+aud":   {func(c jwt.MapClaims) { delete(c, "exp"); delete(c, "aud") }, "invalid_token", []string{`"exp"`, `"aud"`}},
		"wrong aud":    {func(c jwt.MapClaims) { c["aud"] = "other" }, "invalid_token", []string{`claim "aud" does not include`}},
		"no iss":       {func(c jwt.MapClaims) { delete(c, "iss") }, "invalid_token", []string{`claim "iss" is required and missing`}},
		"wrong iss":    {func(c jwt.MapClaims) { c["iss"] = "evil" }, "invalid_token", []string{`claim "iss" is not the accepted issuer`}},
		"expired":      {func(c jwt.MapClaims) { c["exp"] = now.Add(-time.Hour).Unix() }, "token_expired", []string{`"exp"`}},
		"future nbf":   {func(c jwt.MapClaims) { c["nbf"] = now.Add(time.Hour).Unix() }, "invalid_token", []string{`"nbf"`}},
		"exp a string": {func(c jwt.MapClaims) { c["exp"] = "tomorrow" }, "invalid_token", []string{`claim "exp" has the wrong type`}},
	} {
		c := good()
		tc.edit(c)
		tok := sign(t, jwt.SigningMethodHS256, secret, "", c)
		_, aerr := a.Authenticate(req(map[string]string{"Authorization": "Bearer " + tok}), now)
		if aerr == nil || aerr.Code != tc.code {
			t.Errorf("%s: %v, want code %s", name, aerr, tc.code)
			continue
		}
		for _, want := range tc.contains {
			if !strings.Contains(aerr.Message, want) {
				t.Errorf("%s: message %q lacks %q", name, aerr.Message, want)
			}
		}
		if strings.Contains(aerr.Error(), tok) || strings.Contains(aerr.Error(), strings.Split(tok, ".")[1]) {
			t.Errorf("%s: message echoes the token", name)
		}
	}
}
