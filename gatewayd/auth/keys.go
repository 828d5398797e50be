package auth

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"tollgate/gatewayd/redact"
)

// parsePEMPublicKey reads an RSA or ECDSA P-256 public key from PEM (PKIX
// "PUBLIC KEY", PKCS#1 "RSA PUBLIC KEY" or a certificate).
func parsePEMPublicKey(b []byte) (crypto.PublicKey, error) {
	blk, _ := pem.Decode(b)
	if blk == nil {
		return nil, errors.New("no PEM block")
	}
	var key any
	var err error
	switch blk.Type {
	case "PUBLIC KEY":
		key, err = x509.ParsePKIXPublicKey(blk.Bytes)
	case "RSA PUBLIC KEY":
		key, err = x509.ParsePKCS1PublicKey(blk.Bytes)
	case "CERTIFICATE":
		var c *x509.Certificate
		if c, err = x509.ParseCertificate(blk.Bytes); err == nil {
			key = c.PublicKey
		}
	default:
		return nil, fmt.Errorf("PEM block %q: want PUBLIC KEY, RSA PUBLIC KEY or CERTIFICATE", blk.Type)
	}
	if err != nil {
		return nil, err
	}
	switch k := key.(type) {
	case *rsa.PublicKey:
		return k, nil
	case *ecdsa.PublicKey:
		if k.Curve != elliptic.P256() {
			return nil, fmt.Errorf("ECDSA curve %s: only P-256 (ES256) is supported", k.Curve.Params().Name)
		}
		return k, nil
	}
	return nil, fmt.Errorf("key type %T: want RSA or ECDSA P-256", key)
}

// jwk is one JSON Web Key (RFC 7517), the fields RS256 and ES256 use.
type jwk struct {
	Kty string `json:"kty"`
	Kid string `json:"kid"`
	Use string `json:"use"`
	Alg string `json:"alg"`
	N   string `json:"n"`
	E   string `json:"e"`
	Crv string `json:"crv"`
	X   string `json:"x"`
	Y   string `json:"y"`
}

func b64(s string) ([]byte, error) { return base64.RawURLEncoding.DecodeString(s) }

// publicKey converts a JWK to a Go public key.
func (k jwk) publicKey() (crypto.PublicKey, error) {
	switch k.Kty {
	case "RSA":
		n, err := b64(k.N)
		if err != nil || len(n) < 256 {
			return nil, fmt.Errorf("kid %q: RSA modulus must be base64url of at least 2048 bits", k.Kid)
		}
		e, err := b64(k.E)
		if err != nil || len(e) == 0 || len(e) > 4 {
			return nil, fmt.Errorf("kid %q: bad RSA exponent", k.Kid)
		}
		exp := new(big.Int).SetBytes(e)
		return &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(exp.Int64())}, nil
	case "EC":
		if k.Crv != "P-256" {
			return nil, fmt.Errorf("kid %q: curve %q: only P-256 is supported", k.Kid, k.Crv)
		}
		x, err1 := b64(k.X)
		y, err2 := b64(k.Y)
		if err1 != nil || err2 != nil || len(x) != 32 || len(y) != 32 {
			return nil, fmt.Errorf("kid %q: EC coordinates must be 32-byte base64url", k.Kid)
		}
		pt := append(append([]byte{4}, x...), y...)
		return ecdsa.ParseUncompressedPublicKey(elliptic.P256(), pt)
	}
	return nil, fmt.Errorf("kid %q: key type %q: want RSA or EC", k.Kid, k.Kty)
}

// maxJWKSBytes bounds a JWKS document.
const maxJWKSBytes = 1 << 20

// jwks is a cached JSON Web Key Set: fetched at start, refreshed every
// refresh period, and refetched on an unknown kid at most once per minGap, so
// a key rotation is picked up at once while garbage kids cannot hammer the
// identity provider. Keys from the last good fetch are kept on failures.
type jwks struct {
	url     string
	client  *http.Client
	minGap  time.Duration
	log     *slog.Logger
	stop    chan struct{}
	stopped sync.Once
	done    chan struct{}

	mu        sync.RWMutex
	keys      map[string]crypto.PublicKey
	lastFetch time.Time
	fetching  sync.Mutex
}

