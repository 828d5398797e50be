package engine

import "time"

// Decision is the outcome of one operation against one policy, or, in a
// Result, against the plan's binding policy. A denial is a Decision, not an
// error.
type Decision struct {
	// Allowed reports whether the request may proceed.
	Allowed bool
	// Permanent reports a denial that waiting cannot cure: the cost exceeds
	// what the policy can ever hold. RetryAfter is 0 then.
	Permanent bool
	// Policy is the policy's name.
	Policy string
	// Limit is the policy's capacity in millitokens.
	Limit int64
	// Remaining is what the policy can still admit, in millitokens, never negative.
	Remaining int64
	// ResetUS is how long until the policy is fully restored (bucket family) or
	// the current window ends (windows), in microseconds, never negative.
	ResetUS int64
	// RetryAfterUS is how long to wait before the same cost could be admitted,
	// in microseconds; 0 when allowed or permanent.
	RetryAfterUS int64
	// Charged is the cost charged by this operation in millitokens: the cost
	// when an Acquire is allowed, 0 when denied, the signed delta of a Settle.
	Charged int64
}

// Reset returns ResetUS as a duration.
func (d Decision) Reset() time.Duration { return time.Duration(d.ResetUS) * time.Microsecond }

// RetryAfter returns RetryAfterUS as a duration.
func (d Decision) RetryAfter() time.Duration { return time.Duration(d.RetryAfterUS) * time.Microsecond }

// Result is the outcome of one operation against a whole plan.
type Result struct {
	// Decision is the binding policy's decision with Allowed set for the whole
	// plan: on a denial, the denying policy with the longest wait (a permanent
	// denial first); when allowed, the policy with the least remaining.
	Decision
	// Policies holds one decision per policy of the plan, in plan order.
	Policies []Decision
	// NowUS is the time the decision was taken at, in microseconds since the
	// epoch: the caller's now, or the Redis server's TIME in server clock mode.
	NowUS int64
}
