package reports

import (
	"fmt"
	"sort"

	"tollgate/schema"
)

// replayDocument is the report of gwlab replay: what the ledger held, which
// requests the replayed policy decided differently, where, and what that
// policy's 429s, false 429s and over-admission are on the recorded traffic.
// A replay has no fleet, latency or fault timeline: those sections are left
// out rather than shown empty.
func replayDocument(s *schema.Summary, opts Options) *document {
	r := s.Replay
	title := opts.Title
	if title == "" {
		title = "tollgate replay: " + r.Candidate
	}
	d := &document{title: title}
	same := r.Candidate == r.Recorded
	d.p("Ledger **%s** (%s records, %s requests, %s s of traffic) decided again under **%s**%s.",
		r.Ledger, count(r.Records), count(r.Requests), trim(s.DurationS, 1), r.Candidate,
		map[bool]string{true: ", the policy that recorded it", false: fmt.Sprintf(" (recorded under %s)", r.Recorded)}[same])
	switch {
	case r.DecisionDifferences == 0:
		d.p("**No decision differs**: every request the limiter decided is decided the same way.")
	default:
		d.p("**%s of %s decisions differ** (%s): %s newly refused, %s newly admitted.", count(r.DecisionDifferences),
			count(r.Decided), pct(float64(r.DecisionDifferences)/float64(max(r.Decided, 1)), 3), count(r.NewlyRefused), count(r.NewlyAdmitted))
	}
	d.h(2, "Decisions")
	d.table(table{head: []string{"", "recorded", "replayed"}, right: []bool{false, true, true}, rows: [][]string{
		{"admitted", count(r.RecordedAdmitted), count(r.CandidateAdmitted)},
		{"refused (429)", count(r.RecordedRefused), count(r.CandidateRefused)},
		{"429 rate", pct(float64(r.RecordedRefused)/float64(max(r.Decided, 1)), 3), pct(s.Rate429.Overall, 3)},
	}})
	diffRows := func(m map[string]schema.ReplayDiff) [][]string {
		names := make([]string, 0, len(m))
		for n := range m {
			names = append(names, n)
		}
		sort.Strings(names)
		var rows [][]string
		for _, n := range names {
			x := m[n]
			rows = append(rows, []string{n, count(x.Decided), pct(float64(x.Refused)/float64(max(x.Decided, 1)), 3), count(x.NewlyRefused), count(x.NewlyAdmitted)})
		}
		return rows
	}
	head := []string{"", "decided", "429 rate", "newly refused", "newly admitted"}
	right := []bool{false, true, true, true, true}
	d.h(2, "By tier")
	d.table(table{head: append([]string{"tier"}, head[1:]...), right: right, rows: diffRows(r.ByTier)})
	d.h(2, "By route")
	d.table(table{head: append([]string{"route"}, head[1:]...), right: right, rows: diffRows(r.ByRoute)})

	d.h(2, "Correctness of the replayed policy")
	d.p("Against each key's contract (its tier's burst and sustained rate, kept by golang.org/x/time/rate on the recorded clock, sharing no code with the engine).")
	d.table(table{head: []string{"figure", "value"}, right: []bool{false, true}, rows: [][]string{
		{"false 429s (compliant requests refused)", fmt.Sprintf("%s (%s)", count(s.False429.Count), pct(s.False429.Rate, 4))},
		{"over-admission (cost admitted beyond the contract)", fmt.Sprintf("%s tokens, %s of admitted, %d keys", trim(s.OverAdmission.Tokens, 1), pct(s.OverAdmission.Ratio, 4), s.OverAdmission.Keys)},
		{"tokens admitted (billable)", trim(r.AdmittedTokens, 1)},
		{"recorded availability", fmt.Sprintf("%s (%s nines)", pct(s.Availability, 4), nines(s.Availability))},
	}})

	d.h(2, "Not replayed")
	var rows [][]string
	names := make([]string, 0, len(r.Skipped))
	for n := range r.Skipped {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		rows = append(rows, []string{n, count(r.Skipped[n])})
	}
	if len(rows) == 0 {
		d.p("Every record carried a limiter decision.")
	} else {
		d.p("Requests with no limiter decision to compare (unauthenticated, unrouted, penalty box, store down or fail-open), by recorded decision:")
		d.table(table{head: []string{"decision", "requests"}, right: []bool{false, true}, rows: rows})
	}
	if r.Late > 0 || r.TornLines > 0 {
		d.p("%s records were answered later than the reorder window after their decision and were replayed out of order; %d torn last lines (a crash mid-write) were skipped.", count(r.Late), r.TornLines)
	}
	return d
}
