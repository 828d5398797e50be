# Operations files: Prometheus rules and Grafana dashboard (deploy/, docs/observability.md), held against a real
# Prometheus (Debian's prometheus package: prometheus and promtool).
.PHONY: test-deploy ci-deploy

test-deploy: ## promtool check/test the shipped rules; metric names of rules and dashboard; real-Prometheus end-to-end test
	promtool check rules deploy/prometheus/rules.yml
	promtool test rules deploy/prometheus/rules_test.yml
	$(GO) test -count=1 ./deploy/ ./gatewayd/tracing/ ./gatewayd/promload/
	$(GO) test -count=1 -run 'Prometheus|Tracing' ./gatewayd/ ./gatewayd/gateway/

ci-deploy: ## CI: test-deploy with TOLLGATE_REQUIRE_PROMETHEUS=1 (a missing prometheus fails)
	@TOLLGATE_REQUIRE_PROMETHEUS=1 $(MAKE) --no-print-directory test-deploy

TRACING_BASELINE ?= 25052e2
.PHONY: bench-tracing
bench-tracing: ## tracing's cost: the request path at TRACING_BASELINE (no tracing hooks) vs tracing off, 1%, 100% (BENCHMARKS.md)
	@bash mk/bench-tracing.sh $(TRACING_BASELINE) 7 2s
