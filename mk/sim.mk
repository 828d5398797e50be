# Simulator targets (sim/, scenarios/, gwlab run/list/compare/bench).

.PHONY: bench-sim
bench-sim: ## simulator throughput: requests per CPU-second on baseline and spot-loss, plus Go benchmarks
	$(GO) build -o bin/gwlab ./cmd/gwlab
	bin/gwlab bench baseline
	bin/gwlab bench spot-loss
	bin/gwlab bench -set duration=1d month-1b
	$(GO) test -run '^$$' -bench . -benchtime 3x -count 1 ./sim
	$(GO) test -run '^$$' -bench . -benchtime 1000000x -count 1 ./sim/kernel

.PHONY: month-1b
month-1b: ## simulate the month-1b scenario end to end (1e9 requests, about 10 minutes of CPU) into $(OUT)/month-1b
	$(GO) build -o bin/gwlab ./cmd/gwlab
	bin/gwlab bench -out $(OUT)/month-1b month-1b

.PHONY: ci-sim
ci-sim: ## simulator checks too slow for make test: every built-in scenario run twice byte-identical, fuzz bursts
	$(GO) test -count=1 -run TestEveryScenarioDeterministic -tags simlong ./scenarios
	$(GO) test -run '^$$' -fuzz '^FuzzParse$$' -fuzztime 200000x ./scenarios
	$(GO) test -run '^$$' -fuzz '^FuzzParseMap$$' -fuzztime 100000x ./scenarios
	$(GO) test -run '^$$' -fuzz '^FuzzReadLedgerFile$$' -fuzztime 15000x ./schema
	$(GO) test -run '^$$' -fuzz '^FuzzParseShard$$' -fuzztime 20000x ./sim

.PHONY: ci-quickstart
ci-quickstart: ## CI: README's first command (make scenario NAME=spot-loss, embedded default, no Redis or Docker) writes its report
	rm -rf $(OUT)/ci-quickstart
	$(MAKE) --no-print-directory scenario NAME=spot-loss OUT=$(OUT)/ci-quickstart
	@for f in summary.json report.md report.html; do \
		test -s $(OUT)/ci-quickstart/spot-loss/$$f || { echo "ci-quickstart: $(OUT)/ci-quickstart/spot-loss/$$f missing or empty"; exit 1; }; \
	done; echo "ci-quickstart: summary.json, report.md and report.html written"

.PHONY: mutation-check
mutation-check: ## build gwlab with the engine mutated to charge 10% less (-tags mutation); fail unless the SLO gate fails with an over_admission breach
	$(GO) build -tags mutation -o bin/gwlab-mutation ./cmd/gwlab
	@mkdir -p $(OUT); rc=0; bin/gwlab-mutation slo > $(OUT)/mutation-check.txt 2>&1 || rc=$$?; \
	grep -v '^gwlab slo:' $(OUT)/mutation-check.txt; \
	if [ $$rc -eq 0 ]; then echo "mutation-check: FAIL: the SLO gate passed an engine that charges 10% less"; exit 1; fi; \
	if ! awk '$$2 == "over_admission" && $$0 ~ /BREACH/ { found = 1 } END { exit !found }' $(OUT)/mutation-check.txt; then \
		echo "mutation-check: FAIL: the gate failed (exit $$rc) but with no over_admission breach"; exit 1; fi; \
	echo "mutation-check: ok: the gate caught the mutation as an over_admission breach"

.PHONY: ci-mutation
ci-mutation: ## CI: make mutation-check (the independent references catch an engine that over-admits)
	@$(MAKE) --no-print-directory mutation-check
