package validator

import (
	"fmt"
	"testing"
	"time"

	"github.com/fhbft/fhbft/impl/tx"
)

// seedMicros is the seed's cost of one native transfer on one core
// (seeds/000 line 226: "Native Token Transactions take 88.5 microseconds to
// process").
const seedMicros = 88.5

const benchN = 1024

// benchFixture: benchN independent transfers (distinct senders), valid,
// over the real left-right state store and mempool.
func benchFixture(b *testing.B) (Stores, []*tx.Transfer) {
	s := stores(b, benchN+1, 1_000_000, 0)
	txs := make([]*tx.Transfer, benchN)
	for i := range txs {
		txs[i] = transfer(i, i+1, 100, 1, 0)
	}
	return s, txs
}

// report prints wall time per transfer, throughput, throughput per core
// (per worker), process CPU per transfer, and x-seed: how many times faster
// than the seed's 88.5 µs per transfer per core one core is, from wall time
// (x-seed-wall) and from CPU time (x-seed-cpu).
func report(b *testing.B, workers int, cpu0 int64, cpuOK bool) {
	ns := float64(b.Elapsed().Nanoseconds()) / float64(b.N) / benchN
	b.ReportMetric(ns, "ns/tx")
	b.ReportMetric(1e9/ns, "tx/s")
	perCore := ns * float64(workers)
	b.ReportMetric(1e9/perCore, "tx/s/core")
	b.ReportMetric(seedMicros*1e3/perCore, "x-seed-wall")
	if cpu1, ok := processCPU(); ok && cpuOK {
		c := float64(cpu1-cpu0) / float64(b.N) / benchN
		b.ReportMetric(c, "cpu-ns/tx")
		b.ReportMetric(seedMicros*1e3/c, "x-seed-cpu")
	}
}

// BenchmarkValidator is validation throughput with signatures, over the real
// state store and mempool readers, in one run:
//
//	baseline/one-by-one   one goroutine, tx.Config.Validate per transfer (no batching, no unit)
//	baseline/check        one goroutine, Verifier.Check (batches of 256), no unit
//	unit/workers=1        the unit with one worker goroutine
//	unit/workers=2        the unit with two
//
// Compare tx/s of workers=2 with workers=1 for the scaling, tx/s/core with
// the seed's 1/88.5 µs = 11,300 tx/s/core (x-seed-*). BenchmarkScaling
// measures the 2-vs-1 ratio inside each iteration.
func BenchmarkValidator(b *testing.B) {
	s, txs := benchFixture(b)
	b.Run("baseline/one-by-one", func(b *testing.B) {
		sr, mr := s.State.NewReader(), s.Mempool.NewReader()
		defer sr.Close()
		defer mr.Close()
		c0, ok := processCPU()
		for b.Loop() {
			for _, t := range txs {
				if err := cfg.Validate(t, sr, mr); err != nil {
					b.Fatal(err)
				}
			}
		}
		report(b, 1, c0, ok)
	})
	b.Run("baseline/check", func(b *testing.B) {
		h := s.NewHandle()
		defer h.Close()
		v := NewVerifier(0, 0)
		out := make([]Verdict, len(txs))
		c0, ok := processCPU()
		for b.Loop() {
			h.Read(func(a tx.AccountView, p tx.PendingView) { v.Check(cfg, a, p, txs, out) })
			if !out[0].Accepted() {
				b.Fatal(out[0])
			}
		}
		report(b, 1, c0, ok)
	})
	for _, w := range []int{1, 2} {
		b.Run(fmt.Sprintf("unit/workers=%d", w), func(b *testing.B) {
			u, err := New(Config{Tx: cfg, Workers: w}, s)
			if err != nil {
				b.Fatal(err)
			}
			defer u.Close()
			c0, ok := processCPU()
			for b.Loop() {
				out, _ := u.Validate(txs, nil)
				if !out[0].Accepted() {
					b.Fatal(out[0])
				}
			}
			report(b, w, c0, ok)
		})
	}
}

// BenchmarkScaling runs, in every iteration, the same transfers through a
// one-worker and a two-worker unit and reports speedup = time(1) / time(2)
// (2.0 is perfect scaling on two free cores) and the per-core efficiency
// speedup/2.
func BenchmarkScaling(b *testing.B) {
	s, txs := benchFixture(b)
	u1, err := New(Config{Tx: cfg, Workers: 1}, s)
	if err != nil {
		b.Fatal(err)
	}
	defer u1.Close()
	u2, err := New(Config{Tx: cfg, Workers: 2}, s)
	if err != nil {
		b.Fatal(err)
	}
	defer u2.Close()
	var t1, t2 time.Duration
	for b.Loop() {
		start := time.Now()
		u1.Validate(txs, nil)
		mid := time.Now()
		u2.Validate(txs, nil)
		t1 += mid.Sub(start)
		t2 += time.Since(mid)
	}
	b.ReportMetric(float64(t1.Nanoseconds())/float64(b.N)/benchN, "ns/tx-w1")
	b.ReportMetric(float64(t2.Nanoseconds())/float64(b.N)/benchN, "ns/tx-w2")
	b.ReportMetric(float64(t1)/float64(t2), "speedup")
	b.ReportMetric(float64(t1)/float64(t2)/2, "efficiency")
}

// BenchmarkChains is the cost of dependency levels: benchN transfers from
// benchN/len senders, each a chain of len nonces, so the unit runs len
// levels with an admit (mempool insert and publish) between them.
func BenchmarkChains(b *testing.B) {
	for _, depth := range []int{1, 4, 16} {
		b.Run(fmt.Sprintf("depth=%d", depth), func(b *testing.B) {
			senders := benchN / depth
			txs := make([]*tx.Transfer, 0, benchN)
			for d := 0; d < depth; d++ {
				for i := 0; i < senders; i++ {
					txs = append(txs, transfer(i, i+1, 100, 1, uint64(d)))
				}
			}
			// Wall time only: building the stores, outside the timer, would
			// count in the process CPU time.
			for b.Loop() {
				b.StopTimer()
				s := stores(b, senders+1, 1_000_000, 0)
				u, err := New(Config{Tx: cfg, Workers: 2}, s)
				if err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				out, _ := u.Validate(txs, func(acc []*tx.Transfer) {
					if err := s.Admit(acc); err != nil {
						b.Fatal(err)
					}
				})
				b.StopTimer()
				u.Close()
				if !out[len(out)-1].Accepted() {
					b.Fatal(out[len(out)-1])
				}
				b.StartTimer()
			}
			report(b, 2, 0, false)
		})
	}
}
