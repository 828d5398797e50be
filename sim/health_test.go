package sim

import (
	"math"
	"testing"
	"time"
)

// TestHealthTimeoutDetection: a crashed node never answers its checks, so
// each failed check concludes HealthTimeout after it starts and the next
// starts HealthInterval after that. With fall 2 the balancer drops the node
// two timeouts later than with instantaneous checks; the error window, sharp
// under 1000 constant arrivals per second, grows by exactly that.
func TestHealthTimeoutDetection(t *testing.T) {
	window := func(timeout time.Duration) float64 {
		c := small(ArrivalConstant, 1000, 1)
		c.Topology.Zones = []string{"a", "b", "c"}
		c.Network.IntraZone = Duration(time.Microsecond) // checks of live nodes take 2us
		c.LB.HealthInterval, c.LB.UnhealthyThreshold = Duration(time.Second), 2
		c.LB.HealthTimeout = Duration(timeout)
		c.Duration = Duration(40 * time.Second)
		c.Faults = []Fault{{Kind: FaultNodeCrash, Target: "a-0", At: Duration(20050 * time.Millisecond), Duration: Duration(15 * time.Second)}}
		s, err := Run(c, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if len(s.Faults) != 1 || s.Faults[0].Errors == 0 {
			t.Fatalf("timeout %v: faults %+v, want one with errors", timeout, s.Faults)
		}
		return s.Faults[0].ErrorWindowS
	}
	w0 := window(0)
	// first failed check at 21s, the second at 22s: the node errs from 20.05s
	if math.Abs(w0-1.95) > 0.005 {
		t.Errorf("instantaneous checks: error window %.4fs, want about 1.95s", w0)
	}
	for _, to := range []time.Duration{100 * time.Millisecond, 300 * time.Millisecond} {
		w := window(to)
		if want := w0 + 2*to.Seconds(); math.Abs(w-want) > 0.005 {
			t.Errorf("timeout %v: error window %.4fs, want %.4fs (%.4fs + 2 x timeout)", to, w, want, w0)
		}
	}
}

// TestHealthTimeoutSlowNode: a check that waits longer than the timeout for
// a worker fails, so an overloaded node leaves the balancer (and, alone,
// leaves clients without a target) while a healthy one stays; a timeout
// shorter than the checks' round trip fails every check. Without a timeout
// the overloaded node only queues.
func TestHealthTimeoutSlowNode(t *testing.T) {
	for _, tc := range []struct {
		name       string
		rate       float64
		timeout    time.Duration
		wantErrors bool
	}{
		{"overloaded, no timeout", 150, 0, false},
		{"overloaded, 50ms timeout", 150, 50 * time.Millisecond, true},
		{"half loaded, 50ms timeout", 50, 50 * time.Millisecond, false},
		{"timeout below the round trip", 50, 100 * time.Microsecond, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := small(ArrivalConstant, tc.rate, 1)
			c.Topology.Concurrency, c.Topology.QueueLimit = 1, 100000
			c.Topology.ServiceTime, c.Topology.ServiceDist = Duration(10*time.Millisecond), "deterministic"
			c.Network.IntraZone = Duration(100 * time.Microsecond)
			c.LB.HealthInterval, c.LB.HealthTimeout = Duration(time.Second), Duration(tc.timeout)
			s, err := Run(c, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if got := s.Requests.Errors > 0; got != tc.wantErrors {
				t.Errorf("%d errors of %d requests (seed %d), want errors: %v", s.Requests.Errors, s.Requests.Total, c.Seed, tc.wantErrors)
			}
		})
	}
}
