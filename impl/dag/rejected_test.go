package dag

import (
	"errors"
	"slices"
	"testing"

	"github.com/fhbft/fhbft/impl/state"
	"github.com/fhbft/fhbft/impl/tx"
)

// absent fails unless d is nowhere in the block: not applied, not
// rejected (reported again), not deferred.
func absent(t *testing.T, b *ConvergenceBlock, d tx.Digest, what string) {
	t.Helper()
	if slices.Contains(b.Applied, d) {
		t.Errorf("%s applied", what)
	}
	if why, ok := reasonOf(b, d); ok {
		t.Errorf("%s reported again as %v", what, why)
	}
	if _, ok := isDeferred(b, d); ok {
		t.Errorf("%s deferred", what)
	}
}

// TestRejectedReproposedExcluded: a transfer rejected for overdraft in
// round 6 is re-proposed in round 8, after its sender got (in round 7) the
// funds that would now cover it. Without the rejected set it is applied;
// with it, it is no candidate: not applied, not reported again, and it
// does not compete for its slot, so another transfer of the slot wins
// without a conflict. spec: CONV-14, CONV-3
func TestRejectedReproposedExcluded(t *testing.T) {
	r := newRound(t, map[int]tx.Account{0: {Balance: 10}, 1: {Balance: 1000}, 2: {Balance: 1000}})
	x := ctx(0, 2, 50, 1, 0, 1) // 0 cannot pay 51
	out6 := r.converge(t, Input{Blocks: []ProposalBlock{r.block(1, x)}})
	wantReason(t, &out6.Block, x, ReasonOverdraft)
	if len(out6.Rejected) != 1 || out6.Rejected[0].Digest != x.Digest() || out6.Rejected[0].Transfer != x.Transfer || out6.Rejected[0].Reason != ReasonOverdraft {
		t.Fatalf("Outcome.Rejected %+v: want x with its transfer and reason overdraft", out6.Rejected)
	}
	set := NewRejectedSet()
	if dropped := set.Apply(&out6); dropped != 0 || !set.Has(x.Digest()) || set.Len() != 1 {
		t.Fatalf("after round 6: dropped %d, has x %v, len %d", dropped, set.Has(x.Digest()), set.Len())
	}
	if e, _ := set.Entry(x.Digest()); e.From != acct(0) || e.Nonce != 0 || e.Reason != ReasonOverdraft {
		t.Fatalf("entry %+v: want slot (0, 0), overdraft", e)
	}

	// Round 7: 1 pays 0 enough to cover x.
	r7 := &round{p: r.p, prev: out6.Block, beacon: Hash{7}, st: out6.Tree}
	fund := ctx(1, 0, 500, 1, 0, 2)
	out7 := r7.converge(t, Input{Blocks: []ProposalBlock{r7.block(1, fund)}, Rejected: set})
	wantApplied(t, &out7.Block, fund)
	if set.Apply(&out7) != 0 || !set.Has(x.Digest()) {
		t.Fatal("x's slot is still open: it must stay in the set")
	}

	// Round 8: x comes back (a Byzantine proposer).
	r8 := &round{p: r.p, prev: out7.Block, beacon: Hash{8}, st: out7.Tree}
	if without := r8.converge(t, Input{Blocks: []ProposalBlock{r8.block(2, x)}}); !slices.Contains(without.Block.Applied, x.Digest()) {
		t.Fatalf("setup: x not applied without the set: %+v", without.Block)
	}
	with := r8.converge(t, Input{Blocks: []ProposalBlock{r8.block(2, x)}, Rejected: set})
	absent(t, &with.Block, x.Digest(), "x, rejected in round 6,")
	// With y, an honest transfer for x's slot: y wins against no one.
	y := ctx(0, 2, 5, 1, 0, 3)
	with = r8.converge(t, Input{Blocks: []ProposalBlock{r8.block(2, x), r8.block(3, y)}, Rejected: set})
	absent(t, &with.Block, x.Digest(), "x beside y")
	wantApplied(t, &with.Block, y)
	if len(with.Block.Rejected) != 0 || len(with.Rejected) != 0 {
		t.Errorf("rejected %+v: y won its slot against no one", with.Block.Rejected)
	}
	if set.Len() != 1 || !set.Has(x.Digest()) {
		t.Fatal("Converge changed the rejected set")
	}

	// A rejected transfer carried in prev.Deferred (only a faulty caller
	// builds one) is excluded too: CONV-3 names both sources.
	gap := ctx(2, 1, 5, 1, 1, 4)
	r8.prev.Deferred = []Deferred{{Tx: gap, Since: 7}}
	set2 := set.Clone()
	set2.Add(RejectedTx{Transfer: gap.Transfer, Digest: gap.Digest(), Reason: ReasonConflict})
	with = r8.converge(t, Input{Blocks: []ProposalBlock{r8.block(1, y)}, Rejected: set2})
	absent(t, &with.Block, gap.Digest(), "a carried rejected transfer")
	if set.Has(gap.Digest()) {
		t.Fatal("Clone shares its map")
	}
}

