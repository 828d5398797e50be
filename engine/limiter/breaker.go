package limiter

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"tollgate/engine"
)

// Breaker defaults.
const (
	DefaultFailures = 5
	DefaultCooldown = 5 * time.Second
)

// BreakerConfig configures a Breaker, as gatewayd configs (store.breaker)
// and scenario files (engine.breaker) write it. Zero fields take the defaults.
type BreakerConfig struct {
	// Failures is how many consecutive failures open the breaker (default 5).
	Failures int `yaml:"failures"`
	// Cooldown is how long the breaker stays open before letting one probe
	// through (default 5s).
	Cooldown engine.Duration `yaml:"cooldown"`
}

// WithDefaults returns c with zero fields set to the defaults.
func (c BreakerConfig) WithDefaults() BreakerConfig {
	if c.Failures == 0 {
		c.Failures = DefaultFailures
	}
	if c.Cooldown == 0 {
		c.Cooldown = engine.Duration(DefaultCooldown)
	}
	return c
}

// Validate checks a defaulted config, naming each field under path (e.g.
// "store.breaker") and its value.
func (c BreakerConfig) Validate(path string) error {
	var errs []error
	if c.Failures < 1 {
		errs = append(errs, fmt.Errorf("%s.failures: must be >= 1, got %d", path, c.Failures))
	}
	if c.Cooldown <= 0 {
		errs = append(errs, fmt.Errorf("%s.cooldown: must be > 0, got %v", path, c.Cooldown))
	}
	return errors.Join(errs...)
}

// Breaker states as State reports them.
const (
	StateClosed   = "closed"
	StateOpen     = "open"
	StateHalfOpen = "half-open"
)

// Breaker is a circuit breaker driven by explicit times: it never reads a
// clock, so the simulator runs it on virtual time and tests step it exactly.
//
// Closed: every call is allowed; Failures consecutive failures open it.
// Open: calls are refused until Cooldown has passed since it opened; then it
// turns half-open. Half-open: one probe is allowed; its success closes the
// breaker, its failure opens it again for another Cooldown. A probe whose
// outcome is never reported is replaced by another after Cooldown.
//
// Breaker is safe for concurrent use. The zero value is not usable; use
// NewBreaker.
type Breaker struct {
	cfg BreakerConfig

	mu       sync.Mutex
	state    string
	failures int
	openedAt time.Time // when it last opened
	probeAt  time.Time // when the half-open probe was let through
	probing  bool
}

// NewBreaker returns a closed breaker. Non-positive fields take the defaults.
func NewBreaker(cfg BreakerConfig) *Breaker {
	if cfg.Failures <= 0 {
		cfg.Failures = DefaultFailures
	}
	if cfg.Cooldown <= 0 {
		cfg.Cooldown = engine.Duration(DefaultCooldown)
	}
	return &Breaker{cfg: cfg, state: StateClosed}
}

// Config returns the breaker's config with defaults applied.
func (b *Breaker) Config() BreakerConfig { return b.cfg }

// Allow reports whether a call may go to the store at now. In the half-open
// state it returns true once, for the probe.
func (b *Breaker) Allow(now time.Time) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch b.state {
	case StateClosed:
		return true
	case StateOpen:
		if now.Sub(b.openedAt) < b.cfg.Cooldown.D() {
			return false
		}
		b.state = StateHalfOpen
		b.probing, b.probeAt = true, now
		return true
	default: // half-open
		if b.probing && now.Sub(b.probeAt) < b.cfg.Cooldown.D() {
			return false
		}
		b.probing, b.probeAt = true, now
		return true
	}
}

// Success records a successful call: it closes the breaker.
func (b *Breaker) Success(now time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.state, b.failures, b.probing = StateClosed, 0, false
}

// Failure records a failed call at now: the Failures-th consecutive failure
// opens a closed breaker; a failure while half-open reopens it.
func (b *Breaker) Failure(now time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch b.state {
	case StateClosed:
		b.failures++
		if b.failures >= b.cfg.Failures {
			b.state, b.openedAt = StateOpen, now
		}
	case StateHalfOpen:
		b.state, b.openedAt, b.probing = StateOpen, now, false
	case StateOpen:
		// A call let through before the breaker opened failed late; the
		// cooldown runs from the opening.
	}
}

// State returns "closed", "open" or "half-open".
func (b *Breaker) State() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.state
}

// RetryAfter returns how long after now the open breaker lets a probe
// through; 0 when closed or half-open.
func (b *Breaker) RetryAfter(now time.Time) time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.state != StateOpen {
		return 0
	}
	return max(0, b.cfg.Cooldown.D()-now.Sub(b.openedAt))
}
