package auth

import (
	"crypto"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"tollgate/gatewayd/config"
)

// verifier checks bearer tokens.
type verifier struct {
	cfg     config.JWT
	tiers   map[string]bool
	methods []string
	secret  []byte
	// fileKeys are PEM public keys; byKid holds those with a kid.
	fileKeys []crypto.PublicKey
	byKid    map[string]crypto.PublicKey
	jwks     *jwks
}

func newVerifier(cfg config.JWT, tiers []string, client *http.Client, log *slog.Logger) (*verifier, error) {
	v := &verifier{cfg: cfg, tiers: map[string]bool{}, methods: cfg.Algorithms, byKid: map[string]crypto.PublicKey{}}
	for _, t := range tiers {
		v.tiers[t] = true
	}
	if cfg.HMACSecretFile != "" {
		b, err := os.ReadFile(cfg.HMACSecretFile)
		if err != nil {
			return nil, fmt.Errorf("auth.jwt.hmac_secret_file: %w", err)
		}
		v.secret = []byte(strings.TrimRight(string(b), "\r\n"))
		if len(v.secret) < 32 {
			return nil, fmt.Errorf("auth.jwt.hmac_secret_file: %q: secret must be at least 32 bytes, got %d", cfg.HMACSecretFile, len(v.secret))
		}
	}
	for i, pk := range cfg.PublicKeys {
		b, err := os.ReadFile(pk.File)
		if err != nil {
			return nil, fmt.Errorf("auth.jwt.public_keys[%d].file: %w", i, err)
		}
		key, err := parsePEMPublicKey(b)
		if err != nil {
			return nil, fmt.Errorf("auth.jwt.public_keys[%d].file: %q: %w", i, pk.File, err)
		}
		v.fileKeys = append(v.fileKeys, key)
		if pk.Kid != "" {
			v.byKid[pk.Kid] = key
		}
	}
	if cfg.JWKSURL != "" {
		v.jwks = newJWKS(cfg.JWKSURL, client, cfg.JWKSRefresh.D(), cfg.JWKSMinRefresh.D(), log)
	}
	return v, nil
}

func (v *verifier) close() {
	if v.jwks != nil {
		v.jwks.close()
	}
}

// keyFunc picks the verification key for a token by its alg and kid.
func (v *verifier) keyFunc(t *jwt.Token) (any, error) {
	alg, _ := t.Header["alg"].(string)
	if alg == "HS256" {
		if v.secret == nil {
			return nil, errors.New("HS256 is not configured")
		}
		return v.secret, nil
	}
	kid, _ := t.Header["kid"].(string)
	if kid != "" {
		if k, ok := v.byKid[kid]; ok {
			return k, nil
		}
		if v.jwks != nil {
			if k, ok := v.jwks.key(kid); ok {
				return k, nil
			}
		}
		return nil, fmt.Errorf("unknown kid %q", kid)
	}
	keys := make([]jwt.VerificationKey, 0, len(v.fileKeys))
	for _, k := range v.fileKeys {
		keys = append(keys, k)
	}
	if v.jwks != nil {
		keys = append(keys, v.jwks.all()...)
	}
	if len(keys) == 0 {
		return nil, errors.New("no public keys")
	}
	return jwt.VerificationKeySet{Keys: keys}, nil
}

