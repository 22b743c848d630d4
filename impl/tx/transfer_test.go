package tx

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"testing"

	"pgregory.net/rapid"
)

// genTransfer draws a transfer whose encoding is canonical: signed by a
// drawn key, or with drawn bytes shaped to pass the decoder's checks.
func genTransfer(t *rapid.T) Transfer {
	tr := Transfer{
		To:     pub(key(rapid.Uint64().Draw(t, "to"))),
		Amount: rapid.Uint64().Draw(t, "amount"),
		Fee:    rapid.Uint64().Draw(t, "fee"),
		Nonce:  rapid.Uint64().Draw(t, "nonce"),
	}
	if rapid.Bool().Draw(t, "sign") {
		tr.Sign(key(rapid.Uint64().Draw(t, "from")))
		return tr
	}
	tr.From = pub(key(rapid.Uint64().Draw(t, "from")))
	r := pub(key(rapid.Uint64().Draw(t, "R")))
	copy(tr.Signature[:32], r[:])
	copy(tr.Signature[32:], rapid.SliceOfN(rapid.Byte(), 32, 32).Draw(t, "S"))
	tr.Signature[63] &= 0x0f // S < 2^252 < L
	return tr
}

// spec: TX-2, TX-4
func TestRoundTrip(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		tr := genTransfer(t)
		b := encode(&tr)
		if len(b) != EncodedSize {
			t.Fatalf("encoded %d bytes, want %d", len(b), EncodedSize)
		}
		got, err := Decode(b)
		if err != nil {
			t.Fatalf("decode: %v", err)
		}
		if got != tr {
			t.Fatalf("round trip changed the transfer:\n got %+v\nwant %+v", got, tr)
		}
		if !bytes.Equal(encode(&got), b) {
			t.Fatal("re-encoding differs")
		}
		var u Transfer
		if err := u.UnmarshalBinary(b); err != nil || u != tr {
			t.Fatalf("UnmarshalBinary: %v", err)
		}
	})
}

// A known-answer vector pins the layout, the signing message and the
// digest, so that any change to the wire format shows up here.
// spec: TX-2, TX-5, TX-6
func TestKnownAnswer(t *testing.T) {
	tr := signed(1, 2, 1000, 7, 42)
	b := encode(&tr)
	if string(b[:11]) != Domain {
		t.Fatalf("prefix %q", b[:11])
	}
	if !bytes.Equal(b[11:43], tr.From[:]) || !bytes.Equal(b[43:75], tr.To[:]) {
		t.Fatal("from/to not at offsets 11 and 43")
	}
	if binary.BigEndian.Uint64(b[75:]) != 1000 || binary.BigEndian.Uint64(b[83:]) != 7 || binary.BigEndian.Uint64(b[91:]) != 42 {
		t.Fatal("amount/fee/nonce not big-endian at 75/83/91")
	}
	if !bytes.Equal(b[99:], tr.Signature[:]) || !bytes.Equal(tr.SigningBytes(), b[:99]) {
		t.Fatal("signature not at 99, or signing bytes are not the encoding without it")
	}
	if d := tr.Digest(); d != sha256.Sum256(b) {
		t.Fatal("digest is not SHA-256 of the full encoding")
	}
	const wantEnc = "46484246542f74782f763141cb389c676d40297577da57301d0fd44a221968caa6b63b316203425b5cccad14254f937a2947ff0d7fa70f0093754995afab429d8b9bdc0c2445cc0eccbbb100000000000003e80000000000000007000000000000002a3e70d92e0e40b53dd425ed49e3bf1ea8dad9f724024f178435b043540fc6f50a980352b93e3f4d79446bfcc19f78211c5818ba666ee493546b032afc74943601"
	const wantDigest = "496576e5172d0b8c8d36c35fa7d0ca3b8cee4a5662c0d60a5a8fc07d271cc41c"
	if got := hex.EncodeToString(b); got != wantEnc {
		t.Errorf("encoding\n got %s\nwant %s", got, wantEnc)
	}
	if d := tr.Digest(); hex.EncodeToString(d[:]) != wantDigest {
		t.Errorf("digest\n got %x\nwant %s", d, wantDigest)
	}
}

// The digest names the exact signed bytes: a different signature on the
// same body is a different transfer (spec: TX-5).
func TestDigestCoversSignature(t *testing.T) {
	tr := signed(1, 2, 1000, 7, 42)
	u := tr
	u.Signature[0] ^= 1
	if tr.Digest() == u.Digest() {
		t.Fatal("digest ignores the signature")
	}
}

