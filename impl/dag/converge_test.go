package dag

import (
	"errors"
	"math"
	"slices"
	"testing"

	"github.com/fhbft/fhbft/impl/certification"
	"github.com/fhbft/fhbft/impl/state"
	"github.com/fhbft/fhbft/impl/tx"
)

// A small fixed round for the per-rule tests: 4 harvesters, prev at round
// 5, the beacon's order computed (and printed) so the tests can name
// positions rather than members.
type round struct {
	p      Params
	prev   ConvergenceBlock
	beacon Hash
	st     state.Tree
	order  []certification.Member // order[0] is position 1
}

func newRound(t *testing.T, accts map[int]tx.Account) *round {
	t.Helper()
	r := &round{p: testParams(4), prev: ConvergenceBlock{Quorum: 100, Epoch: 7, Round: 5}, beacon: Hash{42}}
	_, r.st = treeOf(accts)
	r.order = Order(r.beacon, 4)
	t.Logf("order (positions 1..4): %v", r.order)
	return r
}

// at returns the member at 1-based position pos.
func (r *round) at(pos int) certification.Member { return r.order[pos-1] }

func (r *round) converge(t *testing.T, in Input) Outcome {
	t.Helper()
	out, err := Converge(r.p, &r.prev, r.beacon, r.st, 1, 0, in)
	if err != nil {
		t.Fatalf("Converge: %v", err)
	}
	return out
}

func (r *round) block(proposer certification.Member, txs ...CertifiedTx) ProposalBlock {
	return block(&r.prev, proposer, txs...)
}

func wantReason(t *testing.T, b *ConvergenceBlock, c CertifiedTx, want Reason) {
	t.Helper()
	if got, ok := reasonOf(b, c.Digest()); !ok || got != want {
		t.Errorf("transfer nonce %d: rejected=%v reason %v, want %v", c.Transfer.Nonce, ok, got, want)
	}
}

func wantApplied(t *testing.T, b *ConvergenceBlock, cs ...CertifiedTx) {
	t.Helper()
	var want []tx.Digest
	for _, c := range cs {
		want = append(want, c.Digest())
	}
	if !slices.Equal(b.Applied, want) {
		t.Errorf("applied %x\nwant    %x", b.Applied, want)
	}
}

func rich() map[int]tx.Account {
	return map[int]tx.Account{0: {Balance: 1000}, 1: {Balance: 1000}, 2: {Balance: 1000}, 3: {Balance: 1000}}
}

// spec: CONV-2, PB-6
func TestCountedBlocks(t *testing.T) {
	r := newRound(t, rich())
	a := ctx(0, 1, 5, 1, 0, 1)
	b := ctx(1, 2, 5, 1, 0, 2)
	c := ctx(2, 3, 5, 1, 0, 3)
	b1 := r.block(1, a)
	b2 := r.block(2, b)
	b2x := r.block(2, b, c) // proposer 2 equivocates
	b3 := r.block(3, c)
	out := r.converge(t, Input{Blocks: []ProposalBlock{b1, b1, b2, b2x, b3}})
	blk := &out.Block
	if len(blk.Refs) != 2 || blk.Refs[0].Proposer != 1 || blk.Refs[1].Proposer != 3 {
		t.Fatalf("refs %+v: want proposers 1 and 3 (duplicate counted once, equivocator none)", blk.Refs)
	}
	if len(blk.Equivocations) != 1 || blk.Equivocations[0].Proposer != 2 {
		t.Fatalf("equivocations %+v: want one for proposer 2", blk.Equivocations)
	}
	// The equivocator's transfers are not candidates through it (b only it carried).
	if _, ok := reasonOf(blk, b.Digest()); ok || slices.Contains(blk.Applied, b.Digest()) {
		t.Error("a transfer only the equivocator carried became a candidate")
	}
	// Explicit evidence alone excludes a proposer, even with one block.
	e, _ := NewEquivocation(&b2, &b2x)
	out = r.converge(t, Input{Blocks: []ProposalBlock{b1, b2}, Evidence: []Equivocation{e, e}})
	if len(out.Block.Refs) != 1 || len(out.Block.Equivocations) != 1 {
		t.Fatalf("refs %+v evidence %d: want only proposer 1 and one evidence", out.Block.Refs, len(out.Block.Equivocations))
	}
	// MinRefs.
	r.p.MinRefs = 3
	if _, err := Converge(r.p, &r.prev, r.beacon, r.st, 1, 0, Input{Blocks: []ProposalBlock{b1, b2x, b3, b2}}); !errors.Is(err, ErrTooFewRefs) {
		t.Fatalf("2 counted with MinRefs 3: err %v, want ErrTooFewRefs", err)
	}
}

