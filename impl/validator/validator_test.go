package validator

import (
	"bytes"
	"cmp"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fhbft/fhbft/impl/certification"
	"github.com/fhbft/fhbft/impl/tx"
	"pgregory.net/rapid"
)

var cfg = tx.Config{MinFee: 1}

// genTransfers draws a mix of transfers over a few senders: chains with
// shuffled nonces, gaps, replays, conflicting and duplicate transfers,
// overdrafts, bad signatures, bad fees and self-transfers.
func genTransfers(t *rapid.T, senders int, baseNonce uint64) []*tx.Transfer {
	n := rapid.IntRange(0, 40).Draw(t, "n")
	var out []*tx.Transfer
	for k := 0; k < n; k++ {
		if len(out) > 0 && rapid.IntRange(0, 9).Draw(t, "dup") == 0 {
			out = append(out, out[rapid.IntRange(0, len(out)-1).Draw(t, "dupOf")]) // exact duplicate
			continue
		}
		from := rapid.IntRange(0, senders-1).Draw(t, "from")
		to := rapid.IntRange(0, senders).Draw(t, "to")
		nonce := baseNonce + uint64(rapid.IntRange(0, 5).Draw(t, "nonce"))
		if rapid.IntRange(0, 15).Draw(t, "replay") == 0 && baseNonce > 0 {
			nonce = baseNonce - 1
		}
		amount := uint64(rapid.IntRange(1, 600).Draw(t, "amount"))
		fee := uint64(rapid.IntRange(0, 3).Draw(t, "fee"))
		tr := transfer(from, to, amount, fee, nonce)
		switch rapid.IntRange(0, 9).Draw(t, "corrupt") {
		case 0:
			tr.Signature[5] ^= 1
		case 1:
			tr.Amount++ // signature no longer covers the body
		}
		out = append(out, tr)
	}
	return out
}

// sequential is the reference semantics of Unit.Validate: transfers in
// (sender, nonce, input position) order, one at a time, each admitted
// before the next is validated.
func sequential(genesis func(tx.AccountID) tx.Account, txs []*tx.Transfer) []Verdict {
	o := &oracle{accounts: map[tx.AccountID]tx.Account{}, pending: map[tx.AccountID]tx.Pending{}, seen: map[tx.Digest]bool{}}
	idx := make([]int, len(txs))
	for i := range idx {
		idx[i] = i
		o.accounts[txs[i].From] = genesis(txs[i].From)
	}
	slices.SortFunc(idx, func(a, b int) int {
		return cmp.Or(bytes.Compare(txs[a].From[:], txs[b].From[:]), cmp.Compare(txs[a].Nonce, txs[b].Nonce), cmp.Compare(a, b))
	})
	out := make([]Verdict, len(txs))
	for _, i := range idx {
		t := txs[i]
		out[i] = Verdict{Digest: t.Digest(), Verdict: certification.Accept}
		if err := cfg.Validate(t, o, o); err != nil {
			out[i].Verdict, out[i].Reason = certification.Reject, tx.ReasonOf(err)
			continue
		}
		o.admit(t)
	}
	return out
}

// TestCheckAgreesWithValidate: the pure core gives Validate's verdict and
// reason for every transfer, whatever the batch policy (FARM-20, FARM-21).
func TestCheckAgreesWithValidate(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		txs := genTransfers(t, 8, 0)
		// Independent transfers only: one per sender.
		seen := map[tx.AccountID]bool{}
		var in []*tx.Transfer
		for _, tr := range txs {
			if !seen[tr.From] {
				seen[tr.From] = true
				in = append(in, tr)
			}
		}
		views := &oracle{accounts: map[tx.AccountID]tx.Account{}, pending: map[tx.AccountID]tx.Pending{}, seen: map[tx.Digest]bool{}}
		for i := 0; i < 9; i++ {
			views.accounts[account(i)] = tx.Account{Balance: 1000, Nonce: 0}
			views.pending[account(i)] = tx.Pending{Count: uint64(i % 3), Debits: uint64(100 * (i % 3))}
		}
		v := NewVerifier(rapid.SampledFrom([]int{1, 3, 4, 7, 256}).Draw(t, "batch"), rapid.IntRange(1, 3).Draw(t, "cooldown"))
		got := v.Check(cfg, views, views, in, make([]Verdict, len(in)))
		for i, tr := range in {
			want := Verdict{Digest: tr.Digest(), Verdict: certification.Accept}
			if err := cfg.Validate(tr, views, views); err != nil {
				want.Verdict, want.Reason = certification.Reject, tx.ReasonOf(err)
			}
			if got[i] != want {
				t.Fatalf("transfer %d: got %+v, Validate says %+v", i, got[i], want)
			}
		}
	})
}

