# fhbft: every target does its own set-up, so a fresh machine needs only
# `make run` and `make test` (README.md).
GO       ?= go
FUZZTIME ?= 5s
BENCHTIME ?= 1s
PKGS     := ./...
FHBFT    ?= $(or $(TMPDIR),/tmp)/fhbft-bin
RUNDIR   ?= $(or $(TMPDIR),/tmp)/fhbft-run

.PHONY: all run slices test deps fmt-check vet gotest race tlc tlc-or-skip proofs bench fuzz

all: test

deps:
	$(GO) mod download

## run: the main job: the whole protocol (fhbft simulate) on a seeded,
## deterministic network: farmer quorums, a harvester quorum under the
## pacemaker, miners and clients. Writes an NDJSON trace and the DAG as
## Graphviz DOT to $(RUNDIR). Exits non-zero if an invariant fails.
run: deps
	$(GO) build -o $(FHBFT) ./impl/cmd/fhbft
	@mkdir -p $(RUNDIR)
	$(FHBFT) simulate --trace $(RUNDIR)/trace.ndjson --dot $(RUNDIR)/dag.dot
	@echo "trace: $(RUNDIR)/trace.ndjson  DAG: $(RUNDIR)/dag.dot (dot -Tsvg $(RUNDIR)/dag.dot > dag.svg)"

## slices: the earlier per-slice simulations (certification, pacemaker, farmers).
slices: deps
	$(GO) build -o $(FHBFT) ./impl/cmd/fhbft
	@echo "== fhbft certify: threshold certification =="
	$(FHBFT) certify
	@echo; echo "== fhbft pacemaker: chained HotStuff with a leader crash =="
	$(FHBFT) pacemaker
	@echo; echo "== fhbft farm: transfers to transaction certificates =="
	$(FHBFT) farm

## test: everything CI checks.
test: deps fmt-check vet gotest race tlc-or-skip proofs
	@echo "make test: all checks passed"

fmt-check:
	@out=$$(gofmt -l $$(find . -name '*.go' -not -path './.git/*')); \
	if [ -n "$$out" ]; then echo "gofmt needed on:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet $(PKGS)

gotest:
	$(GO) test -count=1 $(PKGS)

# The race detector on the packages that run goroutines or are read
# concurrently (left-right readers, the validator unit's worker pool).
race:
	$(GO) test -count=1 -race -short ./impl/leftright/... ./impl/state/... ./impl/mempool/... ./impl/validator/...

## tlc: run TLC on every model in tla/manifest.json and compare with it.
tlc:
	$(GO) run ./tla/tlcrun

# Without tla2tools.jar the runner prints "TLC not available" and a visible
# SKIPPED line: a skip, never a silent pass.
tlc-or-skip:
	$(GO) run ./tla/tlcrun -skip-if-unavailable

## proofs: compile the Coq proofs and reject admitted lemmas or axioms.
proofs:
	@if [ -x proofs/check.sh ]; then bash proofs/check.sh; else echo "proofs: nothing to check yet"; fi

## bench: benchmarks, each with its baseline in the same run.
bench: deps
	$(GO) test -run '^$$' -bench . -benchtime $(BENCHTIME) $(PKGS)

## fuzz: every fuzz target for FUZZTIME each.
fuzz: deps
	@set -e; for pkg in $$($(GO) list $(PKGS)); do \
	  for t in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
	    echo "fuzz $$pkg $$t"; $(GO) test -run '^$$' -fuzz "^$$t\$$" -fuzztime $(FUZZTIME) -fuzzminimizetime 1s $$pkg; \
	  done; done

