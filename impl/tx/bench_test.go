package tx

import (
	"crypto/ed25519"
	"fmt"
	"runtime"
	"testing"
)

// seedMicros is the seed paper's cost of one native transfer on one core
// (seeds/000: "Native Token Transactions take 88.5 microseconds to
// process", footnote 3: "Benchmarks for per core TPS under Left-Right
// model").
const seedMicros = 88.5

func benchTxs(n int) []*Transfer {
	out := make([]*Transfer, n)
	for i := range out {
		tr := signed(uint64(i), uint64(i+100000), 800, 100, 7)
		out[i] = &tr
	}
	return out
}

// cpuClock measures the CPU time of a benchmark loop, next to the wall
// time the testing package measures. Start locks the goroutine to its
// thread so that the thread's CPU time is the loop's.
type cpuClock struct {
	start int64
	ok    bool
}

func startCPU() cpuClock {
	runtime.LockOSThread()
	s, ok := threadCPU()
	return cpuClock{s, ok}
}

// perOp returns CPU ns per item, or 0 if unavailable.
func (c cpuClock) perOp(b *testing.B, items int) float64 {
	end, ok := threadCPU()
	runtime.UnlockOSThread()
	if !c.ok || !ok {
		return 0
	}
	return float64(end-c.start) / float64(b.N) / float64(items)
}

func perItem(b *testing.B, c cpuClock, items int) {
	ns := float64(b.Elapsed().Nanoseconds()) / float64(b.N) / float64(items)
	cpu := c.perOp(b, items)
	b.ReportMetric(ns, "ns/sig")
	if cpu > 0 {
		b.ReportMetric(cpu, "cpu-ns/sig")
		b.ReportMetric(1e9/cpu, "sig/cpu-s")
	}
}

// BenchmarkVerify compares, in one run, crypto/ed25519 one by one, the TX-7
// rule one by one, and VerifyBatch, for batch sizes 1, 8, 64, 256; and the
// batch cost when one signature in it is bad (the fallback path).
func BenchmarkVerify(b *testing.B) {
	for _, n := range []int{1, 8, 64, 256} {
		txs := benchTxs(n)
		msgs := make([][]byte, n)
		for i, t := range txs {
			msgs[i] = t.SigningBytes()
		}
		b.Run(fmt.Sprintf("n=%d/stdlib-single", n), func(b *testing.B) {
			c := startCPU()
			for b.Loop() {
				for i, t := range txs {
					if !ed25519.Verify(t.From[:], msgs[i], t.Signature[:]) {
						b.Fatal("rejected")
					}
				}
			}
			perItem(b, c, n)
		})
		b.Run(fmt.Sprintf("n=%d/tx7-single", n), func(b *testing.B) {
			c := startCPU()
			for b.Loop() {
				for _, t := range txs {
					if VerifySignature(t) != nil {
						b.Fatal("rejected")
					}
				}
			}
			perItem(b, c, n)
		})
		b.Run(fmt.Sprintf("n=%d/tx7-batch", n), func(b *testing.B) {
			c := startCPU()
			for b.Loop() {
				for _, ok := range VerifyBatch(txs) {
					if !ok {
						b.Fatal("rejected")
					}
				}
			}
			perItem(b, c, n)
		})
		if n >= 8 {
			bad := make([]*Transfer, n)
			copy(bad, txs)
			worse := *txs[n/2]
			worse.Nonce++
			bad[n/2] = &worse
			b.Run(fmt.Sprintf("n=%d/tx7-batch-one-bad", n), func(b *testing.B) {
				c := startCPU()
				for b.Loop() {
					if VerifyBatch(bad)[n/2] {
						b.Fatal("accepted")
					}
				}
				perItem(b, c, n)
			})
		}
	}
}

// seedRatio reports wall and CPU time per transfer, transfers per
// CPU-second (per core), and x-seed = 88.5 µs / CPU time per transfer.
func seedRatio(b *testing.B, c cpuClock, items int) {
	ns := float64(b.Elapsed().Nanoseconds()) / float64(b.N) / float64(items)
	b.ReportMetric(ns, "ns/tx")
	cpu := c.perOp(b, items)
	if cpu <= 0 {
		cpu = ns
	}
	b.ReportMetric(cpu, "cpu-ns/tx")
	b.ReportMetric(1e9/cpu, "tx/cpu-s")
	b.ReportMetric(seedMicros*1e3/cpu, "x-seed")
}

