package loadgen

import (
	"bytes"
	"context"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

func TestScheduleProportions(t *testing.T) {
	rates := []float64{20, 30, 40, 10}
	s, err := NewSchedule(rates)
	if err != nil {
		t.Fatal(err)
	}
	counts := make([]int, len(rates))
	// Over every prefix the count of each tenant stays within one of its
	// exact share: that is what smooth weighted round robin guarantees.
	for n := 1; n <= 1000; n++ {
		counts[s.Next()]++
		for i, r := range rates {
			exact := float64(n) * r / 100
			if d := math.Abs(float64(counts[i]) - exact); d > 1 {
				t.Fatalf("after %d picks tenant %d has %d, exact share %.2f", n, i, counts[i], exact)
			}
		}
	}
	if _, err := NewSchedule([]float64{1, -1}); err == nil {
		t.Fatal("negative rate accepted")
	}
	if _, err := NewSchedule(nil); err == nil {
		t.Fatal("empty schedule accepted")
	}
}

// arrivals returns the first n arrival times of a pacer.
func arrivals(t *testing.T, p vegeta.Pacer, n int) []time.Duration {
	t.Helper()
	sp, ok := p.(*schedPacer)
	if !ok {
		t.Fatalf("pacer %T is not scheduled", p)
	}
	out := make([]time.Duration, n)
	for i := range out {
		out[i] = sp.at(uint64(i))
	}
	return out
}

// TestPacers: the random pacers are seeded (same seed, same schedule;
// another seed, another), keep their mean rate, and MMPP is burstier than
// Poisson: the variance of counts per second over their mean (the index of
// dispersion) is about 1 for Poisson and well above for MMPP.
func TestPacers(t *testing.T) {
	const rate, n = 200.0, 400000
	shape := MMPPShape{BurstFactor: 10, HighTime: 500 * time.Millisecond, LowTime: 4500 * time.Millisecond}
	dispersion := map[Arrival]float64{}
	for _, a := range []Arrival{Poisson, MMPP} {
		p1, err := NewPacer(a, rate, 7, shape)
		if err != nil {
			t.Fatal(err)
		}
		p2, _ := NewPacer(a, rate, 7, shape)
		p3, _ := NewPacer(a, rate, 8, shape)
		x, y, z := arrivals(t, p1, n), arrivals(t, p2, n), arrivals(t, p3, n)
		if x[n-1] != y[n-1] || x[n-1] == z[n-1] {
			t.Errorf("%s: seeds: same %v %v, other %v", a, x[n-1], y[n-1], z[n-1])
		}
		mean := float64(n) / x[n-1].Seconds()
		if math.Abs(mean/rate-1) > 0.1 {
			t.Errorf("%s: mean rate %.1f, want %.0f within 10%%", a, mean, rate)
		}
		secs := int(x[n-1].Seconds())
		counts := make([]float64, secs)
		for _, at := range x {
			if s := int(at.Seconds()); s < secs {
				counts[s]++
			}
		}
		var m, v float64
		for _, c := range counts {
			m += c
		}
		m /= float64(secs)
		for _, c := range counts {
			v += (c - m) * (c - m)
		}
		v /= float64(secs - 1)
		dispersion[a] = v / m
		// Pace: a hit that is due waits 0; one in the future waits the gap
		if w, stop := p1.Pace(x[10], 10); w != 0 || stop {
			t.Errorf("%s: Pace at the due time = %v %v", a, w, stop)
		}
		if w, _ := p1.Pace(0, 10); w != x[10] {
			t.Errorf("%s: Pace(0, 10) = %v, want %v", a, w, x[10])
		}
	}
	if d := dispersion[Poisson]; d < 0.8 || d > 1.2 {
		t.Errorf("Poisson index of dispersion %.2f, want about 1", d)
	}
	if dispersion[MMPP] < 5*dispersion[Poisson] {
		t.Errorf("MMPP index of dispersion %.2f, want well above Poisson's %.2f", dispersion[MMPP], dispersion[Poisson])
	}
	for _, bad := range []struct {
		a    Arrival
		rate float64
		s    MMPPShape
	}{{Poisson, 0, shape}, {"uniform", 1, shape}, {MMPP, 1, MMPPShape{BurstFactor: 0.5, HighTime: 1, LowTime: 1}}} {
		if _, err := NewPacer(bad.a, bad.rate, 1, bad.s); err == nil {
			t.Errorf("NewPacer(%q, %v, %+v) accepted", bad.a, bad.rate, bad.s)
		}
	}
}

func ms(n int) time.Duration { return time.Duration(n) * time.Millisecond }

func TestWindowAndErrorWindow(t *testing.T) {
	r := newRun("w", []string{"a", "b"}, 100, time.Second)
	// 10 ms apart: 0..990 ms; failures at 300..390 ms, 429s for tenant b.
	for i := 0; i < 100; i++ {
		s := Sample{At: ms(10 * i), Latency: ms(1 + i%10), Code: 200, Tenant: uint8(i % 2)}
		if i%2 == 1 {
			s.Code = 429
		}
		if i >= 30 && i < 40 {
			s.Code = 0
		}
		r.add(s, "", true)
	}
	all := r.All()
	if all.Total != 100 || all.Failed != 10 || all.Limited != 45 || all.Admitted != 45 {
		t.Fatalf("All() = %v", all)
	}
	// HDR keeps three significant digits: 10 ms reads back within 0.1%
	if math.Abs(all.Rate429-0.45) > 1e-12 || math.Abs(all.P99MS-10) > 0.01 || math.Abs(all.P50MS-5) > 0.005 {
		t.Fatalf("All() rates/percentiles = %v", all)
	}
	b := r.Window(0, time.Second, r.Tenant("b"))
	if b.Total != 50 || b.Limited != 45 || b.Admitted != 0 {
		t.Fatalf("tenant b = %v", b)
	}
	w := r.ErrorWindow(ms(100), time.Second)
	if w.Failed != 10 || w.First != ms(300) || w.Last != ms(390) || w.Length != ms(90) {
		t.Fatalf("ErrorWindow = %+v", w)
	}
	if none := r.ErrorWindow(ms(500), time.Second); none.Failed != 0 || none.Length != 0 {
		t.Fatalf("ErrorWindow after the burst = %+v", none)
	}
	if r.Sent != 100 || r.OK != 45 || r.OKLatency.TotalCount() != 45 || r.Codes[429] != 45 || r.Codes[0] != 10 {
		t.Fatalf("counts: sent %d ok %d hist %d codes %v", r.Sent, r.OK, r.OKLatency.TotalCount(), r.Codes)
	}
	// Merge: counts and histogram add, samples follow r's span
	o := newRun("w", []string{"a", "b"}, 100, time.Second)
	o.add(Sample{At: 0, Latency: ms(2), Code: 200}, "", true)
	span := r.Span
	r.Merge(o)
	if r.Sent != 101 || r.OK != 46 || r.OKLatency.TotalCount() != 46 || r.Samples[100].At != span {
		t.Fatalf("after Merge: sent %d ok %d hist %d last at %v (span %v)", r.Sent, r.OK, r.OKLatency.TotalCount(), r.Samples[100].At, span)
	}
}

func TestClass(t *testing.T) {
	for code, want := range map[uint16]Class{200: Admitted, 204: Admitted, 429: Limited, 0: Failed, 503: Failed, 404: Other, 302: Other} {
		if got := (Sample{Code: code}).Class(); got != want {
			t.Errorf("code %d: class %v, want %v", code, got, want)
		}
	}
}

// TestAttack runs a real attack against a loopback server that admits
// tenant a and refuses tenant b: every attempt is counted once, in its
// tenant and class, in send order.
func TestAttack(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("t") == "b" {
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		w.Header().Set("X-Request-Id", "id-"+r.URL.Query().Get("t"))
		_, _ = w.Write([]byte("ok"))
	}))
	defer srv.Close()
	tenants := []Tenant{
		{Name: "a", Rate: 150, Target: vegeta.Target{Method: "GET", URL: srv.URL + "/?t=a"}},
		{Name: "b", Rate: 50, Target: vegeta.Target{Method: "GET", URL: srv.URL + "/?t=b"}},
	}
	started := make(chan struct{})
	run, err := Attack(context.Background(), tenants, Options{Duration: 500 * time.Millisecond, Rate: 200, KeepSamples: true,
		KeepAlive: true, OnStart: func(r *Run) { r.Mark("started"); close(started) }})
	if err != nil {
		t.Fatal(err)
	}
	<-started
	all := run.All()
	if all.Total == 0 || all.Total != run.Sent || all.Admitted != run.OK || all.Limited != run.Codes[429] || all.Failed != 0 {
		t.Fatalf("stats %v, run sent %d ok %d codes %v errors %v", all, run.Sent, run.OK, run.Codes, run.ErrorTexts)
	}
	a, b := run.Window(0, time.Hour, run.Tenant("a")), run.Window(0, time.Hour, run.Tenant("b"))
	if a.Limited != 0 || b.Admitted != 0 || math.Abs(float64(a.Total)-3*float64(b.Total)) > 4 {
		t.Errorf("tenants: a %v, b %v (want 3:1 by the schedule)", a, b)
	}
	for i, s := range run.Samples {
		if i > 0 && s.At < run.Samples[i-1].At {
			t.Fatalf("samples out of send order at %d", i)
		}
		if s.Class() == Admitted && s.ID != "id-a" {
			t.Fatalf("sample %d: request id %q", i, s.ID)
		}
	}
	if _, ok := run.Event("started"); !ok {
		t.Error("the OnStart mark is missing")
	}
	var buf bytes.Buffer
	if err := Table(&buf, []string{"note"}, []Row{{Run: run, Extra: []string{"x"}}}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"| run | offered rate | sent | 2xx | 2xx/s | p50 | p90 | p99 | p99.9 | max | errors | note |",
		"| load | 200/s | ", " 429", " | x |"} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, buf.String())
		}
	}
	if err := Table(&buf, []string{"note"}, []Row{{Run: run}}); err == nil {
		t.Error("a row without its extra cell was accepted")
	}
}

