package harvester

import (
	"bytes"
	"cmp"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/fhbft/fhbft/impl/certification"
	"github.com/fhbft/fhbft/impl/dag"
	"github.com/fhbft/fhbft/impl/harvester/harvestertest"
	"github.com/fhbft/fhbft/impl/miner"
	pm "github.com/fhbft/fhbft/impl/pacemaker"
	"github.com/fhbft/fhbft/impl/tx"
)

const maxSteps = 20000

// findFinal returns the round a digest was applied in, or rejected in
// with its reason, from one harvester's Finalized effects.
func findFinal(fs []Finalized, d tx.Digest) (applied dag.Round, rejected dag.Round, reason dag.Reason) {
	for _, f := range fs {
		if slices.Contains(f.Block.Applied, d) {
			applied = f.Round
		}
		for _, r := range f.Block.Rejected {
			if r.Digest == d {
				rejected, reason = f.Round, r.Reason
			}
		}
	}
	return
}

func deferredIn(f Finalized, d tx.Digest) bool {
	for i := range f.Block.Deferred {
		if f.Block.Deferred[i].Tx.Digest() == d {
			return true
		}
	}
	return false
}

// TestThreeRounds runs four harvesters and two miners through three
// rounds with ordinary, conflicting and gapped transfers.
// spec: PB-3, CONV-4, CONV-9, MEV-6, FIN-1, FIN-2, FIN-3, FIN-4, FIN-5, FIN-8
func TestThreeRounds(t *testing.T) {
	c := newCluster(t, nil, nil)
	a0 := certified(t, 0, 1, 10, 3, 0)
	a1 := certified(t, 0, 2, 20, 1, 1)
	c1 := certified(t, 3, 4, 7, 2, 0) // conflicts with c2: same (from, nonce)
	c2 := certified(t, 3, 5, 8, 2, 0)
	g1 := certified(t, 6, 7, 5, 1, 1) // gap: nonce 0 comes after round 1
	g0 := certified(t, 6, 7, 5, 1, 0)
	c.give(a0)
	c.give(a1)
	c.give(c1, 1)
	c.give(c2, 2)
	c.give(g1)
	pooled := true
	c.onFinal = func(r dag.Round) {
		if r == 1 {
			pooled = c.h(1).InPool(g1.Digest())
			c.give(g0)
		}
	}
	c.lagging = 4
	c.start()
	c.run(maxSteps, c.allReached(4))

	if err := c.checkAgreement(); err != nil {
		t.Fatal(err)
	}
	if nb := c.nonBenign(); len(nb) > 0 {
		t.Fatalf("non-benign rejections in a fault-free run:\n%s", strings.Join(nb, "\n"))
	}
	if err := c.checkVotesOnce(); err != nil {
		t.Fatal(err)
	}
	root := c.hs[0].Tree().Root()
	for _, h := range c.hs {
		if h.Tree().Root() != root {
			t.Fatalf("harvester %d root %x, harvester 1 %x", h.cfg.Self, h.Tree().Root(), root)
		}
		if h.Pool() != 0 {
			t.Errorf("harvester %d: pool holds %d after every transfer settled (MEV-6)", h.cfg.Self, h.Pool())
		}
		if s := supply(h.Tree()); s != testAccounts*harvestertest.Balance {
			t.Errorf("harvester %d: supply %d, want %d (FIN-8)", h.cfg.Self, s, testAccounts*harvestertest.Balance)
		}
		if st := h.Stats(); st.Proposed != int(h.Round()) {
			t.Errorf("harvester %d: %d proposals in %d rounds (PB-3)", h.cfg.Self, st.Proposed, h.Round())
		}
	}
	fs := c.finalized[0]
	for _, ct := range []dag.CertifiedTx{a0, a1} {
		if a, _, _ := findFinal(fs, ct.Digest()); a != 1 {
			t.Errorf("transfer %x applied in round %d, want 1", ct.Digest(), a)
		}
	}
	a1r, r1r, why1 := findFinal(fs, c1.Digest())
	a2r, r2r, why2 := findFinal(fs, c2.Digest())
	switch {
	case a1r == 1 && r2r == 1 && why2 == dag.ReasonConflict && a2r == 0 && r1r == 0:
	case a2r == 1 && r1r == 1 && why1 == dag.ReasonConflict && a1r == 0 && r2r == 0:
	default:
		t.Errorf("conflicting pair: c1 applied %d rejected %d (%v), c2 applied %d rejected %d (%v); want one applied, one rejected conflict (CONV-4)",
			a1r, r1r, why1, a2r, r2r, why2)
	}
	if pooled {
		t.Error("deferred transfer still in the pool after round 1 (MEV-6)")
	}
	// g0 reaches the pools after round 1 (the lagging harvester's in time
	// for round 2): g1 waits, deferred, until it is applied right after g0.
	ga, _, _ := findFinal(fs, g0.Digest())
	if a, _, _ := findFinal(fs, g1.Digest()); ga < 2 || a != ga {
		t.Errorf("gap: nonce 0 applied in round %d, nonce 1 in round %d; want the same round ≥ 2 (CONV-7, CONV-9)", ga, a)
	}
	for r := 1; r < int(ga) && r <= len(fs); r++ {
		if !deferredIn(fs[r-1], g1.Digest()) {
			t.Errorf("gapped transfer not deferred in round %d (CONV-9)", r)
		}
	}
	// Harvesters that finalized earlier buffered the next round's blocks.
	buffered := 0
	for _, h := range c.hs {
		buffered += h.Stats().Buffered
	}
	if buffered == 0 {
		t.Error("no harvester buffered a future-round input: the harness does not exercise buffering")
	}
	for _, m := range c.ms {
		if m.Round() < 4 {
			t.Errorf("miner %d in round %d: did not follow finality", m.Config().ID, m.Round())
		}
	}
}

