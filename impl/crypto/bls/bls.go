// Package bls implements BLS signatures on the BLS12-381 curve for fhbft's
// certification layer (spec/certification.md, rules CERT-14, CERT-15, CERT-16
// and CERT-19).
//
// It uses the "minimal-signature-size" variant: signatures are points of G1
// (48 bytes compressed) and public keys are points of G2 (96 bytes
// compressed). Certificates carry one signature each while public keys are
// configuration, so putting signatures in the smaller group keeps certificates
// small and makes signing (a G1 scalar multiplication) cheap.
//
// Messages are hashed to G1 with the RFC 9380 hash_to_curve suite
// BLS12381G1_XMD:SHA-256_SSWU_RO_ under a caller-supplied domain separation
// tag (DST). Every message kind has its own DST (CERT-15); the DST of proofs
// of possession, DSTPoP, is reserved and refused by Sign and Verify.
//
// Invariants kept by the types: a PublicKey or Signature value is always a
// point of the prime-order subgroup. Values decoded from bytes are never the
// identity; the identity appears only as the zero value or as the result of
// arithmetic (aggregation), and Verify rejects it. Decoders never panic on
// any input and return *DecodeError values that wrap a sentinel naming what
// was wrong (CERT-14, CERT-19).
//
// Scalar multiplication in gnark-crypto is not constant-time; this is a
// reference implementation and does not defend against timing side channels.
package bls

import (
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/big"

	bls12381 "github.com/consensys/gnark-crypto/ecc/bls12-381"
	"github.com/consensys/gnark-crypto/ecc/bls12-381/fr"
)

// Encoded sizes in bytes.
const (
	SecretKeySize = fr.Bytes                          // 32, big-endian scalar
	PublicKeySize = bls12381.SizeOfG2AffineCompressed // 96, compressed G2 point
	SignatureSize = bls12381.SizeOfG1AffineCompressed // 48, compressed G1 point
	// MaxDSTLen is the longest DST RFC 9380 expand_message_xmd accepts
	// without pre-hashing the tag; longer tags are refused.
	MaxDSTLen = 255
)

// DSTPoP is the domain separation tag of proofs of possession. It is
// distinct from every message DST, and Sign/Verify refuse it, so that a
// signature on an ordinary message can never double as a proof of
// possession or the other way round (spec: CERT-15, CERT-16).
const DSTPoP = "FHBFT-V01-CS01-with-BLS12381G1_XMD:SHA-256_SSWU_RO_POP_"

// Errors returned by signing, verification and aggregation.
var (
	// ErrInvalidSignature: the pairing check failed or the signature is the identity.
	ErrInvalidSignature = errors.New("bls: invalid signature")
	// ErrInvalidPublicKey: the public key is the identity (the zero value).
	ErrInvalidPublicKey = errors.New("bls: invalid public key")
	// ErrInvalidSecretKey: the secret scalar is zero.
	ErrInvalidSecretKey = errors.New("bls: invalid secret key")
	// ErrInvalidDST: the domain separation tag is empty, too long or reserved.
	ErrInvalidDST = errors.New("bls: invalid domain separation tag")
	// ErrZeroMessage: a HashedMessage zero value was used.
	ErrZeroMessage = errors.New("bls: hashed message is the zero value")
	// ErrEmpty: an aggregation was given no inputs.
	ErrEmpty = errors.New("bls: nothing to aggregate")
	// ErrLengthMismatch: points and coefficients differ in number.
	ErrLengthMismatch = errors.New("bls: points and coefficients differ in length")
)

// g2Gen is the fixed generator of G2 (public keys are sk·g2Gen).
var g2Gen bls12381.G2Affine

func init() {
	_, _, _, g2Gen = bls12381.Generators()
}

// SecretKey is a non-zero scalar modulo the group order r. The zero value is
// not a valid key. fr.Element is in Montgomery form, which is unique per
// value, so SecretKey is comparable with ==; Equal compares in constant time.
type SecretKey struct {
	s fr.Element
}

// GenerateKey draws a secret key from rand. It reads 64 bytes and reduces
// them modulo r, which makes the bias negligible (< 2^-250).
func GenerateKey(rand io.Reader) (SecretKey, error) {
	if rand == nil {
		return SecretKey{}, errors.New("bls: GenerateKey: nil random source")
	}
	// A zero scalar has probability 2^-255 per draw; a few retries only
	// guard against a broken source without looping forever.
	for range 4 {
		var buf [64]byte
		if _, err := io.ReadFull(rand, buf[:]); err != nil {
			return SecretKey{}, fmt.Errorf("bls: GenerateKey: reading randomness: %w", err)
		}
		var s fr.Element
		s.SetBytes(buf[:])
		if !s.IsZero() {
			return SecretKey{s: s}, nil
		}
	}
	return SecretKey{}, fmt.Errorf("%w: random source produced zero scalars", ErrInvalidSecretKey)
}