// TestRejectedPrunedBecomesReplay: once the sender's nonce passes the
// rejected transfer's nonce, Prune drops it, and a re-proposal is a
// replay. An unpruned set gives the same block: Converge reads the set as
// CONV-14 defines it. spec: CONV-14, CONV-6
func TestRejectedPrunedBecomesReplay(t *testing.T) {
	r := newRound(t, map[int]tx.Account{0: {Balance: 10}, 1: {Balance: 1000}, 2: {Balance: 1000}})
	x := ctx(0, 2, 50, 1, 0, 1)    // overdraft in round 6
	other := ctx(1, 2, 5, 1, 0, 2) // a slot that stays untouched by x
	out6 := r.converge(t, Input{Blocks: []ProposalBlock{r.block(1, x)}})
	set := NewRejectedSet()
	set.Apply(&out6)

	// Round 7: 0 spends nonce 0 with an affordable transfer: x's slot closes.
	r7 := &round{p: r.p, prev: out6.Block, beacon: Hash{7}, st: out6.Tree}
	z := ctx(0, 2, 5, 1, 0, 3)
	out7 := r7.converge(t, Input{Blocks: []ProposalBlock{r7.block(1, z, other)}, Rejected: set})
	if len(out7.Block.Applied) != 2 || !slices.Contains(out7.Block.Applied, z.Digest()) {
		t.Fatalf("round 7 applied %x: want z and other", out7.Block.Applied)
	}
	unpruned := set.Clone()
	if dropped := set.Apply(&out7); dropped != 1 || set.Has(x.Digest()) || set.Len() != 0 {
		t.Fatalf("after round 7: dropped %d, has x %v, len %d; want x pruned", dropped, set.Has(x.Digest()), set.Len())
	}

	// Round 8: x re-proposed is a replay, pruned or not.
	r8 := &round{p: r.p, prev: out7.Block, beacon: Hash{8}, st: out7.Tree}
	in := Input{Blocks: []ProposalBlock{r8.block(2, x)}}
	ref := r8.converge(t, in)
	wantReason(t, &ref.Block, x, ReasonReplay)
	for _, s := range []*RejectedSet{set, unpruned} {
		in.Rejected = s
		out8 := r8.converge(t, in)
		if !slices.Equal(encode(t, &out8.Block), encode(t, &ref.Block)) {
			t.Fatalf("set of %d entries changed the block: %v", s.Len(), Compare(&ref.Block, &out8.Block))
		}
	}
}

