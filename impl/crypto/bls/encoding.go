package bls

import (
	"errors"
	"fmt"

	bls12381 "github.com/consensys/gnark-crypto/ecc/bls12-381"
	"github.com/consensys/gnark-crypto/ecc/bls12-381/fp"
)

// Point encoding (spec: CERT-14, CERT-19).
//
// The format is the ZCash/IETF compressed encoding used by gnark-crypto's
// Bytes(): the big-endian x coordinate (for G2: x.c1 then x.c0) with the
// three most significant bits of the first byte as flags:
//
//	bit 7 (0x80) compression: must be set
//	bit 6 (0x40) infinity:    encoding of the identity, all other bits zero
//	bit 5 (0x20) sign:        y is the lexicographically larger root
//
// The decoders below check every condition themselves, in a fixed order, so
// that each rejection maps to exactly one sentinel error and none depends on
// what the library happens to accept silently.

// Kinds of encoded values named in DecodeError.Kind.
const (
	KindPublicKey = "public key"
	KindSignature = "signature"
	KindSecretKey = "secret key"
)

// Sentinel reasons wrapped by DecodeError. Test with errors.Is.
var (
	// ErrLength: the input does not have the exact encoded size.
	ErrLength = errors.New("wrong length")
	// ErrNonCanonical: bad flag bits, or a coordinate (scalar) not below the modulus.
	ErrNonCanonical = errors.New("non-canonical encoding")
	// ErrNotOnCurve: no curve point has this x coordinate.
	ErrNotOnCurve = errors.New("point not on curve")
	// ErrNotInSubgroup: the point is on the curve but outside the order-r subgroup.
	ErrNotInSubgroup = errors.New("point not in the prime-order subgroup")
	// ErrInfinity: the canonical encoding of the identity, which is never a valid key or signature.
	ErrInfinity = errors.New("point at infinity")
)

// DecodeError says which kind of value failed to decode and why. Reason
// wraps one of the sentinels above (or ErrInvalidSecretKey).
type DecodeError struct {
	Kind   string // KindPublicKey, KindSignature or KindSecretKey
	Reason error
}

func (e *DecodeError) Error() string { return "bls: invalid " + e.Kind + ": " + e.Reason.Error() }

// Unwrap exposes Reason to errors.Is / errors.As.
func (e *DecodeError) Unwrap() error { return e.Reason }

func decodeErr(kind string, reason error) error { return &DecodeError{Kind: kind, Reason: reason} }

const (
	flagMask       = 0xE0
	flagCompressed = 0x80
	flagInfinity   = 0x40
	flagSign       = 0x20
)

// checkFlags validates the flag bits of a compressed encoding. It returns
// (true, nil) for the exact identity encoding so the caller can report
// ErrInfinity, (false, nil) for a finite point, and ErrNonCanonical otherwise.
func checkFlags(b []byte) (infinity bool, sign bool, err error) {
	f := b[0] & flagMask
	if f&flagCompressed == 0 {
		return false, false, fmt.Errorf("%w: compression flag not set (flags %#02x)", ErrNonCanonical, f)
	}
	if f&flagInfinity != 0 {
		if f&flagSign != 0 {
			return false, false, fmt.Errorf("%w: infinity flag with sign flag set", ErrNonCanonical)
		}
		if b[0]&^flagMask != 0 {
			return false, false, fmt.Errorf("%w: infinity flag with non-zero coordinate bits", ErrNonCanonical)
		}
		for _, c := range b[1:] {
			if c != 0 {
				return false, false, fmt.Errorf("%w: infinity flag with non-zero coordinate bits", ErrNonCanonical)
			}
		}
		return true, false, nil
	}
	return false, f&flagSign != 0, nil
}

// readFp reads a canonical base-field element (must be < p).
func readFp(b []byte, clearFlags bool) (fp.Element, error) {
	var buf [fp.Bytes]byte
	copy(buf[:], b)
	if clearFlags {
		buf[0] &^= flagMask
	}
	e, err := fp.BigEndian.Element(&buf)
	if err != nil {
		return fp.Element{}, err
	}
	return e, nil
}

// Bytes returns the 48-byte compressed encoding. The identity (zero value)
// encodes as 0xc0 followed by zeros, which SignatureFromBytes rejects.
func (s Signature) Bytes() [SignatureSize]byte { return s.p.Bytes() }

// Bytes returns the 96-byte compressed encoding. The identity (zero value)
// encodes as 0xc0 followed by zeros, which PublicKeyFromBytes rejects.
func (pk PublicKey) Bytes() [PublicKeySize]byte { return pk.p.Bytes() }

