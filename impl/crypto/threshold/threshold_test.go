package threshold

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/consensys/gnark-crypto/ecc/bls12-381/fr"

	"github.com/fhbft/fhbft/impl/crypto/bls"
)

var testDST = []byte("FHBFT-V1-TEST-THRESHOLD-BLS12381G1_XMD:SHA-256_SSWU_RO_")

// seeded returns deterministic randomness (key material and test choices)
// and prints the seed if the test fails.
func seeded(tb testing.TB, seed uint64) (*rand.ChaCha8, *rand.Rand) {
	tb.Helper()
	var s [32]byte
	for i := range 8 {
		s[i] = byte(seed >> (8 * i))
	}
	tb.Cleanup(func() {
		if tb.Failed() {
			tb.Logf("randomness seed: %d", seed)
		}
	})
	src := rand.NewChaCha8(s)
	return src, rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
}

// quorum is the default certification threshold ceil(0.6·n) (CERT-1).
func quorum(n int) int { return (3*n + 4) / 5 }

type fixture struct {
	gk     GroupKey
	shares []SecretShare
	msg    []byte
}

func newFixture(tb testing.TB, n, t int, seed uint64) (fixture, *rand.Rand) {
	tb.Helper()
	src, rng := seeded(tb, seed)
	gk, shares, err := TrustedDealerForTesting(n, t, src)
	if err != nil {
		tb.Fatalf("dealer(n=%d, t=%d): %v", n, t, err)
	}
	return fixture{gk: gk, shares: shares, msg: []byte(fmt.Sprintf("subject %d/%d", n, t))}, rng
}

func (f fixture) partials(members []Index) []Partial {
	out := make([]Partial, len(members))
	for i, m := range members {
		out[i] = PartialSign(f.shares[m-1], testDST, f.msg)
	}
	return out
}

func (f fixture) all() []Index {
	out := make([]Index, f.gk.N)
	for i := range out {
		out[i] = Index(i + 1)
	}
	return out
}

// groupSecret reconstructs P(0) from the first T shares (test oracle).
func (f fixture) groupSecret(tb testing.TB) bls.SecretKey {
	tb.Helper()
	idx := f.all()[:f.gk.T]
	lambda, err := LagrangeAtZero(idx)
	if err != nil {
		tb.Fatal(err)
	}
	var s fr.Element
	for i, m := range idx {
		v := f.shares[m-1].Key.Scalar()
		v.Mul(&v, &lambda[i])
		s.Add(&s, &v)
	}
	sk, err := bls.SecretKeyFromScalar(s)
	if err != nil {
		tb.Fatal(err)
	}
	return sk
}

func randomSubset(rng *rand.Rand, n, k int) []Index {
	perm := rng.Perm(n)[:k]
	out := make([]Index, k)
	for i, p := range perm {
		out[i] = Index(p + 1)
	}
	return out
}

func TestDealerAndValidate(t *testing.T) {
	for _, c := range []struct{ n, t int }{{1, 1}, {3, 2}, {4, 3}, {5, 3}, {7, 5}, {10, 6}, {6, 6}, {5, 1}} {
		f, _ := newFixture(t, c.n, c.t, uint64(100*c.n+c.t))
		if err := f.gk.Validate(); err != nil {
			t.Fatalf("n=%d t=%d: dealer key fails Validate: %v", c.n, c.t, err)
		}
		if len(f.shares) != c.n {
			t.Fatalf("got %d shares", len(f.shares))
		}
		for i, s := range f.shares {
			if s.Index != Index(i+1) || s.Key.PublicKey() != f.gk.Shares[i] {
				t.Fatalf("share %d does not match its public share", i+1)
			}
		}
		if f.groupSecret(t).PublicKey() != f.gk.Public {
			t.Fatalf("n=%d t=%d: interpolated secret does not match the group key", c.n, c.t)
		}
	}
}

