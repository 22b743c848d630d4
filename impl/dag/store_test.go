package dag

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

// spec: DAG-3, PB-5, PB-6
func TestStore(t *testing.T) {
	prev := ConvergenceBlock{Quorum: 100, Epoch: 7, Round: 2}
	a := block(&prev, 1, ctx(0, 1, 1, 0, 0, 1))
	a2 := block(&prev, 1, ctx(0, 1, 1, 0, 0, 2))
	a3 := block(&prev, 1)
	b := block(&prev, 2)
	s := NewStore()
	if ev, added, err := s.AddProposal(&a); ev != nil || !added || err != nil {
		t.Fatalf("first: %v %v %v", ev, added, err)
	}
	if ev, added, err := s.AddProposal(&a); ev != nil || added || err != nil {
		t.Fatalf("same again: %v %v %v", ev, added, err)
	}
	ev, added, err := s.AddProposal(&a2)
	if ev == nil || added || err != nil || ev.Proposer != 1 || ev.Round != 3 {
		t.Fatalf("second: %v %v %v", ev, added, err)
	}
	if ev2, added, err := s.AddProposal(&a3); ev2 != nil || added || err != nil {
		t.Fatal("third changed something")
	}
	if _, ok := s.Proposal(a3.Hash()); ok {
		t.Fatal("third block stored")
	}
	if _, ok := s.Proposal(a2.Hash()); !ok {
		t.Fatal("second block not kept for fetches")
	}
	s.AddProposal(&b)
	in := s.Round(3)
	if len(in.Blocks) != 1 || in.Blocks[0].Proposer != 2 || len(in.Evidence) != 1 || in.Evidence[0].Proposer != 1 {
		t.Fatalf("round input %+v", in)
	}
	// Evidence first, block later: the block is stored but does not count.
	c := block(&prev, 3)
	cx := block(&prev, 3, ctx(0, 1, 1, 0, 0, 3))
	e, _ := NewEquivocation(&c, &cx)
	if !s.AddEvidence(&e) || s.AddEvidence(&e) {
		t.Fatal("AddEvidence not new-then-old")
	}
	if _, added, _ := s.AddProposal(&c); added {
		t.Fatal("block of a proposer with evidence counts")
	}
	if got := s.Round(3); len(got.Blocks) != 1 || len(got.Evidence) != 2 {
		t.Fatalf("round input %+v", got)
	}
	// Prune.
	g := Genesis(100, 7, [32]byte{})
	s.AddConvergence(&g, true)
	s.Prune(4)
	if _, ok := s.Proposal(a.Hash()); ok {
		t.Fatal("pruned block still there")
	}
	if _, ok := s.Convergence(g.Hash()); !ok {
		t.Fatal("genesis pruned")
	}
	if _, _, err := s.AddProposal(&b); !errors.Is(err, ErrPruned) {
		t.Fatalf("pruned round accepted: %v", err)
	}
}

// spec: DAG-5
func TestWriteDOTDeterministic(t *testing.T) {
	r := newRound(t, rich())
	blocks := []ProposalBlock{
		r.block(1, ctx(0, 1, 1, 0, 0, 1)), r.block(2, ctx(1, 2, 1, 0, 0, 2)),
		r.block(3), r.block(3, ctx(2, 3, 1, 0, 0, 3)),
	}
	out := r.converge(t, Input{Blocks: blocks})
	build := func(order []int) string {
		s := NewStore()
		s.AddConvergence(&r.prev, true)
		for _, i := range order {
			s.AddProposal(&blocks[i])
		}
		s.AddConvergence(&out.Block, true)
		var buf bytes.Buffer
		if err := s.WriteDOT(&buf); err != nil {
			t.Fatal(err)
		}
		return buf.String()
	}
	d1 := build([]int{0, 1, 2, 3})
	for range 5 {
		if d2 := build([]int{3, 1, 0, 2}); d2 != d1 {
			t.Fatalf("DOT depends on insertion or map order:\n%s\n---\n%s", d1, d2)
		}
	}
	for _, want := range []string{"digraph dag {", "cluster_r6", "cluster_r5", "P r6 h1", "C r6 rank 0", "color=red", "style=bold"} {
		if !strings.Contains(d1, want) {
			t.Errorf("DOT lacks %q:\n%s", want, d1)
		}
	}
	// Edges: every block to prev, the convergence block to its refs.
	prevID := nodeID('c', r.prev.Hash())
	if n := strings.Count(d1, "-> "+prevID); n != 5 { // 4 proposal blocks + the convergence block
		t.Errorf("%d edges to prev, want 5:\n%s", n, d1)
	}
	for _, ref := range out.Block.Refs {
		if !strings.Contains(d1, nodeID('c', out.Block.Hash())+" -> "+nodeID('p', ref.Hash)) {
			t.Errorf("no edge to ref %d", ref.Proposer)
		}
	}
}
