# tollgate: `make help` lists the targets. Each area keeps its targets in mk/<area>.mk.
SHELL := /bin/bash
GO ?= go
NAME ?= spot-loss
OUT ?= out

.DEFAULT_GOAL := help

.PHONY: help
help: ## list the targets with one line each
	@grep -hE '^[a-zA-Z0-9_.-]+:.*?## ' $(MAKEFILE_LIST) | sort -u | \
		awk 'BEGIN {FS = ":.*?## "}; {printf "  %-20s %s\n", $$1, $$2}'

.PHONY: build
build: ## build every package and the commands into bin/
	$(GO) build ./...
	$(GO) build -o bin/gwlab ./cmd/gwlab

.PHONY: test
test: ## run the unit tests (needs nothing but Go; Redis/Docker tests skip unless required)
	$(GO) test -count=1 ./...

.PHONY: vet
vet: ## gofmt and go vet
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt: files above need formatting"; exit 1; }
	$(GO) vet ./...

.PHONY: scenario
scenario: ## run one scenario on the embedded default: make scenario NAME=spot-loss
	$(GO) run ./cmd/gwlab run -out $(OUT)/$(NAME) $(NAME)

.PHONY: algorithms
algorithms: ## list the engine's algorithms
	$(GO) run ./cmd/gwlab algorithms

.PHONY: clean
clean: ## remove build and run outputs
	rm -rf bin $(OUT)

-include mk/*.mk