// TestDeterministic: two identical runs finalize the same chain.
func TestDeterministic(t *testing.T) {
	run := func() []dag.Hash {
		c := newCluster(t, nil, nil)
		c.give(certified(t, 0, 1, 10, 3, 0))
		c.give(certified(t, 2, 3, 10, 3, 0), 3)
		c.start()
		c.run(maxSteps, c.allReached(3))
		return c.hs[0].FinalChain()
	}
	a, b := run(), run()
	if !slices.Equal(a, b) {
		t.Fatalf("runs differ: %x vs %x", a, b)
	}
}

// TestEquivocatingProposer: harvester 4 signs two blocks in round 1. The
// harvester that sees both broadcasts evidence once; the final block
// counts no block of harvester 4 and carries the evidence. spec: PB-5, PB-6
func TestEquivocatingProposer(t *testing.T) {
	c := newCluster(t, nil, nil)
	a0 := certified(t, 0, 1, 10, 3, 0)
	c.give(a0)
	f := fixture(t)
	c.interceptH = func(from certification.Member, e Effect) bool {
		bp, ok := e.(BroadcastProposal)
		if !ok || from != 4 || bp.Block.Round != 1 {
			return false
		}
		a := bp.Block
		b := a
		b.Txs = nil // another block for the same round: equivocation
		b = dag.SignProposal(f.Shares[3], b)
		for _, m := range []certification.Member{1, 2} {
			c.toH(m, ProposalReceived{From: 4, Block: a})
		}
		for _, m := range []certification.Member{1, 3} {
			c.toH(m, ProposalReceived{From: 4, Block: b})
		}
		c.toMiners(miner.ProposalReceived{Block: a})
		c.toMiners(miner.ProposalReceived{Block: b})
		return true
	}
	// Harvester 4 starts first, so the miners hold both its blocks before
	// they could build early from four counted blocks (MINE-1).
	c.toH(4, Start{})
	for m := certification.Member(1); m <= 3; m++ {
		c.toH(m, Start{})
	}
	c.run(maxSteps, c.allReached(3))
	if err := c.checkAgreement(); err != nil {
		t.Fatal(err)
	}
	if got := len(c.evidence[1]); got != 1 {
		t.Fatalf("harvester 1 broadcast %d pieces of evidence, want 1", got)
	}
	for m := certification.Member(2); m <= 4; m++ {
		if len(c.evidence[m]) != 0 {
			t.Errorf("harvester %d broadcast evidence without seeing two blocks", m)
		}
	}
	b1 := c.finalized[0][0].Block
	for _, r := range b1.Refs {
		if r.Proposer == 4 {
			t.Errorf("round 1 final block references equivocator 4's block (PB-6)")
		}
	}
	if len(b1.Equivocations) != 1 || b1.Equivocations[0].Proposer != 4 {
		t.Errorf("round 1 final block evidence %+v, want proposer 4's", b1.Equivocations)
	}
	if a, _, _ := findFinal(c.finalized[0], a0.Digest()); a != 1 {
		t.Errorf("transfer applied in round %d, want 1: the honest pools still carry it", a)
	}
}

