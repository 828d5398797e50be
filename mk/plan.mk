# Planner: gwlab plan and merge (plan/, plans/, schema/plan.go, docs/plan.md).
SPEC ?= seed-claim
PLAN_OUT ?= $(OUT)/plan/$(SPEC)
PLAN_MONTH_REQUESTS ?= 1e8

.PHONY: plan test-plan fuzz-plan ci-plan ci-plan-choice

plan: ## search for the cheapest deployment meeting a plan spec's SLO: make plan SPEC=seed-claim (writes $(PLAN_OUT))
	$(GO) build -o bin/gwlab ./cmd/gwlab
	bin/gwlab plan -out $(PLAN_OUT) $(SPEC)

test-plan: ## the planner's unit tests (spec, statistics, shards and merge, schema round trip, a month against the estimate)
	$(GO) test -count=1 ./plan/ ./plans/ ./schema/ ./sim/ledgerfit/
	$(GO) test -count=1 -run 'Plan|Progress' ./cmd/gwlab/

fuzz-plan: ## fuzz the plan spec parser for 20 s
	$(GO) test -run '^$$' -fuzz '^FuzzParse$$' -fuzztime 20s ./plan/

ci-plan: ## CI: the spec and ledger-fit fuzzers, then a full simulated month of PLAN_MONTH_REQUESTS against the estimator's interval
	$(GO) test -run '^$$' -fuzz '^FuzzParse$$' -fuzztime 12000x ./plan/
	$(GO) test -run '^$$' -fuzz '^FuzzFit$$' -fuzztime 5000x ./sim/ledgerfit/
	$(GO) test -count=1 -v -run '^TestMonthInsideInterval$$' ./plan/ -args -month.requests=$(PLAN_MONTH_REQUESTS)

ci-plan-choice: ## CI: gwlab plan seed-claim end to end; its choice.yaml must equal the committed scenarios/seed-claim-choice.yaml (make plan-choice-month gates that scenario)
	$(GO) build -o bin/gwlab ./cmd/gwlab
	/usr/bin/time -f 'gwlab plan seed-claim: %e s wall, %U s user' bin/gwlab plan -progress off -out $(OUT)/plan/seed-claim seed-claim
	diff -u scenarios/seed-claim-choice.yaml $(OUT)/plan/seed-claim/choice.yaml || \
	  { echo "the plan's choice moved: review $(OUT)/plan/seed-claim/report.md, copy choice.yaml to scenarios/seed-claim-choice.yaml and rerun gwlab slo -update seed-claim-choice"; exit 1; }

.PHONY: plan-choice-month
plan-choice-month: ## the committed choice of seed-claim over its month against its SLO and baseline (one core, about 18 minutes; .ci/run starts it first, in the background)
	$(GO) build -o bin/gwlab-month ./cmd/gwlab
	/usr/bin/time -f 'seed-claim-choice month: %e s wall, %U s user' bin/gwlab-month slo -v seed-claim-choice

.PHONY: bench-plan
bench-plan: ## configurations evaluated per minute on one worker and on two (the 1-core to 2-core scaling), and seed-claim end to end
	$(GO) test -run '^$$' -bench 'BenchmarkShard' -benchtime 1x -count 3 ./plan/
	$(GO) build -o bin/gwlab ./cmd/gwlab
	/usr/bin/time -v bin/gwlab plan -progress off -out $(OUT)/plan/seed-claim seed-claim
