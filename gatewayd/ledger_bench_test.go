package main

import (
	"io"
	"net/http"
	"sort"
	"sync"
	"testing"
	"time"
)

// BenchmarkDurability drives the same closed-loop load (16 clients with
// keep-alive) through two gatewayd processes, one with ledger durability
// sync and one with batch, and straight at the upstream, in interleaved
// blocks, and reports each one's throughput and its latency added over the
// direct call at p50 and p99. The ledgers are on the test's temporary
// directory (the machine's disk, fsync included).
func BenchmarkDurability(b *testing.B) {
	const clients, block, rounds = 16, 2000, 3
	up := newUpstream(b)
	gs := startGW(b, ledgerConfig(up.URL, "  durability: sync\n", ""))
	gb := startGW(b, ledgerConfig(up.URL, "  durability: batch\n", ""))
	tr := &http.Transport{MaxIdleConnsPerHost: clients, MaxConnsPerHost: clients}
	cl := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	run := func(url string, lat *[]time.Duration) time.Duration {
		var mu sync.Mutex
		var wg sync.WaitGroup
		next := make(chan struct{}, block)
		for i := 0; i < block; i++ {
			next <- struct{}{}
		}
		close(next)
		start := time.Now()
		for c := 0; c < clients; c++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range next {
					req, _ := http.NewRequest("GET", url+"/v1/bench", nil)
					req.Header.Set("X-API-Key", "demo-key")
					t0 := time.Now()
					resp, err := cl.Do(req)
					if err != nil {
						b.Error(err)
						return
					}
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					d := time.Since(t0)
					if resp.StatusCode != 200 {
						b.Errorf("status %d", resp.StatusCode)
						return
					}
					mu.Lock()
					*lat = append(*lat, d)
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		return time.Since(start)
	}
	var ls, lb, ld []time.Duration
	var ws, wb, wd time.Duration
	for b.Loop() {
		for r := 0; r < rounds; r++ {
			ws += run(gs.url, &ls)
			wb += run(gb.url, &lb)
			wd += run(up.URL, &ld)
		}
	}
	pct := func(l []time.Duration, p float64) float64 {
		s := append([]time.Duration(nil), l...)
		sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
		return float64(s[int(p*float64(len(s)-1))].Microseconds()) / 1000
	}
	rps := func(l []time.Duration, w time.Duration) float64 { return float64(len(l)) / w.Seconds() }
	b.ReportMetric(rps(ls, ws), "sync-req/s")
	b.ReportMetric(rps(lb, wb), "batch-req/s")
	b.ReportMetric(rps(ls, ws)/rps(lb, wb), "sync/batch-throughput")
	b.ReportMetric(pct(ls, .5)-pct(ld, .5), "sync-added-p50-ms")
	b.ReportMetric(pct(lb, .5)-pct(ld, .5), "batch-added-p50-ms")
	b.ReportMetric(pct(ls, .99)-pct(ld, .99), "sync-added-p99-ms")
	b.ReportMetric(pct(lb, .99)-pct(ld, .99), "batch-added-p99-ms")
	gs.stop()
	gb.stop()
}