// TestFetchMissingBlock: harvester 3 never receives harvester 2's round-1
// block; it fetches it (DAG-4) to recompute and vote, and finalizes.
func TestFetchMissingBlock(t *testing.T) {
	c := newCluster(t, nil, nil)
	c.give(certified(t, 0, 1, 10, 3, 0))
	c.interceptH = func(from certification.Member, e Effect) bool {
		bp, ok := e.(BroadcastProposal)
		if !ok || from != 2 || bp.Block.Round != 1 {
			return false
		}
		for _, m := range []certification.Member{1, 4} {
			c.toH(m, ProposalReceived{From: 2, Block: bp.Block})
		}
		c.toMiners(miner.ProposalReceived{Block: bp.Block})
		return true
	}
	c.start()
	c.run(maxSteps, c.allReached(3))
	if err := c.checkAgreement(); err != nil {
		t.Fatal(err)
	}
	h3 := c.h(3).Stats()
	if h3.FetchesSent == 0 || h3.BlocksFetched != 1 {
		t.Fatalf("harvester 3: %d fetches sent, %d blocks fetched; want ≥ 1 and 1", h3.FetchesSent, h3.BlocksFetched)
	}
	if !slices.ContainsFunc(c.votes[3], func(v certification.Vote) bool { return v.Slot == dag.ConvergenceSlot(1, 0) }) {
		t.Fatal("harvester 3 never voted: the fetched block did not lead to a recompute")
	}
}

// roundOne brings four harvesters (no miner blocks delivered) to round 1
// with every proposal block exchanged, and returns the cluster.
func roundOne(t *testing.T, hmut func(certification.Member, *Config)) *cluster {
	t.Helper()
	c := newCluster(t, hmut, nil)
	c.give(certified(t, 0, 1, 10, 3, 0))
	c.interceptM = func(dag.MinerID, miner.Effect) bool { return true } // miners are silent
	c.start()
	c.run(maxSteps, func() bool {
		if len(c.queue) > 0 {
			return false
		}
		for _, h := range c.hs {
			if len(h.Store().Round(1).Blocks) != testN {
				return false
			}
		}
		return true
	})
	return c
}

// converge builds a round-1 convergence block as miner `rank` of the
// round would, from the given proposers' blocks as harvester h holds them.
func converge(t *testing.T, h *Harvester, rank uint32, proposers ...certification.Member) dag.ConvergenceBlock {
	t.Helper()
	in := h.Store().Round(h.Round())
	in.Blocks = slices.DeleteFunc(in.Blocks, func(b dag.ProposalBlock) bool { return !slices.Contains(proposers, b.Proposer) })
	ranking := dag.MinerRanking(h.Beacon(), h.Round(), testMiners)
	final := h.Final()
	out, err := dag.Converge(h.cfg.Params, &final, h.Beacon(), h.Tree(), ranking[rank], rank, in)
	if err != nil {
		t.Fatal(err)
	}
	return out.Block
}

func votesIn(effs []Effect) []certification.Vote {
	var out []certification.Vote
	for _, e := range effs {
		if v, ok := e.(BroadcastVote); ok {
			out = append(out, v.Vote)
		}
	}
	return out
}

func rejectionsIn(effs []Effect) []Rejected {
	var out []Rejected
	for _, e := range effs {
		if r, ok := e.(Rejected); ok {
			out = append(out, r)
		}
	}
	return out
}

