package state

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/fhbft/fhbft/impl/tx"
)

// TestGenesisErrors covers InitGenesis and Open refusals (FARM-12, FARM-13).
func TestGenesisErrors(t *testing.T) {
	a, b := user(1), user(2)
	if err := InitGenesis(nil, nil); !errors.Is(err, ErrNilBackend) {
		t.Errorf("nil backend: %v", err)
	}
	if _, err := Open(nil); !errors.Is(err, ErrNilBackend) {
		t.Errorf("open nil: %v", err)
	}
	if _, err := NewMem([]Change{{a, tx.Account{Balance: 1}}, {a, tx.Account{Balance: 2}}}); !errors.Is(err, ErrGenesisDuplicate) {
		t.Errorf("duplicate: %v", err)
	}
	if _, err := NewMem([]Change{{a, tx.Account{Balance: M}}, {b, tx.Account{Balance: 1}}}); !errors.Is(err, ErrSupplyOverflow) {
		t.Errorf("supply: %v", err)
	}
	if s, err := NewMem([]Change{{a, tx.Account{Balance: M - 1}}, {b, tx.Account{Balance: 1}}}); err != nil || s.Supply() != M {
		t.Errorf("supply at the bound: %v", err)
	}
	be := NewMemBackend()
	if err := InitGenesis(be, []Change{{a, tx.Account{Balance: 1}}}); err != nil {
		t.Fatal(err)
	}
	if err := InitGenesis(be, nil); !errors.Is(err, ErrNotFresh) {
		t.Errorf("not fresh: %v", err)
	}
	// A backend whose stored accounts do not match its root, or whose
	// supply overflows, is refused by Open.
	bad := NewMemBackend()
	_ = bad.Commit(Head{Root: Hash{1}}, []Change{{a, tx.Account{Balance: 1}}})
	if _, err := Open(bad); !errors.Is(err, ErrRootMismatch) {
		t.Errorf("root mismatch: %v", err)
	}
	over := NewMemBackend()
	cs := []Change{{a, tx.Account{Balance: M}}, {b, tx.Account{Balance: M}}}
	_ = over.Commit(Head{Root: NewTree(cs).Root()}, cs)
	if _, err := Open(over); !errors.Is(err, ErrSupplyOverflow) {
		t.Errorf("open overflow: %v", err)
	}
	if _, err := Open(failing{fail: "load"}); !errors.Is(err, ErrBackend) {
		t.Errorf("load failure: %v", err)
	}
	if err := InitGenesis(failing{fail: "commit", MemBackend: NewMemBackend()}, nil); !errors.Is(err, ErrBackend) {
		t.Errorf("genesis commit failure: %v", err)
	}
}

// failing is a Backend that fails on demand.
type failing struct {
	*MemBackend
	fail string
}

var errInjected = errors.New("injected failure")

func (f failing) Load(g func(Change)) (Head, error) {
	if f.fail == "load" {
		return Head{}, errInjected
	}
	return f.MemBackend.Load(g)
}

func (f failing) Commit(h Head, c []Change) error {
	if f.fail == "commit" {
		return errInjected
	}
	return f.MemBackend.Commit(h, c)
}

// switchable fails commits while on is set.
type switchable struct {
	*MemBackend
	on bool
}

func (s *switchable) Commit(h Head, c []Change) error {
	if s.on {
		return errInjected
	}
	return s.MemBackend.Commit(h, c)
}

// TestBackendFailure: a failed commit leaves the store unchanged and the
// next batch applies normally (FARM-11, FARM-13).
func TestBackendFailure(t *testing.T) {
	a, b := user(1), user(2)
	be := &switchable{MemBackend: NewMemBackend()}
	if err := InitGenesis(be, []Change{{a, tx.Account{Balance: 10}}}); err != nil {
		t.Fatal(err)
	}
	s, err := Open(be)
	if err != nil {
		t.Fatal(err)
	}
	before := s.Head()
	be.on = true
	batch := []tx.Transfer{{From: a, To: b, Amount: 3, Fee: 1}}
	if _, err := s.Apply(batch); !errors.Is(err, ErrBackend) || !errors.Is(err, errInjected) {
		t.Fatalf("err %v", err)
	}
	if s.Head() != before || s.Account(a) != (tx.Account{Balance: 10}) {
		t.Fatal("failed commit changed the store")
	}
	be.on = false
	if h, err := s.Apply(batch); err != nil || h.Seq != 1 {
		t.Fatalf("retry: %v %v", h, err)
	}
}