func (v *verifier) verify(tok string, now time.Time) (Identity, *Error) {
	opts := []jwt.ParserOption{
		jwt.WithValidMethods(v.methods),
		jwt.WithExpirationRequired(),
		jwt.WithLeeway(v.cfg.Leeway.D()),
		jwt.WithTimeFunc(func() time.Time { return now }),
	}
	if v.cfg.Issuer != "" {
		opts = append(opts, jwt.WithIssuer(v.cfg.Issuer))
	}
	if v.cfg.Audience != "" {
		opts = append(opts, jwt.WithAudience(v.cfg.Audience))
	}
	claims := jwt.MapClaims{}
	if _, err := jwt.ParseWithClaims(tok, claims, v.keyFunc, opts...); err != nil {
		switch {
		case errors.Is(err, jwt.ErrTokenMalformed):
			return Identity{}, fail("invalid_token", "token is malformed")
		case errors.Is(err, jwt.ErrTokenSignatureInvalid):
			return Identity{}, fail("invalid_token", "signature is invalid")
		case errors.Is(err, jwt.ErrTokenUnverifiable):
			return Identity{}, fail("invalid_token", "token cannot be verified: %s", unverifiableReason(err))
		case errors.Is(err, jwt.ErrTokenInvalidClaims):
			// The signature verified, so the claims were decoded: name each
			// failing claim, never the token.
			probs := v.claimProblems(err, claims)
			code := "invalid_token"
			if errors.Is(err, jwt.ErrTokenExpired) {
				code = "token_expired"
			}
			return Identity{}, fail(code, "%s", strings.Join(probs, "; "))
		}
		return Identity{}, fail("invalid_token", "token is invalid")
	}
	sub, _ := claims[v.cfg.SubjectClaim].(string)
	if sub == "" {
		return Identity{}, fail("invalid_token", "claim %q must be a non-empty string", v.cfg.SubjectClaim)
	}
	tier := v.cfg.DefaultTier
	if raw, ok := claims[v.cfg.TierClaim]; ok {
		s, isStr := raw.(string)
		if !isStr {
			return Identity{}, fail("invalid_token", "claim %q must be a string", v.cfg.TierClaim)
		}
		tier = s
	}
	if tier == "" {
		return Identity{}, fail("invalid_token", "claim %q is missing", v.cfg.TierClaim)
	}
	if !v.tiers[tier] {
		return Identity{}, fail("unknown_tier", "tier %q is not offered here", truncate(tier, 64))
	}
	iss, _ := claims["iss"].(string)
	h := sha256.Sum256([]byte(iss + "\x00" + sub))
	hx := hex.EncodeToString(h[:])
	return Identity{Key: "j:" + hx, KeyHash: hx, Tier: tier, Scheme: "jwt"}, nil
}

// registered are the registered claims the validator checks, in the order
// their problems are reported.
var registered = []string{"exp", "nbf", "iat", "iss", "aud", "sub"}

// claimProblems names every claim the validator refused, one phrase each:
// missing, of the wrong type, expired, not yet valid, or not the accepted
// issuer or audience. Values are never echoed.
func (v *verifier) claimProblems(err error, claims jwt.MapClaims) []string {
	var out []string
	required := map[string]bool{"exp": true, "iss": v.cfg.Issuer != "", "aud": v.cfg.Audience != ""}
	for _, c := range registered {
		raw, present := claims[c]
		switch {
		case !present && required[c] && errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
			out = append(out, fmt.Sprintf("claim %q is required and missing", c))
		case present && errors.Is(err, jwt.ErrInvalidType) && !claimTypeOK(c, raw):
			out = append(out, fmt.Sprintf("claim %q has the wrong type", c))
		}
	}
	if errors.Is(err, jwt.ErrTokenExpired) {
		out = append(out, `token has expired (claim "exp")`)
	}
	if errors.Is(err, jwt.ErrTokenNotValidYet) {
		out = append(out, `token is not valid yet (claim "nbf")`)
	}
	if errors.Is(err, jwt.ErrTokenUsedBeforeIssued) {
		out = append(out, `token is used before it was issued (claim "iat")`)
	}
	if _, present := claims["iss"]; present && errors.Is(err, jwt.ErrTokenInvalidIssuer) {
		out = append(out, `claim "iss" is not the accepted issuer`)
	}
	if _, present := claims["aud"]; present && errors.Is(err, jwt.ErrTokenInvalidAudience) {
		out = append(out, `claim "aud" does not include the accepted audience`)
	}
	if len(out) == 0 {
		out = append(out, "the token's claims are invalid")
	}
	return out
}

// claimTypeOK reports whether a registered claim has the JSON type RFC 7519
// gives it: a number for the times, a string for iss and sub, a string or an
// array of strings for aud.
func claimTypeOK(c string, raw any) bool {
	switch c {
	case "exp", "nbf", "iat":
		_, ok := raw.(float64)
		if !ok {
			_, ok = raw.(json.Number)
		}
		return ok
	case "aud":
		switch a := raw.(type) {
		case string:
			return true
		case []any:
			for _, x := range a {
				if _, ok := x.(string); !ok {
					return false
				}
			}
			return true
		}
		return false
	}
	_, ok := raw.(string)
	return ok
}

// unverifiableReason names why no key was found, without echoing token bytes
// beyond a short kid.
func unverifiableReason(err error) string {
	msg := err.Error()
	switch {
	case strings.Contains(msg, "unknown kid"):
		return "unknown kid"
	case strings.Contains(msg, "signing method"):
		return "algorithm not accepted"
	case strings.Contains(msg, "not configured"), strings.Contains(msg, "no public keys"):
		return "no key for this algorithm"
	}
	return "no usable key"
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}