// TestRejectedSetBasics: first reason kept, nil and zero sets are empty,
// Entries sorted, Equal, Prune by slot. spec: CONV-14
func TestRejectedSetBasics(t *testing.T) {
	var nilSet *RejectedSet
	if nilSet.Has(tx.Digest{1}) || nilSet.Len() != 0 || nilSet.Prune(state.Tree{}) != 0 || nilSet.Entries() != nil || nilSet.Clone() != nil || !nilSet.Equal(&RejectedSet{}) {
		t.Fatal("nil set is not empty")
	}
	var s RejectedSet // zero value usable
	a := ctx(0, 1, 5, 1, 3, 1)
	b := ctx(1, 0, 5, 1, 0, 2)
	s.Add(RejectedTx{Transfer: a.Transfer, Digest: a.Digest(), Reason: ReasonOverdraft})
	s.Add(RejectedTx{Transfer: a.Transfer, Digest: a.Digest(), Reason: ReasonConflict}, RejectedTx{Transfer: b.Transfer, Digest: b.Digest(), Reason: ReasonGapExpired})
	if e, ok := s.Entry(a.Digest()); !ok || e.Reason != ReasonOverdraft {
		t.Fatalf("entry %+v: first reason not kept", e)
	}
	es := s.Entries()
	if len(es) != 2 || !slices.IsSortedFunc(es, func(x, y RejectedEntry) int { return compareDigest(x.Digest, y.Digest) }) {
		t.Fatalf("entries %+v", es)
	}
	c := s.Clone()
	if !c.Equal(&s) || !s.Equal(c) {
		t.Fatal("clone differs")
	}
	// Sender 0 at nonce 3: a (nonce 3) stays open; sender 1 at nonce 1: b closes.
	_, st := treeOf(map[int]tx.Account{0: {Balance: 1, Nonce: 3}, 1: {Balance: 1, Nonce: 1}})
	if n := s.Prune(st); n != 1 || !s.Has(a.Digest()) || s.Has(b.Digest()) {
		t.Fatalf("prune dropped %d; has a %v, b %v", n, s.Has(a.Digest()), s.Has(b.Digest()))
	}
	if c.Equal(&s) {
		t.Fatal("Equal ignores a missing entry")
	}
}

func compareDigest(a, b tx.Digest) int {
	for i := range a {
		if a[i] != b[i] {
			return int(a[i]) - int(b[i])
		}
	}
	return 0
}

// TestParamsMinRefsBound: with the threshold known, MinRefs < 2qH − nH is
// refused (CONV-2), by Validate and by Recompute's roster check; the
// defaults satisfy it. spec: CONV-2
func TestParamsMinRefsBound(t *testing.T) {
	w := testWorld(t) // nH = 4, qH = 3: 2qH − nH = 2
	p := DefaultParams(w.harvesters.roster)
	if p.Threshold != 3 {
		t.Fatalf("DefaultParams.Threshold %d, want 3", p.Threshold)
	}
	if err := p.ValidateRoster(w.harvesters.roster); err != nil {
		t.Fatalf("defaults refused: %v", err)
	}
	p.MinRefs = 2
	if err := p.Validate(); err != nil {
		t.Fatalf("MinRefs = 2qH − nH refused: %v", err)
	}
	p.MinRefs = 1
	if err := p.Validate(); !errors.Is(err, ErrParams) {
		t.Fatalf("MinRefs 1 < 2qH − nH accepted: %v", err)
	}
	// Threshold unknown: Validate cannot check the bound, ValidateRoster can.
	p.Threshold = 0
	if err := p.Validate(); err != nil {
		t.Fatalf("threshold unknown: %v", err)
	}
	if err := p.ValidateRoster(w.harvesters.roster); !errors.Is(err, ErrParams) {
		t.Fatalf("ValidateRoster accepted MinRefs 1: %v", err)
	}
	var cb ConvergenceBlock
	g := Genesis(100, 7, state.Hash{})
	if _, err := Recompute(p, w.harvesters.roster, nil, &g, g.Beacon, state.Tree{}, &cb, nil); !errors.Is(err, ErrParams) {
		t.Fatalf("Recompute accepted MinRefs 1: %v", err)
	}
	for _, bad := range []int{2, 5, -1} { // 2qH = nH (CERT-1), above nH, negative
		q := DefaultParams(w.harvesters.roster)
		q.Threshold = bad
		if err := q.Validate(); !errors.Is(err, ErrParams) {
			t.Errorf("threshold %d accepted: %v", q.Threshold, err)
		}
	}
	q := DefaultParams(w.harvesters.roster)
	q.Threshold, q.MinRefs = 4, 4 // valid on its own, not the roster's
	if err := q.Validate(); err != nil {
		t.Fatalf("threshold 4 of 4: %v", err)
	}
	if err := q.ValidateRoster(w.harvesters.roster); !errors.Is(err, ErrParams) {
		t.Fatalf("threshold 4 with a q = 3 roster accepted: %v", err)
	}
}
