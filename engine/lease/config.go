package lease

import (
	"errors"
	"fmt"
	"math"

	"tollgate/engine"
)

// Config is the policy vocabulary's `lease:` section, the same in gatewayd
// configs (store.lease) and scenario files (engine.lease): whether nodes
// take tokens from the shared store in batches and spend them locally.
// Batch 0 (the zero value) turns leases off.
type Config struct {
	// Batch is how many tokens one store call takes; 0 turns leases off, so
	// every request is decided by the shared store.
	Batch float64 `yaml:"batch"`
	// TTL is how long a lease may be spent (default DefaultTTL when Batch > 0).
	TTL engine.Duration `yaml:"ttl"`
}

// Enabled reports whether leases are on.
func (c Config) Enabled() bool { return c.Batch > 0 }

// WithDefaults returns c with TTL defaulted when leases are on.
func (c Config) WithDefaults() Config {
	if c.Batch > 0 && c.TTL == 0 {
		c.TTL = engine.Duration(DefaultTTL)
	}
	return c
}

// Options returns the Leaser options of an enabled config.
func (c Config) Options() Options { return Options{Batch: c.Batch, TTL: c.TTL.D()} }

// Validate checks a defaulted config, naming each field under path (e.g.
// "store.lease") and its value.
func (c Config) Validate(path string) error {
	var errs []error
	switch {
	case math.IsNaN(c.Batch) || c.Batch < 0 || c.Batch > engine.MaxCapacity:
		errs = append(errs, fmt.Errorf("%s.batch: must be in [0, %d], got %v", path, engine.MaxCapacity, c.Batch))
	case c.Batch == 0 && c.TTL != 0:
		errs = append(errs, fmt.Errorf("%s.ttl: set without %s.batch (leases are off), got %v", path, path, c.TTL))
	}
	if c.TTL < 0 {
		errs = append(errs, fmt.Errorf("%s.ttl: must be > 0, got %v", path, c.TTL))
	}
	return errors.Join(errs...)
}
