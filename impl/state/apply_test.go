package state

import (
	"errors"
	"fmt"
	"math"
	"math/bits"
	"testing"

	"github.com/fhbft/fhbft/impl/tx"
	"pgregory.net/rapid"
)

const M = math.MaxUint64

func user(i int) tx.AccountID { return tx.AccountID{0xEE, byte(i >> 8), byte(i)} }

// ledger is the reference model of FARM-11/FARM-12: the spec's rules
// written out plainly over a map, applied to a copy that replaces the
// original only if every transfer passes.
type ledger map[tx.AccountID]tx.Account

func (l ledger) apply(batch []tx.Transfer) (ledger, int, error) {
	next := ledger{}
	for k, v := range l {
		next[k] = v
	}
	for i, t := range batch {
		switch {
		case t.From == t.To:
			return l, i, ErrSelfTransfer
		case t.From == FeeSink || t.To == FeeSink:
			return l, i, ErrFeeSinkTransfer
		case t.Amount > M-t.Fee:
			return l, i, ErrCostOverflow
		case t.Nonce != next[t.From].Nonce:
			return l, i, ErrNonce
		case next[t.From].Nonce == M:
			return l, i, ErrNonceExhausted
		case next[t.From].Balance < t.Amount+t.Fee:
			return l, i, ErrInsufficientFunds
		case next[t.To].Balance > M-t.Amount:
			return l, i, ErrBalanceOverflow
		case next[FeeSink].Balance > M-t.Fee:
			return l, i, ErrBalanceOverflow
		}
		f := next[t.From]
		f.Balance -= t.Amount + t.Fee
		f.Nonce++
		next[t.From] = f
		to := next[t.To]
		to.Balance += t.Amount
		next[t.To] = to
		s := next[FeeSink]
		s.Balance += t.Fee
		next[FeeSink] = s
	}
	return next, -1, nil
}

func (l ledger) sum() (uint64, bool) {
	var s, c uint64
	for _, a := range l {
		var k uint64
		s, k = bits.Add64(s, a.Balance, 0)
		c |= k
	}
	return s, c == 0
}

// treeSupply sums the balances in a tree, or fails on a carry.
func treeSupply(t rapid.TB, tr Tree) uint64 {
	s, err := supplyOf(tr)
	if err != nil {
		t.Fatalf("supply overflows: %v", err)
	}
	return s
}

// genGenesis draws 2..6 users whose balances (plus the sink's) sum to at
// most 2^64−1, sometimes right at the bound.
func genGenesis(t *rapid.T) (ledger, []tx.AccountID) {
	n := rapid.IntRange(2, 6).Draw(t, "users")
	l := ledger{}
	ids := make([]tx.AccountID, n)
	left := uint64(M)
	if rapid.Bool().Draw(t, "small") {
		left = 10_000
	}
	for i := range n {
		ids[i] = user(i)
		b := rapid.Uint64Range(0, left).Draw(t, fmt.Sprint("bal", i))
		left -= b
		l[ids[i]] = tx.Account{Balance: b}
	}
	l[FeeSink] = tx.Account{Balance: rapid.Uint64Range(0, left).Draw(t, "sink")}
	return l, ids
}

func genesisChanges(l ledger) []Change {
	var cs []Change
	for id, a := range l {
		cs = append(cs, Change{id, a})
	}
	sortChanges(cs)
	return cs
}

