package dag

import (
	"bufio"
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/fhbft/fhbft/impl/certification"
)

// ErrPruned is returned for a block of a round the store has pruned.
var ErrPruned = errors.New("dag: round already pruned")

type slotKey struct {
	round    Round
	proposer certification.Member
}

type slotEntry struct {
	first, second *ProposalBlock
	firstHash     Hash
	ev            *Equivocation
}

type convEntry struct {
	cb    *ConvergenceBlock
	final bool
}

// Store holds a node's proposal blocks per (round, proposer), equivocation
// evidence and convergence blocks. Maps are only looked up; every listing
// is sorted, so nothing depends on map order. Not safe for concurrent use
// (a role's state, driven by Step). spec: DAG-3
type Store struct {
	proposals map[Hash]*ProposalBlock
	slots     map[slotKey]*slotEntry
	convs     map[Hash]*convEntry
	pruned    Round // rounds below are gone
}

// NewStore returns an empty store.
func NewStore() *Store {
	return &Store{
		proposals: make(map[Hash]*ProposalBlock),
		slots:     make(map[slotKey]*slotEntry),
		convs:     make(map[Hash]*convEntry),
	}
}

// AddProposal stores a block the caller has checked (PB-4). The first
// block of a (round, proposer) is stored and counts (added = true). A second
// one with another hash yields the evidence (ev != nil, added = false); it
// is kept retrievable by hash for fetches (DAG-4) but never counts. The same
// block again, a third block, or a block once evidence is known changes
// nothing. spec: DAG-3, PB-5, PB-6, tla: DAGConvergence!EquivocatorSend
func (s *Store) AddProposal(b *ProposalBlock) (ev *Equivocation, added bool, err error) {
	if b == nil {
		return nil, false, fmt.Errorf("%w: nil block", ErrMissingBlock)
	}
	if b.Round < s.pruned {
		return nil, false, fmt.Errorf("%w: round %d, store keeps %d and later", ErrPruned, b.Round, s.pruned)
	}
	h := b.Hash()
	if _, ok := s.proposals[h]; ok {
		return nil, false, nil
	}
	k := slotKey{b.Round, b.Proposer}
	e := s.slots[k]
	if e == nil {
		e = &slotEntry{}
		s.slots[k] = e
	}
	c := *b
	switch {
	case e.first == nil:
		e.first, e.firstHash = &c, h
		s.proposals[h] = &c
		return nil, e.ev == nil, nil
	case e.second != nil:
		return nil, false, nil // a third block changes nothing
	}
	var x Equivocation
	if e.ev == nil {
		if x, err = NewEquivocation(e.first, b); err != nil {
			return nil, false, err
		}
	}
	e.second = &c
	s.proposals[h] = &c
	if e.ev != nil {
		return nil, false, nil
	}
	e.ev = &x
	out := x
	return &out, false, nil
}

// AddEvidence records verified evidence (PB-5) for its (round, proposer);
// it reports whether it was new. The proposer's block, if any, stops
// counting (PB-6). spec: DAG-3, tla: DAGConvergence!EquivocatorSend
func (s *Store) AddEvidence(e *Equivocation) bool {
	if e == nil || e.Round < s.pruned {
		return false
	}
	k := slotKey{e.Round, e.Proposer}
	x := s.slots[k]
	if x == nil {
		x = &slotEntry{}
		s.slots[k] = x
	}
	if x.ev != nil {
		return false
	}
	c := *e
	x.ev = &c
	return true
}

// Proposal returns a stored proposal block by hash.
func (s *Store) Proposal(h Hash) (*ProposalBlock, bool) {
	b, ok := s.proposals[h]
	return b, ok
}

// Convergence returns a stored convergence block by hash.
func (s *Store) Convergence(h Hash) (*ConvergenceBlock, bool) {
	c, ok := s.convs[h]
	if !ok {
		return nil, false
	}
	return c.cb, true
}

// Round returns what the store would give Converge for round r: the first
// block of every proposer without evidence, sorted by proposer, and all
// evidence of the round, sorted by proposer. spec: DAG-3, CONV-2, MINE-1,
// tla: DAGConvergence!inbox
func (s *Store) Round(r Round) Input {
	var keys []slotKey
	for k := range s.slots {
		if k.round == r {
			keys = append(keys, k)
		}
	}
	slices.SortFunc(keys, func(a, b slotKey) int { return cmp.Compare(a.proposer, b.proposer) })
	var in Input
	for _, k := range keys {
		e := s.slots[k]
		switch {
		case e.ev != nil:
			in.Evidence = append(in.Evidence, *e.ev)
		case e.first != nil:
			in.Blocks = append(in.Blocks, *e.first)
		}
	}
	return in
}

// AddConvergence stores a convergence block; final marks it as its
// round's final block (FIN-1). Adding again only sets final. spec: DAG-3,
// FIN-1, tla: DAGConvergence!Finalize
func (s *Store) AddConvergence(cb *ConvergenceBlock, final bool) {
	if cb == nil || (cb.Round < s.pruned && cb.Round != 0) {
		return
	}
	h := cb.Hash()
	if e, ok := s.convs[h]; ok {
		e.final = e.final || final
		return
	}
	c := *cb
	s.convs[h] = &convEntry{cb: &c, final: final}
}

