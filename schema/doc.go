// Package schema defines the files that cross process boundaries: gatewayd's
// usage ledger (LedgerRecord, ReadLedger), summary.json (Summary), the outcome
// of one simulated run that every report, comparison and SLO check reads, and
// compare.json (Comparison), the index of one `gwlab compare`, and plan.json
// (Plan) with its shards' partials (PlanPartial) from `gwlab plan`. Every side
// writes and reads them through this package, so a field is defined once and
// a writer-to-reader round trip is tested for each. It is plain data with JSON
// tags, encoding and validation; it imports nothing of tollgate's.
//
//	st, err := schema.ReadLedger("ledger", func(r schema.LedgerRecord) error {
//		fmt.Println(r.ID, r.Status, r.Requests())
//		return nil
//	})
//
//	s, err := schema.ReadSummary("out/spot-loss/summary.json")
//	if err != nil { ... }
//	fmt.Println(s.Scenario, s.Rate429.Overall, s.LatencyMS.P99)
package schema