// spec: CONV-3, CONV-4
func TestKeysAndConflicts(t *testing.T) {
	r := newRound(t, rich())
	x := ctx(0, 1, 5, 1, 0, 1) // slot (0, 0)
	y := ctx(0, 2, 6, 1, 0, 2) // same slot, other transfer
	z := ctx(1, 2, 7, 1, 0, 3)
	// x only at position 3, y at positions 2 and 4: y's key is 2, y wins.
	out := r.converge(t, Input{Blocks: []ProposalBlock{
		r.block(r.at(3), x, z), r.block(r.at(2), y), r.block(r.at(4), y, z),
	}})
	wantReason(t, &out.Block, x, ReasonConflict)
	if !slices.Contains(out.Block.Applied, y.Digest()) {
		t.Fatal("y (least position 2) did not win its slot")
	}
	for i, k := range out.Keys {
		switch out.Applied[i].Digest() {
		case y.Digest():
			if k.Rank != 2 {
				t.Errorf("y key rank %d, want 2", k.Rank)
			}
		case z.Digest():
			if k.Rank != 3 {
				t.Errorf("z key rank %d, want 3 (least of positions 3, 4)", k.Rank)
			}
		}
	}
	// A carried deferred transfer has rank 0 and beats position 1.
	r.prev.Deferred = []Deferred{{Tx: x, Since: 4}}
	out = r.converge(t, Input{Blocks: []ProposalBlock{r.block(r.at(1), y)}})
	wantReason(t, &out.Block, y, ReasonConflict)
	wantApplied(t, &out.Block, x)
	if out.Keys[0].Rank != 0 {
		t.Errorf("carried key rank %d, want 0", out.Keys[0].Rank)
	}
	// Same rank: the digest decides.
	r.prev.Deferred = nil
	out = r.converge(t, Input{Blocks: []ProposalBlock{r.block(r.at(1), x, y)}})
	lo, hi := x, y
	if d1, d2 := x.Digest(), y.Digest(); string(d1[:]) > string(d2[:]) {
		lo, hi = y, x
	}
	wantApplied(t, &out.Block, lo)
	wantReason(t, &out.Block, hi, ReasonConflict)
}

// spec: CONV-6, CONV-7, CONV-8, CONV-9
func TestApplicationOrder(t *testing.T) {
	r := newRound(t, map[int]tx.Account{0: {Balance: 100, Nonce: 2}, 1: {Balance: 0}, 2: {Balance: 50}})
	stale := ctx(0, 1, 1, 0, 1, 1)   // nonce 1 < 2: replay
	a2 := ctx(0, 1, 60, 1, 2, 2)     // ready
	a3 := ctx(0, 2, 10, 1, 3, 3)     // ready after a2
	a5 := ctx(0, 2, 10, 1, 5, 4)     // gap (no nonce 4): deferred
	b0 := ctx(1, 2, 30, 2, 0, 5)     // sender 1 has 0 until a2 credits 60
	c0 := ctx(2, 0, 100, 0, 0, 6)    // overdraft: 50 < 100
	c1 := ctx(2, 0, 1, 0, 1, 7)      // after c0's overdraft never ready: deferred
	blkLate := r.block(r.at(4), b0)  // b0 at position 4
	blkEarly := r.block(r.at(1), a3) // a3 at position 1
	blkMid := r.block(r.at(2), a2, stale, a5, c0, c1)
	out := r.converge(t, Input{Blocks: []ProposalBlock{blkLate, blkEarly, blkMid}})
	blk := &out.Block
	wantReason(t, blk, stale, ReasonReplay)
	wantReason(t, blk, c0, ReasonOverdraft)
	// Ready order: c0 (pos 2) and a2 (pos 2) and b0 (pos 4) are ready at
	// the start; a2 before b0 by rank; a3 (pos 1) only after a2; b0 last
	// and funded by a2's credit.
	wantApplied(t, blk, a2, a3, b0)
	if since, ok := isDeferred(blk, a5.Digest()); !ok || since != r.prev.Round+1 {
		t.Errorf("a5 deferred=%v since %d, want since %d", ok, since, r.prev.Round+1)
	}
	if _, ok := isDeferred(blk, c1.Digest()); !ok {
		t.Error("c1 (behind an overdraft) not deferred: the nonce must not advance")
	}
	if acc, _ := out.Tree.Get(acct(2)); acc.Nonce != 0 {
		t.Errorf("sender 2 nonce %d after its overdraft, want 0", acc.Nonce)
	}
	if blk.Fees != 1+1+2 {
		t.Errorf("fees %d, want 4", blk.Fees)
	}
}

