# airlift: see README.md. `make demo` and `make test` are the two commands a
# newcomer needs; both install what they lack (scripts/install-tools.sh).
GO      ?= go
BIN     := bin/airlift
TOOLS   := $(CURDIR)/.tools/bin
export PATH := $(TOOLS):$(PATH)

.PHONY: all build tools demo test test-short check fmt vet tidy-check bench compare clean

all: build

build:
	$(GO) build -o $(BIN) ./cmd/airlift

tools:
	@scripts/install-tools.sh

demo: build tools
	@scripts/demo.sh

# Integration tests need the local S3 server and the cross-check tools;
# AIRLIFT_REQUIRE_S3=1 turns a missing one into a failure, never a skip.
test: tools
	AIRLIFT_REQUIRE_S3=1 $(GO) test -race -count=1 -timeout 20m ./...

test-short:
	$(GO) test -short -count=1 ./...

fmt:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

tidy-check:
	@cp go.mod /tmp/airlift-go.mod.bak; cp go.sum /tmp/airlift-go.sum.bak; $(GO) mod tidy; \
	if ! diff -q go.mod /tmp/airlift-go.mod.bak >/dev/null || ! diff -q go.sum /tmp/airlift-go.sum.bak >/dev/null; then \
	  echo "go mod tidy changes go.mod/go.sum"; cp /tmp/airlift-go.mod.bak go.mod; cp /tmp/airlift-go.sum.bak go.sum; exit 1; fi

check: fmt vet tidy-check
	@if command -v staticcheck >/dev/null; then staticcheck ./...; else echo "staticcheck not installed (make tools STATICCHECK=1)"; fi
	$(MAKE) test

# Go benchmarks of the hot paths (not part of make test).
bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

# Side-by-side against peer tools on a local S3 server (root: it mounts a tmpfs per run; see bench/compare).
# make compare SET=S ROUNDS=3 TOOLS="airlift rclone-tuned aws1" [LATENCY=25ms] [SERVER=seaweedfs]
SET ?= S
ROUNDS ?= 3
TOOLS ?= airlift rclone-tuned aws1
compare: build
	bench/compare/compare setup
	LATENCY=$(LATENCY) SERVER=$(SERVER) bench/compare/compare copy $(SET) $(ROUNDS) $(TOOLS)

clean:
	rm -rf bin