// TestVoteOncePerSlot: two valid, different blocks of the elected miner
// for round 1 get one vote (CERT-5, MINE-3); a fallback's block is another
// slot and gets its own.
func TestVoteOncePerSlot(t *testing.T) {
	c := roundOne(t, nil)
	h := c.h(1)
	x := converge(t, h, 0, 1, 2, 3)
	y := converge(t, h, 0, 1, 2, 3, 4)
	z := converge(t, h, 1, 1, 2, 3, 4)
	ranking := dag.MinerRanking(h.Beacon(), 1, testMiners)
	if vs := votesIn(h.Step(ConvergenceReceived{From: ranking[0], Block: x})); len(vs) != 1 || vs[0].Value.Subject != certification.Digest(x.Hash()) {
		t.Fatalf("votes for the first block: %+v, want one for it", vs)
	}
	effs := h.Step(ConvergenceReceived{From: ranking[0], Block: y})
	if vs := votesIn(effs); len(vs) != 0 {
		t.Fatalf("voted again in slot (1, 0): %+v", vs)
	}
	effs = h.Step(ConvergenceReceived{From: ranking[0], Block: x})
	if vs, rs := votesIn(effs), rejectionsIn(effs); len(vs) != 0 || len(rs) != 1 || ReasonOf(rs[0].Err) != ReasonDuplicate {
		t.Fatalf("same block again: votes %d, rejections %+v; want none and one duplicate", len(vs), rs)
	}
	if vs := votesIn(h.Step(ConvergenceReceived{From: ranking[1], Block: z})); len(vs) != 1 || vs[0].Slot != dag.ConvergenceSlot(1, 1) {
		t.Fatalf("fallback block: votes %+v, want one in slot (1, 1)", vs)
	}
	if !h.Voted(1, 0) || !h.Voted(1, 1) {
		t.Fatal("Voted does not report the slots voted in")
	}
}

// votesForBadBlock delivers a block that does not recompute (its fees
// altered) and a block of a miner claiming another's rank, and reports
// whether the harvester voted: the MINE-3 checker.
func votesForBadBlock(t *testing.T, mut bool) bool {
	c := roundOne(t, func(_ certification.Member, cfg *Config) { cfg.Mutations.VoteWithoutRecompute = mut })
	h := c.h(1)
	bad := converge(t, h, 0, 1, 2, 3, 4)
	bad.Fees++
	effs := h.Step(ConvergenceReceived{From: bad.Miner, Block: bad})
	if !mut {
		if rs := rejectionsIn(effs); len(rs) != 1 || ReasonOf(rs[0].Err) != ReasonMismatch {
			t.Fatalf("tampered block: rejections %+v, want one mismatch", rs)
		}
	}
	voted := len(votesIn(effs)) > 0
	impostor := converge(t, h, 1, 1, 2, 3)
	impostor.Rank = 0 // miner of rank 1 claims rank 0
	effs = h.Step(ConvergenceReceived{From: impostor.Miner, Block: impostor})
	if !mut {
		if rs := rejectionsIn(effs); len(rs) != 1 || ReasonOf(rs[0].Err) != ReasonNotElected {
			t.Fatalf("impostor: rejections %+v, want one not-elected", rs)
		}
	}
	return voted || len(votesIn(effs)) > 0
}

func TestVoteWithoutRecomputeIsCaught(t *testing.T) {
	if votesForBadBlock(t, false) {
		t.Fatal("an honest harvester voted for a block it cannot reproduce")
	}
	if !votesForBadBlock(t, true) {
		t.Fatal("the VoteWithoutRecompute mutation went unnoticed by the checker")
	}
}

// TestRankBeyondFallbacks: with F = 1 only the elected miner's block is
// voted on; the fallback's is ignored. spec: MINE-3, ORD-3
func TestRankBeyondFallbacks(t *testing.T) {
	c := roundOne(t, func(_ certification.Member, cfg *Config) { cfg.Params.Fallbacks = 1 })
	h := c.h(2)
	z := converge(t, h, 1, 1, 2, 3, 4)
	effs := h.Step(ConvergenceReceived{From: z.Miner, Block: z})
	if rs := rejectionsIn(effs); len(votesIn(effs)) != 0 || len(rs) != 1 || ReasonOf(rs[0].Err) != ReasonNotElected {
		t.Fatalf("rank-1 block with F = 1: effects %+v, want one not-elected rejection", effs)
	}
	x := converge(t, h, 0, 1, 2, 3, 4)
	if vs := votesIn(h.Step(ConvergenceReceived{From: x.Miner, Block: x})); len(vs) != 1 {
		t.Fatalf("rank-0 block: %d votes, want 1", len(vs))
	}
}

