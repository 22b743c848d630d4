package dag

import (
	"slices"
	"testing"
)

func step(t *testing.T) func(State, bool) State {
	return func(s State, ok bool) State {
		t.Helper()
		if !ok {
			t.Fatal("action unexpectedly disabled")
		}
		return s
	}
}

func newTestModel(t *testing.T, cfg Config) *Model {
	t.Helper()
	m, err := NewModel(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// A round of dag_n3_eq1 (harvester 1 equivocates) played by hand.
func TestActionsOneRound(t *testing.T) {
	must := step(t)
	m := newTestModel(t, n3eq1)
	s0 := m.Init()
	if _, ok := m.Propose(s0, 1); ok {
		t.Error("a Byzantine harvester used Propose")
	}
	s := must(m.Propose(s0, 2))
	if !s0.Equal(m.Init()) {
		t.Fatal("Propose modified its input")
	}
	if got := s.Inbox(0); len(got) != 1 || !slices.Equal(txIDs(got[0].Txs), []int{1, 2, 3, 5}) {
		t.Fatalf("honest block: %v (transfer 4 is certified only from round 2)", got)
	}
	if _, ok := m.Propose(s, 2); ok {
		t.Error("PB-3: an honest harvester proposed twice in a round")
	}
	if _, ok := m.Certify(s, 1); ok {
		t.Error("CONV-2: built with one counted proposer, MinRefs 2")
	}
	if _, ok := m.EquivocatorSend(s, 1, []int{4}, 1); ok {
		t.Error("PB-4: a Byzantine block carried a transfer not yet certified")
	}
	if _, ok := m.EquivocatorSend(s, 1, []int{1}, 1); ok {
		t.Error("a Byzantine block outside ByzBlocks")
	}
	s = must(m.EquivocatorSend(s, 1, []int{2}, 1))
	eq := must(m.EquivocatorSend(s, 1, nil, 1))
	if _, ok := m.EquivocatorSend(eq, 1, []int{3}, 1); ok {
		t.Error("PB-5: an equivocator sent a third block")
	}
	// With both blocks of 1, miner 1 counts only harvester 2: too few.
	if _, ok := m.Certify(eq, 1); ok {
		t.Error("CONV-2: the equivocator's blocks were counted")
	}
	s = must(m.Certify(s, 1))
	cert := s.Cert()
	// Harvester 1 has position 1: transfer 2 wins slot (1, 0).
	if len(cert) != 1 || !slices.Equal(cert[0].Applied, []int{2, 3}) {
		t.Fatalf("certified block: %s", FormatBlock(cert[0]))
	}
	if _, ok := m.Propose(s, 3); ok {
		t.Error("a proposal after the round's certificate (MINE-1)")
	}
	if _, ok := m.NextRound(s); ok {
		t.Error("NextRound before every node finalized")
	}
	s = must(m.Finalize(s, 2, cert[0]))
	if _, ok := m.Finalize(s, 2, cert[0]); ok {
		t.Error("a node finalized round 1 twice")
	}
	s = must(m.Finalize(s, 3, cert[0]))
	s = must(m.NextRound(s))
	if s.Round() != 2 || len(s.Cert()) != 0 || len(s.Inbox(0)) != 0 {
		t.Fatalf("round 2 does not start empty:\n%s", m.Format(s))
	}
	// Round 2's pool: 1 lost (conflict), 2 and 3 applied, 5 deferred, 4 now certified.
	s = must(m.Propose(s, 3))
	if got := s.Inbox(0)[0]; !slices.Equal(txIDs(got.Txs), []int{4}) {
		t.Errorf("round 2 pool = %v, want {4}", txIDs(got.Txs))
	}
	for name, inv := range map[string]func(State) bool{
		"TypeOK": m.TypeOK, "OrderIndependent": m.OrderIndependent, "ChainsPrefix": m.ChainsPrefix,
		"NoDoubleFinalize": m.NoDoubleFinalize, "OnePerSlot": m.OnePerSlot,
		"FinalizedWereCertified": m.FinalizedWereCertified, "Conservation": m.Conservation,
		"Accounting": m.Accounting, "Deadline": m.Deadline, "RejectionsFinal": m.RejectionsFinal,
	} {
		if !inv(s) {
			t.Errorf("%s fails on a reachable state:\n%s", name, m.Format(s))
		}
	}
	if l, ok := m.LegalStep(m.Init(), must(m.Propose(m.Init(), 3))); !ok || l != "Propose(h=3)" {
		t.Errorf("LegalStep = %q, %v", l, ok)
	}
	if _, ok := m.LegalStep(s, m.Init()); ok {
		t.Error("LegalStep accepted a step back to Init")
	}
}

func TestWithholderSendsOneBlock(t *testing.T) {
	must := step(t)
	m := newTestModel(t, n4wh1)
	s := must(m.WithholderSend(m.Init(), 1, []int{2}, 1))
	if _, ok := m.WithholderSend(s, 1, nil, 2); ok {
		t.Error("a withholder signed a second, different block")
	}
	s = must(m.WithholderSend(s, 1, []int{2}, 2)) // the same block to another miner
	if len(s.Inbox(0)) != 1 || len(s.Inbox(1)) != 1 {
		t.Errorf("inboxes: %v, %v", s.Inbox(0), s.Inbox(1))
	}
}

// The invariants reject states built by hand to break them.
func TestInvariantsRejectBadStates(t *testing.T) {
	m := newTestModel(t, n3eq1)
	g := m.genesis
	blk := func(b Block) *cblock { return newCBlock(b) }
	a := blk(Block{Round: 1, Applied: []int{1}, Post: g.Post})
	b := blk(Block{Round: 1, Applied: []int{2}, Post: g.Post})
	fork := m.Init()
	fork.final = [][]*cblock{{a}, {b}}
	if m.ChainsPrefix(fork) {
		t.Error("ChainsPrefix accepts two different round-1 blocks")
	}
	twice := m.Init()
	twice.final = [][]*cblock{{a, blk(Block{Round: 2, Applied: []int{1}, Post: g.Post})}, nil}
	twice.round = 2
	if m.NoDoubleFinalize(twice) {
		t.Error("NoDoubleFinalize accepts transfer 1 applied twice")
	}
	slot := m.Init()
	slot.final = [][]*cblock{{blk(Block{Round: 1, Applied: []int{1, 2}, Post: g.Post})}, nil}
	if m.OnePerSlot(slot) {
		t.Error("OnePerSlot accepts transfers 1 and 2 (one slot)")
	}
	late := m.Init()
	late.final = [][]*cblock{{blk(Block{Round: 1, Applied: []int{4}, Post: g.Post})}, nil}
	if m.FinalizedWereCertified(late) {
		t.Error("FinalizedWereCertified accepts transfer 4 in round 1")
	}
	if m.Conservation(slot) || m.Accounting(slot) {
		t.Error("Conservation or Accounting accepts fees without a sink")
	}
	again := m.Init()
	again.round = 3
	again.final = [][]*cblock{{blk(Block{Round: 1, Rejected: []Rejection{{3, ReasonOverdraft}}, Post: g.Post}),
		blk(Block{Round: 2, Applied: []int{3}, Post: g.Post})}, nil}
	if m.RejectionsFinal(again) {
		t.Error("RejectionsFinal accepts transfer 3 applied after it was rejected")
	}
	again.final[0][1] = blk(Block{Round: 2, Rejected: []Rejection{{3, ReasonConflict}}, Post: g.Post})
	if !m.RejectionsFinal(again) {
		t.Error("RejectionsFinal rejects a transfer rejected twice and never applied")
	}
	if m.EventuallyFinal(m.Init()) {
		t.Error("EventuallyFinal holds initially")
	}
}

// A round of dag_live_byzminer_bug played by hand: the Byzantine miner
// waits for every honest block (MinersWait), then omits harvester 1's, the
// only one carrying transfer 4 (SoloTxs); the honest variant cannot.
// spec: FIN-6, CONV-13, MINE-1
func TestByzantineMinerOmits(t *testing.T) {
	must := step(t)
	m := newTestModel(t, byzMinerBug)
	s := m.Init()
	s = must(m.Propose(s, 2))
	s = must(m.Propose(s, 3))
	if _, ok := m.Certify(s, 1); ok {
		t.Error("MINE-1: built before harvester 1's block arrived (MinersWait)")
	}
	s = must(m.Propose(s, 1))
	in := s.Inbox(0)
	if len(in) != 3 || !slices.Equal(txIDs(in[0].Txs), []int{1, 4}) || !slices.Equal(txIDs(in[1].Txs), []int{1}) {
		t.Fatalf("inbox %v: SoloTxs should be in harvester 1's block only", in)
	}
	if _, ok := m.CertifyFrom(s, 1, in[1:2]); ok {
		t.Error("CONV-2: a Byzantine miner built with one counted proposer")
	}
	omit := must(m.CertifyFrom(s, 1, in[1:]))
	if b := omit.Cert()[0]; len(b.Refs) != 2 || slices.Contains(b.Applied, 4) {
		t.Fatalf("omitting block: %s", FormatBlock(b))
	}
	if l, ok := m.LegalStep(s, omit); !ok || l != "Certify(m=1, S={[proposer |-> 2, txs |-> {1}], [proposer |-> 3, txs |-> {1}]})" {
		t.Errorf("LegalStep = %q, %v", l, ok)
	}
	full := must(m.Certify(s, 1))
	if b := full.Cert()[0]; !slices.Equal(b.Applied, []int{1, 4}) {
		t.Fatalf("whole-inbox block: %s", FormatBlock(b))
	}
	honest := newTestModel(t, with(byzMinerBug, func(c *Config) { c.ByzMiners = nil }))
	if _, ok := honest.CertifyFrom(s, 1, in[1:]); ok {
		t.Error("an honest miner built from a subset of its inbox")
	}
	for _, n := range honest.Successors(s) {
		if len(n.Next.Cert()) == 1 && !slices.Contains(n.Next.Cert()[0].Applied, 4) {
			t.Errorf("honest miner step %s omits transfer 4", n.Label)
		}
	}
}
