package bls

import (
	"fmt"
	"testing"

	bls12381 "github.com/consensys/gnark-crypto/ecc/bls12-381"
)

// Each benchmark reports ours beside a baseline in the same run.

func BenchmarkVerify(b *testing.B) {
	r := seededRand(b, 40)
	sk := mustKey(b, r)
	pk := sk.PublicKey()
	msg := []byte("benchmark message")
	sig := Sign(sk, testDST, msg)
	h, _ := HashMessage(testDST, msg)
	b.Run("one-pairing-check", func(b *testing.B) {
		for b.Loop() {
			if err := VerifyHashed(pk, h, sig); err != nil {
				b.Fatal(err)
			}
		}
	})
	// Baseline: compute both pairings and compare in GT (two final
	// exponentiations instead of one).
	b.Run("two-pairings", func(b *testing.B) {
		for b.Loop() {
			l, _ := bls12381.Pair([]bls12381.G1Affine{sig.p}, []bls12381.G2Affine{g2Gen})
			rr, _ := bls12381.Pair([]bls12381.G1Affine{h.p}, []bls12381.G2Affine{pk.p})
			if !l.Equal(&rr) {
				b.Fatal("mismatch")
			}
		}
	})
}

func BenchmarkDecode(b *testing.B) {
	r := seededRand(b, 41)
	sk := mustKey(b, r)
	pkb := sk.PublicKey().Bytes()
	sb := Sign(sk, testDST, []byte("m")).Bytes()
	b.Run("signature/ours", func(b *testing.B) {
		for b.Loop() {
			if _, err := SignatureFromBytes(sb[:]); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("signature/gnark-SetBytes", func(b *testing.B) {
		for b.Loop() {
			var p bls12381.G1Affine
			if _, err := p.SetBytes(sb[:]); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("public-key/ours", func(b *testing.B) {
		for b.Loop() {
			if _, err := PublicKeyFromBytes(pkb[:]); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("public-key/gnark-SetBytes", func(b *testing.B) {
		for b.Loop() {
			var p bls12381.G2Affine
			if _, err := p.SetBytes(pkb[:]); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkFastAggregateVerify(b *testing.B) {
	for _, n := range []int{7, 100} {
		r := seededRand(b, 42)
		msg := []byte("m")
		pks := make([]PublicKey, n)
		sigs := make([]Signature, n)
		for i := range n {
			sk := mustKey(b, r)
			pks[i] = sk.PublicKey()
			sigs[i] = Sign(sk, testDST, msg)
		}
		agg, _ := AggregateSignatures(sigs)
		b.Run(fmt.Sprintf("n=%d/aggregate", n), func(b *testing.B) {
			for b.Loop() {
				if err := FastAggregateVerify(pks, testDST, msg, agg); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("n=%d/one-by-one", n), func(b *testing.B) {
			for b.Loop() {
				h, _ := HashMessage(testDST, msg)
				for i := range n {
					if err := VerifyHashed(pks[i], h, sigs[i]); err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
}
