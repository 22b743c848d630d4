package dag

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"pgregory.net/rapid"
)

func tr(id, from, to int, nonce, amount, fee uint64) Transfer {
	return Transfer{ID: id, From: from, To: to, Nonce: nonce, Amount: amount, Fee: fee}
}

func prop(h int, txs ...Transfer) Proposal { return Proposal{Proposer: h, Txs: txs} }

var cmpOpts = cmp.Options{cmpopts.EquateEmpty()}

func mustConverge(t *testing.T, in Input) Block {
	t.Helper()
	b, err := Converge(in)
	if err != nil {
		t.Fatalf("Converge: %v", err)
	}
	return b
}

// One input with every reason of CONV-10 (IDs are digest order):
//
//	1 (1, 0) replay: account 1's nonce is already 1 (CONV-6)
//	2 (1, 1) loses to 3 of the same slot, included at position 1 (CONV-4)
//	3 (1, 1) applied
//	4 (2, 2) carried since round 1, still not ready: expires (CONV-9)
//	5 (2, 0) overdraws account 2 (CONV-8)
//	6 (2, 1) never ready: deferred since round 3 (CONV-9)
func TestConvergeEveryReason(t *testing.T) {
	a, b, c := tr(1, 1, 2, 0, 1, 1), tr(2, 1, 2, 1, 3, 1), tr(3, 1, 2, 1, 1, 1)
	d, e, f := tr(4, 2, 1, 2, 1, 1), tr(5, 2, 1, 0, 5, 1), tr(6, 2, 1, 1, 1, 1)
	in := Input{
		Round:          3,
		Positions:      map[int]int{1: 2, 2: 1, 3: 3},
		Prev:           Ledger{Accounts: []Account{{1, 10, 1}, {2, 1, 0}}, Sink: 5},
		Deferred:       []Deferral{{d, 1}},
		Blocks:         []Proposal{prop(3, f, e), prop(1, b, a), prop(2, c)},
		MinRefs:        3,
		MaxDeferRounds: 2,
	}
	want := Block{
		Round:    3,
		Refs:     []Proposal{prop(1, a, b), prop(2, c), prop(3, e, f)},
		Applied:  []int{3},
		Rejected: []Rejection{{1, ReasonReplay}, {2, ReasonConflict}, {4, ReasonGapExpired}, {5, ReasonOverdraft}},
		Deferred: []Deferral{{f, 3}},
		Fees:     1,
		Post:     Ledger{Accounts: []Account{{1, 8, 2}, {2, 2, 0}}, Sink: 6},
	}
	got := mustConverge(t, in)
	if diff := cmp.Diff(want, got, cmpOpts); diff != "" {
		t.Fatalf("Converge (-want +got):\n%s", diff)
	}
	// One more round of deferral allowed: 4 stays deferred, since 1.
	in.MaxDeferRounds = 3
	got = mustConverge(t, in)
	if !slices.Equal(got.Deferred, []Deferral{{d, 1}, {f, 3}}) {
		t.Errorf("MaxDeferRounds 3: deferred %v", got.Deferred)
	}
	// MaxDeferRounds 0 never defers.
	in.MaxDeferRounds = 0
	got = mustConverge(t, in)
	if len(got.Deferred) != 0 || !slices.Contains(got.Rejected, Rejection{6, ReasonGapExpired}) {
		t.Errorf("MaxDeferRounds 0: deferred %v, rejected %v", got.Deferred, got.Rejected)
	}
}

