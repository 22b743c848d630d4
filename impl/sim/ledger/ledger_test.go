package ledger

import (
	"bytes"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fhbft/fhbft/impl/dag"
)

// run runs cfg and fails the test on a configuration error; the seed is in
// every failure message.
func run(t *testing.T, cfg Config) *Report {
	t.Helper()
	rep, err := Run(cfg)
	if rep == nil {
		t.Fatalf("seed %d: %v", cfg.Seed, err)
	}
	var ve *ViolationError
	if err != nil && !errors.As(err, &ve) {
		t.Fatalf("seed %d: %v", cfg.Seed, err)
	}
	if (err == nil) != (len(rep.Violations) == 0) {
		t.Fatalf("seed %d: error %v with %d violations", cfg.Seed, err, len(rep.Violations))
	}
	return rep
}

// mustHold runs cfg and fails on any violation.
func mustHold(t *testing.T, cfg Config) *Report {
	t.Helper()
	rep := run(t, cfg)
	if len(rep.Violations) > 0 {
		var b strings.Builder
		rep.WriteText(&b, false, true)
		t.Fatalf("seed %d faults %s: %d violations:\n%s", cfg.Seed, cfg.Faults, len(rep.Violations), b.String())
	}
	checkSettled(t, cfg, rep)
	return rep
}

// checkSettled: every transfer certified valid is finalized or rejected
// with a reason (FIN-6), the counts add up, and every round was final.
func checkSettled(t *testing.T, cfg Config, rep *Report) {
	t.Helper()
	if len(rep.Lost) != 0 {
		t.Errorf("seed %d: lost %d", cfg.Seed, len(rep.Lost))
	}
	rejected := 0
	for _, n := range rep.RejectedByConverge {
		rejected += n
	}
	if rep.Finalized+rejected != rep.CertifiedValid {
		t.Errorf("seed %d: finalized %d + rejected %d != certified valid %d", cfg.Seed, rep.Finalized, rejected, rep.CertifiedValid)
	}
	if rep.Finalized == 0 {
		t.Errorf("seed %d: nothing finalized", cfg.Seed)
	}
	for i, row := range rep.Rounds {
		if row.Round != dag.Round(i+1) {
			t.Fatalf("seed %d: row %d is round %d", cfg.Seed, i, row.Round)
		}
	}
	for _, o := range rep.Outcomes {
		if (o.Fate == FateRejected || o.Fate == FateFarmerRejected) && o.Reason == "" {
			t.Errorf("seed %d: %x rejected without a reason", cfg.Seed, o.Digest[:8])
		}
	}
}

// TestSmallRunHolds: the quick network finalizes every honest transfer,
// each invalid kind is rejected by the farmers with its reason, and no
// invariant fails.
func TestSmallRunHolds(t *testing.T) {
	t.Parallel()
	cfg := Small()
	rep := mustHold(t, cfg)
	for _, o := range rep.Outcomes {
		if o.Kind.String() == "valid" && o.Fate != FateFinalized {
			t.Errorf("seed %d: honest transfer %x: %v %s", cfg.Seed, o.Digest[:8], o.Fate, o.Reason)
		}
	}
	if len(rep.RejectedByFarmers) < 4 {
		t.Errorf("seed %d: farmers' reasons %v", cfg.Seed, rep.RejectedByFarmers)
	}
	if rep.LatencyRounds.N != rep.Finalized || rep.LatencyRounds.Mean < 1 || rep.LatencySim.P50 <= 0 {
		t.Errorf("seed %d: latency %+v %+v", cfg.Seed, rep.LatencyRounds, rep.LatencySim)
	}
	var mev uint64
	for _, f := range rep.MEV {
		mev += f
	}
	var fees uint64
	for _, row := range rep.Rounds {
		fees += row.Fees
	}
	if mev != fees {
		t.Errorf("seed %d: MEV revenue %d, fees %d (MEV-5 credits every applied fee once)", cfg.Seed, mev, fees)
	}
}

// TestDefaultRunHolds is `fhbft simulate`'s default network.
func TestDefaultRunHolds(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("the default network takes several CPU-seconds")
	}
	mustHold(t, Default())
}

// TestEquivocation: the equivocator's two blocks give evidence (PB-5) that
// is in the final block of every round it equivocated in, and its blocks
// are not counted there (PB-6); nothing is lost.
func TestEquivocation(t *testing.T) {
	t.Parallel()
	cfg := Small()
	cfg.Faults = FaultsEquivocate
	rep := mustHold(t, cfg)
	if len(rep.Equivocators) != 1 || len(rep.EquivRnds) == 0 {
		t.Fatalf("seed %d: equivocators %v in rounds %v", cfg.Seed, rep.Equivocators, rep.EquivRnds)
	}
	e := rep.Equivocators[0]
	for _, r := range rep.EquivRnds {
		if int(r) > len(rep.Rounds) {
			continue
		}
		row := rep.Rounds[r-1]
		if !slices.Contains(row.Equivocators, e) || slices.Contains(row.Proposers, e) {
			t.Errorf("seed %d round %d: equivocator %d, evidence for %v, counted %v", cfg.Seed, r, e, row.Equivocators, row.Proposers)
		}
		if !slices.Contains(rep.Evidence[e], r) {
			t.Errorf("seed %d round %d: no evidence recorded", cfg.Seed, r)
		}
	}
}