// TestReopen: a store reopened from its backend has the same head and
// accounts (FARM-13).
func TestReopen(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var genesis []Change
	for i := range 50 {
		genesis = append(genesis, Change{user(i), tx.Account{Balance: 1000}})
	}
	be := NewMemBackend()
	if err := InitGenesis(be, genesis); err != nil {
		t.Fatal(err)
	}
	s, err := Open(be)
	if err != nil {
		t.Fatal(err)
	}
	for range 20 {
		if _, err := s.Apply(randomBatch(rng, s, 50, 10)); err != nil {
			t.Fatal(err)
		}
	}
	s2, err := Open(be)
	if err != nil {
		t.Fatal(err)
	}
	if s2.Head() != s.Head() || s2.Head().Seq != 20 {
		t.Fatalf("reopened head %v, want %v", s2.Head(), s.Head())
	}
	for i := range 50 {
		if s2.Account(user(i)) != s.Account(user(i)) {
			t.Fatalf("account %d differs", i)
		}
	}
}

// randomBatch makes k valid transfers among users 0..n-1 of s's writer view.
func randomBatch(rng *rand.Rand, s *Store, n, k int) []tx.Transfer {
	nonce := map[tx.AccountID]uint64{}
	bal := map[tx.AccountID]uint64{}
	var batch []tx.Transfer
	for range k {
		f, d := rng.IntN(n), 1+rng.IntN(n-1)
		from, to := user(f), user((f+d)%n)
		if _, ok := nonce[from]; !ok {
			a := s.Account(from)
			nonce[from], bal[from] = a.Nonce, a.Balance
		}
		if bal[from] < 2 {
			continue
		}
		amt := 1 + rng.Uint64N(bal[from]/2)
		fee := rng.Uint64N(min(3, bal[from]-amt+1))
		bal[from] -= amt + fee
		batch = append(batch, tx.Transfer{From: from, To: to, Amount: amt, Fee: fee, Nonce: nonce[from]})
		nonce[from]++
		if _, ok := nonce[to]; ok {
			bal[to] += amt
		}
	}
	return batch
}

// TestConcurrentReaders runs readers against a writer that applies and
// publishes valid batches among a closed set of accounts. Inside one
// Read, the balances (fee sink included) must sum to the supply — a torn
// or half-replayed copy would break the sum — the head must never go
// back, and a proof from the view's tree must verify against the view's
// root and agree with its map (FARM-1..3, FARM-12). Run with -race.
func TestConcurrentReaders(t *testing.T) {
	const users = 64
	var genesis []Change
	for i := range users {
		genesis = append(genesis, Change{user(i), tx.Account{Balance: 1_000_000}})
	}
	s, err := NewMem(genesis)
	if err != nil {
		t.Fatal(err)
	}
	supply := s.Supply()
	var stop atomic.Bool
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	base := s.NewReader()
	readers := 2
	reads := make([]int, readers)
	for ri := range readers {
		r := base.Clone()
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer r.Close()
			rng := rand.New(rand.NewPCG(uint64(ri), 7))
			var last uint64
			for i := 0; !stop.Load() || i < 50; i++ {
				var fail error
				r.Read(func(v View) {
					var sum uint64
					for j := range users {
						sum += v.Account(user(j)).Balance
					}
					sum += v.Account(FeeSink).Balance
					h := v.Head()
					switch {
					case sum != supply:
						fail = fmt.Errorf("seq %d: balances sum to %d, supply %d", h.Seq, sum, supply)
					case h.Seq < last:
						fail = fmt.Errorf("head went back: %d after %d", h.Seq, last)
					case v.Tree().Root() != h.Root:
						fail = fmt.Errorf("seq %d: tree and head disagree", h.Seq)
					}
					last = h.Seq
					id := user(rng.IntN(users))
					if fail == nil {
						acct, ok, err := Verify(h.Root, v.Tree().Prove(id))
						if err != nil || !ok || acct != v.Account(id) {
							fail = fmt.Errorf("seq %d: proof %v %v %v, map %v", h.Seq, acct, ok, err, v.Account(id))
						}
					}
				})
				// Single reads (tx.AccountView) interleaved with views.
				_ = r.Account(user(i % users))
				if fail != nil {
					errs <- fail
					return
				}
				reads[ri]++
				// Oversubscribed cores (readers + writer > GOMAXPROCS):
				// yield between reads so a reader is rarely preempted
				// inside one, which would stall the writer's Publish.
				runtime.Gosched()
			}
		}()
	}
	rng := rand.New(rand.NewPCG(3, 4))
	for range 300 {
		if _, err := s.Apply(randomBatch(rng, s, users, 20)); err != nil {
			t.Fatal(err)
		}
		if rng.IntN(2) == 0 {
			s.Publish()
		}
	}
	s.Publish()
	stop.Store(true)
	wg.Wait()
	base.Close()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	t.Logf("reads per reader: %v; final seq %d", reads, s.Head().Seq)
}