// genBatch draws a batch: usually a clean one (every transfer within the
// sender's remaining balance, right nonces), sometimes one with odd
// transfers (self, fee sink, huge amounts or fees, wrong nonces).
func genBatch(t *rapid.T, l ledger, ids []tx.AccountID) []tx.Transfer {
	nonces := map[tx.AccountID]uint64{}
	rem := map[tx.AccountID]uint64{}
	for id, a := range l {
		nonces[id] = a.Nonce
		rem[id] = a.Balance
	}
	clean := rapid.IntRange(0, 2).Draw(t, "clean") > 0
	n := rapid.IntRange(1, 6).Draw(t, "n")
	batch := make([]tx.Transfer, n)
	for i := range batch {
		fi := rapid.IntRange(0, len(ids)-1).Draw(t, "from")
		from := ids[fi]
		to := ids[(fi+rapid.IntRange(1, len(ids)-1).Draw(t, "to"))%len(ids)]
		amt := rapid.Uint64Range(0, rem[from]/2).Draw(t, "amount")
		fee := rapid.Uint64Range(0, min(10, rem[from]-amt)).Draw(t, "fee")
		nonce := nonces[from]
		if !clean {
			switch rapid.IntRange(0, 9).Draw(t, "odd") {
			case 0:
				to = FeeSink
			case 1:
				to = from
			case 2:
				amt = rapid.Uint64Range(M-20, M).Draw(t, "hugeAmount")
			case 3:
				fee = rapid.Uint64Range(M-20, M).Draw(t, "hugeFee")
			case 4:
				nonce += uint64(rapid.IntRange(1, 2).Draw(t, "ahead"))
			case 5:
				amt = rem[from] + 1
			}
		}
		nonces[from]++
		if rem[from] >= amt+fee && amt <= M-fee {
			rem[from] -= amt + fee
		}
		batch[i] = tx.Transfer{From: from, To: to, Amount: amt, Fee: fee, Nonce: nonce}
	}
	return batch
}

// TestApplyMatchesModel checks FARM-11 and FARM-12 against the ledger
// model: after every batch the store equals the model (accounts, root from
// the definition), a refused batch changes nothing and names the same
// transfer and rule, the sum of all balances (fee sink included) is the
// genesis supply and never exceeds 2^64−1 (TX-21), and readers see a batch
// only after Publish.
func TestApplyMatchesModel(t *testing.T) {
	outcomes := map[string]int{}
	defer func() { t.Logf("batch outcomes: %v", outcomes) }()
	rapid.Check(t, func(t *rapid.T) {
		model, ids := genGenesis(t)
		supply, ok := model.sum()
		if !ok {
			t.Fatal("generator broke the supply bound")
		}
		backend := NewMemBackend()
		if err := InitGenesis(backend, genesisChanges(model)); err != nil {
			t.Fatal(err)
		}
		s, err := Open(backend)
		if err != nil {
			t.Fatal(err)
		}
		r := s.NewReader()
		defer r.Close()
		if s.Supply() != supply {
			t.Fatalf("supply %d, want %d", s.Supply(), supply)
		}
		seq := uint64(0)
		for step := range rapid.IntRange(1, 12).Draw(t, "steps") {
			batch := genBatch(t, model, ids)
			before := s.Head()
			readerBefore := r.Head()
			next, idx, wantErr := model.apply(batch)
			head, err := s.Apply(batch)
			if wantErr != nil {
				outcomes[wantErr.Error()]++
			} else {
				outcomes[fmt.Sprintf("applied %d transfers", min(len(batch), 3))]++
			}
			if wantErr != nil {
				var ae *ApplyError
				if !errors.As(err, &ae) || !errors.Is(err, wantErr) || ae.Index != idx {
					t.Fatalf("step %d: err %v, want %v at %d", step, err, wantErr, idx)
				}
				if s.Head() != before || head != before {
					t.Fatalf("step %d: refused batch changed the head", step)
				}
			} else {
				if err != nil {
					t.Fatalf("step %d: %v", step, err)
				}
				seq++
				model = next
			}
			for id, want := range model {
				if got := s.Account(id); got != want {
					t.Fatalf("step %d: account %x = %v, want %v", step, id[:3], got, want)
				}
			}
			tr := s.Tree()
			if h := s.Head(); h.Seq != seq || h.Root != refRootOf(model) || h.Root != tr.Root() {
				t.Fatalf("step %d: head %d %x, want seq %d root from the definition", step, h.Seq, h.Root.short(), seq)
			}
			if got := treeSupply(t, tr); got != supply {
				t.Fatalf("step %d: supply %d, want %d", step, got, supply)
			}
			if backend.Commits() != seq+1 {
				t.Fatalf("step %d: %d commits, want %d", step, backend.Commits(), seq+1)
			}
			// Readers: nothing new before Publish, everything after.
			if r.Head() != readerBefore {
				t.Fatalf("step %d: reader saw an unpublished batch", step)
			}
			if rapid.Bool().Draw(t, "publish") {
				s.Publish()
				if r.Head() != s.Head() {
					t.Fatalf("step %d: reader behind after Publish", step)
				}
				for id, want := range model {
					if got := r.Account(id); got != want {
						t.Fatalf("step %d: reader account %v, want %v", step, got, want)
					}
				}
			}
		}
	})
}

