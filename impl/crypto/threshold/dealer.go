package threshold

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/consensys/gnark-crypto/ecc/bls12-381/fr"

	"github.com/fhbft/fhbft/impl/crypto/bls"
)

// TrustedDealerForTesting creates a t-of-n sharing of a fresh random secret:
// a random polynomial P of degree t-1 with P(0) = s, member i gets P(i).
//
// TEST AND SIMULATION HELPER ONLY (spec: CERT-18). The dealer sees the
// group secret and every share, so whoever runs it can sign alone. Real
// deployments must use the dealerless distributed key generation (a later
// issue); nothing outside tests and the simulator may call this.
func TrustedDealerForTesting(n, t int, rand io.Reader) (GroupKey, []SecretShare, error) {
	if err := checkNT(n, t); err != nil {
		return GroupKey{}, nil, err
	}
	if rand == nil {
		return GroupKey{}, nil, errors.New("threshold: TrustedDealerForTesting: nil random source")
	}
	// A zero secret or share has probability about n·2^-255; retry a few
	// times rather than hand out an identity key.
	for range 4 {
		coeffs := make([]fr.Element, t)
		for i := range coeffs {
			sk, err := bls.GenerateKey(rand) // uniform non-zero scalar
			if err != nil {
				return GroupKey{}, nil, fmt.Errorf("threshold: TrustedDealerForTesting: %w", err)
			}
			coeffs[i] = sk.Scalar()
		}
		secret, err := bls.SecretKeyFromScalar(coeffs[0])
		if err != nil {
			continue
		}
		shares := make([]SecretShare, n)
		ok := true
		for i := range n {
			var x fr.Element
			x.SetUint64(uint64(i + 1))
			key, err := bls.SecretKeyFromScalar(evalPoly(coeffs, &x))
			if err != nil {
				ok = false
				break
			}
			shares[i] = SecretShare{Index: Index(i + 1), Key: key}
		}
		if !ok {
			continue
		}
		gk := GroupKey{N: n, T: t, Public: secret.PublicKey(), Shares: make([]bls.PublicKey, n)}
		for i := range shares {
			gk.Shares[i] = shares[i].Key.PublicKey()
		}
		return gk, shares, nil
	}
	return GroupKey{}, nil, errors.New("threshold: TrustedDealerForTesting: random source keeps producing zero shares")
}

// evalPoly evaluates Σ c_k x^k by Horner's rule.
func evalPoly(coeffs []fr.Element, x *fr.Element) fr.Element {
	var acc fr.Element
	for k := len(coeffs) - 1; k >= 0; k-- {
		acc.Mul(&acc, x)
		acc.Add(&acc, &coeffs[k])
	}
	return acc
}

// validateDomain separates the consistency-check coefficients.
const validateDomain = "fhbft/threshold/group-key-consistency/v1"

// Validate checks that gk is well formed and consistent: 1 <= T <= N,
// one public share per member, no identity points, and the points
// (0, Public), (1, Shares[0]), ..., (N, Shares[N-1]) lie on one polynomial
// of degree at most T-1 "in the exponent". Consistency is what makes any T
// valid partials combine into a signature valid under Public.
//
// The consistency test is one G2 multi-exponentiation of N+1 points
// instead of N-T+1 interpolations: the evaluations (y_0..y_N) at x = 0..N
// of a polynomial of degree < T are exactly the vectors orthogonal to
// (v_k f(x_k))_k for every f of degree <= N-T, where
// v_k = 1/Π_{j≠k}(x_k - x_j) (the dual of a Reed-Solomon code is a
// generalised Reed-Solomon code). We check Σ v_k f(x_k)·Y_k = 0 for one f
// whose coefficients are hashed from gk; an inconsistent key passes with
// probability 1/r for a random f, and the key is fixed before f is derived.
//
// Validate cannot see a lower degree: a key dealt with threshold t' < T
// also passes (its polynomial has degree < T too), and then t' members can
// sign. That the degree is exactly T-1 must come from how the key was made
// (the dealer here, or the commitments of a DKG).
//
// Validate is not cheap (milliseconds for N = 100); run it once when a
// key is loaded, not per message.
func (gk GroupKey) Validate() error {
	if err := gk.checkShape(); err != nil {
		return err
	}
	if gk.Public.IsInfinity() {
		return fmt.Errorf("%w: group public key is the identity", ErrInvalidGroupKey)
	}
	for i, pk := range gk.Shares {
		if pk.IsInfinity() {
			return &IndexError{Index: Index(i + 1), Position: i, Err: fmt.Errorf("%w: public share is the identity", ErrInvalidGroupKey)}
		}
	}
	n := gk.N

	// Coefficients of f (degree N-T) from a hash of the whole key.
	h := sha256.New()
	h.Write([]byte(validateDomain))
	var u [8]byte
	binary.BigEndian.PutUint64(u[:], uint64(gk.N))
	h.Write(u[:])
	binary.BigEndian.PutUint64(u[:], uint64(gk.T))
	h.Write(u[:])
	pub := gk.Public.Bytes()
	h.Write(pub[:])
	for _, pk := range gk.Shares {
		b := pk.Bytes()
		h.Write(b[:])
	}
	seed := h.Sum(nil)
	f := make([]fr.Element, n-gk.T+1)
	for k := range f {
		// 64 bytes reduced mod r: negligible bias.
		var in [sha256.Size + 8]byte
		copy(in[:], seed)
		var wide [64]byte
		binary.BigEndian.PutUint64(in[sha256.Size:], uint64(2*k))
		a := sha256.Sum256(in[:])
		binary.BigEndian.PutUint64(in[sha256.Size:], uint64(2*k+1))
		b := sha256.Sum256(in[:])
		copy(wide[:32], a[:])
		copy(wide[32:], b[:])
		f[k].SetBytes(wide[:])
	}

	// v_k = 1/Π_{j≠k}(k - j) = (-1)^(N-k) / (k! (N-k)!) for x_k = k, k = 0..N.
	fact := make([]fr.Element, n+1)
	fact[0].SetOne()
	for k := 1; k <= n; k++ {
		var x fr.Element
		x.SetUint64(uint64(k))
		fact[k].Mul(&fact[k-1], &x)
	}
	den := make([]fr.Element, n+1)
	for k := 0; k <= n; k++ {
		den[k].Mul(&fact[k], &fact[n-k])
		if (n-k)%2 == 1 {
			den[k].Neg(&den[k])
		}
	}
	v := fr.BatchInvert(den)

	pts := make([]bls.PublicKey, n+1)
	ws := make([]fr.Element, n+1)
	pts[0] = gk.Public
	copy(pts[1:], gk.Shares)
	for k := 0; k <= n; k++ {
		var x fr.Element
		x.SetUint64(uint64(k))
		fx := evalPoly(f, &x)
		ws[k].Mul(&v[k], &fx)
	}
	sum, err := bls.LinearCombinationPublicKeys(pts, ws)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrInvalidGroupKey, err)
	}
	if !sum.IsInfinity() {
		return fmt.Errorf("%w: shares do not lie on a polynomial of degree < %d through the group key", ErrInconsistentGroup, gk.T)
	}
	return nil
}
