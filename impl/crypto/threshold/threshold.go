// Package threshold implements t-of-n BLS threshold signatures over the
// bls package (min-sig BLS12-381) for fhbft's harvester certification
// (spec/certification.md, rules CERT-9, CERT-10, CERT-17 and CERT-18).
//
// A group secret s is Shamir-shared with a polynomial P of degree t-1,
// P(0) = s; member i holds s_i = P(i) and publishes s_i·g2. A member's
// partial signature on m is s_i·H(m); any t partials with distinct indices
// combine by Lagrange interpolation at 0 into s·H(m), the group signature,
// which verifies with one pairing check against the group public key.
//
// Combination is optimistic (CERT-17): combine the first t partials and
// verify the result once; only when that fails are the bad partials located,
// by random-weight batch verification and bisection. All functions here are
// deterministic in their inputs: random weights are derived by hashing the
// inputs, never drawn from a random source.
//
// Key generation here is by a trusted dealer and exists only for tests and
// simulation (CERT-18); production keys come from the dealerless DKG.
package threshold

import (
	"errors"
	"fmt"
	"math"

	"github.com/consensys/gnark-crypto/ecc/bls12-381/fr"

	"github.com/fhbft/fhbft/impl/crypto/bls"
)

// Index is a member's index in the roster, 1..n (CERT-1). It is also the
// evaluation point of the member's share; 0 would be the secret itself.
type Index uint32

// SecretShare is member Index's share P(Index) of the group secret.
type SecretShare struct {
	Index Index
	Key   bls.SecretKey
}

// GroupKey is the public side of a sharing: the group key P(0)·g2 and the
// public share P(i)·g2 of every member.
type GroupKey struct {
	N, T   int
	Public bls.PublicKey
	// Shares[i-1] is member i's public share.
	Shares []bls.PublicKey
}

// Partial is member Index's signature share on a message.
type Partial struct {
	Index Index
	Sig   bls.Signature
}

// Errors. Those about a particular partial or index come wrapped in an
// *IndexError naming it; counts come wrapped in a *CountError.
var (
	ErrZeroIndex         = errors.New("threshold: index 0 is not a member index")
	ErrDuplicateIndex    = errors.New("threshold: duplicate index")
	ErrIndexOutOfRange   = errors.New("threshold: index above n")
	ErrTooFewPartials    = errors.New("threshold: too few partials")
	ErrTooFewValid       = errors.New("threshold: too few valid partials")
	ErrInvalidPartial    = errors.New("threshold: invalid partial signature")
	ErrInvalidThreshold  = errors.New("threshold: invalid n or t")
	ErrInvalidGroupKey   = errors.New("threshold: invalid group key")
	ErrInconsistentGroup = errors.New("threshold: public shares are not consistent with the group key")
)

// IndexError names the offending index and its position in the input.
type IndexError struct {
	Index    Index
	Position int // position in the input slice
	Err      error
}

func (e *IndexError) Error() string {
	return fmt.Sprintf("%v: index %d (input position %d)", e.Err, e.Index, e.Position)
}

// Unwrap exposes the sentinel to errors.Is.
func (e *IndexError) Unwrap() error { return e.Err }

// CountError reports a shortfall: Need partials were required, Have were
// given (ErrTooFewPartials) or verified (ErrTooFewValid, with Bad listing
// the indices of invalid partials).
type CountError struct {
	Need, Have int
	Bad        []Index
	Err        error
}

func (e *CountError) Error() string {
	if len(e.Bad) > 0 {
		return fmt.Sprintf("%v: need %d, have %d (invalid: %v)", e.Err, e.Need, e.Have, e.Bad)
	}
	return fmt.Sprintf("%v: need %d, have %d", e.Err, e.Need, e.Have)
}

// Unwrap exposes the sentinel to errors.Is.
func (e *CountError) Unwrap() error { return e.Err }

// checkNT validates a threshold configuration 1 <= t <= n < 2^32.
func checkNT(n, t int) error {
	if n < 1 || uint64(n) > math.MaxUint32 {
		return fmt.Errorf("%w: n = %d", ErrInvalidThreshold, n)
	}
	if t < 1 || t > n {
		return fmt.Errorf("%w: t = %d with n = %d", ErrInvalidThreshold, t, n)
	}
	return nil
}

