# Container suite: real containers, real faults, held against the simulator (testcontainers/, docs/containers.md).
# Nothing is pulled: every image is built locally from Debian's packages and `go build`.
CONTAINERS_TIMEOUT ?= 15m
CONTAINERS_RUN ?= .

# testcontainers-go must never start Ryuk (its image cannot be pulled); exactly "true" disables it.
export TESTCONTAINERS_RYUK_DISABLED := true
export TESTCONTAINERS_HOST_OVERRIDE ?= 127.0.0.1

.PHONY: images
images: ## build the container images locally, no registry (tollgate/{redis,haproxy,upstream,gatewayd}:local)
	@bash testcontainers/images/build.sh

.PHONY: test-containers
test-containers: images ## run the container suite (faults, budgets, held-out comparisons); writes docs/benchmarks/containers.md
	TOLLGATE_CONTAINERS=1 TOLLGATE_CONTAINERS_REPORT=$(CURDIR)/docs/benchmarks/containers.md $(GO) test -count=1 -timeout $(CONTAINERS_TIMEOUT) -run '$(CONTAINERS_RUN)' -v ./testcontainers/

.PHONY: containers-clean
containers-clean: ## remove leftover containers and networks labelled org.testcontainers=true
	@ids=$$(docker ps -aq --filter label=org.testcontainers=true); \
		if [ -n "$$ids" ]; then echo "containers-clean: removing containers $$ids"; docker rm -f $$ids >/dev/null; fi
	@ids=$$(docker network ls -q --filter label=org.testcontainers=true); \
		if [ -n "$$ids" ]; then echo "containers-clean: removing networks $$ids"; docker network rm $$ids >/dev/null; fi; true

.PHONY: ci-containers
ci-containers: ## CI: build the images, run the container suite with TOLLGATE_REQUIRE_DOCKER=1, remove leftovers
	@$(MAKE) --no-print-directory containers-clean
	@docker version --format 'docker client {{.Client.Version}} engine {{.Server.Version}} (API {{.Server.APIVersion}})'; \
		docker info --format 'storage driver {{.Driver}}, cgroup v{{.CgroupVersion}}'
	@rc=0; $(MAKE) --no-print-directory images && \
		TOLLGATE_REQUIRE_DOCKER=1 TOLLGATE_CONTAINERS_REPORT=$(CURDIR)/$(OUT)/containers.md $(GO) test -count=1 -timeout $(CONTAINERS_TIMEOUT) -v ./testcontainers/... || rc=$$?; \
		$(MAKE) --no-print-directory containers-clean; exit $$rc
