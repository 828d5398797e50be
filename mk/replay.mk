# gwlab replay: a gatewayd ledger decided again under its recorded policy or a candidate (replay/, docs/replay.md).
REPLAY_RECORDS ?= 10000000

.PHONY: bench-replay
bench-replay: ## replay REPLAY_RECORDS ledger records (default 10 million): records/s and peak memory against gwlab run on the same ledger
	$(GO) build -o bin/gwlab ./cmd/gwlab
	$(GO) run ./replay/cmd/replaybench -gwlab bin/gwlab -n $(REPLAY_RECORDS) -dir $(OUT)/bench-replay -out docs/benchmarks/replay.md
