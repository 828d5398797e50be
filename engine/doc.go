// Package engine is tollgate's token economics: rate-limit algorithms as pure
// integer transitions, the policies they enforce, and the interface the stores
// (in-memory and Redis) implement.
//
// Every algorithm is a transition (state, now, cost, policy) -> (state', decision).
// State is four int64 values; time is in microseconds and tokens in fixed point
// (see [MilliPerToken] and [NanoPerToken]), so the Go transitions here and the
// Lua scripts run by Redis agree bit for bit. The engine never reads the wall
// clock: callers pass now, or the Redis store reads Redis's own TIME.
//
// Example:
//
//	pol, err := engine.Compile(engine.Limit{Name: "basic", Algorithm: engine.TokenBucket,
//		Capacity: 10, Rate: 1, Period: time.Second})
//	if err != nil { ... }
//	plan := engine.NewPlan(pol)
//	res, err := store.Apply(ctx, engine.Op{Kind: engine.Acquire, Key: "tenant-a", Plan: plan,
//		Cost: engine.Tokens(1), Now: engine.Micros(t)})
//
// A denial is a Decision with Allowed false, never an error; errors are for
// failures (store down, bad parameters).
package engine
