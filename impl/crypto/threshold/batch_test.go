package threshold

import (
	"errors"
	"slices"
	"testing"

	bls12381 "github.com/consensys/gnark-crypto/ecc/bls12-381"
	"github.com/consensys/gnark-crypto/ecc/bls12-381/fr"

	"github.com/fhbft/fhbft/impl/crypto/bls"
)

// tamper replaces partial i's signature by one on another message: a
// well-formed subgroup point that does not verify.
func (f fixture) tamper(ps []Partial, i int) {
	ps[i].Sig = PartialSign(f.shares[ps[i].Index-1], testDST, []byte("something else")).Sig
}

// oneByOne is the reference answer: indices whose partial fails VerifyPartial.
func (f fixture) oneByOne(ps []Partial) []Index {
	var bad []Index
	for _, p := range ps {
		if VerifyPartial(f.gk, testDST, f.msg, p) != nil {
			bad = append(bad, p.Index)
		}
	}
	return bad
}

func TestFindInvalid(t *testing.T) {
	f, _ := newFixture(t, 10, 6, 60)
	ps := f.partials(f.all())
	if bad := FindInvalid(f.gk, testDST, f.msg, ps); bad != nil {
		t.Fatalf("all valid, FindInvalid reported %v", bad)
	}
	cases := []struct {
		name   string
		tamper []int // positions
	}{
		{"first", []int{0}},
		{"last", []int{9}},
		{"middle", []int{4}},
		{"three", []int{1, 5, 8}},
		{"adjacent pair", []int{6, 7}},
		{"all", []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}},
	}
	for _, c := range cases {
		q := slices.Clone(ps)
		var want []Index
		for _, i := range c.tamper {
			f.tamper(q, i)
			want = append(want, q[i].Index)
		}
		got := FindInvalid(f.gk, testDST, f.msg, q)
		if !slices.Equal(got, want) {
			t.Errorf("%s: FindInvalid = %v, want %v", c.name, got, want)
		}
	}
}

// TestFindInvalidMatchesOneByOne: for random inputs (shuffled order,
// random subsets tampered) bisection finds exactly what individual
// verification finds.
func TestFindInvalidMatchesOneByOne(t *testing.T) {
	f, rng := newFixture(t, 9, 6, 61)
	for trial := range 25 {
		k := 1 + rng.IntN(9)
		ps := f.partials(randomSubset(rng, 9, k))
		for i := range ps {
			if rng.IntN(4) == 0 {
				f.tamper(ps, i)
			}
		}
		got := FindInvalid(f.gk, testDST, f.msg, ps)
		want := f.oneByOne(ps)
		if !slices.Equal(got, want) {
			t.Fatalf("trial %d: FindInvalid = %v, one by one = %v (partials %v)", trial, got, want, indicesOf(ps))
		}
		if again := FindInvalid(f.gk, testDST, f.msg, ps); !slices.Equal(again, got) {
			t.Fatalf("trial %d: not deterministic: %v then %v", trial, got, again)
		}
	}
}

func indicesOf(ps []Partial) []Index {
	out := make([]Index, len(ps))
	for i, p := range ps {
		out[i] = p.Index
	}
	return out
}

