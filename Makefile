# personfleet — make targets (CI runs the same ones: see .ci/run)
#
#   make demo        run the fleet on an embedded NATS server under real load, print a summary
#   make test        unit and integration tests (real embedded nats-server, no mocks)
#   make test-race   the same with the race detector
#   make lint        gofmt check, go vet, golangci-lint (pinned in tools/go.mod)
#   make e2e         the fleet as processes against a real Jaeger: one trace across all workers
#   make bench       domain micro-benchmarks (-benchmem, 5 runs; medians with benchstat)
#   make fuzz        short fuzz runs of every decoder (FUZZTIME=10s each)
#   make build       build every binary into ./bin
#   make clean       remove ./bin
#
# Tools come from tools/go.mod as `go tool -modfile=tools/go.mod …`, so the
# product module's dependency graph stays small. Nothing else is needed but Go.

GO        ?= go
TOOL      := $(GO) tool -modfile=tools/go.mod
PKGS      := ./...
BENCHPKGS := ./internal/statemachine/ ./internal/person/ ./internal/schema/ ./internal/policy/ ./internal/projection/
BENCHCOUNT ?= 5
FUZZTIME  ?= 10s
BINARIES  := command-worker policy-worker projector personctl

.PHONY: help demo test test-race lint bench fuzz build clean e2e

help:
	@sed -n '2,14p' Makefile | sed 's/^# \{0,1\}//'

build:
	@mkdir -p bin
	$(GO) build -trimpath -o bin/ $(addprefix ./cmd/,$(BINARIES))

test:
	$(GO) test -count=1 -timeout 15m $(PKGS)

test-race:
	$(GO) test -count=1 -race -timeout 20m $(PKGS)

# Jaeger v1.75.0 builds from the module proxy through tools/jaeger/go.mod
# (its own module: its dependency graph stays out of ours). The first
# build takes minutes on 2 cores; the Go build cache keeps it afterwards.
e2e:
	$(GO) test -tags e2e -count=1 -timeout 30m ./e2e/

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)
	$(TOOL) golangci-lint run $(PKGS)

bench:
	$(GO) test -run '^$$' -bench . -benchmem -count $(BENCHCOUNT) $(BENCHPKGS) | tee bench.out
	@echo "medians: $(TOOL) benchstat bench.out"

fuzz:
	@for pkg in $$($(GO) list ./internal/...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
	    echo "fuzz $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	  done; \
	done

demo: build
	./bin/personctl demo

clean:
	rm -rf bin bench.out
