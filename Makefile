# diego: build, test and run. Every target works on a fresh Debian machine as
# root: `deps` installs what is missing (the Go toolchain go.mod names, through
# Debian's Go and the module proxy; python3 for the wire-format check).

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
export PATH := /usr/local/go/bin:$(HOME)/go/bin:$(PATH)
export GOTOOLCHAIN ?= auto
export GOFLAGS ?= -buildvcs=false
# Static binaries: garden re-executes itself inside containers, whose rootfs
# has no dynamic loader, and the healthcheck runs there too.
export CGO_ENABLED ?= 0

SHARED ?= ../shared
# Tools are pinned in go.mod's tool block (ginkgo, counterfeiter, protoc-gen-go).
GINKGO := go tool ginkgo
# Ginkgo's parallel processes: the machines have two cores.
PROCS ?= 2
# How long each fuzz target runs under `make fuzz`.
FUZZTIME ?= 30s
# The benchmark `make bench B=<name>` runs (all of them when empty).
B ?=

.PHONY: all build test unit store-modes lint check-proto run generate bench fuzz deps clean help rootfs stack-rootfs run-multivm test-multivm

all: build

help:
	@echo "make build        build every binary into bin/"
	@echo "make test         lint, wire-format check and every ginkgo suite (what CI runs)"
	@echo "make run          build and start a local cluster"
	@echo "make run-multivm  build and start the BOSH example deployment, one network namespace per VM"
	@echo "make test-multivm the multi-VM HA specs (about 2 minutes with bin/ built; not part of make test)"
	@echo "make generate     regenerate code from models/*.proto and counterfeiter fakes"
	@echo "make bench [B=x]  run the benchmarks of ../shared/benchmarks.md"
	@echo "make fuzz         run every fuzz target for FUZZTIME ($(FUZZTIME))"
	@echo "make lint         go vet and gofmt"
	@echo "make store-modes  the BBS store suite with record_cache and group_commit off (part of make test)"
	@echo "make rootfs       build the busybox rootfs into /var/lib/diego/rootfs/busybox (docs/rootfs.md)"
	@echo "make stack-rootfs build the Debian rootfs of the cflinuxfs* stacks into /var/lib/diego/rootfs/cflinuxfs"

deps:
	@go version 2>/dev/null | grep -Eq 'go1\.(2[1-9]|[3-9][0-9])' || ./scripts/install-go.sh
	@command -v python3 >/dev/null || { echo "installing python3 (for the wire-format check)"; \
		apt-get update -qq && apt-get install -y -qq python3 >/dev/null; }
	@command -v iptables-restore >/dev/null || { echo "installing iptables (garden's container networking)"; \
		apt-get update -qq && apt-get install -y -qq iptables >/dev/null; }
	@command -v mkfs.ext4 >/dev/null || { echo "installing e2fsprogs (garden's disk limits)"; \
		apt-get update -qq && apt-get install -y -qq e2fsprogs >/dev/null; }
	@command -v runc >/dev/null || { echo "installing runc (garden's container runtime)"; \
		apt-get update -qq && apt-get install -y -qq runc >/dev/null; }
	@command -v ruby >/dev/null || { echo "installing ruby (renders the BOSH release's ERB templates)"; \
		apt-get update -qq && apt-get install -y -qq ruby >/dev/null; }
	@go mod download

build: deps
	@mkdir -p bin
	@if go list ./cmd/... >/dev/null 2>&1 && [ -n "$$(go list ./cmd/... 2>/dev/null)" ]; then \
		go build -o bin/ ./cmd/...; echo "built: $$(ls bin | grep -v tools | tr '\n' ' ')"; \
	else echo "no daemons under cmd/ yet"; fi
	@# The buildpack lifecycle (static: it runs in the container's rootfs) and
	@# the file-server's static directory: bin/static (docs/ccbridge.md).
	@mkdir -p bin/lifecycle
	go build -ldflags='-s -w' -o bin/lifecycle/ ./ccbridge/lifecycle/cmd/builder ./ccbridge/lifecycle/cmd/launcher ./cmd/healthcheck
	go run ./ccbridge/lifecycle/cmd/bundle -bin bin/lifecycle -buildpacks deploy/buildpacks -out bin/static

lint: deps
	go vet ./...
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './bin/*')); \
	if [ -n "$$unformatted" ]; then echo "gofmt would change:"; echo "$$unformatted"; exit 1; fi

