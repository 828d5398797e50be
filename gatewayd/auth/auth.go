// Package auth identifies gatewayd's clients: API keys looked up by their
// SHA-256 (the config holds hashes, never raw keys) and bearer JWTs verified
// with golang-jwt/jwt/v5 (HS256, RS256, ES256; keys from files or a JWKS URL,
// cached and refreshed, with kid rotation). The tier comes from the key's
// config entry or from a token claim.
//
// Failures are *Error values carrying a 401 and a JSON-ready code; nothing a
// client sends can produce a 500.
package auth

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"tollgate/gatewayd/config"
)

// Limits on credentials; longer ones are refused before any work.
const (
	MaxAPIKeyBytes = 512
	MaxTokenBytes  = 8 << 10
)

// Identity is an authenticated client.
type Identity struct {
	// Key is the limiter key: "k:" + the API key's SHA-256 hex, or "j:" +
	// the SHA-256 hex of issuer and subject.
	Key string
	// KeyHash is the SHA-256 hex recorded in the ledger; never a raw key.
	KeyHash string
	// Tier is the client's tier name, one of the configured tiers.
	Tier string
	// Scheme is SchemeAPIKey, SchemeJWT or SchemeAnonymous.
	Scheme string
}

// Identity schemes.
const (
	SchemeAPIKey    = "api_key"
	SchemeJWT       = "jwt"
	SchemeAnonymous = "anonymous"
)

// Error is an authentication failure: always 401, with a machine-readable
// code and a message safe to show the client.
type Error struct {
	Code    string
	Message string
}

func (e *Error) Error() string { return "auth: " + e.Code + ": " + e.Message }

// Status returns 401.
func (e *Error) Status() int { return http.StatusUnauthorized }

func fail(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Authenticator checks requests. It is safe for concurrent use. Close stops
// its JWKS refresher.
type Authenticator struct {
	header string
	keys   map[string]config.APIKey // by SHA-256 hex
	jwt    *verifier
}

// New builds an Authenticator. tiers are the configured tier names; a JWT tier
// claim must name one of them. Key files are read now; a JWKS URL is fetched
// now (a failure is logged, not fatal: tokens fail with 401 until it answers)
// and refreshed in the background until Close.
func New(cfg config.Auth, tiers []string, client *http.Client, log *slog.Logger) (*Authenticator, error) {
	a := &Authenticator{header: cfg.APIKeys.Header, keys: make(map[string]config.APIKey, len(cfg.APIKeys.Keys))}
	for _, k := range cfg.APIKeys.Keys {
		a.keys[strings.ToLower(k.SHA256)] = k
	}
	if cfg.JWT != nil {
		v, err := newVerifier(*cfg.JWT, tiers, client, log)
		if err != nil {
			return nil, err
		}
		a.jwt = v
	}
	return a, nil
}

// Close stops background work. It is safe to call more than once.
func (a *Authenticator) Close() {
	if a.jwt != nil {
		a.jwt.close()
	}
}

// HashKey returns the lowercase hex SHA-256 of a raw API key, the form the
// config holds.
func HashKey(raw string) string {
	h := sha256.Sum256([]byte(raw))
	return hex.EncodeToString(h[:])
}

// ParseBearer extracts the token from an Authorization header value of the
// form "Bearer <token>" (scheme case-insensitive, RFC 6750). It reports false
// for any other form, an empty token or one with spaces or control bytes.
func ParseBearer(h string) (string, bool) {
	scheme, tok, ok := strings.Cut(strings.TrimSpace(h), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	tok = strings.TrimLeft(tok, " ")
	if tok == "" || len(tok) > MaxTokenBytes {
		return "", false
	}
	for i := 0; i < len(tok); i++ {
		if c := tok[i]; c <= ' ' || c >= 0x7f {
			return "", false
		}
	}
	return tok, true
}

// validKey reports whether a raw API key is printable ASCII of a sane length.
func validKey(k string) bool {
	if k == "" || len(k) > MaxAPIKeyBytes {
		return false
	}
	for i := 0; i < len(k); i++ {
		if c := k[i]; c <= ' ' || c >= 0x7f {
			return false
		}
	}
	return true
}

// HasCredentials reports whether the request carries any credential: the API
// key header or an Authorization header, valid or not.
func (a *Authenticator) HasCredentials(r *http.Request) bool {
	return len(r.Header.Values(a.header)) > 0 || len(r.Header.Values("Authorization")) > 0
}

// Anonymous is the identity of a request without credentials on a route
// that admits them: keyed by the client's address key (clientip.Key), on
// tier. The ledger gets the key's SHA-256, never the address.
func Anonymous(addrKey, tier string) Identity {
	h := HashKey("ip:" + addrKey)
	return Identity{Key: "a:" + h, KeyHash: h, Tier: tier, Scheme: "anonymous"}
}

// Authenticate identifies the request's client. An API key header takes
// precedence over an Authorization bearer token.
func (a *Authenticator) Authenticate(r *http.Request, now time.Time) (Identity, *Error) {
	if vals := r.Header.Values(a.header); len(vals) > 0 {
		if len(vals) > 1 {
			return Identity{}, fail("invalid_api_key", "more than one %s header", a.header)
		}
		raw := vals[0]
		if !validKey(raw) {
			return Identity{}, fail("invalid_api_key", "malformed %s header", a.header)
		}
		h := HashKey(raw)
		k, ok := a.keys[h]
		if !ok {
			return Identity{}, fail("invalid_api_key", "unknown API key")
		}
		return Identity{Key: "k:" + h, KeyHash: h, Tier: k.Tier, Scheme: "api_key"}, nil
	}
	authz := r.Header.Get("Authorization")
	if authz == "" {
		return Identity{}, fail("missing_credentials", "send an API key in %s or a bearer token in Authorization", a.header)
	}
	if a.jwt == nil {
		return Identity{}, fail("missing_credentials", "bearer tokens are not accepted here; send an API key in %s", a.header)
	}
	tok, ok := ParseBearer(authz)
	if !ok {
		return Identity{}, fail("invalid_token", "Authorization must be \"Bearer <token>\"")
	}
	return a.jwt.verify(tok, now)
}
