package state

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fhbft/fhbft/impl/tx"
)

// Benchmarks, in one run:
//
//	go test -run '^$' -bench . -benchtime 2s ./impl/state
//
// BenchmarkReads: account reads per second by 1..max(2, GOMAXPROCS)
// readers of a 100k-account state while one writer applies a batch of 100
// transfers every 2 ms, through left-right Readers vs a sync.RWMutex-
// protected map doing the same writes (the writer computes outside the
// lock and holds it only to install the changes, the most favourable
// RWMutex design). BenchmarkRoot: the root after 1k account updates in a
// 100k-account tree, incremental vs rebuilt. BenchmarkApply: Store.Apply
// throughput.

const benchAccounts = 100_000

func benchGenesis() []Change {
	cs := make([]Change, benchAccounts)
	for i := range cs {
		cs[i] = Change{benchID(i), tx.Account{Balance: 1 << 40}}
	}
	return cs
}

func benchID(i int) tx.AccountID { return tx.AccountID{0xBB, byte(i >> 16), byte(i >> 8), byte(i)} }

// benchBatch makes k valid transfers from distinct senders.
func benchBatch(rng *rand.Rand, get func(tx.AccountID) tx.Account, k int) []tx.Transfer {
	batch := make([]tx.Transfer, 0, k)
	used := map[int]bool{}
	for len(batch) < k {
		f := rng.IntN(benchAccounts)
		if used[f] {
			continue
		}
		used[f] = true
		to := (f + 1 + rng.IntN(benchAccounts-1)) % benchAccounts
		from := benchID(f)
		batch = append(batch, tx.Transfer{From: from, To: benchID(to), Amount: 1, Fee: 1, Nonce: get(from).Nonce})
	}
	return batch
}

// stateTarget is a concurrently read account state with one writer.
type stateTarget interface {
	reader() (get func(tx.AccountID) tx.Account, done func())
	apply(rng *rand.Rand)
}

type lrState struct{ s *Store }

func (l *lrState) reader() (func(tx.AccountID) tx.Account, func()) {
	r := l.s.NewReader()
	return r.Account, r.Close
}

func (l *lrState) apply(rng *rand.Rand) {
	if _, err := l.s.Apply(benchBatch(rng, l.s.Account, 100)); err != nil {
		panic(err)
	}
	l.s.Publish()
}

// rwState is the baseline: one map and tree behind a sync.RWMutex.
type rwState struct {
	mu       sync.RWMutex
	accounts map[tx.AccountID]tx.Account
	tree     Tree
	head     Head
}

func (r *rwState) reader() (func(tx.AccountID) tx.Account, func()) {
	return func(id tx.AccountID) tx.Account {
		r.mu.RLock()
		a := r.accounts[id]
		r.mu.RUnlock()
		return a
	}, func() {}
}

func (r *rwState) apply(rng *rand.Rand) {
	// Only this goroutine writes, so it may read without the lock.
	get := func(id tx.AccountID) tx.Account { return r.accounts[id] }
	changes, err := transition(get, benchBatch(rng, get, 100), noBug)
	if err != nil {
		panic(err)
	}
	tree := r.tree.With(changes)
	r.mu.Lock()
	for _, c := range changes {
		r.accounts[c.ID] = c.Account
	}
	r.tree, r.head = tree, Head{r.head.Seq + 1, tree.Root()}
	r.mu.Unlock()
}

func BenchmarkReads(b *testing.B) {
	genesis := benchGenesis()
	tree := NewTree(genesis)
	maxReaders := max(2, runtime.GOMAXPROCS(0))
	for _, writer := range []string{"none", "paced"} {
		for readers := 1; readers <= maxReaders; readers++ {
			for _, kind := range []string{"leftright", "rwmutex"} {
				b.Run(fmt.Sprintf("writer=%s/readers=%d/%s", writer, readers, kind), func(b *testing.B) {
					var tg stateTarget
					if kind == "leftright" {
						s, err := NewMem(genesis)
						if err != nil {
							b.Fatal(err)
						}
						tg = &lrState{s}
					} else {
						m := make(map[tx.AccountID]tx.Account, benchAccounts)
						for _, c := range genesis {
							m[c.ID] = c.Account
						}
						tg = &rwState{accounts: maps.Clone(m), tree: tree, head: Head{Root: tree.Root()}}
					}
					benchStateReads(b, tg, readers, writer == "paced")
				})
			}
		}
	}
}

func benchStateReads(b *testing.B, tg stateTarget, readers int, write bool) {
	gets := make([]func(tx.AccountID) tx.Account, readers)
	for i := range gets {
		get, done := tg.reader()
		gets[i] = get
		defer done()
	}
	var stop atomic.Bool
	var batches int64
	writerDone := make(chan struct{})
	b.ResetTimer()
	start := time.Now()
	go func() {
		defer close(writerDone)
		rng := rand.New(rand.NewPCG(1, 1))
		tick := time.NewTicker(2 * time.Millisecond)
		defer tick.Stop()
		for write && !stop.Load() {
			tg.apply(rng)
			batches++
			<-tick.C
		}
	}()
	var wg sync.WaitGroup
	var sink atomic.Uint64
	for i, get := range gets {
		n := b.N / readers
		wg.Add(1)
		go func() {
			defer wg.Done()
			k := uint64(i)*0x9E3779B97F4A7C15 + 1
			var s uint64
			for range n {
				k ^= k << 13
				k ^= k >> 7
				k ^= k << 17
				s += get(benchID(int(k % benchAccounts))).Balance
			}
			sink.Add(s)
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	stop.Store(true)
	<-writerDone
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "reads/s")
	b.ReportMetric(float64(batches*100)/elapsed.Seconds(), "transfers/s")
}

// BenchmarkRoot: root of a 100k-account tree after 1k account updates,
// incremental (Tree.With, path copying) vs rebuilt from all accounts.
func BenchmarkRoot(b *testing.B) {
	genesis := benchGenesis()
	tree := NewTree(genesis)
	rng := rand.New(rand.NewPCG(5, 6))
	updates := make([]Change, 1000)
	for i := range updates {
		updates[i] = Change{benchID(rng.IntN(benchAccounts)), tx.Account{Balance: rng.Uint64N(1 << 40), Nonce: 1}}
	}
	want := tree.With(updates).Root()
	b.Run("incremental-1k", func(b *testing.B) {
		for b.Loop() {
			if tree.With(updates).Root() != want {
				b.Fatal("root")
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/1000, "ns/update")
	})
	b.Run("rebuild-100k", func(b *testing.B) {
		all := make(map[tx.AccountID]tx.Account, benchAccounts)
		for _, c := range genesis {
			all[c.ID] = c.Account
		}
		for _, u := range updates {
			all[u.ID] = u.Account
		}
		cs := make([]Change, 0, len(all))
		for id, a := range all {
			cs = append(cs, Change{id, a})
		}
		for b.Loop() {
			if NewTree(cs).Root() != want {
				b.Fatal("root")
			}
		}
	})
}

// BenchmarkApply: Store.Apply of 1k-transfer batches on 100k accounts
// (rules, tree update, backend commit), plus Publish.
func BenchmarkApply(b *testing.B) {
	s, err := NewMem(benchGenesis())
	if err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(7, 8))
	for b.Loop() {
		b.StopTimer()
		batch := benchBatch(rng, s.Account, 1000)
		b.StartTimer()
		if _, err := s.Apply(batch); err != nil {
			b.Fatal(err)
		}
		s.Publish()
	}
	b.ReportMetric(float64(b.N*1000)/b.Elapsed().Seconds(), "transfers/s")
}