// CONV-7, CONV-8: winners are applied one at a time in key order, each
// against the state so far, so whether a transfer overdraws depends on the
// keys of the transfers that credit its sender.
func TestConvergeReadyOrder(t *testing.T) {
	pay := tr(1, 1, 2, 0, 3, 1)    // account 1 (balance 1) pays 4
	credit := tr(2, 2, 1, 0, 5, 1) // account 2 credits account 1 with 5
	in := func(payPos, creditPos int) Input {
		return Input{Round: 1, Positions: map[int]int{1: payPos, 2: creditPos},
			Prev:   Ledger{Accounts: []Account{{1, 1, 0}, {2, 9, 0}}},
			Blocks: []Proposal{prop(1, pay), prop(2, credit)}, MinRefs: 2}
	}
	first := mustConverge(t, in(1, 2)) // pay's key is least: it overdraws
	if !slices.Equal(first.Applied, []int{2}) || !slices.Equal(first.Rejected, []Rejection{{1, ReasonOverdraft}}) {
		t.Errorf("pay first: applied %v rejected %v", first.Applied, first.Rejected)
	}
	second := mustConverge(t, in(2, 1)) // credit first, then pay is covered
	if !slices.Equal(second.Applied, []int{2, 1}) || len(second.Rejected) != 0 {
		t.Errorf("credit first: applied %v rejected %v", second.Applied, second.Rejected)
	}
	// A chain of one sender's nonces is applied in one block (ready order).
	chain := Input{Round: 1, Positions: map[int]int{1: 1}, Prev: Ledger{Accounts: []Account{{1, 9, 0}}},
		Blocks: []Proposal{prop(1, tr(3, 1, 2, 2, 1, 1), tr(1, 1, 2, 0, 1, 1), tr(2, 1, 2, 1, 1, 1))}, MinRefs: 1}
	if got := mustConverge(t, chain); !slices.Equal(got.Applied, []int{1, 2, 3}) {
		t.Errorf("nonce chain applied %v", got.Applied)
	}
}

// CONV-2, PB-6: two blocks of one proposer (or evidence) exclude it;
// duplicates count once; too few counted proposers is an error.
func TestConvergeCountedBlocks(t *testing.T) {
	x, y := tr(1, 1, 2, 0, 1, 1), tr(2, 1, 2, 0, 2, 1)
	in := Input{Round: 1, Positions: map[int]int{1: 1, 2: 2, 3: 3},
		Prev:    Ledger{Accounts: []Account{{1, 9, 0}, {2, 0, 0}}},
		Blocks:  []Proposal{prop(1, y), prop(2, x), prop(1), prop(3, x), prop(2, x)},
		MinRefs: 2}
	got := mustConverge(t, in)
	if want := []Proposal{prop(2, x), prop(3, x)}; !cmp.Equal(want, got.Refs, cmpOpts) {
		t.Errorf("refs %v, want %v", got.Refs, want)
	}
	if !slices.Equal(got.Equivocations, []int{1}) || !slices.Equal(got.Applied, []int{1}) || len(got.Rejected) != 0 {
		t.Errorf("equivocator's transfer 2 must not be a candidate: %+v", got)
	}
	in.Evidence, in.MinRefs = []int{3}, 1
	got = mustConverge(t, in)
	if !slices.Equal(got.Equivocations, []int{1, 3}) || len(got.Refs) != 1 {
		t.Errorf("evidence for 3: %+v", got)
	}
	in.MinRefs = 2
	if _, err := Converge(in); !errors.Is(err, ErrTooFewRefs) {
		t.Errorf("one counted proposer with MinRefs 2: %v", err)
	}
}

// CONV-3: a carried transfer has rank 0 and beats position 1.
func TestConvergeCarriedRankZero(t *testing.T) {
	carried, rival := tr(2, 1, 2, 1, 1, 1), tr(1, 1, 2, 1, 1, 1)
	in := Input{Round: 2, Positions: map[int]int{1: 1}, Prev: Ledger{Accounts: []Account{{1, 9, 1}}},
		Deferred: []Deferral{{carried, 1}}, Blocks: []Proposal{prop(1, rival, carried)}, MinRefs: 1, MaxDeferRounds: 4}
	got := mustConverge(t, in)
	if !slices.Equal(got.Applied, []int{2}) || !slices.Equal(got.Rejected, []Rejection{{1, ReasonConflict}}) {
		t.Errorf("carried transfer lost its slot: %+v", got)
	}
}