// SecretKeyFromScalar wraps a scalar; zero is rejected.
func SecretKeyFromScalar(s fr.Element) (SecretKey, error) {
	if s.IsZero() {
		return SecretKey{}, fmt.Errorf("%w: zero scalar", ErrInvalidSecretKey)
	}
	return SecretKey{s: s}, nil
}

// SecretKeyFromBytes decodes a 32-byte big-endian scalar. It must be
// canonical (< r) and non-zero. Errors are *DecodeError with Kind "secret key".
func SecretKeyFromBytes(b []byte) (SecretKey, error) {
	if len(b) != SecretKeySize {
		return SecretKey{}, decodeErr(KindSecretKey, fmt.Errorf("%w: got %d bytes, want %d", ErrLength, len(b), SecretKeySize))
	}
	s, err := fr.BigEndian.Element((*[fr.Bytes]byte)(b))
	if err != nil {
		return SecretKey{}, decodeErr(KindSecretKey, fmt.Errorf("%w: scalar is not below the group order", ErrNonCanonical))
	}
	if s.IsZero() {
		return SecretKey{}, decodeErr(KindSecretKey, fmt.Errorf("%w: zero scalar", ErrInvalidSecretKey))
	}
	return SecretKey{s: s}, nil
}

// Bytes returns the 32-byte big-endian encoding of the scalar.
func (sk SecretKey) Bytes() [SecretKeySize]byte { return sk.s.Bytes() }

// Scalar returns the secret scalar (for secret sharing and key generation).
func (sk SecretKey) Scalar() fr.Element { return sk.s }

// IsZero reports whether sk is the (invalid) zero value.
func (sk SecretKey) IsZero() bool { return sk.s.IsZero() }

// Equal compares two secret keys in constant time.
func (sk SecretKey) Equal(o SecretKey) bool {
	a, b := sk.s.Bytes(), o.s.Bytes()
	return subtle.ConstantTimeCompare(a[:], b[:]) == 1
}

// String never prints the secret, so keys cannot leak through logs or %v.
func (sk SecretKey) String() string { return "bls.SecretKey(redacted)" }

// GoString keeps %#v from printing the secret.
func (sk SecretKey) GoString() string { return sk.String() }

// PublicKey returns sk·g2.
func (sk SecretKey) PublicKey() PublicKey {
	var k big.Int
	sk.s.BigInt(&k)
	var p bls12381.G2Affine
	p.ScalarMultiplicationBase(&k)
	return PublicKey{p: p}
}

// PublicKey is a point of the order-r subgroup of G2. The zero value is the
// identity and is not a valid key.
type PublicKey struct {
	p bls12381.G2Affine
}

// Equal reports whether pk and o are the same point.
func (pk PublicKey) Equal(o PublicKey) bool { return pk.p.Equal(&o.p) }

// IsInfinity reports whether pk is the identity (e.g. the zero value).
func (pk PublicKey) IsInfinity() bool { return pk.p.IsInfinity() }

// Point returns a copy of the underlying G2 point.
func (pk PublicKey) Point() bls12381.G2Affine { return pk.p }

// String returns the hex of the compressed encoding.
func (pk PublicKey) String() string {
	b := pk.Bytes()
	return hex.EncodeToString(b[:])
}

// Signature is a point of the order-r subgroup of G1. The zero value is the
// identity and never verifies.
type Signature struct {
	p bls12381.G1Affine
}

// Equal reports whether s and o are the same point.
func (s Signature) Equal(o Signature) bool { return s.p.Equal(&o.p) }

// IsInfinity reports whether s is the identity (e.g. the zero value).
func (s Signature) IsInfinity() bool { return s.p.IsInfinity() }

// Point returns a copy of the underlying G1 point.
func (s Signature) Point() bls12381.G1Affine { return s.p }

// String returns the hex of the compressed encoding.
func (s Signature) String() string {
	b := s.Bytes()
	return hex.EncodeToString(b[:])
}

// HashedMessage is H(dst, msg) in G1. Hashing once and reusing the point
// saves the hash-to-curve cost when one message is checked many times
// (threshold partials, batch verification).
type HashedMessage struct {
	p bls12381.G1Affine
}

// Point returns a copy of the underlying G1 point.
func (h HashedMessage) Point() bls12381.G1Affine { return h.p }