// spec: CONV-9 (expiry after MaxDeferRounds)
func TestGapExpiry(t *testing.T) {
	r := newRound(t, map[int]tx.Account{0: {Balance: 100}})
	gap := ctx(0, 1, 1, 0, 3, 1) // nonce 3, account at 0: never ready
	r.p.MaxDeferRounds = 3
	// Converging round 6. Deferred since 4 → 6-4 = 2 < 3: still deferred.
	r.prev.Deferred = []Deferred{{Tx: gap, Since: 4}}
	out := r.converge(t, Input{Blocks: []ProposalBlock{r.block(1)}})
	if since, ok := isDeferred(&out.Block, gap.Digest()); !ok || since != 4 {
		t.Fatalf("since 4: deferred=%v since %d, want deferred since 4", ok, since)
	}
	// Since 3 → 6-3 = 3: deferred in rounds 3, 4, 5 already; now expired.
	r.prev.Deferred = []Deferred{{Tx: gap, Since: 3}}
	out = r.converge(t, Input{Blocks: []ProposalBlock{r.block(1)}})
	wantReason(t, &out.Block, gap, ReasonGapExpired)
	// A new gap transfer with MaxDeferRounds 1 is deferred once (this round).
	r.p.MaxDeferRounds = 1
	r.prev.Deferred = nil
	out = r.converge(t, Input{Blocks: []ProposalBlock{r.block(1, gap)}})
	if _, ok := isDeferred(&out.Block, gap.Digest()); !ok {
		t.Fatal("new gap transfer not deferred")
	}
	// A gap that closes this round is applied, and so is the carried one.
	fill := []CertifiedTx{ctx(0, 1, 1, 0, 0, 2), ctx(0, 1, 1, 0, 1, 3), ctx(0, 1, 1, 0, 2, 4)}
	r.prev.Deferred = []Deferred{{Tx: gap, Since: 5}}
	out = r.converge(t, Input{Blocks: []ProposalBlock{r.block(2, fill...)}})
	wantApplied(t, &out.Block, append(fill, gap)...)
}

// spec: CONV-2 (typed errors for unusable inputs), CONV-11 (no panic)
func TestConvergeInputErrors(t *testing.T) {
	r := newRound(t, rich())
	ok := ctx(0, 1, 1, 0, 0, 1)
	good := r.block(1, ok)
	mod := func(f func(*ProposalBlock)) ProposalBlock {
		b := r.block(2, ctx(1, 2, 1, 0, 0, 9))
		f(&b)
		return b
	}
	cases := []struct {
		name string
		in   Input
		want error
	}{
		{"round", Input{Blocks: []ProposalBlock{good, mod(func(b *ProposalBlock) { b.Round++ })}}, ErrWrongRound},
		{"prev", Input{Blocks: []ProposalBlock{good, mod(func(b *ProposalBlock) { b.Prev[0]++ })}}, ErrWrongPrev},
		{"quorum", Input{Blocks: []ProposalBlock{good, mod(func(b *ProposalBlock) { b.Quorum++ })}}, ErrWrongQuorum},
		{"proposer-0", Input{Blocks: []ProposalBlock{good, mod(func(b *ProposalBlock) { b.Proposer = 0 })}}, ErrBadProposer},
		{"proposer-5", Input{Blocks: []ProposalBlock{good, mod(func(b *ProposalBlock) { b.Proposer = 5 })}}, ErrBadProposer},
		{"dup-digest", Input{Blocks: []ProposalBlock{good, mod(func(b *ProposalBlock) { b.Txs = append(b.Txs, b.Txs[0]) })}}, ErrDuplicateDigest},
		{"self", Input{Blocks: []ProposalBlock{good, mod(func(b *ProposalBlock) { b.Txs[0].Transfer.To = b.Txs[0].Transfer.From })}}, ErrTxMalformed},
		{"sink", Input{Blocks: []ProposalBlock{good, mod(func(b *ProposalBlock) { b.Txs[0].Transfer.To = state.FeeSink })}}, ErrTxMalformed},
		{"overflow", Input{Blocks: []ProposalBlock{good, mod(func(b *ProposalBlock) { b.Txs[0].Transfer.Fee = math.MaxUint64 })}}, ErrTxMalformed},
		{"nonce-max", Input{Blocks: []ProposalBlock{good, mod(func(b *ProposalBlock) { b.Txs[0].Transfer.Nonce = math.MaxUint64 })}}, ErrTxMalformed},
		{"evidence-round", Input{Blocks: []ProposalBlock{good}, Evidence: []Equivocation{{Proposer: 2, Round: 1, Hash2: Hash{1}}}}, ErrWrongRound},
		{"evidence-order", Input{Blocks: []ProposalBlock{good}, Evidence: []Equivocation{{Proposer: 2, Round: 6, Hash1: Hash{1}}}}, ErrBadEvidence},
		{"evidence-proposer", Input{Blocks: []ProposalBlock{good}, Evidence: []Equivocation{{Proposer: 9, Round: 6, Hash2: Hash{1}}}}, ErrBadProposer},
		{"empty", Input{}, ErrTooFewRefs},
	}
	for _, c := range cases {
		_, err := Converge(r.p, &r.prev, r.beacon, r.st, 1, 0, c.in)
		if !errors.Is(err, c.want) {
			t.Errorf("%s: err %v, want %v", c.name, err, c.want)
		}
		var ie *InputError
		if c.want != ErrTooFewRefs && !errors.As(err, &ie) {
			t.Errorf("%s: %T is not an *InputError", c.name, err)
		}
	}
	// Carried deferred: duplicates and a Since after prev are refused.
	r.prev.Deferred = []Deferred{{Tx: ok, Since: 5}, {Tx: ok, Since: 5}}
	if _, err := Converge(r.p, &r.prev, r.beacon, r.st, 1, 0, Input{Blocks: []ProposalBlock{r.block(1)}}); !errors.Is(err, ErrDuplicateDigest) {
		t.Errorf("duplicate carried: %v", err)
	}
	r.prev.Deferred = []Deferred{{Tx: ok, Since: 6}}
	if _, err := Converge(r.p, &r.prev, r.beacon, r.st, 1, 0, Input{Blocks: []ProposalBlock{r.block(1)}}); !errors.Is(err, ErrWrongRound) {
		t.Errorf("carried since the future: %v", err)
	}
	r.prev.Deferred = nil
	if _, err := Converge(r.p, nil, r.beacon, r.st, 1, 0, Input{}); !errors.Is(err, ErrNilPrev) {
		t.Errorf("nil prev: %v", err)
	}
	bad := r.p
	bad.MinRefs = 0
	if _, err := Converge(bad, &r.prev, r.beacon, r.st, 1, 0, Input{}); !errors.Is(err, ErrParams) {
		t.Errorf("bad params: %v", err)
	}
}