// checkShape is the cheap structural part of Validate, run on every use.
func (gk GroupKey) checkShape() error {
	if err := checkNT(gk.N, gk.T); err != nil {
		return fmt.Errorf("%w: %v", ErrInvalidGroupKey, err)
	}
	if len(gk.Shares) != gk.N {
		return fmt.Errorf("%w: %d public shares for n = %d", ErrInvalidGroupKey, len(gk.Shares), gk.N)
	}
	return nil
}

// ShareOf returns member i's public share.
func (gk GroupKey) ShareOf(i Index) (bls.PublicKey, error) {
	if err := gk.checkShape(); err != nil {
		return bls.PublicKey{}, err
	}
	if i == 0 {
		return bls.PublicKey{}, &IndexError{Index: i, Err: ErrZeroIndex}
	}
	if uint64(i) > uint64(gk.N) {
		return bls.PublicKey{}, &IndexError{Index: i, Err: fmt.Errorf("%w (n = %d)", ErrIndexOutOfRange, gk.N)}
	}
	return gk.Shares[i-1], nil
}

// PartialSign signs msg under dst with a member's share.
// spec: CERT-3, tla: HarvesterCertification!CastVote. Like
// bls.Sign it panics on an invalid dst, which is a programming error.
func PartialSign(share SecretShare, dst, msg []byte) Partial {
	return Partial{Index: share.Index, Sig: bls.Sign(share.Key, dst, msg)}
}

// VerifyPartial checks p against the public share of member p.Index
// (spec: CERT-6, CERT-17).
func VerifyPartial(gk GroupKey, dst, msg []byte, p Partial) error {
	pk, err := gk.ShareOf(p.Index)
	if err != nil {
		return err
	}
	if err := bls.Verify(pk, dst, msg, p.Sig); err != nil {
		return &IndexError{Index: p.Index, Err: fmt.Errorf("%w: %w", ErrInvalidPartial, err)}
	}
	return nil
}

// LagrangeAtZero returns λ_i = Π_{j≠i} x_j / (x_j - x_i) for the given
// distinct, non-zero indices, so that Σ λ_i P(x_i) = P(0) for every P of
// degree < len(indices).
//
// gnark's field inversion maps 0 to 0 silently, so zero and duplicate
// indices (which would make a denominator 0) are rejected explicitly. It
// uses one field inversion in total (batch inversion of the denominators).
func LagrangeAtZero(indices []Index) ([]fr.Element, error) {
	if len(indices) == 0 {
		return nil, &CountError{Need: 1, Have: 0, Err: ErrTooFewPartials}
	}
	if err := checkIndexList(indices, 0); err != nil {
		return nil, err
	}
	k := len(indices)
	xs := make([]fr.Element, k)
	for i, idx := range indices {
		xs[i].SetUint64(uint64(idx))
	}
	// λ_i = (Π_j x_j) / (x_i · Π_{j≠i} (x_j - x_i)); the denominators are
	// non-zero because indices are distinct, non-zero and below r.
	var num fr.Element
	num.SetOne()
	for i := range xs {
		num.Mul(&num, &xs[i])
	}
	den := make([]fr.Element, k)
	for i := range xs {
		d := xs[i]
		for j := range xs {
			if j == i {
				continue
			}
			var diff fr.Element
			diff.Sub(&xs[j], &xs[i])
			d.Mul(&d, &diff)
		}
		den[i] = d
	}
	inv := fr.BatchInvert(den)
	for i := range inv {
		inv[i].Mul(&inv[i], &num)
	}
	return inv, nil
}

// checkIndexList rejects zero, duplicate and (if n > 0) out-of-range
// indices, naming the first offender in input order.
func checkIndexList(indices []Index, n int) error {
	seen := make(map[Index]int, len(indices))
	for pos, idx := range indices {
		if idx == 0 {
			return &IndexError{Index: idx, Position: pos, Err: ErrZeroIndex}
		}
		if n > 0 && uint64(idx) > uint64(n) {
			return &IndexError{Index: idx, Position: pos, Err: fmt.Errorf("%w (n = %d)", ErrIndexOutOfRange, n)}
		}
		if first, dup := seen[idx]; dup {
			return &IndexError{Index: idx, Position: pos, Err: fmt.Errorf("%w (first at position %d)", ErrDuplicateIndex, first)}
		}
		seen[idx] = pos
	}
	return nil
}

// checkPartials applies checkIndexList to partials and rejects identity
// signatures (a zero-value Sig: decoded signatures are never the identity).
func checkPartials(partials []Partial, n int) error {
	idx := make([]Index, len(partials))
	for i, p := range partials {
		idx[i] = p.Index
	}
	if err := checkIndexList(idx, n); err != nil {
		return err
	}
	for pos, p := range partials {
		if p.Sig.IsInfinity() {
			return &IndexError{Index: p.Index, Position: pos, Err: fmt.Errorf("%w: identity signature", ErrInvalidPartial)}
		}
	}
	return nil
}