// CONV-3, CONV-14: transfers of the rejected set are not candidates,
// whether proposed again or carried; their blocks still count and are
// referenced, and another transfer of the same slot can win it.
func TestConvergeRejectedSet(t *testing.T) {
	over := tr(1, 1, 2, 0, 9, 1)  // rejected earlier for overdraft, slot (1, 0) open
	rival := tr(2, 1, 2, 0, 1, 1) // same slot, lost to 1 before
	carried := tr(3, 2, 1, 1, 1, 1)
	in := Input{Round: 2, Positions: map[int]int{1: 1, 2: 2},
		Prev:     Ledger{Accounts: []Account{{1, 20, 0}, {2, 5, 0}}},
		Deferred: []Deferral{{carried, 1}},
		Blocks:   []Proposal{prop(1, over), prop(2, rival, over)},
		MinRefs:  2, MaxDeferRounds: 4}
	open := mustConverge(t, in)
	if !slices.Equal(open.Applied, []int{1}) {
		t.Fatalf("without a rejected set transfer 1 (position 1) wins and is applied: %+v", open)
	}
	in.Rejected = []int{3, 1, 1}
	got := mustConverge(t, in)
	want := Block{
		Round: 2,
		Refs:  []Proposal{prop(1, over), prop(2, over, rival)},
		// 2 wins the slot 1 can no longer take; 3 is no candidate.
		Applied: []int{2},
		Fees:    1,
		Post:    Ledger{Accounts: []Account{{1, 18, 1}, {2, 6, 0}}, Sink: 1},
	}
	if diff := cmp.Diff(want, got, cmpOpts); diff != "" {
		t.Fatalf("Converge with rejected set {1, 3} (-want +got):\n%s", diff)
	}
	// Only the set counts, not its order or repetition.
	in.Rejected = []int{1, 3}
	if again := mustConverge(t, in); !cmp.Equal(got, again, cmpOpts) {
		t.Errorf("rejected set order changed the block: %+v", again)
	}
}

func TestConvergeInputErrors(t *testing.T) {
	ok := Input{Round: 1, Positions: map[int]int{1: 1}, Blocks: []Proposal{prop(1, tr(1, 1, 2, 0, 1, 1))}, MinRefs: 1}
	if _, err := Converge(ok); err != nil {
		t.Fatal(err)
	}
	for field, mutate := range map[string]func(*Input){
		"Round":                     func(in *Input) { in.Round = 0 },
		"MinRefs/MaxDeferRounds":    func(in *Input) { in.MaxDeferRounds = -1 },
		"Prev.Accounts[1]":          func(in *Input) { in.Prev.Accounts = []Account{{2, 0, 0}, {1, 0, 0}} },
		"Blocks[0].Proposer":        func(in *Input) { in.Positions = map[int]int{} },
		"Blocks[1].Txs":             func(in *Input) { in.Blocks = append(in.Blocks, prop(1, tr(1, 1, 2, 0, 2, 1))) },
		"Blocks[0].Txs":             func(in *Input) { in.Blocks[0].Txs = append(in.Blocks[0].Txs, tr(1, 1, 2, 0, 1, 1)) },
		"Deferred[0]":               func(in *Input) { in.Deferred = []Deferral{{tr(2, 1, 2, 1, 1, 1), 1}} },
		"Deferred[0] (self)":        func(in *Input) { in.Round = 2; in.Deferred = []Deferral{{tr(2, 1, 1, 1, 1, 1), 1}} },
		"Blocks[0].Txs (overflows)": func(in *Input) { in.Blocks[0].Txs[0].Amount = ^uint64(0) },
	} {
		in := ok
		in.Blocks = []Proposal{prop(1, tr(1, 1, 2, 0, 1, 1))}
		mutate(&in)
		_, err := Converge(in)
		var ie *InputError
		if !errors.As(err, &ie) || !strings.HasPrefix(field, ie.Field) {
			t.Errorf("%s: want an InputError for that field, got %v", field, err)
		}
	}
}

