package threshold

import (
	"fmt"
	"math/big"
	"slices"
	"testing"

	bls12381 "github.com/consensys/gnark-crypto/ecc/bls12-381"

	"github.com/fhbft/fhbft/impl/crypto/bls"
)

// Every benchmark reports ours beside a baseline in the same run, as
// sub-benchmarks: go test -run xxx -bench . ./impl/crypto/threshold

var benchSizes = []int{7, 25, 100}

type benchFixture struct {
	fixture
	parts []Partial // one valid partial per member, index order
}

var benchCache = map[int]*benchFixture{}

func benchFor(b *testing.B, n int) *benchFixture {
	b.Helper()
	if bf, ok := benchCache[n]; ok {
		return bf
	}
	f, _ := newFixture(b, n, quorum(n), uint64(1000+n))
	bf := &benchFixture{fixture: f, parts: f.partials(f.all())}
	benchCache[n] = bf
	return bf
}

func BenchmarkPartialSign(b *testing.B) {
	f := benchFor(b, 7)
	share := f.shares[0]
	b.Run("min-sig-G1", func(b *testing.B) {
		for b.Loop() {
			PartialSign(share, testDST, f.msg)
		}
	})
	// Baseline: the min-pk variant (signatures in G2), which hashes to G2
	// and multiplies there.
	b.Run("baseline-min-pk-G2", func(b *testing.B) {
		s := share.Key.Scalar()
		var k big.Int
		s.BigInt(&k)
		for b.Loop() {
			h, err := bls12381.HashToG2(f.msg, testDST)
			if err != nil {
				b.Fatal(err)
			}
			h.ScalarMultiplication(&h, &k)
		}
	})
}

func BenchmarkPartialVerify(b *testing.B) {
	f := benchFor(b, 7)
	p := f.parts[0]
	pk := f.gk.Shares[0]
	b.Run("one-pairing-check", func(b *testing.B) {
		for b.Loop() {
			if err := VerifyPartial(f.gk, testDST, f.msg, p); err != nil {
				b.Fatal(err)
			}
		}
	})
	// Baseline: two full pairings compared in GT.
	b.Run("baseline-two-pairings", func(b *testing.B) {
		_, _, _, g2 := bls12381.Generators()
		sig, key := p.Sig.Point(), pk.Point()
		for b.Loop() {
			h, _ := bls.HashMessage(testDST, f.msg)
			hp := h.Point()
			l, _ := bls12381.Pair([]bls12381.G1Affine{sig}, []bls12381.G2Affine{g2})
			r, _ := bls12381.Pair([]bls12381.G1Affine{hp}, []bls12381.G2Affine{key})
			if !l.Equal(&r) {
				b.Fatal("mismatch")
			}
		}
	})
}

// naiveCombine is the baseline: textbook Lagrange coefficients (one
// inversion per factor) and one scalar multiplication per partial.
func naiveCombine(t int, ps []Partial) bls12381.G1Affine {
	idx := make([]Index, t)
	for i := range idx {
		idx[i] = ps[i].Index
	}
	lambda := naiveLagrange(idx)
	var acc bls12381.G1Jac
	for i := range t {
		var k big.Int
		lambda[i].BigInt(&k)
		pt := ps[i].Sig.Point()
		var term bls12381.G1Jac
		term.FromAffine(&pt)
		term.ScalarMultiplication(&term, &k)
		acc.AddAssign(&term)
	}
	var out bls12381.G1Affine
	out.FromJacobian(&acc)
	return out
}

