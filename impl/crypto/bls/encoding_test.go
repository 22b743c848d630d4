package bls

import (
	"bytes"
	"encoding/hex"
	"errors"
	"testing"

	bls12381 "github.com/consensys/gnark-crypto/ecc/bls12-381"
	"github.com/consensys/gnark-crypto/ecc/bls12-381/fp"
)

// Compressed generators as published in the ZCash BLS12-381 serialization
// notes (also the IETF pairing-friendly-curves draft); checks that our
// encoding is the interoperable one.
const (
	g1GenHex = "97f1d3a73197d7942695638c4fa9ac0fc3688c4f9774b905a14e3a3f171bac586c55e83ff97a1aeffb3af00adb22c6bb"
	g2GenHex = "93e02b6052719f607dacd3a088274f65596bd0d09920b61ab5da61bbdc7f5049334cf11213945d57e5ac7d055d042b7e" +
		"024aa2b2f08f0a91260805272dc51051c6e47ad4fa403b02b4510b647ae3d1770bac0326a805bbefd48056c8c121bdb8"
)

func unhex(tb testing.TB, s string) []byte {
	tb.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func TestGeneratorEncodings(t *testing.T) {
	_, _, g1, g2 := bls12381.Generators()
	if got := (Signature{p: g1}).Bytes(); hex.EncodeToString(got[:]) != g1GenHex {
		t.Fatalf("G1 generator encodes as %x", got)
	}
	if got := (PublicKey{p: g2}).Bytes(); hex.EncodeToString(got[:]) != g2GenHex {
		t.Fatalf("G2 generator encodes as %x", got)
	}
	s, err := SignatureFromBytes(unhex(t, g1GenHex))
	if err != nil || s.p != g1 {
		t.Fatalf("G1 generator decode: %v", err)
	}
	pk, err := PublicKeyFromBytes(unhex(t, g2GenHex))
	if err != nil || pk.p != g2 {
		t.Fatalf("G2 generator decode: %v", err)
	}
	// The public key of scalar 1 is the G2 generator.
	var one [32]byte
	one[31] = 1
	sk, err := SecretKeyFromBytes(one[:])
	if err != nil || sk.PublicKey().p != g2 {
		t.Fatalf("pk(1) != g2: %v", err)
	}
}

func TestRoundTrip(t *testing.T) {
	r := seededRand(t, 20)
	for range 8 {
		sk := mustKey(t, r)
		pk := sk.PublicKey()
		pkb := pk.Bytes()
		pk2, err := PublicKeyFromBytes(pkb[:])
		if err != nil || pk2 != pk || !pk2.Equal(pk) {
			t.Fatalf("public key round trip: %v", err)
		}
		sig := Sign(sk, testDST, pkb[:])
		sb := sig.Bytes()
		sig2, err := SignatureFromBytes(sb[:])
		if err != nil || sig2 != sig || !sig2.Equal(sig) {
			t.Fatalf("signature round trip: %v", err)
		}
	}
}

// g1OffSubgroup returns the encoding of a point on E1 outside G1, and
// g1OffCurve the encoding of an x with no point on E1. Both search x = 1, 2,
// ... deterministically.
func g1Search(tb testing.TB, wantOnCurve bool) []byte {
	tb.Helper()
	for k := uint64(1); k < 1000; k++ {
		var x, y2, y fp.Element
		x.SetUint64(k)
		y2.Square(&x).Mul(&y2, &x).Add(&y2, &g1B)
		onCurve := y.Sqrt(&y2) != nil
		if onCurve != wantOnCurve {
			continue
		}
		if !onCurve {
			b := x.Bytes()
			b[0] |= flagCompressed
			return b[:]
		}
		p := bls12381.G1Affine{X: x, Y: y}
		if !p.IsOnCurve() || p.IsInSubGroup() {
			continue
		}
		b := p.Bytes()
		return b[:]
	}
	tb.Fatal("no suitable x found")
	return nil
}

func g2Search(tb testing.TB, wantOnCurve bool) []byte {
	tb.Helper()
	for k := uint64(1); k < 1000; k++ {
		var x, y2, y bls12381.E2
		x.A0.SetUint64(k)
		x.A1.SetUint64(1)
		y2.Square(&x).Mul(&y2, &x).Add(&y2, &g2B)
		onCurve := y2.Legendre() != -1
		if onCurve != wantOnCurve {
			continue
		}
		if !onCurve {
			var b [96]byte
			fp.BigEndian.PutElement((*[48]byte)(b[:48]), x.A1)
			fp.BigEndian.PutElement((*[48]byte)(b[48:]), x.A0)
			b[0] |= flagCompressed
			return b[:]
		}
		y.Sqrt(&y2)
		p := bls12381.G2Affine{X: x, Y: y}
		if !p.IsOnCurve() || p.IsInSubGroup() {
			continue
		}
		b := p.Bytes()
		return b[:]
	}
	tb.Fatal("no suitable x found")
	return nil
}

func with(b []byte, f func([]byte)) []byte {
	c := bytes.Clone(b)
	f(c)
	return c
}

type decodeCase struct {
	name string
	in   []byte
	want error
}

// badEncodings builds, for an encoding size, one input per rejection reason
// from a valid encoding, an off-curve x and an off-subgroup point.
func badEncodings(size int, valid, offCurve, offSubgroup []byte) []decodeCase {
	inf := make([]byte, size)
	inf[0] = 0xc0
	pBytes := fp.Modulus().FillBytes(make([]byte, fp.Bytes))
	maxX := bytes.Repeat([]byte{0xff}, fp.Bytes)
	cases := []decodeCase{
		{"empty", nil, ErrLength},
		{"one short", valid[:size-1], ErrLength},
		{"one long", append(bytes.Clone(valid), 0), ErrLength},
		{"double length", append(bytes.Clone(valid), valid...), ErrLength},
		{"infinity", inf, ErrInfinity},
		{"infinity with sign flag", with(inf, func(b []byte) { b[0] |= flagSign }), ErrNonCanonical},
		{"infinity with low bits in first byte", with(inf, func(b []byte) { b[0] |= 0x01 }), ErrNonCanonical},
		{"infinity with trailing byte set", with(inf, func(b []byte) { b[size-1] = 1 }), ErrNonCanonical},
		{"uncompressed infinity flags", with(inf, func(b []byte) { b[0] = 0x40 }), ErrNonCanonical},
		{"all zero (compression flag clear)", make([]byte, size), ErrNonCanonical},
		{"compression flag cleared", with(valid, func(b []byte) { b[0] &^= flagCompressed }), ErrNonCanonical},
		{"infinity flag set on finite point", with(valid, func(b []byte) { b[0] |= flagInfinity }), ErrNonCanonical},
		{"all flags set", with(valid, func(b []byte) { b[0] |= flagMask }), ErrNonCanonical},
		{"x = p", with(valid, func(b []byte) { copy(b, pBytes); b[0] |= flagCompressed }), ErrNonCanonical},
		{"x = 2^381-1", with(valid, func(b []byte) { copy(b, maxX); b[0] = flagCompressed | 0x1f }), ErrNonCanonical},
		{"x not on curve", offCurve, ErrNotOnCurve},
		{"x not on curve, sign set", with(offCurve, func(b []byte) { b[0] |= flagSign }), ErrNotOnCurve},
		{"on curve, outside subgroup", offSubgroup, ErrNotInSubgroup},
		{"outside subgroup, other root", with(offSubgroup, func(b []byte) { b[0] ^= flagSign }), ErrNotInSubgroup},
	}
	if size == PublicKeySize {
		cases = append(cases,
			decodeCase{"x.c0 = p", with(valid, func(b []byte) { copy(b[fp.Bytes:], pBytes) }), ErrNonCanonical},
			decodeCase{"x.c0 = 2^384-1", with(valid, func(b []byte) { copy(b[fp.Bytes:], maxX) }), ErrNonCanonical},
		)
	}
	return cases
}

func TestSignatureFromBytesRejects(t *testing.T) {
	r := seededRand(t, 21)
	sig := Sign(mustKey(t, r), testDST, []byte("m"))
	vb := sig.Bytes()
	offSub := g1Search(t, true)
	var probe bls12381.G1Affine
	if _, err := probe.SetBytes(offSub); err == nil {
		t.Fatalf("test premise: gnark accepted an off-subgroup point")
	}
	for _, c := range badEncodings(SignatureSize, vb[:], g1Search(t, false), offSub) {
		s, err := SignatureFromBytes(c.in)
		checkDecodeErr(t, c, KindSignature, err)
		if s != (Signature{}) {
			t.Errorf("%s: non-zero value returned with error", c.name)
		}
	}
}

func TestPublicKeyFromBytesRejects(t *testing.T) {
	r := seededRand(t, 22)
	pk := mustKey(t, r).PublicKey()
	vb := pk.Bytes()
	offSub := g2Search(t, true)
	var probe bls12381.G2Affine
	if _, err := probe.SetBytes(offSub); err == nil {
		t.Fatalf("test premise: gnark accepted an off-subgroup point")
	}
	for _, c := range badEncodings(PublicKeySize, vb[:], g2Search(t, false), offSub) {
		k, err := PublicKeyFromBytes(c.in)
		checkDecodeErr(t, c, KindPublicKey, err)
		if k != (PublicKey{}) {
			t.Errorf("%s: non-zero value returned with error", c.name)
		}
	}
}

var decodeSentinels = []error{ErrLength, ErrNonCanonical, ErrNotOnCurve, ErrNotInSubgroup, ErrInfinity}

func checkDecodeErr(t *testing.T, c decodeCase, kind string, err error) {
	t.Helper()
	var de *DecodeError
	if !errors.As(err, &de) {
		t.Errorf("%s: got %v, want *DecodeError", c.name, err)
		return
	}
	if de.Kind != kind {
		t.Errorf("%s: kind %q, want %q", c.name, de.Kind, kind)
	}
	if !errors.Is(err, c.want) {
		t.Errorf("%s: got %v, want %v", c.name, err, c.want)
	}
	// Exactly one reason, so callers can switch on it.
	n := 0
	for _, s := range decodeSentinels {
		if errors.Is(err, s) {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%s: error %v matches %d sentinels", c.name, err, n)
	}
}

// Flipping the sign flag of a valid encoding gives the negated point: still
// valid, but a different key or signature.
func TestSignFlagSelectsRoot(t *testing.T) {
	r := seededRand(t, 23)
	sk := mustKey(t, r)
	pk := sk.PublicKey()
	pb := pk.Bytes()
	neg, err := PublicKeyFromBytes(with(pb[:], func(b []byte) { b[0] ^= flagSign }))
	if err != nil {
		t.Fatal(err)
	}
	var want bls12381.G2Affine
	want.Neg(&pk.p)
	if neg.p != want {
		t.Fatalf("flipped sign did not give -pk")
	}
	sig := Sign(sk, testDST, []byte("m"))
	sb := sig.Bytes()
	negSig, err := SignatureFromBytes(with(sb[:], func(b []byte) { b[0] ^= flagSign }))
	if err != nil {
		t.Fatal(err)
	}
	if err := Verify(pk, testDST, []byte("m"), negSig); !errors.Is(err, ErrInvalidSignature) {
		t.Fatalf("negated signature verified: %v", err)
	}
}