func newJWKS(url string, client *http.Client, refresh, minGap time.Duration, log *slog.Logger) *jwks {
	if client == nil {
		client = &http.Client{Timeout: 5 * time.Second}
	}
	j := &jwks{url: url, client: client, minGap: minGap, log: log, stop: make(chan struct{}), done: make(chan struct{}),
		keys: map[string]crypto.PublicKey{}}
	if err := j.fetch(); err != nil {
		log.Error("jwks fetch failed; bearer tokens are refused until it succeeds", "url", redact.URL(url), "err", err)
	}
	go func() {
		defer close(j.done)
		t := time.NewTicker(refresh)
		defer t.Stop()
		for {
			select {
			case <-j.stop:
				return
			case <-t.C:
				if err := j.fetch(); err != nil {
					log.Warn("jwks refresh failed; keeping the cached keys", "url", redact.URL(url), "err", err)
				}
			}
		}
	}()
	return j
}

func (j *jwks) close() {
	j.stopped.Do(func() { close(j.stop); <-j.done })
}

// fetch downloads and replaces the key set.
func (j *jwks) fetch() error {
	j.fetching.Lock()
	defer j.fetching.Unlock()
	return j.doFetch()
}

// fetchIfStale fetches unless another fetch finished within minGap, so
// concurrent requests with the same unknown kid cause one fetch.
func (j *jwks) fetchIfStale() error {
	j.fetching.Lock()
	defer j.fetching.Unlock()
	j.mu.RLock()
	fresh := time.Since(j.lastFetch) < j.minGap
	j.mu.RUnlock()
	if fresh {
		return nil
	}
	return j.doFetch()
}

func (j *jwks) doFetch() error {
	j.mu.Lock()
	j.lastFetch = time.Now()
	j.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, j.url, nil)
	if err != nil {
		return err
	}
	resp, err := j.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("status %s", resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxJWKSBytes+1))
	if err != nil {
		return err
	}
	if len(body) > maxJWKSBytes {
		return fmt.Errorf("document larger than %d bytes", maxJWKSBytes)
	}
	var doc struct {
		Keys []jwk `json:"keys"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return fmt.Errorf("decode: %w", err)
	}
	keys := make(map[string]crypto.PublicKey, len(doc.Keys))
	var bad []error
	for _, k := range doc.Keys {
		if k.Use != "" && k.Use != "sig" {
			continue
		}
		pk, err := k.publicKey()
		if err != nil {
			bad = append(bad, err)
			continue
		}
		keys[k.Kid] = pk
	}
	if len(keys) == 0 {
		return fmt.Errorf("no usable keys: %w", errors.Join(bad...))
	}
	if len(bad) > 0 {
		j.log.Warn("jwks: some keys skipped", "url", redact.URL(j.url), "err", errors.Join(bad...))
	}
	j.mu.Lock()
	j.keys = keys
	j.mu.Unlock()
	return nil
}

// key returns the key with a kid, refetching once if it is unknown and the
// last fetch is older than minGap.
func (j *jwks) key(kid string) (crypto.PublicKey, bool) {
	j.mu.RLock()
	k, ok := j.keys[kid]
	stale := time.Since(j.lastFetch) >= j.minGap
	j.mu.RUnlock()
	if ok || !stale {
		return k, ok
	}
	if err := j.fetchIfStale(); err != nil {
		j.log.Warn("jwks refetch for an unknown kid failed", "url", redact.URL(j.url), "err", err)
	}
	j.mu.RLock()
	defer j.mu.RUnlock()
	k, ok = j.keys[kid]
	return k, ok
}

// all returns every cached key.
func (j *jwks) all() []jwt.VerificationKey {
	j.mu.RLock()
	defer j.mu.RUnlock()
	out := make([]jwt.VerificationKey, 0, len(j.keys))
	for _, k := range j.keys {
		out = append(out, k)
	}
	return out
}
