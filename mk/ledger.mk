# The usage ledger: schema's reader, gatewayd's writer, the PostgreSQL shipper (docs/ledger.md).

.PHONY: test-ledger bench-ledger ci-ledger

test-ledger: ## the ledger's tests: schema, writer (disk full on a tmpfs as root), PostgreSQL shipper, gatewayd end-to-end (SIGKILL, PostgreSQL outage, disk full, unauthenticated flood)
	$(GO) test -count=1 ./schema/ ./gatewayd/ledger/... ./internal/pgtest/
	$(GO) test -count=1 -run 'Kill9|PostgresOutage|DiskFull|UnauthenticatedFlood' ./gatewayd/

bench-ledger: ## sync against batch durability through gatewayd, and records per second shipped to PostgreSQL (BENCHMARKS.md)
	$(GO) test -run '^$$' -bench 'BenchmarkDurability' -benchtime 3x -count 1 ./gatewayd/
	$(GO) test -run '^$$' -bench 'BenchmarkShip' -benchtime 3x -count 1 ./gatewayd/ledger/pgship/

ci-ledger: ## the ledger with PostgreSQL and tmpfs required, and short fuzz runs of the ledger reader
	TOLLGATE_REQUIRE_POSTGRES=1 TOLLGATE_REQUIRE_MOUNT=1 $(GO) test -count=1 ./gatewayd/ledger/... ./internal/pgtest/
	$(GO) test -run '^$$' -fuzz '^FuzzReadLedgerFile$$' -fuzztime 15000x ./schema/