// TestCancellingPair: σ_i + D and σ_j - D cancel in a plain sum, so an
// unweighted batch check passes; the weighted check, the group verification
// and FindInvalid all catch them.
func TestCancellingPair(t *testing.T) {
	f, _ := newFixture(t, 7, 5, 62)
	ps := f.partials(f.all())
	_, _, g1, _ := bls12381.Generators()
	var d bls12381.G1Affine
	d.ScalarMultiplication(&g1, fr.Modulus().Rsh(fr.Modulus(), 3)) // arbitrary non-zero D
	plus, minus := ps[1].Sig.Point(), ps[3].Sig.Point()
	plus.Add(&plus, &d)
	minus.Sub(&minus, &d)
	sp, err := bls.SignatureFromBytes(bytesOf(plus))
	if err != nil {
		t.Fatal(err)
	}
	sm, err := bls.SignatureFromBytes(bytesOf(minus))
	if err != nil {
		t.Fatal(err)
	}
	ps[1].Sig, ps[3].Sig = sp, sm

	// Test premise: the unweighted sum does not see the tampering.
	sigs := make([]bls.Signature, len(ps))
	for i := range ps {
		sigs[i] = ps[i].Sig
	}
	aggSig, _ := bls.AggregateSignatures(sigs)
	aggPK, _ := bls.AggregatePublicKeys(f.gk.Shares)
	if err := bls.Verify(aggPK, testDST, f.msg, aggSig); err != nil {
		t.Fatalf("premise: unweighted batch check should be fooled: %v", err)
	}

	sig, err := Combine(5, ps)
	if err != nil {
		t.Fatal(err)
	}
	if err := bls.Verify(f.gk.Public, testDST, f.msg, sig); !errors.Is(err, bls.ErrInvalidSignature) {
		t.Fatalf("combination with a cancelling pair verified: %v", err)
	}
	if got := FindInvalid(f.gk, testDST, f.msg, ps); !slices.Equal(got, []Index{2, 4}) {
		t.Fatalf("FindInvalid = %v, want [2 4]", got)
	}
	// Five of seven remain valid, which is T: CombineVerified recovers.
	got, bad, err := CombineVerified(f.gk, testDST, f.msg, ps)
	if err != nil || !slices.Equal(bad, []Index{2, 4}) || bls.Verify(f.gk.Public, testDST, f.msg, got) != nil {
		t.Fatalf("CombineVerified: sig %v bad %v err %v", got, bad, err)
	}
}

func bytesOf(p bls12381.G1Affine) []byte {
	b := p.Bytes()
	return b[:]
}

func TestFindInvalidStructural(t *testing.T) {
	f, _ := newFixture(t, 5, 3, 63)
	ps := f.partials(f.all())
	ps[1].Index = 9             // no such member
	ps[3].Sig = bls.Signature{} // identity
	if got := FindInvalid(f.gk, testDST, f.msg, ps); !slices.Equal(got, []Index{9, 4}) {
		t.Fatalf("FindInvalid = %v, want [9 4]", got)
	}
	if got := FindInvalid(f.gk, nil, f.msg, ps); len(got) != len(ps) {
		t.Fatalf("invalid dst: FindInvalid = %v, want every partial", got)
	}
	if got := FindInvalid(f.gk, testDST, f.msg, nil); got != nil {
		t.Fatalf("no partials: got %v", got)
	}
}

func TestBatchWeights(t *testing.T) {
	f, _ := newFixture(t, 5, 3, 64)
	ps := f.partials(f.all())
	w1 := batchWeights(f.gk, testDST, f.msg, ps)
	w2 := batchWeights(f.gk, testDST, f.msg, slices.Clone(ps))
	if !slices.Equal(w1, w2) {
		t.Fatalf("weights are not deterministic")
	}
	limit := new(fr.Element).SetBytes(append([]byte{1}, make([]byte, 16)...)) // 2^128
	for i := range w1 {
		if w1[i].IsZero() || w1[i].Cmp(limit) >= 0 {
			t.Fatalf("weight %d out of range", i)
		}
		for j := range i {
			if w1[i].Equal(&w1[j]) {
				t.Fatalf("weights %d and %d coincide", i, j)
			}
		}
	}
	q := slices.Clone(ps)
	f.tamper(q, 4)
	w3 := batchWeights(f.gk, testDST, f.msg, q)
	for i := range w1 {
		if w1[i].Equal(&w3[i]) {
			t.Fatalf("weight %d unchanged after a partial changed", i)
		}
	}
	if w4 := batchWeights(f.gk, testDST, []byte("other"), ps); w4[0].Equal(&w1[0]) {
		t.Fatalf("weights do not depend on the message")
	}
}

