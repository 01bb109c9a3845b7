# personfleet — make targets (CI runs the same ones: see .ci/run)
#
#   make demo        run the fleet on an embedded NATS server under real load, print a summary
#   make test        unit and integration tests (real embedded nats-server, no mocks)
#   make test-race   the same with the race detector
#   make lint        gofmt check, go vet, golangci-lint (pinned in tools/go.mod)
#   make e2e         the fleet as processes against a real Jaeger: one trace across all workers
#   make chaos       crash tests: kill -9 workers, restart nats-server, lose a node of a 3-node cluster (docs/reliability.md)
#   make bench       domain micro-benchmarks (-benchmem, 5 runs; medians with benchstat)
#   make bench-e2e   the fleet end to end against a plain nats.go baseline (personctl bench)
#   make fuzz        short fuzz runs of every decoder (FUZZTIME=10s each)
#   make build       build every binary into ./bin
#   make chart-check the Helm chart: helm lint/template (Helm v4 from tools/helm/go.mod), strict k8s decode, env vs binaries
#   make image       the container image without a daemon: dist/personfleet-image.tar (OCI layout; deploy/image)
#   make image-check build the image and verify it (binaries, user 65532, digests) with go-containerregistry
#   make clean       remove ./bin and ./dist
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

.PHONY: help demo test test-race lint bench bench-e2e fuzz build clean e2e chaos chart-check image image-check

help:
	@sed -n '2,/^$$/p' Makefile | sed 's/^# \{0,1\}//'

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

# The crash tests build nats-server and the workers, run them as processes
# on loopback, and stop by themselves (a few minutes in all).
chaos:
	$(GO) test -tags chaos -count=1 -timeout 15m -v -run 'Chaos' ./e2e/

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)
	$(TOOL) golangci-lint run $(PKGS)
	$(MAKE) chart-check

bench:
	$(GO) test -run '^$$' -bench . -benchmem -count $(BENCHCOUNT) $(BENCHPKGS) | tee bench.out
	@echo "medians: $(TOOL) benchstat bench.out"

BENCH_E2E_FLAGS ?=
bench-e2e: build
	./bin/personctl bench $(BENCH_E2E_FLAGS)

fuzz:
	@for pkg in $$($(GO) list ./internal/...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
	    echo "fuzz $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	  done; \
	done

demo: build
	./bin/personctl demo

# The Helm chart (deploy/helm/personfleet). Helm v4 is a tool of its own
# module, tools/helm/go.mod (it would move golangci-lint's dependencies in
# tools/go.mod); deploy/helm/check is a module too (k8s.io/api stays out of
# the product's graph). The first Helm build takes ~4 minutes on 2 cores.
HELM        := $(GO) tool -modfile=tools/helm/go.mod helm
CHART       := deploy/helm/personfleet
CHART_CASES := $(wildcard $(CHART)/ci/*-values.yaml) deploy/examples/personfleet-values.yaml
chart-check:
	$(HELM) lint --strict $(CHART)
	@for f in $(CHART_CASES); do echo "helm lint --strict -f $$f"; $(HELM) lint --strict --quiet $(CHART) -f $$f || exit 1; done
	$(HELM) template pf $(CHART) > /dev/null
	@for f in $(CHART_CASES); do echo "helm template -f $$f"; $(HELM) template pf $(CHART) -f $$f > /dev/null || exit 1; done
	@out=$$(gofmt -l deploy/helm/check deploy/image); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	cd deploy/helm/check && $(GO) vet ./... && $(GO) tool -modfile=../../../tools/go.mod golangci-lint run ./... && HELM="$$(cd ../../.. && $(GO) tool -modfile=tools/helm/go.mod -n helm)" $(GO) test -count=1 -timeout 10m ./...

# The image without a Docker daemon (deploy/image, its own module): the four
# static binaries in one layer, user 65532, as an OCI layout tarball. Push it
# with `skopeo copy oci-archive:dist/personfleet-image.tar docker://REGISTRY/personfleet:TAG`,
# or load it with `docker load -i` / `podman load -i`. deploy/image/Dockerfile
# builds the same with a daemon.
IMAGE_TAG ?= 0.1.0
PLATFORMS ?= linux/amd64
image:
	cd deploy/image && $(GO) run . -src ../.. -out ../../dist/personfleet-image.tar -tag $(IMAGE_TAG) -platforms $(PLATFORMS)

image-check:
	cd deploy/image && $(GO) vet ./... && $(GO) tool -modfile=../../tools/go.mod golangci-lint run ./... && $(GO) test -count=1 -timeout 15m ./...

clean:
	rm -rf bin dist bench.out