// checkDST enforces CERT-15: a non-empty tag RFC 9380 can use directly, and
// not the tag reserved for proofs of possession.
func checkDST(dst []byte) error {
	switch {
	case len(dst) == 0:
		return fmt.Errorf("%w: empty", ErrInvalidDST)
	case len(dst) > MaxDSTLen:
		return fmt.Errorf("%w: %d bytes, at most %d allowed", ErrInvalidDST, len(dst), MaxDSTLen)
	case string(dst) == DSTPoP:
		return fmt.Errorf("%w: DSTPoP is reserved for proofs of possession", ErrInvalidDST)
	}
	return nil
}

// hashToG1 is RFC 9380 hash_to_curve (random-oracle variant) into G1.
func hashToG1(dst, msg []byte) (HashedMessage, error) {
	p, err := bls12381.HashToG1(msg, dst)
	if err != nil {
		return HashedMessage{}, fmt.Errorf("%w: %v", ErrInvalidDST, err)
	}
	return HashedMessage{p: p}, nil
}

// HashMessage hashes msg to G1 under dst (spec: CERT-3, CERT-15).
func HashMessage(dst, msg []byte) (HashedMessage, error) {
	if err := checkDST(dst); err != nil {
		return HashedMessage{}, err
	}
	return hashToG1(dst, msg)
}

// Sign returns sk·H(dst, msg).
//
// dst must be a valid tag (non-empty, at most 255 bytes, not DSTPoP). Tags
// are compile-time constants of the calling protocol, never input from the
// network, so an invalid tag is a programming error and Sign panics on it
// rather than returning a signature that could never verify.
func Sign(sk SecretKey, dst, msg []byte) Signature {
	h, err := HashMessage(dst, msg)
	if err != nil {
		panic(fmt.Sprintf("bls.Sign: %v", err))
	}
	return SignHashed(sk, h)
}

// SignHashed returns sk·h for a message hashed with HashMessage.
func SignHashed(sk SecretKey, h HashedMessage) Signature {
	var k big.Int
	sk.s.BigInt(&k)
	var p bls12381.G1Affine
	p.ScalarMultiplication(&h.p, &k)
	return Signature{p: p}
}

// Verify checks sig against pk for msg under dst with a single pairing
// check. It returns nil or an error wrapping ErrInvalidDST,
// ErrInvalidPublicKey or ErrInvalidSignature.
func Verify(pk PublicKey, dst, msg []byte, sig Signature) error {
	h, err := HashMessage(dst, msg)
	if err != nil {
		return err
	}
	return VerifyHashed(pk, h, sig)
}

// VerifyHashed is Verify for a message already hashed with HashMessage.
//
// It checks e(sig, g2) · e(-H(m), pk) == 1, i.e. e(sig, g2) == e(H(m), pk),
// as ONE PairingCheck call: two Miller loops and one final exponentiation
// (spec: CERT-6, CERT-10).
// The identity key and the identity signature are rejected first: with both
// at infinity the equation holds for every message.
func VerifyHashed(pk PublicKey, h HashedMessage, sig Signature) error {
	if pk.p.IsInfinity() {
		return fmt.Errorf("%w: identity public key", ErrInvalidPublicKey)
	}
	if sig.p.IsInfinity() {
		return fmt.Errorf("%w: identity signature", ErrInvalidSignature)
	}
	if h.p.IsInfinity() {
		return ErrZeroMessage
	}
	var negH bls12381.G1Affine
	negH.Neg(&h.p)
	ok, err := bls12381.PairingCheck(
		[]bls12381.G1Affine{sig.p, negH},
		[]bls12381.G2Affine{g2Gen, pk.p},
	)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrInvalidSignature, err)
	}
	if !ok {
		return ErrInvalidSignature
	}
	return nil
}

// ProvePossession signs the compressed public key of sk under DSTPoP.
// spec: CERT-16
// A key must come with a valid proof before it is aggregated with other
// individual keys (spec: CERT-16).
func ProvePossession(sk SecretKey) Signature {
	pkb := sk.PublicKey().Bytes()
	h, err := hashToG1([]byte(DSTPoP), pkb[:])
	if err != nil {
		// DSTPoP is a valid constant tag; this cannot happen.
		panic(fmt.Sprintf("bls.ProvePossession: %v", err))
	}
	return SignHashed(sk, h)
}

// VerifyPossession checks a proof of possession for pk (spec: CERT-16).
func VerifyPossession(pk PublicKey, proof Signature) error {
	pkb := pk.Bytes()
	h, err := hashToG1([]byte(DSTPoP), pkb[:])
	if err != nil {
		return err
	}
	if err := VerifyHashed(pk, h, proof); err != nil {
		return fmt.Errorf("bls: proof of possession: %w", err)
	}
	return nil
}