func TestValidateDetectsInconsistency(t *testing.T) {
	f, _ := newFixture(t, 7, 5, 1)
	src, _ := seeded(t, 2)
	stranger, _ := bls.GenerateKey(src)
	mutate := func(g func(*GroupKey)) GroupKey {
		gk := f.gk
		gk.Shares = slices.Clone(f.gk.Shares)
		g(&gk)
		return gk
	}
	cases := []struct {
		name string
		gk   GroupKey
		want error
	}{
		{"share replaced", mutate(func(g *GroupKey) { g.Shares[3] = stranger.PublicKey() }), ErrInconsistentGroup},
		{"shares swapped", mutate(func(g *GroupKey) { g.Shares[0], g.Shares[1] = g.Shares[1], g.Shares[0] }), ErrInconsistentGroup},
		{"group key replaced", mutate(func(g *GroupKey) { g.Public = stranger.PublicKey() }), ErrInconsistentGroup},
		{"threshold claimed lower", mutate(func(g *GroupKey) { g.T = 4 }), ErrInconsistentGroup},
		{"identity share", mutate(func(g *GroupKey) { g.Shares[2] = bls.PublicKey{} }), ErrInvalidGroupKey},
		{"identity group key", mutate(func(g *GroupKey) { g.Public = bls.PublicKey{} }), ErrInvalidGroupKey},
		{"share missing", mutate(func(g *GroupKey) { g.Shares = g.Shares[:6] }), ErrInvalidGroupKey},
		{"t = 0", mutate(func(g *GroupKey) { g.T = 0 }), ErrInvalidGroupKey},
		{"t > n", mutate(func(g *GroupKey) { g.T = 8 }), ErrInvalidGroupKey},
		{"n = 0", GroupKey{}, ErrInvalidGroupKey},
	}
	for _, c := range cases {
		if err := c.gk.Validate(); !errors.Is(err, c.want) {
			t.Errorf("%s: got %v, want %v", c.name, err, c.want)
		}
	}
	// A claimed threshold above the real degree cannot be detected from
	// public data (a degree-4 polynomial is also of degree < 6); Validate
	// documents this, and the test pins the behaviour.
	if err := mutate(func(g *GroupKey) { g.T = 6 }).Validate(); err != nil {
		t.Errorf("higher claimed threshold: %v", err)
	}
}

func TestDealerErrors(t *testing.T) {
	src, _ := seeded(t, 3)
	for _, c := range []struct{ n, t int }{{0, 0}, {0, 1}, {3, 0}, {3, 4}, {-1, 1}, {3, -1}} {
		if _, _, err := TrustedDealerForTesting(c.n, c.t, src); !errors.Is(err, ErrInvalidThreshold) {
			t.Errorf("n=%d t=%d: got %v", c.n, c.t, err)
		}
	}
	if _, _, err := TrustedDealerForTesting(3, 2, nil); err == nil {
		t.Errorf("nil random source accepted")
	}
}

// TestCombineRandomSubsets: any t of n partials, in any order, combine to
// the same group signature, which verifies under the group key and equals
// a signature by the (reconstructed) group secret.
func TestCombineRandomSubsets(t *testing.T) {
	type cfg struct{ n, t int }
	cfgs := []cfg{{10, 9}, {10, 10}} // t >= 8 takes the MSM path in bls
	for _, n := range []int{1, 2, 3, 4, 5, 7, 10} {
		cfgs = append(cfgs, cfg{n, quorum(n)})
	}
	for _, c := range cfgs {
		n, tq := c.n, c.t
		f, rng := newFixture(t, n, tq, uint64(10+100*n+tq))
		want := bls.Sign(f.groupSecret(t), testDST, f.msg)
		for trial := range 6 {
			k := tq + rng.IntN(n-tq+1) // t..n partials; only the first t are used
			ps := f.partials(randomSubset(rng, n, k))
			sig, err := Combine(tq, ps)
			if err != nil {
				t.Fatalf("n=%d t=%d trial %d: %v", n, tq, trial, err)
			}
			if err := bls.Verify(f.gk.Public, testDST, f.msg, sig); err != nil {
				t.Fatalf("n=%d t=%d trial %d: group signature rejected: %v", n, tq, trial, err)
			}
			if sig != want {
				t.Fatalf("n=%d t=%d trial %d: group signature differs from the secret's signature", n, tq, trial)
			}
			sigN, err := CombineN(n, tq, ps)
			if err != nil || sigN != sig {
				t.Fatalf("CombineN differs from Combine: %v", err)
			}
		}
	}
}

