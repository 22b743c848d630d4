package harvester

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/fhbft/fhbft/impl/certification"
	"github.com/fhbft/fhbft/impl/dag"
	"github.com/fhbft/fhbft/impl/miner"
	"github.com/fhbft/fhbft/impl/state"
	"github.com/fhbft/fhbft/impl/tx"
)

// ledgerSnap is harvester 1's ledger at the start of a round: what
// Converge of that round runs against.
type ledgerSnap struct {
	prev     dag.ConvergenceBlock
	beacon   dag.Hash
	tree     state.Tree
	rejected *dag.RejectedSet
}

// reproposeRejected is the CONV-14 scenario. Round 1: account 0 sends x,
// which it cannot pay: every pool holds x and the final block rejects it
// for overdraft. After round 1 account 2 pays account 0 enough to cover x;
// after round 3 account 0 spends its nonce 0 with z. Harvester 4 is
// Byzantine: from round 2 on it adds x (whose certificate is still valid)
// to every block it proposes, and it suppresses the evidence its own
// store finds against it. It returns the first breach of CONV-14 or
// agreement it finds. Mutations: everyone ignores the rejected set, or
// only miner 1 does.
func reproposeRejected(t *testing.T, mutant string) error {
	t.Helper()
	f := fixture(t)
	c := newCluster(t, func(_ certification.Member, cfg *Config) {
		cfg.Mutations.IgnoreRejectedSet = mutant == "all"
	}, func(id dag.MinerID, cfg *miner.Config) {
		cfg.Mutations.IgnoreRejectedSet = mutant == "all" || mutant == "miner 1" && id == 1
	})
	x := certified(t, 0, 1, 1500, 1, 0) // balance 1000: overdraft
	fund := certified(t, 2, 0, 900, 1, 0)
	z := certified(t, 0, 3, 10, 1, 0) // x's slot, affordable
	xd := x.Digest()
	c.give(x)

	proposals := map[dag.Hash]dag.ProposalBlock{}
	reproposed := 0
	// Every node's rejected set after each of its final rounds (when one
	// Step finalized several rounds, only the last is observable).
	type nodeSet struct {
		who string
		set *dag.RejectedSet
	}
	sets := map[dag.Round][]nodeSet{}
	minerSets := 0
	c.interceptM = func(from dag.MinerID, e miner.Effect) bool {
		if fl, ok := e.(miner.Followed); ok && c.ms[from-1].Final().Round == fl.Round {
			sets[fl.Round] = append(sets[fl.Round], nodeSet{fmt.Sprintf("miner %d", from), c.ms[from-1].RejectedSet()})
			minerSets++
		}
		return false
	}
	c.interceptH = func(from certification.Member, e Effect) bool {
		switch e := e.(type) {
		case Finalized:
			if h := c.h(from); h.Final().Round == e.Round {
				sets[e.Round] = append(sets[e.Round], nodeSet{fmt.Sprintf("harvester %d", from), h.RejectedSet()})
			}
		case BroadcastProposal:
			b := e.Block
			if from == 4 && b.Round >= 2 && !slices.ContainsFunc(b.Txs, func(ct dag.CertifiedTx) bool { return ct.Digest() == xd }) {
				b.Txs = append(b.Txs, x)
				b = dag.SignProposal(f.Shares[3], b)
				reproposed++
			}
			proposals[b.Hash()] = b
			if b.Hash() == e.Block.Hash() {
				return false
			}
			c.toOthers(from, ProposalReceived{From: from, Block: b})
			c.toMiners(miner.ProposalReceived{Block: b})
			return true
		case BroadcastEvidence:
			return from == 4 && e.Evidence.Proposer == 4 // it does not incriminate itself
		}
		return false
	}
	g := dag.Genesis(f.Harvesters.Quorum, f.Harvesters.Epoch, f.Genesis.Root())
	snaps := map[dag.Round]ledgerSnap{1: {prev: g, beacon: g.Beacon, tree: f.Genesis, rejected: dag.NewRejectedSet()}}
	c.onFinal = func(r dag.Round) {
		h1 := c.h(1)
		snaps[r+1] = ledgerSnap{prev: h1.Final(), beacon: h1.Beacon(), tree: h1.Tree(), rejected: h1.RejectedSet()}
		switch r {
		case 1:
			c.give(fund)
		case 3:
			c.give(z)
		}
	}
	c.start()
	const rounds = 8
	c.run(maxSteps, func() bool { // a halted miner (a violation, reported below) stays behind
		for _, h := range c.hs {
			if h.Round() < rounds {
				return false
			}
		}
		for _, m := range c.ms {
			if m.Round() < rounds && !m.Halted() {
				return false
			}
		}
		return true
	})

	if err := c.checkAgreement(); err != nil {
		return err
	}
	if nb := c.nonBenign(); len(nb) > 0 {
		return fmt.Errorf("non-benign rejections:\n%s", strings.Join(nb, "\n"))
	}
	// Every node derived the same set for a round (miners too: they must
	// build what the harvesters reproduce).
	for r, ns := range sets {
		for _, n := range ns[1:] {
			if !n.set.Equal(ns[0].set) {
				return fmt.Errorf("round %d: %s's rejected set (%d entries) differs from %s's (%d)", r, n.who, n.set.Len(), ns[0].who, ns[0].set.Len())
			}
		}
	}
	if minerSets == 0 {
		t.Fatal("setup: no miner's rejected set observed")
	}
	if reproposed < rounds-2 {
		t.Fatalf("setup: harvester 4 re-proposed x %d times", reproposed)
	}
	fs := c.finalized[0]
	if len(fs) < rounds-1 {
		t.Fatalf("setup: %d rounds final", len(fs))
	}
	// x: rejected for overdraft in round 1; never applied after.
	if r, ok := reasonIn(&fs[0].Block, xd); !ok || r != dag.ReasonOverdraft {
		t.Fatalf("setup: round 1 rejects x: %v %v", ok, r)
	}
	for _, fz := range fs {
		if slices.Contains(fz.Block.Applied, xd) {
			return fmt.Errorf("CONV-14: x, rejected for overdraft in round 1, applied in round %d", fz.Round)
		}
	}
	za, _, _ := findFinal(fs, z.Digest())
	fa, _, _ := findFinal(fs, fund.Digest())
	if fa == 0 || za == 0 || za+1 >= dag.Round(len(fs)) {
		t.Fatalf("setup: fund applied in round %d, z in round %d, %d rounds final", fa, za, len(fs))
	}
	// While x's slot is open it is in every set and reported nowhere; once
	// z closes the slot the set drops it, and a re-proposal is a replay
	// (or a conflict, if it meets another transfer of the slot).
	replayed := false
	for _, fz := range fs[1:] {
		r := fz.Round
		why, again := reasonIn(&fz.Block, xd)
		switch {
		case r <= za && again:
			return fmt.Errorf("CONV-14: x reported again in round %d (%v) while its slot is open", r, why)
		case r <= za && !snaps[r].rejected.Has(xd):
			return fmt.Errorf("round %d: x not in the rejected set", r)
		case r > za && snaps[r].rejected.Has(xd):
			return fmt.Errorf("round %d: x still in the rejected set after its slot closed", r)
		case r > za && again && why != dag.ReasonReplay && why != dag.ReasonConflict:
			return fmt.Errorf("round %d: x rejected again as %v, its slot closed in round %d", r, why, za)
		case r > za && again:
			replayed = true
		}
	}
	if !replayed {
		t.Fatalf("setup: x never rejected as a replay after round %d", za)
	}
	// Not vacuous: in some round after the funds arrived, Converge of the
	// very blocks the final block names, without the rejected set, applies x.
	wouldApply := false
	for _, fz := range fs[1:] {
		if fz.Round <= fa || fz.Round > za {
			continue
		}
		s := snaps[fz.Round]
		in := dag.Input{Evidence: fz.Block.Equivocations}
		carries := false
		for _, ref := range fz.Block.Refs {
			b, ok := proposals[ref.Hash]
			if !ok {
				t.Fatalf("round %d: referenced block %x never broadcast", fz.Round, ref.Hash[:4])
			}
			in.Blocks = append(in.Blocks, b)
			carries = carries || slices.ContainsFunc(b.Txs, func(ct dag.CertifiedTx) bool { return ct.Digest() == xd })
		}
		with, err := dag.Converge(f.Params, &s.prev, s.beacon, s.tree, fz.Block.Miner, fz.Block.Rank, dag.Input{Blocks: in.Blocks, Evidence: in.Evidence, Rejected: s.rejected})
		if err != nil {
			t.Fatal(err)
		}
		if with.Block.Hash() != fz.Block.Hash() {
			t.Fatalf("round %d: the snapshot does not reproduce the final block", fz.Round)
		}
		without, err := dag.Converge(f.Params, &s.prev, s.beacon, s.tree, fz.Block.Miner, fz.Block.Rank, in)
		if err != nil {
			t.Fatal(err)
		}
		if carries && slices.Contains(without.Block.Applied, xd) {
			wouldApply = true
		}
	}
	if !wouldApply {
		t.Fatal("setup: no round in which x would have been applied without the rejected set")
	}
	for _, h := range c.hs {
		if st := h.Stats(); st.RecomputeFailed != 0 {
			return fmt.Errorf("harvester %d: %d convergence blocks did not reproduce", h.cfg.Self, st.RecomputeFailed)
		}
		if h.RejectedSet().Has(xd) {
			return fmt.Errorf("harvester %d: x still in its rejected set", h.cfg.Self)
		}
	}
	t.Logf("x rejected (overdraft) in round 1, funds in round %d, slot closed by z in round %d; re-proposed %d times, never applied", fa, za, reproposed)
	return nil
}