// Prune drops every block and piece of evidence of rounds below `below`
// (the genesis block stays): the store holds the rounds not yet final plus
// the last final one. spec: DAG-3, tla: DAGConvergence!NextRound
func (s *Store) Prune(below Round) {
	if below <= s.pruned {
		return
	}
	s.pruned = below
	for h, b := range s.proposals {
		if b.Round < below {
			delete(s.proposals, h)
		}
	}
	for k := range s.slots {
		if k.round < below {
			delete(s.slots, k)
		}
	}
	for h, c := range s.convs {
		if c.cb.Round < below && c.cb.Round != 0 {
			delete(s.convs, h)
		}
	}
}

func nodeID(kind byte, h Hash) string { return fmt.Sprintf("%c%x", kind, h[:8]) }

// WriteDOT writes the DAG as Graphviz DOT: one cluster per round holding
// its proposal blocks (boxes; red when the proposer equivocated) and
// convergence blocks (ellipses; bold when final), and the DAG-2 edges:
// proposal block → prev, convergence block → prev and → each reference.
// The output is a deterministic function of the store. spec: DAG-5, DAG-2
func (s *Store) WriteDOT(w io.Writer) error {
	type pnode struct {
		h Hash
		b *ProposalBlock
	}
	type cnode struct {
		h Hash
		c *convEntry
	}
	var ps []pnode
	for h, b := range s.proposals {
		ps = append(ps, pnode{h, b})
	}
	slices.SortFunc(ps, func(a, b pnode) int {
		if c := cmp.Compare(a.b.Round, b.b.Round); c != 0 {
			return c
		}
		if c := cmp.Compare(a.b.Proposer, b.b.Proposer); c != 0 {
			return c
		}
		return bytes.Compare(a.h[:], b.h[:])
	})
	var cs []cnode
	for h, c := range s.convs {
		cs = append(cs, cnode{h, c})
	}
	slices.SortFunc(cs, func(a, b cnode) int {
		if c := cmp.Compare(a.c.cb.Round, b.c.cb.Round); c != 0 {
			return c
		}
		if c := cmp.Compare(a.c.cb.Rank, b.c.cb.Rank); c != 0 {
			return c
		}
		return bytes.Compare(a.h[:], b.h[:])
	})
	var rounds []Round
	for _, p := range ps {
		rounds = append(rounds, p.b.Round)
	}
	for _, c := range cs {
		rounds = append(rounds, c.c.cb.Round)
	}
	slices.Sort(rounds)
	rounds = slices.Compact(rounds)

	bw := bufio.NewWriter(w)
	fmt.Fprintln(bw, "digraph dag {")
	fmt.Fprintln(bw, "  rankdir=BT;")
	fmt.Fprintln(bw, "  node [fontname=\"monospace\", fontsize=10];")
	pi, ci := 0, 0
	for _, r := range rounds {
		fmt.Fprintf(bw, "  subgraph cluster_r%d {\n    label=\"round %d\";\n", r, r)
		for ; ci < len(cs) && cs[ci].c.cb.Round == r; ci++ {
			c := cs[ci].c.cb
			style := "solid"
			if cs[ci].c.final {
				style = "bold"
			}
			fmt.Fprintf(bw, "    %s [shape=ellipse, style=%s, label=\"C r%d rank %d miner %d\\n%x\\napplied %d rejected %d deferred %d\"];\n",
				nodeID('c', cs[ci].h), style, c.Round, c.Rank, c.Miner, cs[ci].h[:4], len(c.Applied), len(c.Rejected), len(c.Deferred))
		}
		for ; pi < len(ps) && ps[pi].b.Round == r; pi++ {
			b := ps[pi].b
			color := "black"
			if e := s.slots[slotKey{b.Round, b.Proposer}]; e != nil && e.ev != nil {
				color = "red"
			}
			fmt.Fprintf(bw, "    %s [shape=box, color=%s, label=\"P r%d h%d\\n%x\\ntxs %d\"];\n",
				nodeID('p', ps[pi].h), color, b.Round, b.Proposer, ps[pi].h[:4], len(b.Txs))
		}
		fmt.Fprintln(bw, "  }")
	}
	for _, p := range ps {
		if p.b.Round > 0 {
			fmt.Fprintf(bw, "  %s -> %s;\n", nodeID('p', p.h), nodeID('c', p.b.Prev))
		}
	}
	for _, c := range cs {
		if c.c.cb.Round > 0 {
			fmt.Fprintf(bw, "  %s -> %s [style=bold];\n", nodeID('c', c.h), nodeID('c', c.c.cb.Prev))
		}
		for _, ref := range c.c.cb.Refs {
			fmt.Fprintf(bw, "  %s -> %s [color=gray];\n", nodeID('c', c.h), nodeID('p', ref.Hash))
		}
	}
	fmt.Fprintln(bw, "}")
	return bw.Flush()
}
