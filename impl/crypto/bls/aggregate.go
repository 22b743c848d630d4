package bls

import (
	"fmt"
	"math/big"

	"github.com/consensys/gnark-crypto/ecc"
	bls12381 "github.com/consensys/gnark-crypto/ecc/bls12-381"
	"github.com/consensys/gnark-crypto/ecc/bls12-381/fr"
)

// AggregateSignatures returns the sum of sigs. Identity inputs (zero
// values) are refused because they point at a caller bug: decoded
// signatures are never the identity.
func AggregateSignatures(sigs []Signature) (Signature, error) {
	if len(sigs) == 0 {
		return Signature{}, fmt.Errorf("%w: no signatures", ErrEmpty)
	}
	var acc bls12381.G1Jac
	for i := range sigs {
		if sigs[i].p.IsInfinity() {
			return Signature{}, fmt.Errorf("%w: identity signature at position %d", ErrInvalidSignature, i)
		}
		var t bls12381.G1Jac
		t.FromAffine(&sigs[i].p)
		if i == 0 {
			acc = t
		} else {
			acc.AddAssign(&t)
		}
	}
	var out bls12381.G1Affine
	out.FromJacobian(&acc)
	return Signature{p: out}, nil
}

// AggregatePublicKeys returns the sum of pks.
//
// Rogue-key attack: an adversary who publishes pk' = x·g2 - Σ pk_honest can
// make the aggregate key equal x·g2 and forge "aggregate" signatures alone.
// Callers MUST have verified a proof of possession (VerifyPossession) for
// every key before aggregating it (spec: CERT-16).
func AggregatePublicKeys(pks []PublicKey) (PublicKey, error) {
	if len(pks) == 0 {
		return PublicKey{}, fmt.Errorf("%w: no public keys", ErrEmpty)
	}
	var acc bls12381.G2Jac
	for i := range pks {
		if pks[i].p.IsInfinity() {
			return PublicKey{}, fmt.Errorf("%w: identity public key at position %d", ErrInvalidPublicKey, i)
		}
		var t bls12381.G2Jac
		t.FromAffine(&pks[i].p)
		if i == 0 {
			acc = t
		} else {
			acc.AddAssign(&t)
		}
	}
	var out bls12381.G2Affine
	out.FromJacobian(&acc)
	return PublicKey{p: out}, nil
}

// FastAggregateVerify checks an aggregate signature by several keys on ONE
// message: it aggregates the keys and runs one pairing check.
//
// Callers MUST have verified a proof of possession for every key in pks
// (VerifyPossession); without it the rogue-key attack described at
// AggregatePublicKeys breaks this check (spec: CERT-16).
func FastAggregateVerify(pks []PublicKey, dst, msg []byte, sig Signature) error {
	apk, err := AggregatePublicKeys(pks)
	if err != nil {
		return err
	}
	return Verify(apk, dst, msg, sig)
}

// msmConfig: gnark's MSM spreads work over goroutines internally; the result
// does not depend on scheduling, so this does not affect determinism.
var msmConfig = ecc.MultiExpConfig{}

// msmMinPoints: below this many points, one GLV scalar multiplication per
// point beats gnark's bucket MSM, whose fixed cost (buckets, goroutines)
// dominates tiny inputs; measured crossover is between 5 and 15 points.
const msmMinPoints = 8

// LinearCombinationSignatures returns Σ coeffs[i]·sigs[i] using a G1
// multi-exponentiation (per-point multiplication below msmMinPoints). It is the primitive behind threshold combination
// (Lagrange coefficients) and batch verification (random weights); the
// result stays in the subgroup but may be the identity.
func LinearCombinationSignatures(sigs []Signature, coeffs []fr.Element) (Signature, error) {
	if len(sigs) == 0 {
		return Signature{}, fmt.Errorf("%w: no signatures", ErrEmpty)
	}
	if len(sigs) != len(coeffs) {
		return Signature{}, fmt.Errorf("%w: %d signatures, %d coefficients", ErrLengthMismatch, len(sigs), len(coeffs))
	}
	var out bls12381.G1Affine
	if len(sigs) < msmMinPoints {
		var acc bls12381.G1Jac
		for i := range sigs {
			var k big.Int
			coeffs[i].BigInt(&k)
			var t bls12381.G1Jac
			t.FromAffine(&sigs[i].p)
			t.ScalarMultiplication(&t, &k)
			acc.AddAssign(&t)
		}
		out.FromJacobian(&acc)
		return Signature{p: out}, nil
	}
	pts := make([]bls12381.G1Affine, len(sigs))
	for i := range sigs {
		pts[i] = sigs[i].p
	}
	if _, err := out.MultiExp(pts, coeffs, msmConfig); err != nil {
		return Signature{}, fmt.Errorf("bls: multi-exponentiation: %w", err)
	}
	return Signature{p: out}, nil
}

// LinearCombinationPublicKeys returns Σ coeffs[i]·pks[i] using a G2
// multi-exponentiation (see LinearCombinationSignatures).
func LinearCombinationPublicKeys(pks []PublicKey, coeffs []fr.Element) (PublicKey, error) {
	if len(pks) == 0 {
		return PublicKey{}, fmt.Errorf("%w: no public keys", ErrEmpty)
	}
	if len(pks) != len(coeffs) {
		return PublicKey{}, fmt.Errorf("%w: %d public keys, %d coefficients", ErrLengthMismatch, len(pks), len(coeffs))
	}
	var out bls12381.G2Affine
	if len(pks) < msmMinPoints {
		var acc bls12381.G2Jac
		for i := range pks {
			var k big.Int
			coeffs[i].BigInt(&k)
			var t bls12381.G2Jac
			t.FromAffine(&pks[i].p)
			t.ScalarMultiplication(&t, &k)
			acc.AddAssign(&t)
		}
		out.FromJacobian(&acc)
		return PublicKey{p: out}, nil
	}
	pts := make([]bls12381.G2Affine, len(pks))
	for i := range pks {
		pts[i] = pks[i].p
	}
	if _, err := out.MultiExp(pts, coeffs, msmConfig); err != nil {
		return PublicKey{}, fmt.Errorf("bls: multi-exponentiation: %w", err)
	}
	return PublicKey{p: out}, nil
}