func BenchmarkCombine(b *testing.B) {
	for _, n := range benchSizes {
		f := benchFor(b, n)
		t := f.gk.T
		ps := f.parts[:t]
		want, _ := Combine(t, ps)
		if got := naiveCombine(t, ps); got != want.Point() {
			b.Fatal("baseline and Combine disagree")
		}
		name := fmt.Sprintf("n=%d,t=%d", n, t)
		b.Run(name+"/ours", func(b *testing.B) {
			for b.Loop() {
				if _, err := Combine(t, ps); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(name+"/baseline-naive", func(b *testing.B) {
			for b.Loop() {
				naiveCombine(t, ps)
			}
		})
	}
}

// BenchmarkCertVerify: a certificate is verified with one pairing check
// against the group key; the baseline verifies its t partials one by one.
func BenchmarkCertVerify(b *testing.B) {
	for _, n := range benchSizes {
		f := benchFor(b, n)
		t := f.gk.T
		sig, err := Combine(t, f.parts)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(fmt.Sprintf("n=%d/group", n), func(b *testing.B) {
			for b.Loop() {
				if err := bls.Verify(f.gk.Public, testDST, f.msg, sig); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("n=%d/one-by-one", n), func(b *testing.B) {
			for b.Loop() {
				h, _ := bls.HashMessage(testDST, f.msg) // hashed once, in the baseline's favour
				for _, p := range f.parts[:t] {
					if err := bls.VerifyHashed(f.gk.Shares[p.Index-1], h, p.Sig); err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
}

// eagerCombine is the baseline: verify every partial, then combine the
// first t valid ones.
func eagerCombine(b *testing.B, gk GroupKey, msg []byte, ps []Partial) bls.Signature {
	h, _ := bls.HashMessage(testDST, msg)
	valid := make([]Partial, 0, gk.T)
	for _, p := range ps {
		if bls.VerifyHashed(gk.Shares[p.Index-1], h, p.Sig) == nil {
			valid = append(valid, p)
			if len(valid) == gk.T {
				break
			}
		}
	}
	sig, err := Combine(gk.T, valid)
	if err != nil {
		b.Fatal(err)
	}
	return sig
}

func BenchmarkCombineVerified(b *testing.B) {
	n := 100
	f := benchFor(b, n)
	t := f.gk.T
	good := f.parts[:t]
	oneBad := slices.Clone(f.parts) // all n partials, one bad among the first t
	f.tamper(oneBad, 17)
	for _, c := range []struct {
		name string
		ps   []Partial
	}{{"all-valid", good}, {"one-bad", oneBad}} {
		b.Run(fmt.Sprintf("n=%d/%s/optimistic", n, c.name), func(b *testing.B) {
			for b.Loop() {
				if _, _, err := CombineVerified(f.gk, testDST, f.msg, c.ps); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("n=%d/%s/eager", n, c.name), func(b *testing.B) {
			for b.Loop() {
				eagerCombine(b, f.gk, f.msg, c.ps)
			}
		})
	}
}

func BenchmarkFindInvalid(b *testing.B) {
	n := 100
	f := benchFor(b, n)
	for _, nbad := range []int{1, 5} {
		ps := slices.Clone(f.parts)
		for k := range nbad {
			f.tamper(ps, 7+19*k)
		}
		b.Run(fmt.Sprintf("n=%d/bad=%d/batch-bisection", n, nbad), func(b *testing.B) {
			for b.Loop() {
				if got := FindInvalid(f.gk, testDST, f.msg, ps); len(got) != nbad {
					b.Fatalf("found %v", got)
				}
			}
		})
		b.Run(fmt.Sprintf("n=%d/bad=%d/one-by-one", n, nbad), func(b *testing.B) {
			for b.Loop() {
				h, _ := bls.HashMessage(testDST, f.msg) // hashed once, in the baseline's favour
				var got []Index
				for _, p := range ps {
					if bls.VerifyHashed(f.gk.Shares[p.Index-1], h, p.Sig) != nil {
						got = append(got, p.Index)
					}
				}
				if len(got) != nbad {
					b.Fatalf("found %v", got)
				}
			}
		})
	}
}

func BenchmarkValidate(b *testing.B) {
	for _, n := range benchSizes {
		f := benchFor(b, n)
		b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) {
			for b.Loop() {
				if err := f.gk.Validate(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
