// Package schema defines the files that cross process boundaries, written and
// read through this package by every side: gatewayd's usage ledger
// (LedgerRecord, ReadLedger).
//
//	st, err := schema.ReadLedger("ledger", func(r schema.LedgerRecord) error {
//		fmt.Println(r.ID, r.Status, r.Requests())
//		return nil
//	})
package schema