// fingerprint is what a rejected input must not change.
type fingerprint struct {
	round  dag.Round
	chain  string
	pool   int
	root   string
	blocks int
	ev     int
	voted  [4]bool
	queue  int
	conv   int
	fut    int
}

func fingerprintOf(h *Harvester) fingerprint {
	in := h.Store().Round(h.Round())
	var ch strings.Builder
	for _, x := range h.FinalChain() {
		ch.Write(x[:])
	}
	root := h.Tree().Root()
	return fingerprint{
		round: h.Round(), chain: ch.String(), pool: h.Pool(), root: string(root[:]),
		blocks: len(in.Blocks), ev: len(in.Evidence),
		voted: [4]bool{h.Voted(1, 0), h.Voted(1, 1), h.Voted(2, 0), h.Voted(2, 1)},
		queue: len(h.queue), conv: len(h.conv), fut: len(h.fut),
	}
}

// TestRejectsChangeNothing: bad signatures, wrong rounds, garbage
// commands and bad certificates give one Rejected effect each and change
// nothing. spec: PB-2, PB-4, CERT-10, CERT-19, BRIEF §6
func TestRejectsChangeNothing(t *testing.T) {
	c := roundOne(t, nil)
	h := c.h(1)
	f := fixture(t)
	in := h.Store().Round(1)
	other := in.Blocks[1] // harvester 2's block
	good := converge(t, h, 0, 1, 2, 3, 4)
	cert, err := f.CertifyConvergence(&good)
	if err != nil {
		t.Fatal(err)
	}
	cmd := EncodeCommand(cert, &good)

	badSig := other
	badSig.Txs = nil // the signature no longer matches
	wrongPrev := other
	wrongPrev.Prev[0] ^= 1
	wrongPrev = dag.SignProposal(f.Shares[1], wrongPrev)
	stale := other
	stale.Round = 0
	far := other
	far.Round = 100
	badCert := cert
	badCert.Signature = in.Blocks[0].Signature // a valid point, the wrong signature
	wrongID := cmd
	wrongID.ID++
	truncated := pm.Command{Payload: cmd.Payload[:len(cmd.Payload)-7]}
	truncated.ID = CommandID(truncated.Payload)
	otherCert := cert
	otherCert.Value.Subject[0] ^= 1
	badVote := certification.SignVote(f.Shares[1], dag.ConvergenceStatement(f.Harvesters, &good))
	badVote.Member = 3 // partial of member 2 under member 3's name
	tampered := good
	tampered.StateRoot[0] ^= 1

	cases := []struct {
		name string
		ev   Event
		want Reason
	}{
		{"bad signature", ProposalReceived{From: 2, Block: badSig}, ReasonInvalid},
		{"wrong prev", ProposalReceived{From: 2, Block: wrongPrev}, ReasonInvalid},
		{"stale round", ProposalReceived{From: 2, Block: stale}, ReasonStale},
		{"round too far", ProposalReceived{From: 2, Block: far}, ReasonTooFarAhead},
		{"garbage command", Committed{Cmds: []pm.Command{{ID: 1, Payload: []byte("garbage")}}}, ReasonGarbage},
		{"wrong command id", Committed{Cmds: []pm.Command{wrongID}}, ReasonGarbage},
		{"truncated command", Committed{Cmds: []pm.Command{truncated}}, ReasonGarbage},
		{"bad certificate", Committed{Cmds: []pm.Command{EncodeCommand(badCert, &good)}}, ReasonBadCert},
		{"certificate of another block", CertificateReceived{Cert: otherCert, Block: good}, ReasonBadCert},
		{"bad vote", VoteReceived{Vote: badVote}, ReasonBadVote},
		{"tampered convergence block", ConvergenceReceived{From: good.Miner, Block: tampered}, ReasonMismatch},
		{"fetch from a stranger", FetchRequest{From: 9, Hashes: []dag.Hash{good.Hash()}}, ReasonUnknownPeer},
		{"unsolicited blocks", FetchResponse{From: 2, Blocks: []dag.ProposalBlock{other}}, ReasonUnsolicited},
		{"second start", Start{}, ReasonDuplicate},
		{"nil event", nil, ReasonUnknownEvent},
	}
	for _, tc := range cases {
		before := fingerprintOf(h)
		effs := h.Step(tc.ev)
		if len(effs) != 1 {
			t.Errorf("%s: %d effects %+v, want one Rejected", tc.name, len(effs), effs)
			continue
		}
		r, ok := effs[0].(Rejected)
		if !ok || ReasonOf(r.Err) != tc.want {
			t.Errorf("%s: %+v, want a %v rejection", tc.name, effs[0], tc.want)
		}
		if after := fingerprintOf(h); after != before {
			t.Errorf("%s changed the state: %+v → %+v", tc.name, before, after)
		}
	}
	var ce *CommandError
	if _, _, err := DecodeCommand(truncated); !errors.As(err, &ce) || ce.Field != "block" {
		t.Errorf("truncated command: %v, want a CommandError naming the block", err)
	}
}