// TestOmittingMiner: the miner elected for round 1 leaves out proposal
// blocks whenever it builds; transfers only in omitted blocks are finalized
// in a later round, none is lost.
func TestOmittingMiner(t *testing.T) {
	t.Parallel()
	cfg := Small()
	cfg.Faults = FaultsOmit
	rep := mustHold(t, cfg)
	later, omitted := 0, 0
	for _, row := range rep.Rounds {
		if row.Miner != rep.OmitMiner {
			continue
		}
		for _, p := range rep.Proposed[row.Round] {
			if slices.Contains(row.Proposers, p.Proposer) {
				continue
			}
			omitted++
			for _, d := range p.Digests {
				if o, ok := rep.Outcome(d); ok && o.Fate == FateFinalized && o.Round > row.Round {
					later++
				}
			}
		}
	}
	if omitted == 0 || later == 0 {
		t.Fatalf("seed %d: omitting miner %d left out %d blocks; %d of their transfers finalized later", cfg.Seed, rep.OmitMiner, omitted, later)
	}
}

// TestSilentMiner: round 1's elected miner never builds; a fallback rank
// makes round 1 final (MINE-1, MINE-3), and no final block is the silent
// miner's.
func TestSilentMiner(t *testing.T) {
	t.Parallel()
	cfg := Small()
	cfg.Faults = FaultsSilentMiner
	rep := mustHold(t, cfg)
	if rep.Rounds[0].Rank == 0 {
		t.Errorf("seed %d: round 1 final at rank 0 with its miner %d silent", cfg.Seed, rep.Silent)
	}
	for _, row := range rep.Rounds {
		if row.Miner == rep.Silent {
			t.Errorf("seed %d: round %d final with the silent miner's block", cfg.Seed, row.Round)
		}
	}
}

// TestConflictingTransfers: pairs of transfers with one sender and nonce,
// sent to different farmers at once: never both finalized (FIN-5), and
// exactly one of every pair that has a certificate of verdict valid.
func TestConflictingTransfers(t *testing.T) {
	t.Parallel()
	cfg := Small()
	cfg.Faults = FaultsConflicts
	cfg.Farm.MaxAttempts = 2 // clients give up on a stuck pair sooner
	rep := mustHold(t, cfg)
	if rep.Conflicts.Pairs < 8 || rep.Conflicts.Both != 0 || rep.Conflicts.One == 0 {
		t.Fatalf("seed %d: conflicts %+v", cfg.Seed, rep.Conflicts)
	}
	fin := 0
	for _, o := range rep.Outcomes {
		if o.Kind.String() == "conflict" && o.Fate == FateFinalized {
			fin++
		}
	}
	valid := 0
	for _, o := range rep.Outcomes {
		if o.Kind.String() == "conflict" && (o.Fate == FateFinalized || o.Fate == FateRejected) {
			valid++
		}
	}
	if fin != rep.Conflicts.One || valid != fin {
		t.Errorf("seed %d: %d conflict transfers finalized, %d certified valid, %d pairs with one", cfg.Seed, fin, valid, rep.Conflicts.One)
	}
}

// TestAllFaults: every preset at once.
func TestAllFaults(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("long")
	}
	cfg := Small()
	cfg.Faults = FaultsAll
	cfg.Farm.MaxAttempts = 2
	mustHold(t, cfg)
}

// TestSeeds: a few more seeds of the quick network, each preset.
func TestSeeds(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("long")
	}
	for _, c := range []struct {
		seed   uint64
		faults Faults
	}{{2, FaultsNone}, {3, FaultsAll}} {
		cfg := Small()
		cfg.Seed, cfg.Faults = c.seed, c.faults
		cfg.Farm.MaxAttempts = 2
		mustHold(t, cfg)
	}
}