// TestTransitionOverflow covers the 64-bit edges of FARM-11 directly on the
// transition, including states the supply bound makes unreachable through
// the Store (recipient or sink balance near 2^64−1).
func TestTransitionOverflow(t *testing.T) {
	a, b := user(1), user(2)
	type acc = tx.Account
	cases := []struct {
		name  string
		state ledger
		tr    tx.Transfer
		want  error
	}{
		{"cost M from M", ledger{a: acc{Balance: M}}, tx.Transfer{From: a, To: b, Amount: M - 1, Fee: 1}, nil},
		{"cost carries", ledger{a: acc{Balance: M}}, tx.Transfer{From: a, To: b, Amount: M, Fee: 1}, ErrCostOverflow},
		{"cost carries, fee M", ledger{a: acc{Balance: M}}, tx.Transfer{From: a, To: b, Amount: 1, Fee: M}, ErrCostOverflow},
		{"funds one short", ledger{a: acc{Balance: 10}}, tx.Transfer{From: a, To: b, Amount: 10, Fee: 1}, ErrInsufficientFunds},
		{"funds exact", ledger{a: acc{Balance: 11}}, tx.Transfer{From: a, To: b, Amount: 10, Fee: 1}, nil},
		{"recipient overflow", ledger{a: acc{Balance: 5}, b: acc{Balance: M - 1}}, tx.Transfer{From: a, To: b, Amount: 2}, ErrBalanceOverflow},
		{"recipient to M", ledger{a: acc{Balance: 5}, b: acc{Balance: M - 2}}, tx.Transfer{From: a, To: b, Amount: 2}, nil},
		{"sink overflow", ledger{a: acc{Balance: 5}, FeeSink: acc{Balance: M}}, tx.Transfer{From: a, To: b, Amount: 1, Fee: 1}, ErrBalanceOverflow},
		{"nonce exhausted", ledger{a: acc{Balance: 5, Nonce: M}}, tx.Transfer{From: a, To: b, Amount: 1, Nonce: M}, ErrNonceExhausted},
		{"nonce M-1 ok", ledger{a: acc{Balance: 5, Nonce: M - 1}}, tx.Transfer{From: a, To: b, Amount: 1, Nonce: M - 1}, nil},
		{"nonce ahead", ledger{a: acc{Balance: 5}}, tx.Transfer{From: a, To: b, Amount: 1, Nonce: 1}, ErrNonce},
		{"nonce replay", ledger{a: acc{Balance: 5, Nonce: 3}}, tx.Transfer{From: a, To: b, Amount: 1, Nonce: 2}, ErrNonce},
		{"self", ledger{a: acc{Balance: 5}}, tx.Transfer{From: a, To: a, Amount: 1}, ErrSelfTransfer},
		{"to sink", ledger{a: acc{Balance: 5}}, tx.Transfer{From: a, To: FeeSink, Amount: 1}, ErrFeeSinkTransfer},
		{"from sink", ledger{FeeSink: acc{Balance: 5}}, tx.Transfer{From: FeeSink, To: b, Amount: 1}, ErrFeeSinkTransfer},
	}
	for _, c := range cases {
		get := func(id tx.AccountID) tx.Account { return c.state[id] }
		changes, err := transition(get, []tx.Transfer{c.tr}, noBug)
		_, _, modelErr := c.state.apply([]tx.Transfer{c.tr})
		if !errors.Is(err, c.want) || (c.want == nil && err != nil) {
			t.Errorf("%s: err %v, want %v", c.name, err, c.want)
		}
		if !errors.Is(modelErr, c.want) || (c.want == nil && modelErr != nil) {
			t.Errorf("%s: model err %v, want %v (model and table disagree)", c.name, modelErr, c.want)
		}
		if err != nil && changes != nil {
			t.Errorf("%s: refused but returned changes", c.name)
		}
	}
}