// TestTooFewShares: t-1 partials interpolate a different polynomial, so
// their "combination" is not the group signature.
func TestTooFewShares(t *testing.T) {
	for _, n := range []int{3, 5, 7, 10} {
		tq := quorum(n)
		f, rng := newFixture(t, n, tq, uint64(20+n))
		for range 3 {
			ps := f.partials(randomSubset(rng, n, tq-1))
			sig, err := Combine(tq-1, ps)
			if err != nil {
				t.Fatal(err)
			}
			if err := bls.Verify(f.gk.Public, testDST, f.msg, sig); !errors.Is(err, bls.ErrInvalidSignature) {
				t.Fatalf("n=%d: %d partials verified as the group signature (err %v)", n, tq-1, err)
			}
			if _, err := Combine(tq, ps); !errors.Is(err, ErrTooFewPartials) {
				t.Fatalf("n=%d: got %v, want ErrTooFewPartials", n, err)
			}
		}
	}
}

func TestCombineRejects(t *testing.T) {
	f, _ := newFixture(t, 7, 5, 30)
	ps := f.partials(f.all())
	dup := slices.Clone(ps[:5])
	dup[3] = ps[1]
	dupLate := slices.Clone(ps)
	dupLate[6] = ps[2] // a duplicate beyond the first t is still refused
	zero := slices.Clone(ps[:5])
	zero[2].Index = 0
	far := slices.Clone(ps[:5])
	far[4].Index = 8
	ident := slices.Clone(ps[:5])
	ident[1].Sig = bls.Signature{}

	type check struct {
		name     string
		err      error
		want     error
		index    Index
		position int
	}
	_, e1 := Combine(5, dup)
	_, e2 := Combine(5, dupLate)
	_, e3 := Combine(5, zero)
	_, e4 := CombineN(7, 5, far)
	_, e5 := Combine(5, ident)
	checks := []check{
		{"duplicate", e1, ErrDuplicateIndex, 2, 3},
		{"duplicate after t", e2, ErrDuplicateIndex, 3, 6},
		{"zero index", e3, ErrZeroIndex, 0, 2},
		{"index above n", e4, ErrIndexOutOfRange, 8, 4},
		{"identity partial", e5, ErrInvalidPartial, 2, 1},
	}
	for _, c := range checks {
		var ie *IndexError
		if !errors.Is(c.err, c.want) || !errors.As(c.err, &ie) {
			t.Errorf("%s: got %v, want %v in an *IndexError", c.name, c.err, c.want)
			continue
		}
		if ie.Index != c.index || ie.Position != c.position {
			t.Errorf("%s: names index %d at %d, want %d at %d", c.name, ie.Index, ie.Position, c.index, c.position)
		}
	}
	// Without n, Combine cannot know the range: index 8 is fine there.
	if _, err := Combine(5, far); err != nil {
		t.Errorf("Combine with index 8 and no n: %v", err)
	}
	var ce *CountError
	if _, err := Combine(5, ps[:4]); !errors.Is(err, ErrTooFewPartials) || !errors.As(err, &ce) || ce.Need != 5 || ce.Have != 4 {
		t.Errorf("too few: got %v", err)
	}
	for _, tt := range []int{0, -1} {
		if _, err := Combine(tt, ps); !errors.Is(err, ErrInvalidThreshold) {
			t.Errorf("t=%d: got %v", tt, err)
		}
	}
	if _, err := CombineN(4, 5, ps); !errors.Is(err, ErrInvalidThreshold) {
		t.Errorf("t > n: got %v", err)
	}
	if _, err := Combine(1, nil); !errors.Is(err, ErrTooFewPartials) {
		t.Errorf("no partials: got %v", err)
	}
}

