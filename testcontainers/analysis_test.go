package testcontainers

import (
	"math"
	"testing"
	"time"
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

func ms(n int) time.Duration { return time.Duration(n) * time.Millisecond }

func TestWindowAndErrorWindow(t *testing.T) {
	r := &Run{Rate: 100, Duration: time.Second, Tenants: []string{"a", "b"}}
	// 10 ms apart: 0..990 ms; failures at 300..390 ms, 429s for tenant b.
	for i := 0; i < 100; i++ {
		s := Sample{At: ms(10 * i), Latency: ms(1 + i%10), Code: 200, Tenant: uint8(i % 2)}
		if i%2 == 1 {
			s.Code = 429
		}
		if i >= 30 && i < 40 {
			s.Code = 0
		}
		r.Samples = append(r.Samples, s)
	}
	all := r.All()
	if all.Total != 100 || all.Failed != 10 || all.Limited != 45 || all.Admitted != 45 {
		t.Fatalf("All() = %v", all)
	}
	if math.Abs(all.Rate429-0.45) > 1e-12 || all.P99MS != 10 || all.P50MS != 5 {
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
}

func TestRatio(t *testing.T) {
	if Ratio(0, 0) != 1 || Ratio(2, 4) != 0.5 || !math.IsInf(Ratio(1, 0), 1) {
		t.Fatal("Ratio conventions broken")
	}
}

func TestSampleClass(t *testing.T) {
	for code, want := range map[uint16]Class{200: Admitted, 204: Admitted, 429: Limited, 0: Failed, 502: Failed,
		503: Failed, 504: Failed, 401: Other, 404: Other} {
		if got := (Sample{Code: code}).Class(); got != want {
			t.Errorf("Class(%d) = %d, want %d", code, got, want)
		}
	}
}