// TestDeterministicTrace: two runs with one seed write the same NDJSON
// trace and the same DOT.
func TestDeterministicTrace(t *testing.T) {
	t.Parallel()
	cfg := Small()
	cfg.Seed = 5
	cfg.Faults = FaultsEquivocate
	var tr [2]bytes.Buffer
	var dot [2]bytes.Buffer
	for i := range tr {
		c := cfg
		c.Trace, c.DOT = &tr[i], &dot[i]
		mustHold(t, c)
	}
	if tr[0].Len() == 0 || !bytes.Equal(tr[0].Bytes(), tr[1].Bytes()) {
		a, b := strings.Split(tr[0].String(), "\n"), strings.Split(tr[1].String(), "\n")
		for i := range min(len(a), len(b)) {
			if a[i] != b[i] {
				t.Fatalf("seed %d: traces differ at line %d:\n%s\n%s", cfg.Seed, i+1, a[i], b[i])
			}
		}
		t.Fatalf("seed %d: traces differ (%d and %d lines)", cfg.Seed, len(a), len(b))
	}
	if !bytes.Equal(dot[0].Bytes(), dot[1].Bytes()) || !strings.HasPrefix(dot[0].String(), "digraph") {
		t.Fatalf("seed %d: DOT differs or is empty", cfg.Seed)
	}
	for _, ev := range []string{"certified", "proposed", "converged", "voted", "certified-convergence", "committed", "finalized"} {
		if !strings.Contains(tr[0].String(), `"ev":"`+ev+`"`) {
			t.Errorf("seed %d: no %q event in the trace", cfg.Seed, ev)
		}
	}
}

// TestCorruptMinerTolerated: the miner elected for round 1 sends blocks
// with a wrong state root; honest harvesters refuse them (CONV-13) and a
// fallback rank makes every such round final.
func TestCorruptMinerTolerated(t *testing.T) {
	t.Parallel()
	cfg := Small()
	cfg.CorruptBlocks = true
	rep := mustHold(t, cfg)
	for _, row := range rep.Rounds {
		if row.Miner == rep.Corrupt {
			t.Errorf("seed %d: round %d final with the corrupt miner's block", cfg.Seed, row.Round)
		}
	}
}

func hasViolation(rep *Report, sub string) bool {
	for _, v := range rep.Violations {
		if strings.Contains(v, sub) {
			return true
		}
	}
	return false
}

// TestCatchesVoteWithoutRecompute: a planted bug — harvesters that vote for
// convergence blocks without recomputing them — certifies the corrupt
// miner's blocks, and the checker says so (MINE-3).
func TestCatchesVoteWithoutRecompute(t *testing.T) {
	t.Parallel()
	cfg := Small()
	cfg.CorruptBlocks = true
	cfg.HarvesterMutations.VoteWithoutRecompute = true
	rep := run(t, cfg)
	if !hasViolation(rep, "MINE-3") {
		t.Fatalf("seed %d: no MINE-3 violation reported: %v", cfg.Seed, rep.Violations)
	}
}

// TestCatchesSkipFirstCommittedRule: a planted bug — one harvester
// finalizes the last committed certificate of a round instead of the first
// (FIN-1). Round 1's elected miner is silent and the fallbacks build one
// nanosecond apart, so that two certificates of round 1 are committed
// together: the chains fork and the checker says so (FIN-4).
func TestCatchesSkipFirstCommittedRule(t *testing.T) {
	t.Parallel()
	cfg := Small()
	cfg.HarvesterMutations.SkipFirstCommittedRule = true
	cfg.MutatedHarvesters = 1
	cfg.Faults = FaultsSilentMiner
	cfg.FallbackDelay = time.Nanosecond
	rep := run(t, cfg)
	if !hasViolation(rep, "FIN-4") {
		t.Fatalf("seed %d: no FIN-4 violation reported: %v", cfg.Seed, rep.Violations)
	}
}

// TestCatchesStall: with only the corrupt miner eligible (one rank), no
// round becomes final; the liveness check stops the run and every valid
// transfer is reported lost (FIN-6).
func TestCatchesStall(t *testing.T) {
	t.Parallel()
	cfg := Small()
	cfg.CorruptBlocks = true
	cfg.Fallbacks = 1
	cfg.StallTime = 500 * time.Millisecond
	rep := run(t, cfg)
	if !hasViolation(rep, "liveness") || len(rep.Lost) == 0 || !hasViolation(rep, "FIN-6") {
		t.Fatalf("seed %d: stall not reported: lost %d, %v", cfg.Seed, len(rep.Lost), rep.Violations)
	}
}

func TestConfigValidate(t *testing.T) {
	bad := []func(*Config){
		func(c *Config) { c.Harvesters = 0 },
		func(c *Config) { c.HQ = 2 },
		func(c *Config) { c.Miners = 0 },
		func(c *Config) { c.Rounds = 0 },
		func(c *Config) { c.Faults = "sneaky" },
		func(c *Config) { c.Faults = FaultsEquivocate; c.Harvesters = 5 }, // 2qH − nH = 1: no Byzantine harvester allowed
		func(c *Config) { c.Faults = FaultsAll; c.Miners = 2 },
		func(c *Config) { c.CorruptBlocks = true; c.Faults = FaultsOmit },
		func(c *Config) { c.MaxBlockTxs = -1 },
		func(c *Config) { c.Farm.Quorums = 0 },
	}
	for i, m := range bad {
		c := Small()
		m(&c)
		if _, err := Run(c); err == nil {
			t.Errorf("case %d accepted", i)
		}
	}
	if _, err := ParseFaults("all"); err != nil {
		t.Error(err)
	}
}
