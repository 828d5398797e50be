package replay

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"tollgate/engine"
	"tollgate/engine/route"
	"tollgate/engine/tier"
	"tollgate/schema"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// rec is one recorded request decided at ms after t0 and answered took later.
func rec(id, key, decision string, ms, took int, cost float64) schema.LedgerRecord {
	d := t0.Add(time.Duration(ms) * time.Millisecond)
	r := schema.LedgerRecord{ID: id, KeyHash: key, Tier: "basic", Route: "api", Method: "GET", Path: "/v1/x",
		Status: 200, Decision: decision, Cost: cost, Start: d, End: d.Add(time.Duration(took) * time.Millisecond),
		DecidedUS: d.UnixMicro()}
	if decision == "allowed" {
		r.CostCharged, r.CostSettled = cost, cost
	} else {
		r.Status = 429
	}
	return r
}

// writeLedger writes records in answer order, as gatewayd does.
func writeLedger(t *testing.T, recs ...schema.LedgerRecord) string {
	t.Helper()
	for i := range recs {
		for j := i + 1; j < len(recs); j++ {
			if recs[j].End.Before(recs[i].End) {
				recs[i], recs[j] = recs[j], recs[i]
			}
		}
	}
	p := filepath.Join(t.TempDir(), "usage-1.jsonl")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	enc := json.NewEncoder(f)
	for i := range recs {
		if err := enc.Encode(&recs[i]); err != nil {
			t.Fatal(err)
		}
	}
	f.Close()
	return p
}

func policy(file string, tiers []tier.Tier, cost float64) Policy {
	return Policy{File: file, Tiers: tiers,
		Routes: []route.Route{{Name: "api", Prefix: "/v1/", Methods: []string{"GET"}, Cost: cost, Reference: engine.Duration(time.Second)}}}
}

// TestReplaySkipsWhatNoLimiterDecided: 401 aggregates, penalty refusals and
// fail-open admissions are counted by decision and not asked again, so the
// store's state is what the recorded store saw.
func TestReplaySkipsWhatNoLimiterDecided(t *testing.T) {
	basic := []tier.Tier{{Name: "basic", Burst: 2, Rate: 1}}
	unauth := schema.LedgerRecord{ID: "u", Method: "GET", Path: "/v1/x", Status: 401, Decision: "unauthenticated",
		Start: t0, End: t0, Count: 7}
	pen := rec("p", "k", "penalty", 1, 1, 1)
	pen.DecidedUS, pen.Status = 0, 429
	open := rec("o", "k", "allowed", 2, 1, 1)
	open.Unmetered = true
	p := writeLedger(t, unauth, pen, open, rec("a", "k", "allowed", 3, 1, 1), rec("b", "k", "allowed", 4, 1, 1),
		rec("c", "k", "limited", 5, 1, 1))
	s, err := Run(p, Options{Recorded: policy("rec.yaml", basic, 1)})
	if err != nil {
		t.Fatal(err)
	}
	r := s.Replay
	if r.Records != 6 || r.Requests != 12 || r.Decided != 3 || r.DecisionDifferences != 0 {
		t.Fatalf("replay %+v", r)
	}
	if r.Skipped["unauthenticated"] != 7 || r.Skipped["penalty"] != 1 || r.Skipped["allowed"] != 1 {
		t.Fatalf("skipped %v", r.Skipped)
	}
}

// TestReplayCandidateTierAndRoute: a candidate that renames the tier needs a
// tier map (the error names the tier and the candidate's tiers); a candidate
// that renames the route is matched by path; a candidate price twice the
// recorded one asks twice the cost, so fewer requests fit the burst.
func TestReplayCandidateTierAndRoute(t *testing.T) {
	var recs []schema.LedgerRecord
	for i := 0; i < 6; i++ {
		d := "allowed"
		if i >= 4 {
			d = "limited"
		}
		recs = append(recs, rec(string(rune('a'+i)), "k", d, i, 1, 1))
	}
	p := writeLedger(t, recs...)
	recorded := policy("rec.yaml", []tier.Tier{{Name: "basic", Burst: 4, Rate: 0.001}}, 1)
	cand := Policy{File: "cand.yaml", Tiers: []tier.Tier{{Name: "gold", Burst: 4, Rate: 0.001}},
		Routes: []route.Route{{Name: "renamed", Prefix: "/v1/", Methods: []string{"GET"}, Cost: 2, Reference: engine.Duration(time.Second)}}}
	_, err := Run(p, Options{Recorded: recorded, Candidate: cand})
	if !errors.Is(err, ErrPolicy) || !strings.Contains(err.Error(), `tier "basic" is not a tier of cand.yaml (its tiers: gold)`) ||
		!strings.Contains(err.Error(), "usage-1.jsonl line") {
		t.Fatalf("unmapped tier: %v", err)
	}
	s, err := Run(p, Options{Recorded: recorded, Candidate: cand, TierMap: map[string]string{"*": "gold"}})
	if err != nil {
		t.Fatal(err)
	}
	r := s.Replay
	// cost 2 each: two of the four recorded admissions still fit the burst of 4
	if r.CandidateAdmitted != 2 || r.NewlyRefused != 2 || r.NewlyAdmitted != 0 || r.ByRoute["renamed"].Decided != 6 || r.ByTier["gold"].NewlyRefused != 2 {
		t.Fatalf("replay %+v", r)
	}
}

// TestReplayReleasesConcurrencyAtAnswer: with a concurrency cap of one, a
// request decided while another is still in flight is refused; one decided
// after the first was answered is admitted.
func TestReplayReleasesConcurrencyAtAnswer(t *testing.T) {
	tiers := []tier.Tier{{Name: "basic", Burst: 100, Rate: 100, Concurrency: 1}}
	p := writeLedger(t, rec("a", "k", "allowed", 0, 50, 1), rec("b", "k", "limited", 10, 1, 1), rec("c", "k", "allowed", 60, 1, 1))
	s, err := Run(p, Options{Recorded: policy("rec.yaml", tiers, 1)})
	if err != nil {
		t.Fatal(err)
	}
	if r := s.Replay; r.DecisionDifferences != 0 || r.CandidateAdmitted != 2 || r.CandidateRefused != 1 {
		t.Fatalf("replay %+v", r)
	}
}

// TestReplayNamesDamage: a bad line in the middle names the file and line.
func TestReplayNamesDamage(t *testing.T) {
	p := writeLedger(t, rec("a", "k", "allowed", 0, 1, 1))
	b, _ := os.ReadFile(p)
	os.WriteFile(p, append([]byte("{\"id\":\"x\",\"start\":7}\n"), b...), 0o644)
	_, err := Run(p, Options{Recorded: policy("rec.yaml", []tier.Tier{{Name: "basic", Burst: 1, Rate: 1}}, 1)})
	if !errors.Is(err, schema.ErrLedgerDamaged) || !strings.Contains(err.Error(), "usage-1.jsonl line 1") {
		t.Fatalf("damage: %v", err)
	}
}
