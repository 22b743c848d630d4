package bls

import (
	"bytes"
	"errors"
	"testing"

	bls12381 "github.com/consensys/gnark-crypto/ecc/bls12-381"
)

// fuzzSeeds adds valid encodings and one of each kind of invalid encoding.
func fuzzSeeds(f *testing.F, size int, valid [][]byte, offCurve, offSubgroup []byte) {
	for _, v := range valid {
		f.Add(v)
	}
	for _, c := range badEncodings(size, valid[0], offCurve, offSubgroup) {
		f.Add(c.in)
	}
}

// checkFuzzErr asserts the error contract: a *DecodeError of the right kind
// wrapping exactly one sentinel.
func checkFuzzErr(t *testing.T, kind string, in []byte, err error) {
	var de *DecodeError
	if !errors.As(err, &de) || de.Kind != kind {
		t.Fatalf("input %x: got %v, want *DecodeError of kind %q", in, err, kind)
	}
	n := 0
	for _, s := range decodeSentinels {
		if errors.Is(err, s) {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("input %x: error %v matches %d sentinels", in, err, n)
	}
}

func FuzzSignatureFromBytes(f *testing.F) {
	r := seededRand(f, 30)
	var valid [][]byte
	for i := range 3 {
		b := Sign(mustKey(f, r), testDST, []byte{byte(i)}).Bytes()
		valid = append(valid, b[:])
	}
	_, _, g1, _ := bls12381.Generators()
	gb := g1.Bytes()
	valid = append(valid, gb[:])
	fuzzSeeds(f, SignatureSize, valid, g1Search(f, false), g1Search(f, true))

	f.Fuzz(func(t *testing.T, in []byte) {
		sig, err := SignatureFromBytes(in)
		// Differential check against gnark's own decoder for compressed
		// encodings of the right size (gnark also takes the identity).
		var ref bls12381.G1Affine
		var refErr error = ErrLength
		if len(in) == SignatureSize {
			_, refErr = ref.SetBytes(in)
		}
		refOK := refErr == nil && in[0]&flagCompressed != 0 && !ref.IsInfinity()
		if err != nil {
			checkFuzzErr(t, KindSignature, in, err)
			if refOK {
				t.Fatalf("input %x: rejected (%v) but gnark decodes a finite subgroup point", in, err)
			}
			return
		}
		if out := sig.Bytes(); !bytes.Equal(out[:], in) {
			t.Fatalf("round trip: %x decoded and re-encoded as %x", in, out)
		}
		if sig.IsInfinity() || !sig.p.IsInSubGroup() {
			t.Fatalf("input %x: decoded point is not a finite subgroup point", in)
		}
		if !refOK || ref != sig.p {
			t.Fatalf("input %x: accepted but gnark disagrees (%v)", in, refErr)
		}
	})
}

func FuzzPublicKeyFromBytes(f *testing.F) {
	r := seededRand(f, 31)
	var valid [][]byte
	for range 3 {
		b := mustKey(f, r).PublicKey().Bytes()
		valid = append(valid, b[:])
	}
	_, _, _, g2 := bls12381.Generators()
	gb := g2.Bytes()
	valid = append(valid, gb[:])
	fuzzSeeds(f, PublicKeySize, valid, g2Search(f, false), g2Search(f, true))

	f.Fuzz(func(t *testing.T, in []byte) {
		pk, err := PublicKeyFromBytes(in)
		var ref bls12381.G2Affine
		var refErr error = ErrLength
		if len(in) == PublicKeySize {
			_, refErr = ref.SetBytes(in)
		}
		refOK := refErr == nil && in[0]&flagCompressed != 0 && !ref.IsInfinity()
		if err != nil {
			checkFuzzErr(t, KindPublicKey, in, err)
			if refOK {
				t.Fatalf("input %x: rejected (%v) but gnark decodes a finite subgroup point", in, err)
			}
			return
		}
		if out := pk.Bytes(); !bytes.Equal(out[:], in) {
			t.Fatalf("round trip: %x decoded and re-encoded as %x", in, out)
		}
		if pk.IsInfinity() || !pk.p.IsInSubGroup() {
			t.Fatalf("input %x: decoded point is not a finite subgroup point", in)
		}
		if !refOK || ref != pk.p {
			t.Fatalf("input %x: accepted but gnark disagrees (%v)", in, refErr)
		}
	})
}
