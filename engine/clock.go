package engine

import "time"

// Clock is the smallest clock the engine's shells need. The engine's maths
// never call it; the limiter asks it for now once per decision. The simulator
// passes its virtual clock; gatewayd passes the wall clock.
type Clock interface {
	Now() time.Time
}

// ClockFunc adapts a function to Clock.
type ClockFunc func() time.Time

// Now returns f().
func (f ClockFunc) Now() time.Time { return f() }