func reasonIn(b *dag.ConvergenceBlock, d tx.Digest) (dag.Reason, bool) {
	for _, r := range b.Rejected {
		if r.Digest == d {
			return r.Reason, true
		}
	}
	return 0, false
}

// TestRejectedStaysRejected: a Byzantine harvester re-proposes a transfer
// rejected for overdraft after its sender got the funds to pay it; the
// honest chain never applies it, every harvester and miner keeps the same
// rejected set, and once the slot closes the re-proposal is a replay.
// With the rejected set ignored everywhere, the same run applies it; with
// one miner ignoring it, its blocks do not reproduce and it cannot follow:
// the checker can fail. spec: CONV-14, CONV-3, CONV-6, FIN-2, FIN-4
func TestRejectedStaysRejected(t *testing.T) {
	if err := reproposeRejected(t, ""); err != nil {
		t.Fatal(err)
	}
	err := reproposeRejected(t, "all")
	if err == nil || !strings.Contains(err.Error(), "CONV-14") {
		t.Fatalf("ignoring the rejected set went unnoticed: %v", err)
	}
	t.Logf("everyone ignoring the set caught: %v", err)
	if err := reproposeRejected(t, "miner 1"); err == nil {
		t.Fatal("a miner ignoring the rejected set went unnoticed")
	} else {
		t.Logf("miner 1 ignoring the set caught: %v", err)
	}
}