func TestCombineVerified(t *testing.T) {
	f, _ := newFixture(t, 10, 6, 65)
	want := bls.Sign(f.groupSecret(t), testDST, f.msg)
	ps := f.partials(f.all())

	sig, bad, err := CombineVerified(f.gk, testDST, f.msg, ps)
	if err != nil || bad != nil || sig != want {
		t.Fatalf("all valid: sig ok=%v bad %v err %v", sig == want, bad, err)
	}

	// Bad partials among the first T, enough valid ones overall.
	q := slices.Clone(ps)
	for _, i := range []int{0, 2, 5} {
		f.tamper(q, i)
	}
	sig, bad, err = CombineVerified(f.gk, testDST, f.msg, q)
	if err != nil || !slices.Equal(bad, []Index{1, 3, 6}) || sig != want {
		t.Fatalf("recovery: sig ok=%v bad %v err %v", sig == want, bad, err)
	}
	sig2, bad2, err2 := CombineVerified(f.gk, testDST, f.msg, q)
	if sig2 != sig || !slices.Equal(bad2, bad) || err2 != nil {
		t.Fatalf("not deterministic")
	}

	// Five bad: only five valid remain, T = 6.
	f.tamper(q, 7)
	f.tamper(q, 9)
	sig, bad, err = CombineVerified(f.gk, testDST, f.msg, q)
	var ce *CountError
	if !errors.Is(err, ErrTooFewValid) || !errors.As(err, &ce) || ce.Need != 6 || ce.Have != 5 ||
		!slices.Equal(bad, []Index{1, 3, 6, 8, 10}) || !slices.Equal(ce.Bad, bad) || !sig.IsInfinity() {
		t.Fatalf("too few valid: sig %v bad %v err %v", sig, bad, err)
	}

	if _, _, err := CombineVerified(f.gk, testDST, f.msg, ps[:5]); !errors.Is(err, ErrTooFewPartials) {
		t.Fatalf("too few partials: got %v", err)
	}
	dup := slices.Clone(ps)
	dup[8] = dup[0]
	if _, _, err := CombineVerified(f.gk, testDST, f.msg, dup); !errors.Is(err, ErrDuplicateIndex) {
		t.Fatalf("duplicate: got %v", err)
	}
	far := slices.Clone(ps)
	far[9].Index = 11
	if _, _, err := CombineVerified(f.gk, testDST, f.msg, far); !errors.Is(err, ErrIndexOutOfRange) {
		t.Fatalf("out of range: got %v", err)
	}
	if _, _, err := CombineVerified(f.gk, nil, f.msg, ps); !errors.Is(err, bls.ErrInvalidDST) {
		t.Fatalf("empty dst: got %v", err)
	}
	if _, _, err := CombineVerified(GroupKey{}, testDST, f.msg, ps); !errors.Is(err, ErrInvalidGroupKey) {
		t.Fatalf("empty group key: got %v", err)
	}
}

// TestCombineVerifiedInconsistentKey: a group key whose share for member 2
// was swapped for a stranger's key. The stranger's partial verifies against
// that share, yet the combination is wrong; CombineVerified must say so
// rather than return an invalid signature.
func TestCombineVerifiedInconsistentKey(t *testing.T) {
	f, _ := newFixture(t, 5, 3, 66)
	src, _ := seeded(t, 67)
	stranger, _ := bls.GenerateKey(src)
	gk := f.gk
	gk.Shares = slices.Clone(f.gk.Shares)
	gk.Shares[1] = stranger.PublicKey()
	if err := gk.Validate(); !errors.Is(err, ErrInconsistentGroup) {
		t.Fatalf("Validate: got %v", err)
	}
	ps := f.partials([]Index{1, 2, 3})
	ps[1] = PartialSign(SecretShare{Index: 2, Key: stranger}, testDST, f.msg)
	sig, bad, err := CombineVerified(gk, testDST, f.msg, ps)
	if !errors.Is(err, ErrInconsistentGroup) || bad != nil || !sig.IsInfinity() {
		t.Fatalf("got sig %v bad %v err %v", sig, bad, err)
	}
}
