# Engine: transitions, memstore, tiers, pricing, limiter, leases (engine/, docs/engine.md).
# The Redis store has its own targets beside it; these cover everything else in engine/.
ENGINE_PKGS := ./engine/ ./engine/memstore/ ./engine/tier/ ./engine/pricing/ ./engine/limiter/ ./engine/lease/
ENGINE_BENCHTIME ?= 1s
ENGINE_FUZZTIME ?= 20s

.PHONY: test-engine
test-engine: ## run the engine's unit tests (everything in engine/ but the Redis store)
	$(GO) test -count=1 $(ENGINE_PKGS)

.PHONY: bench-engine
bench-engine: ## benchmark the memstore against x/time/rate, parallel throughput, bytes per key at 1M keys
	$(GO) test -run '^$$' -bench 'Interleaved' -benchmem -benchtime 5000000x -count 1 ./engine/memstore/
	$(GO) test -run '^$$' -bench 'BytesPerKey' -benchtime 1x -count 1 ./engine/memstore/
	$(GO) test -run '^$$' -bench 'Decision|Parallel$$|Step' -benchmem -benchtime $(ENGINE_BENCHTIME) -count 1 ./engine/memstore/ ./engine/

.PHONY: fuzz-engine
fuzz-engine: ## fuzz the engine's invariants and the tier and pricing configs (ENGINE_FUZZTIME each)
	$(GO) test -run '^$$' -fuzz '^FuzzBucketBound$$' -fuzztime $(ENGINE_FUZZTIME) ./engine/
	$(GO) test -run '^$$' -fuzz '^FuzzInvariants$$' -fuzztime $(ENGINE_FUZZTIME) ./engine/
	$(GO) test -run '^$$' -fuzz '^FuzzCompile$$' -fuzztime $(ENGINE_FUZZTIME) ./engine/tier/
	$(GO) test -run '^$$' -fuzz '^FuzzConfig$$' -fuzztime $(ENGINE_FUZZTIME) ./engine/pricing/

.PHONY: ci-engine-fuzz
ci-engine-fuzz: ## CI: fuzz the engine's invariants and configs briefly (80,000 inputs each, about a minute)
	@$(MAKE) --no-print-directory fuzz-engine ENGINE_FUZZTIME=80000x

.PHONY: ci-engine-race
ci-engine-race: ## CI: the engine's concurrent packages under the race detector
	$(GO) test -race -count=1 ./engine/memstore/ ./engine/pricing/ ./engine/limiter/ ./engine/lease/