// BenchmarkValidate is full validation throughput per core, signature
// included, against the seed's 88.5 µs per transfer per core ("x-seed" is
// how many times faster). Run with -cpu 1 for the per-core figure.
// Breakdown: the stateless rules alone (dominated by the TX-14 recipient
// decompression) and the state rules with the signature verdict supplied.
func BenchmarkValidate(b *testing.B) {
	const n = 256
	txs := benchTxs(n)
	v := fixedViews{acct: Account{Balance: 1000, Nonce: 5}, pend: Pending{Count: 2, Debits: 100}}
	cfg := Config{MinFee: 1}
	b.Run("one-by-one", func(b *testing.B) {
		c := startCPU()
		for b.Loop() {
			for _, t := range txs {
				if err := cfg.Validate(t, v, v); err != nil {
					b.Fatal(err)
				}
			}
		}
		seedRatio(b, c, n)
	})
	for _, size := range []int{8, 64, 256} {
		b.Run(fmt.Sprintf("batch=%d", size), func(b *testing.B) {
			c := startCPU()
			for b.Loop() {
				for lo := 0; lo < n; lo += size {
					chunk := txs[lo : lo+size]
					ok := VerifyBatch(chunk)
					for i, t := range chunk {
						if err := cfg.ValidateVerified(t, v, v, ok[i]); err != nil {
							b.Fatal(err)
						}
					}
				}
			}
			seedRatio(b, c, n)
		})
	}
	b.Run("stateless-only", func(b *testing.B) {
		c := startCPU()
		for b.Loop() {
			for _, t := range txs {
				if err := cfg.CheckStateless(t); err != nil {
					b.Fatal(err)
				}
			}
		}
		seedRatio(b, c, n)
	})
	b.Run("rules-without-signature", func(b *testing.B) {
		c := startCPU()
		for b.Loop() {
			for _, t := range txs {
				if err := cfg.ValidateVerified(t, v, v, true); err != nil {
					b.Fatal(err)
				}
			}
		}
		seedRatio(b, c, n)
	})
}

// BenchmarkValidateParallel runs one-by-one and batch-64 validation on
// every GOMAXPROCS core; compare -cpu 1,2 for scaling.
func BenchmarkValidateParallel(b *testing.B) {
	const n = 256
	txs := benchTxs(n)
	v := fixedViews{acct: Account{Balance: 1000, Nonce: 5}, pend: Pending{Count: 2, Debits: 100}}
	cfg := Config{MinFee: 1}
	b.Run("one-by-one", func(b *testing.B) {
		start, ok := processCPU()
		b.RunParallel(func(pb *testing.PB) {
			i := 0
			for pb.Next() {
				if err := cfg.Validate(txs[i%n], v, v); err != nil {
					b.Error(err)
					return
				}
				i++
			}
		})
		parallelRatio(b, start, ok, 1)
	})
	b.Run("batch=64", func(b *testing.B) {
		start, ok := processCPU()
		b.RunParallel(func(pb *testing.PB) {
			i := 0
			for pb.Next() {
				chunk := txs[(i%4)*64 : (i%4)*64+64]
				ok := VerifyBatch(chunk)
				for j, t := range chunk {
					if err := cfg.ValidateVerified(t, v, v, ok[j]); err != nil {
						b.Error(err)
						return
					}
				}
				i++
			}
		})
		parallelRatio(b, start, ok, 64)
	})
}

// parallelRatio reports wall throughput of all GOMAXPROCS workers together
// (tx/s) and process CPU time per transfer.
func parallelRatio(b *testing.B, start int64, ok bool, items int) {
	ns := float64(b.Elapsed().Nanoseconds()) / float64(b.N) / float64(items)
	b.ReportMetric(ns, "ns/tx")
	b.ReportMetric(1e9/ns, "tx/s")
	if end, ok2 := processCPU(); ok && ok2 {
		cpu := float64(end-start) / float64(b.N) / float64(items)
		b.ReportMetric(cpu, "cpu-ns/tx")
		b.ReportMetric(seedMicros*1e3/cpu, "x-seed")
	}
}