// TestCommandRoundTrip: EncodeCommand and DecodeCommand agree.
func TestCommandRoundTrip(t *testing.T) {
	c := roundOne(t, nil)
	good := converge(t, c.h(1), 0, 1, 2, 3)
	cert, err := fixture(t).CertifyConvergence(&good)
	if err != nil {
		t.Fatal(err)
	}
	cmd := EncodeCommand(cert, &good)
	gc, gb, err := DecodeCommand(cmd)
	if err != nil {
		t.Fatal(err)
	}
	if gb.Hash() != good.Hash() || gc.Statement != cert.Statement || !gc.Signature.Equal(cert.Signature) || !gc.Signers.Equal(cert.Signers) {
		t.Fatal("decoded command differs from the encoded one")
	}
}

// finalizesFirstCommitted runs round 1 until both miners' blocks are
// certified, commits every certificate in one batch, and checks the FIN-1
// checker: every harvester's round-1 block is the first committed one.
// mutant: harvester 1 runs with SkipFirstCommittedRule.
func finalizesFirstCommitted(t *testing.T, mutant bool) error {
	c := newCluster(t, func(m certification.Member, cfg *Config) {
		cfg.Mutations.SkipFirstCommittedRule = mutant && m == 1
	}, nil)
	c.give(certified(t, 0, 1, 10, 3, 0))
	var firstCommitted *dag.Hash
	c.holdCommit = func() bool {
		subjects := map[certification.Digest]bool{}
		for _, cmd := range c.pending {
			if cert, _, err := DecodeCommand(cmd); err == nil {
				subjects[cert.Value.Subject] = true
			}
		}
		if len(subjects) < 2 {
			return true // wait until both miners' blocks are certified
		}
		if firstCommitted == nil {
			_, cb, _ := DecodeCommand(c.pending[0])
			h := cb.Hash()
			firstCommitted = &h
		}
		return false
	}
	c.start()
	c.run(maxSteps, c.allReached(2))
	if firstCommitted == nil {
		t.Fatal("the scenario never certified two blocks in round 1")
	}
	if err := c.checkAgreement(); err != nil {
		return err
	}
	for _, h := range c.hs {
		if got := h.FinalChain()[1]; got != *firstCommitted {
			return errors.New("a harvester's round-1 block is not the first committed certificate's")
		}
	}
	return nil
}

func TestSkipFirstCommittedRuleIsCaught(t *testing.T) {
	if err := finalizesFirstCommitted(t, false); err != nil {
		t.Fatalf("honest run: %v", err)
	}
	if err := finalizesFirstCommitted(t, true); err == nil {
		t.Fatal("the SkipFirstCommittedRule mutation went unnoticed by the FIN-1/FIN-4 checker")
	}
}

// TestStalledFetchRetries: harvester 3 lacks a block of the committed
// round-1 convergence block and every harvester first answers its fetches
// empty; the committed block stalls (FIN-1 must not pass over it) and is
// fetched again on the next Committed event. spec: DAG-4, FIN-1
func TestStalledFetchRetries(t *testing.T) {
	c := newCluster(t, nil, nil)
	c.give(certified(t, 0, 1, 10, 3, 0))
	c.interceptH = func(from certification.Member, e Effect) bool {
		switch e := e.(type) {
		case BroadcastProposal:
			if from != 2 || e.Block.Round != 1 {
				return false
			}
			for _, m := range []certification.Member{1, 4} {
				c.toH(m, ProposalReceived{From: 2, Block: e.Block})
			}
			c.toMiners(miner.ProposalReceived{Block: e.Block})
			return true
		case SendBlocks:
			if e.To != 3 || c.h(3).Stats().FetchStalls > 0 {
				return false
			}
			c.toH(3, FetchResponse{From: from}) // "I have nothing"
			return true
		}
		return false
	}
	c.start()
	c.run(maxSteps, c.allReached(3))
	if err := c.checkAgreement(); err != nil {
		t.Fatal(err)
	}
	if st := c.h(3).Stats(); st.FetchStalls == 0 || st.BlocksFetched != 1 {
		t.Fatalf("harvester 3: %d stalls, %d blocks fetched; want ≥ 1 and 1", st.FetchStalls, st.BlocksFetched)
	}
}