# The .proto files must keep Diego's field names, numbers and types.
check-proto: deps
	@if [ -x $(SHARED)/spec/check-proto-fields ]; then \
		python3 $(SHARED)/spec/check-proto-fields models metron/events; \
	elif [ "$${CI:-}" = true ]; then echo "$(SHARED)/spec/check-proto-fields is missing" >&2; exit 1; \
	else echo "skipping the wire-format check: $(SHARED)/spec is not beside this checkout (set SHARED=...)"; fi

unit: deps
	@rm -f bin/ginkgo-report.json
	$(GINKGO) -r -p --procs=$(PROCS) --randomize-all --keep-going --skip-package=test/multivm --timeout=30m --poll-progress-after=120s \
		$$([ "$${CI:-}" = true ] && echo --no-color) --json-report=bin/ginkgo-report.json \
		|| { python3 scripts/spec-summary.py bin/ginkgo-report.json || true; exit 1; }
	@python3 scripts/spec-summary.py bin/ginkgo-report.json

# The store's other modes, which the BBS offers as settings: the etcddb suite
# with the record cache off (record_cache: false) and with each write sent
# alone (group_commit: false). Each takes a few seconds.
store-modes: deps
	ETCDDB_NO_CACHE=1 $(GINKGO) --procs=$(PROCS) $$([ "$${CI:-}" = true ] && echo --no-color) ./bbs/db/etcddb
	ETCDDB_SERIAL_COMMITS=1 $(GINKGO) --procs=$(PROCS) $$([ "$${CI:-}" = true ] && echo --no-color) ./bbs/db/etcddb

test: lint check-proto build unit store-modes

# The local cluster (docs/local-cluster.md), as root: builds everything,
# the busybox rootfs and the Debian stack rootfs when they are missing or
# out of date (both scripts skip an up-to-date tree), and runs
# bin/diego-local in the foreground until Ctrl-C. Flags go in ARGS, e.g.
# `make run ARGS="-cells 3 -stacks cflinuxfs5"`.
RUN_ROOTFS ?= /var/lib/diego/rootfs/busybox
STACK_ROOTFS ?= /var/lib/diego/rootfs/cflinuxfs
ARGS ?=
run: build
	@./deploy/rootfs/build.sh $(RUN_ROOTFS)
	@./deploy/rootfs/build-stack.sh $(STACK_ROOTFS)
	exec bin/diego-local -rootfs $(RUN_ROOTFS) -stack-rootfs $(STACK_ROOTFS) $(ARGS)

# The BOSH release's example deployment with each VM in a network namespace
# (docs/deploy.md), as root, in the foreground until Ctrl-C; the receptor
# API is forwarded to 127.0.0.1:8887, the routers to 127.0.0.1:8081. Flags go in ARGS.
run-multivm: build
	@./deploy/rootfs/build.sh $(RUN_ROOTFS)
	exec flock /tmp/diego-real-garden.lock bin/diego-multivm -rootfs $(RUN_ROOTFS) $(ARGS)

# The HA specs of the multi-VM cluster: a whole VM of each group stopped in
# turn under load. They run real gardens, so they hold the shared lock.
test-multivm: build
	@./deploy/rootfs/build.sh $(RUN_ROOTFS)
	MULTIVM_BIN_DIR=$(CURDIR)/bin DIEGO_ROOTFS=$(RUN_ROOTFS) flock /tmp/diego-real-garden.lock \
		$(GINKGO) --procs=1 --timeout=40m --poll-progress-after=300s $$([ "$${CI:-}" = true ] && echo --no-color) ./test/multivm

generate: deps
	@command -v protoc >/dev/null || { echo "installing protobuf-compiler"; \
		apt-get update -qq && apt-get install -y -qq protobuf-compiler >/dev/null; }
	./scripts/generate-models.sh
	go generate ./...

bench: deps
	@./scripts/bench.sh $(B)

fuzz: deps
	@for pkg in $$(go list ./...); do \
		for f in $$(go test -list '^Fuzz' $$pkg 2>/dev/null | grep '^Fuzz' || true); do \
			echo "fuzzing $$pkg $$f for $(FUZZTIME)"; \
			go test $$pkg -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME); \
		done; \
	done

rootfs:
	./deploy/rootfs/build.sh /var/lib/diego/rootfs/busybox

stack-rootfs:
	./deploy/rootfs/build-stack.sh $(STACK_ROOTFS)

clean:
	rm -rf bin