// TestConvergeAdversarialTermination feeds inputs built to make a naive
// loop spin: one long nonce chain listed in reverse, every slot contested
// by many transfers, a chain broken by an early overdraft, transfers that
// circulate money between two accounts, and nonces at the top of the
// range. Converge must return with every candidate accounted for (CONV-10)
// and each winner handled once (CONV-11).
func TestConvergeAdversarialTermination(t *testing.T) {
	const chain = 3000
	r := newRound(t, map[int]tx.Account{0: {Balance: chain * 10}, 1: {Balance: 5}, 2: {Balance: 1}, 3: {Balance: 0, Nonce: math.MaxUint64 - 3}})
	var txs []CertifiedTx
	for i := chain - 1; i >= 0; i-- {
		txs = append(txs, ctx(0, 1, 1, 1, uint64(i), uint32(i)))
		txs = append(txs, ctx(0, 2, 1, 1, uint64(i), uint32(chain+i))) // contest every slot
	}
	// Ping-pong: 1 and 2 pay each other more than they hold, 200 rounds deep.
	for i := range 200 {
		txs = append(txs, ctx(1, 2, 6, 0, uint64(i), uint32(3*chain+i)))
		txs = append(txs, ctx(2, 1, 6, 0, uint64(i), uint32(4*chain+i)))
	}
	// Top of the nonce range (MaxUint64 itself is refused as malformed).
	txs = append(txs, ctx(3, 1, 1, 0, math.MaxUint64-3, 1<<30), ctx(3, 1, 1, 0, math.MaxUint64-1, 1<<30+1))
	b1 := r.block(1, txs...)
	rev := slices.Clone(txs)
	slices.Reverse(rev)
	b2 := r.block(2, rev...)
	out := r.converge(t, Input{Blocks: []ProposalBlock{b1, b2}})
	blk := &out.Block
	total := len(blk.Applied) + len(blk.Rejected) + len(blk.Deferred)
	if total != len(txs) {
		t.Fatalf("%d candidates, %d accounted", len(txs), total)
	}
	if len(blk.Applied) < chain {
		t.Fatalf("only %d applied; the %d-long chain should apply in full", len(blk.Applied), chain)
	}
	t.Logf("applied %d, rejected %d, deferred %d", len(blk.Applied), len(blk.Rejected), len(blk.Deferred))
}
