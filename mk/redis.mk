# Redis store: the benchmark against go-redis/redis_rate and a trivial EVALSHA, and the CI check that requires a
# real redis-server. Both start their own redis-server on a free loopback port (never 6379).
BENCH_REDIS_RUNS ?= 1
BENCH_REDIS_ROUNDS ?= 40
BENCH_REDIS_SCRIPT_ROUNDS ?= 5

.PHONY: bench-redis
bench-redis: ## Redis store decisions/s vs redis_rate and a trivial EVALSHA, interleaved, as a ratio table (needs redis-server)
	@command -v redis-server >/dev/null || { echo "bench-redis: redis-server not on PATH (apt-get install redis-server)"; exit 1; }
	@mkdir -p $(OUT)
	$(GO) test -run '^$$' -bench 'BenchmarkRedisInterleaved' -benchtime $(BENCH_REDIS_ROUNDS)x -count $(BENCH_REDIS_RUNS) \
		./engine/redisstore/ | tee $(OUT)/bench-redis.txt
	@awk -f engine/redisstore/benchtable.awk $(OUT)/bench-redis.txt | tee $(OUT)/bench-redis.md

.PHONY: bench-redis-script
bench-redis-script: ## redis-server CPU per script call (pipelined): lean and general script vs redis_rate's (needs redis-server, redis-benchmark)
	@mkdir -p $(OUT)
	sh engine/redisstore/scriptbench.sh $(BENCH_REDIS_SCRIPT_ROUNDS) | tee $(OUT)/bench-redis-script.md

.PHONY: ci-redis
ci-redis: ## Redis store tests under the race detector with a second conformance seed (requires redis-server)
	TOLLGATE_REQUIRE_REDIS=1 $(GO) test -count=1 -race -short -run 'Redis|Conformance' ./engine/redisstore/ -args -conformance.seed=7