// TestBuilderIsNotTrusted checks MINE-2: a miner holds no key, so a
// convergence block is judged by its content (Miner, Rank, CONV-13), never
// by who delivered it, and counts only through its certificate.
func TestBuilderIsNotTrusted(t *testing.T) {
	c := roundOne(t, nil)
	h := c.h(2)
	x := converge(t, h, 0, 1, 2, 3, 4)
	// Relayed by anyone (here a miner ID that does not exist): still voted.
	if vs := votesIn(h.Step(ConvergenceReceived{From: x.Miner + 100, Block: x})); len(vs) != 1 {
		t.Fatalf("rank-0 block relayed by a stranger: %d votes, want 1", len(vs))
	}
	// Delivered by the elected miner but naming another builder: refused.
	y := converge(t, c.h(3), 0, 1, 2, 3, 4)
	y.Miner = x.Miner + 1
	effs := c.h(3).Step(ConvergenceReceived{From: x.Miner, Block: y})
	if rs := rejectionsIn(effs); len(votesIn(effs)) != 0 || len(rs) != 1 || ReasonOf(rs[0].Err) != ReasonNotElected {
		t.Fatalf("block naming a non-elected builder: effects %+v, want one not-elected rejection", effs)
	}
}

// TestProposalFollowsPosition checks MEV-2 with MEV-3 at the role level: with
// blocks of k transfers of one size and a pool of n·k, the harvester at
// position p of round 1's order proposes exactly the transfers ranked
// (p−1)·k+1 … p·k by fee per byte, so the n proposals cover the pool once.
func TestProposalFollowsPosition(t *testing.T) {
	const k = 2
	var pool []dag.CertifiedTx
	for i := 0; i < testN*k; i++ {
		pool = append(pool, certified(t, i%testAccounts, (i+1)%testAccounts, 5, uint64(10+7*i), uint64(i/testAccounts)))
	}
	byFee := slices.Clone(pool)
	slices.SortFunc(byFee, func(a, b dag.CertifiedTx) int { return cmp.Compare(b.Transfer.Fee, a.Transfer.Fee) })
	covered := map[tx.Digest]int{}
	for m := certification.Member(1); m <= testN; m++ {
		h := newHarvester(t, m, func(cfg *Config) { cfg.Params.MaxBlockTxs = k })
		for _, ct := range pool {
			h.Step(TxCertified{Tx: ct})
		}
		var got []tx.Digest
		for _, e := range h.Step(Start{}) {
			if bp, ok := e.(BroadcastProposal); ok {
				for _, ct := range bp.Block.Txs {
					got = append(got, ct.Digest())
				}
			}
		}
		p := dag.Position(dag.Order(h.Beacon(), testN), m)
		if p != h.Position() || p == 0 {
			t.Fatalf("harvester %d: position %d, Position() %d", m, p, h.Position())
		}
		var want []tx.Digest
		for _, ct := range byFee[(p-1)*k : p*k] {
			want = append(want, ct.Digest())
		}
		slices.SortFunc(got, func(a, b tx.Digest) int { return bytes.Compare(a[:], b[:]) })
		slices.SortFunc(want, func(a, b tx.Digest) int { return bytes.Compare(a[:], b[:]) })
		if !slices.Equal(got, want) {
			t.Errorf("harvester %d at position %d proposed %d transfers not the fee band %d…%d", m, p, len(got), (p-1)*k+1, p*k)
		}
		for _, d := range got {
			covered[d]++
		}
	}
	if len(covered) != len(pool) {
		t.Errorf("the %d proposals cover %d of %d pooled transfers", testN, len(covered), len(pool))
	}
}