// TestAllOrNothing: a batch whose last transfer is refused leaves accounts,
// root, head and backend unchanged, though earlier transfers were fine.
func TestAllOrNothing(t *testing.T) {
	a, b := user(1), user(2)
	backend := NewMemBackend()
	if err := InitGenesis(backend, []Change{{a, tx.Account{Balance: 100}}}); err != nil {
		t.Fatal(err)
	}
	s, err := Open(backend)
	if err != nil {
		t.Fatal(err)
	}
	before, commits := s.Head(), backend.Commits()
	batch := []tx.Transfer{
		{From: a, To: b, Amount: 10, Fee: 1, Nonce: 0},
		{From: a, To: b, Amount: 10, Fee: 1, Nonce: 1},
		{From: b, To: a, Amount: 21, Fee: 0, Nonce: 0}, // b holds 20
	}
	_, err = s.Apply(batch)
	var ae *ApplyError
	if !errors.As(err, &ae) || ae.Index != 2 || ae.Account != b || !errors.Is(err, ErrInsufficientFunds) {
		t.Fatalf("err %v", err)
	}
	if s.Head() != before || backend.Commits() != commits || s.Account(a) != (tx.Account{Balance: 100}) || s.Account(b) != (tx.Account{}) {
		t.Fatal("refused batch left a trace")
	}
	// The same batch minus the bad transfer applies, and sees its own
	// earlier transfers (nonce 1 after nonce 0).
	if _, err := s.Apply(batch[:2]); err != nil {
		t.Fatal(err)
	}
	if s.Account(a) != (tx.Account{Balance: 78, Nonce: 2}) || s.Account(b) != (tx.Account{Balance: 20}) || s.Account(FeeSink) != (tx.Account{Balance: 2}) {
		t.Fatalf("after batch: a %v b %v sink %v", s.Account(a), s.Account(b), s.Account(FeeSink))
	}
}

// conservationViolation applies batch and reports whether the sum of all
// balances changed: the check TestApplyMatchesModel makes after each step.
func conservationViolation(s *Store, batch []tx.Transfer) error {
	before, err := supplyOf(s.Tree())
	if err != nil {
		return err
	}
	if _, err := s.Apply(batch); err != nil {
		return nil // refused: nothing to conserve
	}
	after, err := supplyOf(s.Tree())
	if err != nil {
		return err
	}
	if after != before {
		return fmt.Errorf("supply %d → %d", before, after)
	}
	return nil
}

// TestConservationCatchesPlantedBugs shows the conservation check fails on
// a transition that burns fees and on one with the self-transfer aliasing
// bug (with the self-transfer rule disabled, as a buggy store would have).
func TestConservationCatchesPlantedBugs(t *testing.T) {
	a, b := user(1), user(2)
	genesis := []Change{{a, tx.Account{Balance: 100}}}
	for _, c := range []struct {
		bug   plantedBug
		batch []tx.Transfer
	}{
		{bugBurnFee, []tx.Transfer{{From: a, To: b, Amount: 5, Fee: 2}}},
		{bugAliasSelf, []tx.Transfer{{From: a, To: a, Amount: 5, Fee: 2}}},
	} {
		s, err := NewMem(genesis)
		if err != nil {
			t.Fatal(err)
		}
		if err := conservationViolation(s, c.batch); err != nil {
			t.Fatalf("correct store: %v", err)
		}
		s, _ = NewMem(genesis)
		s.bug = c.bug
		if err := conservationViolation(s, c.batch); err == nil {
			t.Fatalf("planted bug %d not detected", c.bug)
		} else {
			t.Logf("planted bug %d detected: %v", c.bug, err)
		}
	}
}

// TestFeeSinkUnusable backs FARM-12's premise: the all-zero ID is not a
// usable key, so TX-14 refuses transfers to it (and TX-7 any signature by
// it, since the same check applies to senders).
func TestFeeSinkUnusable(t *testing.T) {
	tr := tx.Transfer{From: user(1), To: FeeSink, Amount: 1, Fee: 1}
	if r := tx.ReasonOf(tx.Config{}.CheckStateless(&tr)); r != tx.ReasonBadRecipient {
		t.Fatalf("transfer to the fee sink: reason %v, want %v", r, tx.ReasonBadRecipient)
	}
}