// Combine interpolates the group signature from the first t partials, in
// the given order. All given partials must have distinct non-zero indices
// and len(partials) >= t. The result is only a valid group signature if
// those t partials are valid: verify it, or use CombineVerified. Below 8
// partials the combination uses per-point scalar multiplication, above a
// G1 multi-exponentiation (see bls.LinearCombinationSignatures).
//
// spec: CERT-9, CERT-17, tla: HarvesterCertification!FormCertificate
func Combine(t int, partials []Partial) (bls.Signature, error) {
	if t < 1 || uint64(t) > math.MaxUint32 {
		return bls.Signature{}, fmt.Errorf("%w: t = %d", ErrInvalidThreshold, t)
	}
	if err := checkPartials(partials, 0); err != nil {
		return bls.Signature{}, err
	}
	return combineChecked(t, partials)
}

// CombineN is Combine for a roster of n members: indices above n are
// rejected with ErrIndexOutOfRange.
func CombineN(n, t int, partials []Partial) (bls.Signature, error) {
	if err := checkNT(n, t); err != nil {
		return bls.Signature{}, err
	}
	if err := checkPartials(partials, n); err != nil {
		return bls.Signature{}, err
	}
	return combineChecked(t, partials)
}

// combineChecked: indices already checked; Σ λ_i σ_i over the first t.
func combineChecked(t int, partials []Partial) (bls.Signature, error) {
	if len(partials) < t {
		return bls.Signature{}, &CountError{Need: t, Have: len(partials), Err: ErrTooFewPartials}
	}
	use := partials[:t]
	idx := make([]Index, t)
	sigs := make([]bls.Signature, t)
	for i, p := range use {
		idx[i] = p.Index
		sigs[i] = p.Sig
	}
	lambda, err := LagrangeAtZero(idx)
	if err != nil {
		return bls.Signature{}, err
	}
	return bls.LinearCombinationSignatures(sigs, lambda)
}

// CombineVerified combines and verifies optimistically (spec: CERT-9,
// CERT-17): it combines the first gk.T partials and verifies the result
// once against gk.Public. Only if that fails does it locate the invalid
// partials among all given ones (FindInvalid), drop them, and combine the
// first gk.T valid ones. It returns the group signature and the indices of
// invalid partials found (nil on the fast path), or an error: index errors
// as for CombineN, a *CountError wrapping ErrTooFewPartials or
// ErrTooFewValid (with bad), or ErrInconsistentGroup if valid partials do
// not combine to a valid signature (a group key that fails Validate).
func CombineVerified(gk GroupKey, dst, msg []byte, partials []Partial) (sig bls.Signature, bad []Index, err error) {
	if err := gk.checkShape(); err != nil {
		return bls.Signature{}, nil, err
	}
	h, err := bls.HashMessage(dst, msg)
	if err != nil {
		return bls.Signature{}, nil, err
	}
	if err := checkPartials(partials, gk.N); err != nil {
		return bls.Signature{}, nil, err
	}
	if len(partials) < gk.T {
		return bls.Signature{}, nil, &CountError{Need: gk.T, Have: len(partials), Err: ErrTooFewPartials}
	}
	sig, err = combineChecked(gk.T, partials)
	if err == nil && bls.VerifyHashed(gk.Public, h, sig) == nil {
		return sig, nil, nil
	}

	entries := findInvalid(gk, h, dst, msg, partials)
	valid := make([]Partial, 0, len(partials))
	j := 0
	for pos, p := range partials {
		if j < len(entries) && entries[j].pos == pos {
			j++
			continue
		}
		valid = append(valid, p)
	}
	badIdx := badIndices(entries)
	if len(valid) < gk.T {
		return bls.Signature{}, badIdx, &CountError{Need: gk.T, Have: len(valid), Bad: badIdx, Err: ErrTooFewValid}
	}
	sig, err = combineChecked(gk.T, valid)
	if err != nil {
		return bls.Signature{}, badIdx, err
	}
	if err := bls.VerifyHashed(gk.Public, h, sig); err != nil {
		return bls.Signature{}, badIdx, fmt.Errorf("%w: %d verified partials combine to an invalid signature", ErrInconsistentGroup, gk.T)
	}
	return sig, badIdx, nil
}