// Non-canonical encodings used below. p = 2^255-19, L is the group order.
var (
	encP        = mustHex("edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f") // y = p
	encPPlus1   = mustHex("eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f") // y = p+1 ≡ 1
	encNegZeroX = mustHex("0100000000000000000000000000000000000000000000000000000000000080") // y = 1, sign bit set, x = 0
	encL        = mustHex("edd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010") // S = L
	encMax      = bytes.Repeat([]byte{0xff}, 32)
)

func mustHex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

// spec: TX-3, TX-4
func TestDecodeRejects(t *testing.T) {
	good := signed(1, 2, 1000, 7, 42)
	enc := encode(&good)
	with := func(off int, repl []byte) []byte {
		b := bytes.Clone(enc)
		copy(b[off:], repl)
		return b
	}
	cases := []struct {
		name   string
		in     []byte
		reason Reason
		field  string
	}{
		{"nil", nil, ReasonLength, "length"},
		{"empty", []byte{}, ReasonLength, "length"},
		{"one short", enc[:EncodedSize-1], ReasonLength, "length"},
		{"one long", append(bytes.Clone(enc), 0), ReasonLength, "length"},
		{"twice", append(bytes.Clone(enc), enc...), ReasonLength, "length"},
		{"domain first byte", with(0, []byte("f")), ReasonDomain, "domain"},
		{"domain version", with(0, []byte("FHBFT/tx/v2")), ReasonDomain, "domain"},
		{"other domain", with(0, []byte("FHBFT/vote1")), ReasonDomain, "domain"},
		{"from y = p", with(offFrom, encP), ReasonNonCanonical, "from"},
		{"from y = p+1", with(offFrom, encPPlus1), ReasonNonCanonical, "from"},
		{"from x = 0 with sign bit", with(offFrom, encNegZeroX), ReasonNonCanonical, "from"},
		{"from all ones", with(offFrom, encMax), ReasonNonCanonical, "from"},
		{"to y = p", with(offTo, encP), ReasonNonCanonical, "to"},
		{"to x = 0 with sign bit", with(offTo, encNegZeroX), ReasonNonCanonical, "to"},
		{"R y = p+1", with(offSig, encPPlus1), ReasonNonCanonical, "signature.R"},
		{"S = L", with(offSig+32, encL), ReasonNonCanonical, "signature.S"},
		{"S = 2^256-1", with(offSig+32, encMax), ReasonNonCanonical, "signature.S"},
		{"S = S + L", with(offSig+32, addL(good.Signature[32:])), ReasonNonCanonical, "signature.S"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := Decode(c.in)
			if err == nil {
				t.Fatalf("accepted: %+v", got)
			}
			var ie *InvalidError
			if !asInvalid(err, &ie) || ie.Reason != c.reason || ie.Field != c.field {
				t.Fatalf("error %v, want reason %q field %q", err, c.reason, c.field)
			}
			if got != (Transfer{}) {
				t.Fatal("a rejected decode returned a non-zero transfer")
			}
			u := good
			if u.UnmarshalBinary(c.in) == nil || u != good {
				t.Fatal("UnmarshalBinary changed its receiver on error")
			}
		})
	}
}

// addL returns the 32-byte little-endian s + L (s < L, so no carry out).
func addL(s []byte) []byte {
	out := make([]byte, 32)
	var carry uint16
	for i := range 32 {
		v := uint16(s[i]) + uint16(encL[i]) + carry
		out[i] = byte(v)
		carry = v >> 8
	}
	return out
}

func asInvalid(err error, ie **InvalidError) bool {
	e, ok := err.(*InvalidError)
	*ie = e
	return ok
}

// spec: TX-20
func TestReasonNames(t *testing.T) {
	seen := map[string]bool{}
	for _, r := range Reasons() {
		s := r.String()
		if s == "" || seen[s] || s == (Reason(0)).String() {
			t.Fatalf("reason %d has a missing or duplicate name %q", r, s)
		}
		seen[s] = true
	}
	if ReasonOf(nil) != 0 || ReasonOf(ErrNilInput) != 0 {
		t.Fatal("ReasonOf invents a reason")
	}
	if Reason(0).Intrinsic() || reasonEnd.Intrinsic() {
		t.Fatal("out-of-range reasons claim to be intrinsic")
	}
}