// SignatureFromBytes (spec: CERT-14, CERT-19) decodes a compressed G1 point and checks it is a
// canonical, finite point of the prime-order subgroup. Errors are
// *DecodeError{Kind: "signature"} wrapping ErrLength, ErrNonCanonical,
// ErrNotOnCurve, ErrNotInSubgroup or ErrInfinity.
func SignatureFromBytes(b []byte) (Signature, error) {
	p, err := decodeG1(b)
	if err != nil {
		return Signature{}, decodeErr(KindSignature, err)
	}
	return Signature{p: p}, nil
}

// PublicKeyFromBytes (spec: CERT-14, CERT-19) decodes a compressed G2 point and checks it is a
// canonical, finite point of the prime-order subgroup. Errors are
// *DecodeError{Kind: "public key"} wrapping ErrLength, ErrNonCanonical,
// ErrNotOnCurve, ErrNotInSubgroup or ErrInfinity.
//
// A decoded key is well-formed, not proven: before aggregating it with
// other individual keys, verify its proof of possession (CERT-16).
func PublicKeyFromBytes(b []byte) (PublicKey, error) {
	p, err := decodeG2(b)
	if err != nil {
		return PublicKey{}, decodeErr(KindPublicKey, err)
	}
	return PublicKey{p: p}, nil
}

// g1B is the constant b = 4 of E1: y² = x³ + 4.
var g1B = func() fp.Element {
	var b fp.Element
	b.SetUint64(4)
	return b
}()

// g2B is the constant b' = 4(1+u) of the twist E2: y² = x³ + 4(1+u).
var g2B = func() bls12381.E2 {
	var b bls12381.E2
	b.A0.SetUint64(4)
	b.A1.SetUint64(4)
	return b
}()

func decodeG1(b []byte) (bls12381.G1Affine, error) {
	var p bls12381.G1Affine
	if len(b) != SignatureSize {
		return p, fmt.Errorf("%w: got %d bytes, want %d", ErrLength, len(b), SignatureSize)
	}
	inf, sign, err := checkFlags(b)
	if err != nil {
		return p, err
	}
	if inf {
		return p, ErrInfinity
	}
	x, err := readFp(b, true)
	if err != nil {
		return p, fmt.Errorf("%w: x coordinate is not below the field modulus", ErrNonCanonical)
	}
	var y2, y fp.Element
	y2.Square(&x).Mul(&y2, &x).Add(&y2, &g1B)
	if y.Sqrt(&y2) == nil {
		return p, fmt.Errorf("%w: x³+4 is not a square", ErrNotOnCurve)
	}
	if y.IsZero() && sign {
		// Cannot happen on E1 (odd order, no 2-torsion); kept so the
		// encoding stays canonical even if that reasoning were wrong.
		return p, fmt.Errorf("%w: sign flag set for y = 0", ErrNonCanonical)
	}
	if y.LexicographicallyLargest() != sign {
		y.Neg(&y)
	}
	p.X, p.Y = x, y
	if !p.IsOnCurve() {
		return bls12381.G1Affine{}, fmt.Errorf("%w: recovered point fails the curve equation", ErrNotOnCurve)
	}
	if !p.IsInSubGroup() {
		return bls12381.G1Affine{}, ErrNotInSubgroup
	}
	return p, nil
}

func decodeG2(b []byte) (bls12381.G2Affine, error) {
	var p bls12381.G2Affine
	if len(b) != PublicKeySize {
		return p, fmt.Errorf("%w: got %d bytes, want %d", ErrLength, len(b), PublicKeySize)
	}
	inf, sign, err := checkFlags(b)
	if err != nil {
		return p, err
	}
	if inf {
		return p, ErrInfinity
	}
	var x bls12381.E2
	if x.A1, err = readFp(b[:fp.Bytes], true); err != nil {
		return p, fmt.Errorf("%w: x.c1 is not below the field modulus", ErrNonCanonical)
	}
	if x.A0, err = readFp(b[fp.Bytes:], false); err != nil {
		return p, fmt.Errorf("%w: x.c0 is not below the field modulus", ErrNonCanonical)
	}
	var y2, y bls12381.E2
	y2.Square(&x).Mul(&y2, &x).Add(&y2, &g2B)
	if y2.Legendre() == -1 {
		return p, fmt.Errorf("%w: x³+b' is not a square", ErrNotOnCurve)
	}
	y.Sqrt(&y2)
	if y.IsZero() && sign {
		// Cannot happen on the twist (odd order); see decodeG1.
		return p, fmt.Errorf("%w: sign flag set for y = 0", ErrNonCanonical)
	}
	if y.LexicographicallyLargest() != sign {
		y.Neg(&y)
	}
	p.X, p.Y = x, y
	if !p.IsOnCurve() {
		return bls12381.G2Affine{}, fmt.Errorf("%w: recovered point fails the curve equation", ErrNotOnCurve)
	}
	if !p.IsInSubGroup() {
		return bls12381.G2Affine{}, ErrNotInSubgroup
	}
	return p, nil
}