func TestLagrangeAtZero(t *testing.T) {
	_, rng := seeded(t, 40)
	for trial := range 20 {
		k := 1 + rng.IntN(8)
		idx := randomSubset(rng, 50, k)
		coeffs := make([]fr.Element, k) // degree k-1
		for i := range coeffs {
			coeffs[i].SetUint64(rng.Uint64())
		}
		lambda, err := LagrangeAtZero(idx)
		if err != nil {
			t.Fatal(err)
		}
		var sum fr.Element
		for i, x := range idx {
			var xe fr.Element
			xe.SetUint64(uint64(x))
			y := evalPoly(coeffs, &xe)
			y.Mul(&y, &lambda[i])
			sum.Add(&sum, &y)
		}
		if !sum.Equal(&coeffs[0]) {
			t.Fatalf("trial %d: Σλ_i P(x_i) != P(0) for indices %v", trial, idx)
		}
		naive := naiveLagrange(idx)
		for i := range naive {
			if !naive[i].Equal(&lambda[i]) {
				t.Fatalf("trial %d: differs from the naive formula at %d", trial, i)
			}
		}
	}
	for name, c := range map[string]struct {
		idx  []Index
		want error
	}{
		"zero":      {[]Index{1, 0, 3}, ErrZeroIndex},
		"duplicate": {[]Index{4, 2, 4}, ErrDuplicateIndex},
		"empty":     {nil, ErrTooFewPartials},
	} {
		if _, err := LagrangeAtZero(c.idx); !errors.Is(err, c.want) {
			t.Errorf("%s: got %v, want %v", name, err, c.want)
		}
	}
}

// naiveLagrange is the textbook formula with one inversion per factor; it is
// the oracle for LagrangeAtZero and the baseline in BenchmarkCombine.
func naiveLagrange(idx []Index) []fr.Element {
	out := make([]fr.Element, len(idx))
	for i := range idx {
		out[i].SetOne()
		for j := range idx {
			if i == j {
				continue
			}
			var xi, xj, d fr.Element
			xi.SetUint64(uint64(idx[i]))
			xj.SetUint64(uint64(idx[j]))
			d.Sub(&xj, &xi)
			d.Inverse(&d)
			d.Mul(&d, &xj)
			out[i].Mul(&out[i], &d)
		}
	}
	return out
}

func TestVerifyPartial(t *testing.T) {
	f, _ := newFixture(t, 5, 3, 50)
	ps := f.partials(f.all())
	for _, p := range ps {
		if err := VerifyPartial(f.gk, testDST, f.msg, p); err != nil {
			t.Fatalf("valid partial %d rejected: %v", p.Index, err)
		}
	}
	wrong := ps[0]
	wrong.Index = 2
	var ie *IndexError
	if err := VerifyPartial(f.gk, testDST, f.msg, wrong); !errors.Is(err, ErrInvalidPartial) ||
		!errors.Is(err, bls.ErrInvalidSignature) || !errors.As(err, &ie) || ie.Index != 2 {
		t.Fatalf("partial under the wrong index: got %v", err)
	}
	if err := VerifyPartial(f.gk, testDST, []byte("other"), ps[0]); !errors.Is(err, ErrInvalidPartial) {
		t.Fatalf("other message: got %v", err)
	}
	for _, idx := range []Index{0, 6} {
		p := ps[0]
		p.Index = idx
		if err := VerifyPartial(f.gk, testDST, f.msg, p); !errors.Is(err, ErrZeroIndex) && !errors.Is(err, ErrIndexOutOfRange) {
			t.Fatalf("index %d: got %v", idx, err)
		}
	}
	if _, err := (GroupKey{N: 2, T: 1}).ShareOf(1); !errors.Is(err, ErrInvalidGroupKey) {
		t.Fatalf("malformed group key: got %v", err)
	}
}