// TestRetry: clients honour Retry-After: a request refused twice and then
// admitted is three samples, attempts 0, 1 and 2, the last admitted.
func TestRetry(t *testing.T) {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// every third request is admitted; a closed-model single worker
		// makes the sequence exact
		if n.Add(1)%3 != 0 {
			w.Header().Set("Retry-After", "0")
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		_, _ = w.Write([]byte("ok"))
	}))
	defer srv.Close()
	run, err := Attack(context.Background(), []Tenant{{Name: "a", Rate: 1, Target: vegeta.Target{Method: "GET", URL: srv.URL}}},
		Options{Duration: 200 * time.Millisecond, Workers: 1, KeepSamples: true, Retry: &Retry{Max: 5, Jitter: 0.5, Seed: 1}})
	if err != nil {
		t.Fatal(err)
	}
	if run.Sent < 3 {
		t.Fatalf("only %d attempts", run.Sent)
	}
	for i, s := range run.Samples {
		wantAttempt, wantCode := uint8(i%3), uint16(429)
		if i%3 == 2 {
			wantCode = 200
		}
		if s.Attempt != wantAttempt || s.Code != wantCode {
			t.Fatalf("sample %d: attempt %d code %d, want %d %d", i, s.Attempt, s.Code, wantAttempt, wantCode)
		}
	}
	if st := run.All(); st.Retries != st.Total-st.Total/3-min(st.Total%3, 1) {
		t.Errorf("retries %d of %d", st.Retries, st.Total)
	}
}

