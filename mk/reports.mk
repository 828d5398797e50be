# Reports, cost model and the SLO gate (reports/, docs/reports.md).
REQUESTS ?= 1e9
FLEET ?= c7g.medium:on-demand:3
RUN_DIR ?= $(OUT)/$(NAME)

.PHONY: slo
slo: ## run the CI scenarios with fixed seeds; fail on any SLO breach or regression against reports/baseline
	$(GO) run ./cmd/gwlab slo

.PHONY: slo-update
slo-update: ## rerun the CI scenarios and rewrite the committed SLO baseline (reports/baseline)
	$(GO) run ./cmd/gwlab slo -update

.PHONY: ci-slo
ci-slo: ## CI: the SLO gate (make slo)
	@$(MAKE) --no-print-directory slo

.PHONY: cost
cost: ## price a month of traffic: make cost REQUESTS=1e9 FLEET=c7g.medium:spot:2,c7g.medium:on-demand:1
	$(GO) run ./cmd/gwlab cost -requests $(REQUESTS) -fleet $(FLEET)

.PHONY: report
report: ## rewrite report.md/report.html and figures for a run directory: make report RUN_DIR=out/spot-loss
	$(GO) run ./cmd/gwlab report $(RUN_DIR)

.PHONY: test-reports
test-reports: ## unit tests of the reports, cost model, plots and SLO gate, plus a short fuzz of the price-sheet parser
	$(GO) test -count=1 ./reports/...
	$(GO) test -run '^$$' -fuzz '^FuzzParse$$' -fuzztime 10s ./reports/cost/
	$(GO) test -run '^$$' -fuzz '^FuzzParseFleet$$' -fuzztime 5s ./reports/cost/
