package dag

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/fhbft/fhbft/impl/certification"
	"github.com/fhbft/fhbft/impl/state"
	"github.com/fhbft/fhbft/impl/tx"
)

// benchRound builds a round with c candidates: 10 harvesters, about c/8
// senders with a chain of nonces 0..7 each, listed in shuffled order (so
// the ready order matters), one nonce in 20 missing (gaps), one slot in 10
// contested, every transfer in one to three blocks, every 17th sender
// short of funds (overdrafts part-way through its chain).
func benchRound(c int) (Params, ConvergenceBlock, Hash, state.Tree, Input) {
	rng := rand.New(rand.NewPCG(uint64(c), 5))
	const n = 10
	p := testParams(n)
	prev := ConvergenceBlock{Quorum: 100, Epoch: 7, Round: 9}
	senders := max(c/8, 1)
	var genesis []state.Change
	for i := range senders + 1 {
		bal := uint64(1000)
		if i%17 == 0 {
			bal = 30 // overdrafts part-way through the chain
		}
		genesis = append(genesis, state.Change{ID: benchAcct(i), Account: tx.Account{Balance: bal}})
	}
	st := state.NewTree(genesis)
	var pool []CertifiedTx
	tag := uint32(0)
	add := func(s int, nonce uint64) {
		tag++
		t := tx.Transfer{From: benchAcct(s), To: benchAcct(s + 1), Amount: uint64(1 + rng.IntN(20)), Fee: uint64(rng.IntN(3)), Nonce: nonce}
		t.Signature[0], t.Signature[1], t.Signature[2], t.Signature[3] = byte(tag>>24), byte(tag>>16), byte(tag>>8), byte(tag)
		pool = append(pool, CertifiedTx{Transfer: t, Cert: dummyCert(t.Digest())})
	}
	for s := 0; len(pool) < c; s = (s + 1) % senders {
		for nonce := range uint64(8) {
			if len(pool) < c && rng.IntN(20) != 0 { // one nonce in 20 missing: a gap
				add(s, nonce)
			}
			if len(pool) < c && rng.IntN(10) == 0 { // one slot in 10 contested
				add(s, nonce)
			}
		}
	}
	rng.Shuffle(len(pool), func(i, j int) { pool[i], pool[j] = pool[j], pool[i] })
	var txs [n][]CertifiedTx
	for _, ct := range pool {
		k := 1 + rng.IntN(3)
		for _, h := range rng.Perm(n)[:k] {
			txs[h] = append(txs[h], ct)
		}
	}
	var in Input
	for h := range n {
		in.Blocks = append(in.Blocks, block(&prev, certification.Member(h+1), txs[h]...))
	}
	return p, prev, Hash{3}, st, in
}

func benchAcct(i int) tx.AccountID {
	var a tx.AccountID
	a[0], a[1], a[2] = 0xB0, byte(i>>8), byte(i)
	return a
}

// BenchmarkConverge measures Converge (heap-ordered application, CONV-11)
// against the naive spec-literal baseline in the same run, whose
// application loop scans every winner for the next ready one (quadratic).
func BenchmarkConverge(b *testing.B) {
	for _, c := range []int{1000, 10000} {
		p, prev, beacon, st, in := benchRound(c)
		out, err := Converge(p, &prev, beacon, st, 1, 0, in)
		if err != nil {
			b.Fatal(err)
		}
		o := naiveConverge(p, &prev, beacon, st, in)
		if o.root != out.Block.StateRoot || len(o.applied) != len(out.Block.Applied) {
			b.Fatal("naive baseline disagrees")
		}
		label := fmt.Sprintf("c=%d", c)
		b.Logf("%s: %d blocks, applied %d, rejected %d, deferred %d", label, len(in.Blocks), len(out.Block.Applied), len(out.Block.Rejected), len(out.Block.Deferred))
		b.Run(label+"/heap", func(b *testing.B) {
			for b.Loop() {
				if _, err := Converge(p, &prev, beacon, st, 1, 0, in); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(label+"/naive", func(b *testing.B) {
			for b.Loop() {
				naiveConverge(p, &prev, beacon, st, in)
			}
		})
	}
}
