# deimos: build, test, lint, demo. `make test` is what CI runs (.ci/run).
GO        ?= go
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -s -w -X main.version=$(VERSION)
BIN       ?= bin/deimos
# Packages with goroutines of their own: tested again under the race detector.
RACE_PKGS ?= ./pkg/outbox/... ./pkg/poller/... ./pkg/consume/... ./pkg/produce/... ./pkg/sink/... ./pkg/checkpoint/... ./pkg/devenv/... ./internal/testenv/... ./pkg/compat/...

.PHONY: build test test-race lint demo clean bench release release-check release-amd64 release-arm64 release-sums

# `make release`: fully static linux/amd64 and linux/arm64 binaries with SQLite
# embedded (cgo, statically linked against glibc; the netgo and osusergo tags
# keep DNS and user lookups in Go, sqlite_omit_load_extension drops dlopen),
# stamped with VERSION, plus SHA256SUMS. arm64 needs a cross C compiler:
# Debian's gcc-aarch64-linux-gnu and libc6-dev-arm64-cross.
RELEASE_DIR   ?= dist
RELEASE_TAGS  := netgo,osusergo,sqlite_omit_load_extension
RELEASE_FLAGS := -trimpath -tags $(RELEASE_TAGS) -ldflags "$(LDFLAGS) -linkmode external -extldflags -static"
CC_AMD64      ?= gcc
CC_ARM64      ?= aarch64-linux-gnu-gcc

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

# `make bench`: every benchmark in scripts/bench/, each printing its own
# reference measured in the same run (CPU per message per process, peak RSS);
# produce/consume and the poller at N=100,000 and 1,000,000, the table sink
# at 100,000 and 300,000 (its bulk-INSERT reference alone takes over two
# minutes at 1,000,000 here; scripts/bench/sink.sh alone runs 100,000 and
# 1,000,000), each with the cost-per-message scaling ratio. Under 10 minutes
# on 2 cores (docs/performance.md).
BENCH_NS ?= 100000 1000000
BENCH_SINK_NS ?= 100000 300000
bench: build
	@start=$$(date +%s); set -e; \
	run() { echo; echo "== $$*"; t0=$$(date +%s); env "$$@"; echo "== $$(( $$(date +%s) - t0 ))s: $$*"; }; \
	run NS="$(BENCH_NS)" REPS=2 bash scripts/bench/produce-consume.sh; \
	run NS="$(BENCH_NS)" ROUNDS=2 bash scripts/bench/poller.sh; \
	run NS="$(BENCH_SINK_NS)" bash scripts/bench/sink.sh; \
	run bash scripts/bench/outbox.sh; \
	run bash scripts/bench/encode.sh 1s; \
	run DEIMOS_BIN=$(BIN) bash scripts/bench/schema-compat.sh 100 1000; \
	echo; echo "== make bench: $$(( $$(date +%s) - start ))s in all"

release: release-check release-amd64 release-arm64 release-sums

release-sums:
	cd $(RELEASE_DIR) && sha256sum deimos-$(VERSION)-linux-* > SHA256SUMS
	@cat $(RELEASE_DIR)/SHA256SUMS

release-check:
	@command -v $(CC_AMD64) >/dev/null || { echo "make release: no C compiler '$(CC_AMD64)' (apt-get install gcc libc6-dev)"; exit 2; }
	@command -v $(CC_ARM64) >/dev/null && [ -e /usr/aarch64-linux-gnu/lib/libc.a ] || { echo "make release: linux/arm64 needs a cross C compiler: apt-get install gcc-aarch64-linux-gnu libc6-dev-arm64-cross (or set CC_ARM64)"; exit 2; }

release-amd64:
	CGO_ENABLED=1 GOOS=linux GOARCH=amd64 CC=$(CC_AMD64) $(GO) build $(RELEASE_FLAGS) -o $(RELEASE_DIR)/deimos-$(VERSION)-linux-amd64 .

release-arm64:
	CGO_ENABLED=1 GOOS=linux GOARCH=arm64 CC=$(CC_ARM64) $(GO) build $(RELEASE_FLAGS) -o $(RELEASE_DIR)/deimos-$(VERSION)-linux-arm64 .

clean:
	rm -rf bin $(RELEASE_DIR)