// TestUnitMatchesSequentialOracle: the parallel unit over the real
// left-right state store and mempool gives exactly the verdicts of
// validating one transfer at a time in nonce order and admitting each
// accepted one before the next. A successor validated before its
// predecessor was admitted would get ReasonNonceGap where the oracle
// accepts (TestOneLevelMutationIsCaught shows it). spec: FARM-21, FARM-22
func TestUnitMatchesSequentialOracle(t *testing.T) {
	const senders = 6
	rapid.Check(t, func(t *rapid.T) {
		base := uint64(rapid.IntRange(0, 2).Draw(t, "baseNonce"))
		txs := genTransfers(t, senders, base)
		workers := rapid.IntRange(1, 3).Draw(t, "workers")
		batch := rapid.SampledFrom([]int{1, 4, 5, 256}).Draw(t, "batch")
		s := stores(t, senders, 1000, base)
		u, err := New(Config{Tx: cfg, Workers: workers, Batch: batch}, s)
		if err != nil {
			t.Fatal(err)
		}
		defer u.Close()
		var admitErr error
		got, err := u.Validate(txs, func(acc []*tx.Transfer) {
			if err := s.Admit(acc); err != nil && admitErr == nil {
				admitErr = err
			}
		})
		if err != nil {
			t.Fatal(err)
		}
		if admitErr != nil {
			t.Fatalf("mempool refused an accepted transfer: %v", admitErr)
		}
		want := sequential(func(tx.AccountID) tx.Account { return tx.Account{Balance: 1000, Nonce: base} }, txs)
		for i := range txs {
			if got[i] != want[i] {
				t.Fatalf("transfer %d (nonce %d): unit %+v, sequential %+v", i, txs[i].Nonce, got[i], want[i])
			}
		}
	})
}

// TestOneLevelMutationIsCaught: with dependency levels switched off, the
// oracle comparison fails on a two-transfer chain (BRIEF §5: the checker
// catches a planted bug).
func TestOneLevelMutationIsCaught(t *testing.T) {
	s := stores(t, 2, 1000, 0)
	u, err := New(Config{Tx: cfg, Workers: 2, Mutations: Mutations{OneLevel: true}}, s)
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	txs := []*tx.Transfer{transfer(0, 1, 10, 1, 1), transfer(0, 1, 10, 1, 0)}
	got, _ := u.Validate(txs, func(acc []*tx.Transfer) { _ = s.Admit(acc) })
	want := sequential(func(tx.AccountID) tx.Account { return tx.Account{Balance: 1000} }, txs)
	if got[0] == want[0] {
		t.Fatalf("mutation not caught: both say %+v", got[0])
	}
	if got[0].Reason != tx.ReasonNonceGap || want[0].Verdict != certification.Accept {
		t.Fatalf("unexpected verdicts: mutated %+v, oracle %+v", got[0], want[0])
	}
}

// TestLevels: the k-th transfer of each sender by nonce is in level k;
// conflicting transfers (same nonce) keep input order (FARM-22).
func TestLevels(t *testing.T) {
	u := &Unit{cfg: Config{Workers: 1}}
	txs := []*tx.Transfer{
		transfer(0, 1, 1, 1, 2), // 0: sender 0, nonce 2
		transfer(1, 0, 1, 1, 0), // 1: sender 1, nonce 0
		transfer(0, 1, 1, 1, 0), // 2: sender 0, nonce 0
		transfer(0, 1, 2, 1, 0), // 3: sender 0, nonce 0 (conflicts with 2)
		transfer(2, 0, 1, 1, 7), // 4: sender 2
	}
	got := u.levels(txs)
	// Sender 0's order: 2, 3 (nonce 0, input order), 0 (nonce 2).
	want := [][]int{{1, 2, 4}, {3}, {0}}
	if !slices.EqualFunc(got, want, slices.Equal) {
		t.Fatalf("levels %v, want %v", got, want)
	}
}

// barrierSource makes handles whose reads wait until `need` reads are in
// progress at once: a single-threaded unit never gets there.
type barrierSource struct {
	inner  Source
	need   int32
	inside atomic.Int32
	once   sync.Once
	all    chan struct{}
}

type barrierHandle struct {
	Handle
	s *barrierSource
}

func (b *barrierSource) NewHandle() Handle { return &barrierHandle{b.inner.NewHandle(), b} }

