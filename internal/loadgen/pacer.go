package loadgen

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// Schedule interleaves tenants in proportion to their rates with smooth
// weighted round robin, so a constant total rate gives every tenant a nearly
// constant rate too and the order is deterministic. Next is not safe for
// concurrent use; Attack serialises it.
type Schedule struct {
	weights []float64
	current []float64
	total   float64
}

// NewSchedule returns a schedule over rates (all > 0).
func NewSchedule(rates []float64) (*Schedule, error) {
	if len(rates) == 0 {
		return nil, fmt.Errorf("loadgen: schedule: no tenants")
	}
	s := &Schedule{weights: append([]float64(nil), rates...), current: make([]float64, len(rates))}
	for i, r := range rates {
		if !(r > 0) || math.IsInf(r, 0) {
			return nil, fmt.Errorf("loadgen: schedule: rates[%d]: must be > 0, got %v", i, r)
		}
		s.total += r
	}
	return s, nil
}

// Next returns the index of the tenant that sends the next request.
func (s *Schedule) Next() int {
	best := 0
	for i, w := range s.weights {
		s.current[i] += w
		if s.current[i] > s.current[best] {
			best = i
		}
	}
	s.current[best] -= s.total
	return best
}

// Arrival names an arrival process.
type Arrival string

// The arrival processes a run can use.
const (
	// Constant sends at exactly the rate (vegeta's ConstantPacer).
	Constant Arrival = "constant"
	// Poisson sends with exponential gaps of mean 1/rate.
	Poisson Arrival = "poisson"
	// MMPP is a two-state Markov-modulated Poisson process: a low state and
	// a high state of BurstFactor times its rate, each held for an
	// exponential time of mean LowTime or HighTime, starting in the
	// stationary distribution; the mean rate is Rate.
	MMPP Arrival = "mmpp"
)

// MMPPShape shapes an MMPP arrival process.
type MMPPShape struct {
	BurstFactor       float64
	HighTime, LowTime time.Duration
}

// schedPacer paces hits at precomputed arrival times (since the attack's
// start), generated lazily from a seeded stream, so the same seed gives the
// same schedule. It implements vegeta.Pacer and is safe for concurrent use.
type schedPacer struct {
	mu    sync.Mutex
	rng   *rand.Rand
	times []time.Duration
	next  func() time.Duration // the gap before the next arrival
	mean  float64              // mean rate, per second
}

// NewPacer returns the pacer of an arrival process at rate per second, with
// seed for the random ones (shape only for MMPP).
func NewPacer(a Arrival, rate float64, seed uint64, shape MMPPShape) (vegeta.Pacer, error) {
	if !(rate > 0) || math.IsInf(rate, 0) {
		return nil, fmt.Errorf("loadgen: rate must be > 0, got %v", rate)
	}
	switch a {
	case Constant, "":
		return vegeta.ConstantPacer{Freq: int(math.Round(rate)), Per: time.Second}, nil
	case Poisson:
		p := &schedPacer{rng: rand.New(rand.NewPCG(seed, 0x706f6973)), mean: rate}
		p.next = func() time.Duration { return expGap(p.rng, rate) }
		return p, nil
	case MMPP:
		if !(shape.BurstFactor >= 1) || shape.HighTime <= 0 || shape.LowTime <= 0 {
			return nil, fmt.Errorf("loadgen: mmpp: burst_factor must be >= 1 and high/low times > 0, got %+v", shape)
		}
		ph := float64(shape.HighTime) / float64(shape.HighTime+shape.LowTime)
		low := rate / ((1 - ph) + shape.BurstFactor*ph)
		high := low * shape.BurstFactor
		p := &schedPacer{rng: rand.New(rand.NewPCG(seed, 0x6d6d7070)), mean: rate}
		// start in the stationary distribution: high with probability ph
		inHigh := p.rng.Float64() < ph
		var t, switchAt time.Duration
		if inHigh {
			switchAt = expDur(p.rng, shape.HighTime)
		} else {
			switchAt = expDur(p.rng, shape.LowTime)
		}
		p.next = func() time.Duration {
			// the next arrival of the modulated process after t: draw in the
			// current state; past a switch, restart from the switch (the
			// exponential is memoryless)
			start := t
			for {
				r := low
				if inHigh {
					r = high
				}
				at := t + expGap(p.rng, r)
				if at < switchAt {
					t = at
					return t - start
				}
				t = switchAt
				inHigh = !inHigh
				if inHigh {
					switchAt = t + expDur(p.rng, shape.HighTime)
				} else {
					switchAt = t + expDur(p.rng, shape.LowTime)
				}
			}
		}
		return p, nil
	}
	return nil, fmt.Errorf("loadgen: arrival must be one of constant, poisson, mmpp, got %q", a)
}

func expGap(rng *rand.Rand, perSec float64) time.Duration {
	return time.Duration(rng.ExpFloat64() / perSec * float64(time.Second))
}

func expDur(rng *rand.Rand, mean time.Duration) time.Duration {
	return time.Duration(rng.ExpFloat64() * float64(mean))
}

// at returns the time of arrival i.
func (p *schedPacer) at(i uint64) time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	for uint64(len(p.times)) <= i {
		var last time.Duration
		if n := len(p.times); n > 0 {
			last = p.times[n-1]
		}
		p.times = append(p.times, last+p.next())
	}
	return p.times[i]
}

// Pace implements vegeta.Pacer: the wait until hit number hits is due.
func (p *schedPacer) Pace(elapsed time.Duration, hits uint64) (time.Duration, bool) {
	due := p.at(hits)
	if due <= elapsed {
		return 0, false
	}
	return due - elapsed, false
}

// Rate implements vegeta.Pacer: the mean rate.
func (p *schedPacer) Rate(time.Duration) float64 { return p.mean }