// genInput draws a Converge input over 3 accounts, 4 proposers and up to 8
// transfers with small nonces, so conflicts, replays, gaps and overdrafts
// are all likely.
func genInput(t *rapid.T) Input {
	nTx := rapid.IntRange(0, 8).Draw(t, "transfers")
	var txs []Transfer
	for id := 1; id <= nTx; id++ {
		from := rapid.IntRange(1, 3).Draw(t, "from")
		to := rapid.SampledFrom(slices.DeleteFunc([]int{1, 2, 3}, func(a int) bool { return a == from })).Draw(t, "to")
		txs = append(txs, tr(id, from, to, uint64(rapid.IntRange(0, 3).Draw(t, "nonce")),
			uint64(rapid.IntRange(1, 4).Draw(t, "amount")), uint64(rapid.IntRange(0, 2).Draw(t, "fee"))))
	}
	perm := rapid.Permutation([]int{1, 2, 3, 4}).Draw(t, "order")
	pos := map[int]int{}
	for i, h := range perm {
		pos[h] = i + 1
	}
	round := rapid.IntRange(1, 5).Draw(t, "round")
	in := Input{Round: round, Positions: pos, MinRefs: rapid.IntRange(0, 2).Draw(t, "minRefs"),
		MaxDeferRounds: rapid.IntRange(0, 3).Draw(t, "maxDefer")}
	for a := 1; a <= 3; a++ {
		in.Prev.Accounts = append(in.Prev.Accounts, Account{a, uint64(rapid.IntRange(0, 8).Draw(t, "balance")),
			uint64(rapid.IntRange(0, 1).Draw(t, "accountNonce"))})
	}
	in.Prev.Sink = uint64(rapid.IntRange(0, 5).Draw(t, "sink"))
	for id := 1; id <= nTx; id++ {
		if rapid.IntRange(0, 4).Draw(t, "rejectedBefore") == 0 {
			in.Rejected = append(in.Rejected, id)
		}
	}
	for _, x := range txs {
		switch rapid.IntRange(0, 3).Draw(t, "where") {
		case 0:
			if round > 1 {
				in.Deferred = append(in.Deferred, Deferral{x, rapid.IntRange(1, round-1).Draw(t, "since")})
			}
		default:
			for h := 1; h <= 4; h++ {
				if rapid.Bool().Draw(t, "includes") {
					in.Blocks = append(in.Blocks, Proposal{Proposer: h})
					in.Blocks[len(in.Blocks)-1].Txs = []Transfer{x}
				}
			}
		}
	}
	// Merge each proposer's single-transfer blocks into one block, then
	// maybe add an equivocating second block.
	merged := map[int]*Proposal{}
	var out []Proposal
	for _, b := range in.Blocks {
		if p, ok := merged[b.Proposer]; ok {
			p.Txs = append(p.Txs, b.Txs...)
			continue
		}
		out = append(out, b)
		merged[b.Proposer] = &out[len(out)-1]
	}
	if len(out) > 0 && rapid.Bool().Draw(t, "equivocate") {
		out = append(out, Proposal{Proposer: out[0].Proposer})
	}
	in.Blocks = out
	return in
}