func TestAttackRejects(t *testing.T) {
	ok := vegeta.Target{Method: "GET", URL: "http://127.0.0.1:1/"}
	for name, c := range map[string]struct {
		tenants []Tenant
		opt     Options
	}{
		"not loopback": {[]Tenant{{Name: "a", Rate: 1, Target: vegeta.Target{Method: "GET", URL: "http://192.0.2.1/"}}}, Options{Duration: time.Second}},
		"no duration":  {[]Tenant{{Name: "a", Rate: 1, Target: ok}}, Options{}},
		"duplicate":    {[]Tenant{{Name: "a", Rate: 1, Target: ok}, {Name: "b", Rate: 1, Target: ok}}, Options{Duration: time.Second}},
		"bad arrival":  {[]Tenant{{Name: "a", Rate: 1, Target: ok}}, Options{Duration: time.Second, Rate: 5, Arrival: "uniform"}},
		"zero weight":  {[]Tenant{{Name: "a", Rate: 0, Target: ok}}, Options{Duration: time.Second}},
	} {
		if _, err := Attack(context.Background(), c.tenants, c.opt); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// TestIndependent: with Independent each tenant runs its own seeded
// arrival process; every attempt is still counted once, in its tenant.
func TestIndependent(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("ok")) }))
	defer srv.Close()
	tenants := []Tenant{
		{Name: "a", Rate: 150, Target: vegeta.Target{Method: "GET", URL: srv.URL + "/?t=a"}},
		{Name: "b", Rate: 50, Target: vegeta.Target{Method: "GET", URL: srv.URL + "/?t=b"}},
	}
	run, err := Attack(context.Background(), tenants, Options{Duration: 500 * time.Millisecond, Rate: 200, Arrival: Poisson,
		Seed: 3, Independent: true, KeepSamples: true})
	if err != nil {
		t.Fatal(err)
	}
	a, b := run.Window(0, time.Hour, run.Tenant("a")), run.Window(0, time.Hour, run.Tenant("b"))
	if a.Total == 0 || b.Total == 0 || a.Total+b.Total != run.Sent || run.OK != run.Sent {
		t.Fatalf("a %v, b %v, sent %d ok %d errors %v", a, b, run.Sent, run.OK, run.Errors())
	}
	for _, bad := range []Options{
		{Duration: time.Second, Rate: 100, Arrival: Poisson, Independent: true},
		{Duration: time.Second, Independent: true},
	} {
		if _, err := Attack(context.Background(), tenants, bad); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
}
