// Package tx defines native transfers: their canonical encoding, digest,
// signing message and Ed25519 signature rule, and the pure validity
// function that a farmer's validator unit applies to a transfer against a
// read-only view of account state and of its own pending transfers.
//
// It implements spec/farmer.md §Transactions, rules TX-1 … TX-22.
package tx

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"

	"github.com/oasisprotocol/curve25519-voi/curve"
	"github.com/oasisprotocol/curve25519-voi/curve/scalar"
)

// AccountID is an account: the 32-byte encoding of its Ed25519 public key
// (spec: TX-1).
type AccountID [32]byte

// Digest identifies one exact signed transfer (spec: TX-5).
type Digest [32]byte

// Transfer moves Amount from From to To, paying Fee; Nonce orders the
// transfers of one sender (spec: TX-1).
type Transfer struct {
	From, To  AccountID
	Amount    uint64
	Fee       uint64
	Nonce     uint64
	Signature [SignatureSize]byte
}

// Wire layout (spec: TX-2), big-endian, fixed offsets:
//
//	0   domain    "FHBFT/tx/v1" (11 bytes)
//	11  from      32
//	43  to        32
//	75  amount    8
//	83  fee       8
//	91  nonce     8
//	99  signature 64 (R 32 || S 32)
//	163
const (
	// Domain prefixes every encoding and thus every signing message, so
	// that no other FHBFT message signed by an account key can be read as
	// a transfer (spec: TX-2, TX-6).
	Domain = "FHBFT/tx/v1"

	// SignatureSize is the length of an Ed25519 signature, R || S.
	SignatureSize = ed25519.SignatureSize

	offFrom   = len(Domain)
	offTo     = offFrom + 32
	offAmount = offTo + 32
	offFee    = offAmount + 8
	offNonce  = offFee + 8
	offSig    = offNonce + 8

	// SigningSize is the length of the signing message (spec: TX-6).
	SigningSize = offSig
	// EncodedSize is the length of every encoded transfer (spec: TX-2).
	EncodedSize = offSig + SignatureSize
	// MaxEncodedSize bounds what a transport should read for one
	// transfer; the layout is fixed, so it equals EncodedSize (spec: TX-3).
	MaxEncodedSize = EncodedSize
)

// AppendSigningBytes appends the message the sender signs: the encoding
// without the signature (spec: TX-6).
func (t *Transfer) AppendSigningBytes(b []byte) []byte {
	b = append(b, Domain...)
	b = append(b, t.From[:]...)
	b = append(b, t.To[:]...)
	b = binary.BigEndian.AppendUint64(b, t.Amount)
	b = binary.BigEndian.AppendUint64(b, t.Fee)
	return binary.BigEndian.AppendUint64(b, t.Nonce)
}

// SigningBytes returns the signing message (spec: TX-6).
func (t *Transfer) SigningBytes() []byte {
	return t.AppendSigningBytes(make([]byte, 0, SigningSize))
}

// AppendBinary appends the canonical encoding (spec: TX-2).
func (t *Transfer) AppendBinary(b []byte) []byte {
	b = t.AppendSigningBytes(b)
	return append(b, t.Signature[:]...)
}

// MarshalBinary returns the canonical encoding (spec: TX-2).
func (t *Transfer) MarshalBinary() ([]byte, error) {
	return t.AppendBinary(make([]byte, 0, EncodedSize)), nil
}

// Digest is SHA-256 of the full canonical encoding, signature included
// (spec: TX-5).
func (t *Transfer) Digest() Digest {
	var buf [EncodedSize]byte
	return sha256.Sum256(t.AppendBinary(buf[:0]))
}

// Sign sets From to priv's public key and signs the transfer (spec: TX-6).
// Signing is deterministic (RFC 8032), so it needs no randomness. priv
// must be a well-formed ed25519.PrivateKey (a local key, not wire input).
func (t *Transfer) Sign(priv ed25519.PrivateKey) {
	copy(t.From[:], priv[32:])
	var buf [SigningSize]byte
	copy(t.Signature[:], ed25519.Sign(priv, t.AppendSigningBytes(buf[:0])))
}

// Decode parses a canonical encoding. It is total: any input yields a
// transfer or an *InvalidError whose Reason is ReasonLength, ReasonDomain or
// ReasonNonCanonical and whose Field names the offending field. Every
// accepted input re-encodes to itself (spec: TX-3, TX-4).
func Decode(b []byte) (Transfer, error) {
	var t Transfer
	if len(b) != EncodedSize {
		return t, decodeError(ReasonLength, "length", "%d bytes, want %d", len(b), EncodedSize)
	}
	if string(b[:offFrom]) != Domain {
		return t, decodeError(ReasonDomain, "domain", "prefix %q, want %q", b[:offFrom], Domain)
	}
	copy(t.From[:], b[offFrom:offTo])
	copy(t.To[:], b[offTo:offAmount])
	t.Amount = binary.BigEndian.Uint64(b[offAmount:])
	t.Fee = binary.BigEndian.Uint64(b[offFee:])
	t.Nonce = binary.BigEndian.Uint64(b[offNonce:])
	copy(t.Signature[:], b[offSig:])
	if !canonicalPoint(t.From[:]) {
		return Transfer{}, decodeError(ReasonNonCanonical, "from", "point encoding is not canonical")
	}
	if !canonicalPoint(t.To[:]) {
		return Transfer{}, decodeError(ReasonNonCanonical, "to", "point encoding is not canonical")
	}
	if !canonicalPoint(t.Signature[:32]) {
		return Transfer{}, decodeError(ReasonNonCanonical, "signature.R", "point encoding is not canonical")
	}
	if !scalar.ScMinimalVartime(t.Signature[32:]) {
		return Transfer{}, decodeError(ReasonNonCanonical, "signature.S", "scalar is not below the group order")
	}
	return t, nil
}

// UnmarshalBinary is Decode into t; t is unchanged on error.
func (t *Transfer) UnmarshalBinary(b []byte) error {
	d, err := Decode(b)
	if err != nil {
		return err
	}
	*t = d
	return nil
}

// canonicalPoint is the byte-level canonicity test of RFC 8032 §5.1.3: the
// y coordinate is below p, and x = 0 does not carry a set sign bit. It
// does not decompress; whether the bytes are on the curve is checked where
// the point is used (spec: TX-4).
func canonicalPoint(b []byte) bool {
	var c curve.CompressedEdwardsY
	copy(c[:], b)
	return c.IsCanonicalVartime()
}

// usableKey reports whether b is a key that can sign under TX-7: canonical,
// on the curve, and not of small order (spec: TX-7, TX-14).
func usableKey(b *AccountID) bool {
	var c curve.CompressedEdwardsY
	copy(c[:], b[:])
	if !c.IsCanonicalVartime() {
		return false
	}
	var p curve.EdwardsPoint
	if _, err := p.SetCompressedY(&c); err != nil {
		return false
	}
	return !p.IsSmallOrder()
}