// CONV-5, CONV-12: the block depends only on the set of inputs (order,
// duplication), and CONV-10/FIN-8 accounting holds for any input.
func TestConvergeProperties(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		in := genInput(t)
		b, err := Converge(in)
		if errors.Is(err, ErrTooFewRefs) {
			return
		}
		if err != nil {
			t.Fatalf("Converge: %v", err)
		}
		// Order and duplication.
		other := in
		other.Blocks = rapid.Permutation(append(slices.Clone(in.Blocks), in.Blocks...)).Draw(t, "shuffled")
		other.Deferred = rapid.Permutation(in.Deferred).Draw(t, "shuffledDeferred")
		other.Rejected = rapid.Permutation(append(slices.Clone(in.Rejected), in.Rejected...)).Draw(t, "shuffledRejected")
		b2, err := Converge(other)
		if err != nil {
			t.Fatalf("Converge(permuted): %v", err)
		}
		if diff := cmp.Diff(b, b2, cmpOpts); diff != "" {
			t.Fatalf("order or duplication changed the block (-sorted +permuted):\n%s", diff)
		}
		checkAccounting(t, in, b)
	})
}

// checkAccounting is CONV-10 and FIN-8 for one Converge result, with the
// candidates of CONV-3 (less the rejected set, CONV-14).
func checkAccounting(t *rapid.T, in Input, b Block) {
	cands := map[int]bool{}
	for _, d := range in.Deferred {
		cands[d.Tx.ID] = true
	}
	for _, p := range b.Refs {
		for _, x := range p.Txs {
			cands[x.ID] = true
		}
	}
	for _, id := range in.Rejected {
		delete(cands, id)
	}
	seen := map[int]string{}
	mark := func(id int, what string) {
		if prev, dup := seen[id]; dup {
			t.Fatalf("transfer %d is both %s and %s", id, prev, what)
		}
		if !cands[id] {
			t.Fatalf("transfer %d is %s but not a candidate", id, what)
		}
		seen[id] = what
	}
	for _, id := range b.Applied {
		mark(id, "applied")
	}
	for _, r := range b.Rejected {
		mark(r.ID, "rejected")
	}
	for _, d := range b.Deferred {
		mark(d.Tx.ID, "deferred")
	}
	if len(seen) != len(cands) {
		t.Fatalf("%d candidates, %d accounted for", len(cands), len(seen))
	}
	var before, after uint64 = in.Prev.Sink, b.Post.Sink
	for _, a := range in.Prev.Accounts {
		before += a.Balance
	}
	for _, a := range b.Post.Accounts {
		after += a.Balance
	}
	if before != after {
		t.Fatalf("supply %d became %d", before, after)
	}
	byID := map[int]Transfer{}
	for _, d := range in.Deferred {
		byID[d.Tx.ID] = d.Tx
	}
	for _, p := range in.Blocks {
		for _, x := range p.Txs {
			byID[x.ID] = x
		}
	}
	var fees uint64
	for _, id := range b.Applied {
		fees += byID[id].Fee
	}
	if fees != b.Fees || b.Post.Sink-in.Prev.Sink != fees {
		t.Fatalf("fees %d, sink gained %d, applied fees %d", b.Fees, b.Post.Sink-in.Prev.Sink, fees)
	}
}

// The planted bug is order-dependent on a concrete input, as
// dag_n3_eq1_input_order_bug finds.
func TestByInputOrderIsOrderDependent(t *testing.T) {
	x, y := tr(1, 1, 2, 0, 1, 1), tr(2, 1, 2, 0, 1, 1)
	in := Input{Round: 1, Positions: map[int]int{1: 1, 2: 2}, Prev: Ledger{Accounts: []Account{{1, 9, 0}, {2, 0, 0}}},
		Blocks: []Proposal{prop(1, y), prop(2, x, y)}, MinRefs: 2}
	rev := in
	rev.Blocks = []Proposal{in.Blocks[1], in.Blocks[0]}
	a, _ := converge(in, mutations{byInputOrder: true})
	b, _ := converge(rev, mutations{byInputOrder: true})
	if cmp.Equal(a, b, cmpOpts) {
		t.Fatal("first-met resolution gave one block for both orders")
	}
	if c := mustConverge(t, rev); !slices.Equal(c.Applied, []int{2}) || !cmp.Equal(c, a, cmpOpts) {
		t.Errorf("least key: transfer 2 (position 1) must win: %+v", c)
	}
}
