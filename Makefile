# deimos: build, test, lint, demo. `make test` is what CI runs (.ci/run).
GO        ?= go
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -s -w -X main.version=$(VERSION)
BIN       ?= bin/deimos
# Packages with goroutines of their own: tested again under the race detector.
RACE_PKGS ?= ./pkg/outbox/... ./pkg/poller/... ./pkg/consume/... ./pkg/produce/... ./pkg/sink/... ./pkg/checkpoint/... ./pkg/devenv/... ./internal/testenv/... ./pkg/compat/...

.PHONY: build test test-race lint demo clean bench

build:
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN) .

lint:
	@fmt=$$(gofmt -l . | grep -v '^vendor/'); if [ -n "$$fmt" ]; then echo "gofmt needed:"; echo "$$fmt"; exit 1; fi
	$(GO) vet ./...

test: lint build
	@echo "== make demo (the README's quick start)"; log=$$(mktemp); ./scripts/demo.sh $(BIN) >$$log 2>&1 || { cat $$log; rm -f $$log; exit 1; }; tail -1 $$log; rm -f $$log
	TEST_DEIMOS_BINARY=$(CURDIR)/$(BIN) $(GO) test -count=1 -timeout 15m ./...
	$(GO) test -count=1 -race -timeout 15m $(RACE_PKGS)

test-race:
	$(GO) test -count=1 -race -timeout 15m $(RACE_PKGS)

demo: build
	./scripts/demo.sh $(BIN)

bench: build
	@for s in scripts/bench/*.sh; do echo "== $$s"; bash $$s || exit 1; done

clean:
	rm -rf bin
