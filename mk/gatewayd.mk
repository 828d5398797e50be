# gatewayd: the production daemon (gatewayd/), its demo upstream and its benchmark.
GATEWAYD_BIN := bin/gatewayd
DEMO_UPSTREAM_BIN := bin/demo-upstream

.PHONY: gatewayd run bench-gatewayd ci-gatewayd test-gatewayd

gatewayd: ## build bin/gatewayd and bin/demo-upstream (static, CGO_ENABLED=0)
	CGO_ENABLED=0 $(GO) build -o $(GATEWAYD_BIN) ./gatewayd
	CGO_ENABLED=0 $(GO) build -o $(DEMO_UPSTREAM_BIN) ./gatewayd/cmd/demo-upstream

run: gatewayd ## run gatewayd with gatewayd/example.yaml and the demo upstream on :9000 (Ctrl-C stops both)
	@$(DEMO_UPSTREAM_BIN) -listen 127.0.0.1:9000 -quiet & up=$$!; \
	trap 'kill $$up 2>/dev/null; wait $$up 2>/dev/null' EXIT INT TERM; \
	echo "demo upstream on 127.0.0.1:9000 (pid $$up); try: curl -i -H 'X-API-Key: demo-key' http://127.0.0.1:8080/v1/hello"; \
	$(GATEWAYD_BIN) -config gatewayd/example.yaml

test-gatewayd: ## run gatewayd's unit and end-to-end tests (Redis tests skip without redis-server)
	$(GO) test -count=1 ./gatewayd/...

bench-gatewayd: gatewayd ## measure gatewayd (added latency, throughput vs nginx, memory; CPUs split with taskset) into docs/benchmarks/gatewayd.md
	$(GO) run ./gatewayd/cmd/gatewayd-bench -gatewayd $(GATEWAYD_BIN) -upstream $(DEMO_UPSTREAM_BIN) -out docs/benchmarks/gatewayd.md

ci-gatewayd: ## gatewayd's Redis end-to-end tests with a real redis-server (required) and short fuzz runs
	TOLLGATE_REQUIRE_REDIS=1 $(GO) test -count=1 -run 'Redis' ./gatewayd/
	$(GO) test -run '^$$' -fuzz '^FuzzParse$$' -fuzztime 20000x ./gatewayd/config/
	$(GO) test -run '^$$' -fuzz '^FuzzAuthenticate$$' -fuzztime 200000x ./gatewayd/auth/
	$(GO) test -run '^$$' -fuzz '^FuzzAppendRecord$$' -fuzztime 100000x ./gatewayd/ledger/
	$(GO) test -run '^$$' -fuzz '^FuzzClient$$' -fuzztime 300000x ./gatewayd/clientip/
	$(GO) test -run '^$$' -fuzz '^FuzzParsePenalty$$' -fuzztime 20000x ./gatewayd/gateway/
	$(GO) test -run '^$$' -fuzz '^FuzzInboundHeaders$$' -fuzztime 40000x ./gatewayd/gateway/
	$(GO) test -run '^$$' -fuzz '^FuzzString$$' -fuzztime 10000x ./gatewayd/redact/
	$(GO) test -run '^$$' -fuzz '^FuzzFold$$' -fuzztime 100000x ./gatewayd/headerpolicy/