func (h *barrierHandle) Read(f func(tx.AccountView, tx.PendingView)) {
	if h.s.inside.Add(1) >= h.s.need {
		h.s.once.Do(func() { close(h.s.all) })
	}
	// The timeout only turns a hang into a failure; it measures no speed.
	select {
	case <-h.s.all:
	case <-time.After(20 * time.Second):
	}
	h.Handle.Read(f)
}

// TestWorkersRunInParallel: with two workers, two reads are in progress at
// the same time (BRIEF §7: no "multi-core" validator that runs on one
// thread). spec: FARM-23
func TestWorkersRunInParallel(t *testing.T) {
	s := stores(t, 8, 1000, 0)
	b := &barrierSource{inner: s, need: 2, all: make(chan struct{})}
	u, err := New(Config{Tx: cfg, Workers: 2}, b)
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	var txs []*tx.Transfer
	for i := 0; i < 8; i++ {
		txs = append(txs, transfer(i, (i+1)%8, 5, 1, 0))
	}
	got, err := u.Validate(txs, nil)
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-b.all:
	default:
		t.Fatal("never saw two workers reading at once")
	}
	for i, v := range got {
		if !v.Accepted() {
			t.Fatalf("transfer %d rejected: %+v", i, v)
		}
	}
}

// TestBatchFallback: a batch with one bad signature fails, every verdict is
// still exact, and the next Cooldown batches go one by one (FARM-21).
func TestBatchFallback(t *testing.T) {
	views := &oracle{accounts: map[tx.AccountID]tx.Account{}, pending: map[tx.AccountID]tx.Pending{}, seen: map[tx.Digest]bool{}}
	var txs []*tx.Transfer
	for i := 0; i < 24; i++ {
		views.accounts[account(i)] = tx.Account{Balance: 100}
		txs = append(txs, transfer(i, i+1, 5, 1, 0))
	}
	txs[2].Signature[0] ^= 1
	v := NewVerifier(8, 2)
	got := v.Check(cfg, views, views, txs, make([]Verdict, len(txs)))
	for i, g := range got {
		if (i == 2) == g.Accepted() || (i == 2 && g.Reason != tx.ReasonBadSignature) {
			t.Fatalf("transfer %d: %+v", i, g)
		}
	}
	if s := v.Stats(); s.Batches != 1 || s.FailedBatches != 1 || s.Singles != 16 {
		t.Fatalf("stats %+v, want 1 failed batch then 16 singles", s)
	}
	// Cooldown spent: batching resumes.
	v.Check(cfg, views, views, txs[8:16], make([]Verdict, 8))
	if s := v.Stats(); s.Batches != 2 {
		t.Fatalf("batching did not resume: %+v", s)
	}
}

// TestRejectedBeforeSignature: a transfer refused by a state rule costs no
// signature check (TX-19's order, FARM-21).
func TestRejectedBeforeSignature(t *testing.T) {
	views := &oracle{accounts: map[tx.AccountID]tx.Account{}, pending: map[tx.AccountID]tx.Pending{}, seen: map[tx.Digest]bool{}}
	txs := []*tx.Transfer{transfer(0, 1, 5, 1, 3), transfer(1, 2, 5000, 1, 0)}
	views.accounts[account(1)] = tx.Account{Balance: 100}
	v := NewVerifier(0, 0)
	got := v.Check(cfg, views, views, txs, make([]Verdict, 2))
	if got[0].Reason != tx.ReasonNonceGap || got[1].Reason != tx.ReasonInsufficientFunds {
		t.Fatalf("verdicts %+v", got)
	}
	if s := v.Stats(); s.Singles+s.Batches != 0 {
		t.Fatalf("signatures checked for refused transfers: %+v", s)
	}
}

func TestNilInputsAndClose(t *testing.T) {
	if _, err := New(Config{}, nil); err == nil {
		t.Fatal("nil source accepted")
	}
	if _, err := New(Config{Workers: -1}, stores(t, 1, 1, 0)); err == nil {
		t.Fatal("negative workers accepted")
	}
	got := Check(cfg, nil, nil, []*tx.Transfer{nil, transfer(0, 1, 1, 1, 0)})
	for _, v := range got {
		if v.Accepted() || v.Reason != 0 {
			t.Fatalf("nil input: %+v", v)
		}
	}
	u, err := New(Config{Workers: 1}, stores(t, 1, 1, 0))
	if err != nil {
		t.Fatal(err)
	}
	u.Close()
	u.Close()
	if _, err := u.Validate(nil, nil); !errors.Is(err, ErrClosed) {
		t.Fatalf("Validate after Close: %v", err)
	}
}
