package tx

import (
	"bytes"
	"encoding/binary"
	"math"
	"math/bits"
	"testing"
)

// FuzzDecode: any input decodes to a transfer that re-encodes to exactly
// the input, or fails with a decode reason naming a field; never panics.
// spec: TX-3, TX-4, TX-20
func FuzzDecode(f *testing.F) {
	good := validTx()
	enc := encode(&good)
	f.Add(enc)
	f.Add([]byte{})
	f.Add(enc[:EncodedSize-1])
	f.Add(append(bytes.Clone(enc), 0))
	bad := bytes.Clone(enc)
	copy(bad[offSig+32:], encL)
	f.Add(bad)
	f.Fuzz(func(t *testing.T, b []byte) {
		tr, err := Decode(b)
		if err != nil {
			var ie *InvalidError
			if !asInvalid(err, &ie) || ie.Field == "" {
				t.Fatalf("untyped decode error %v", err)
			}
			switch ie.Reason {
			case ReasonLength, ReasonDomain, ReasonNonCanonical:
			default:
				t.Fatalf("decode reported non-decode reason %q", ie.Reason)
			}
			return
		}
		if !bytes.Equal(encode(&tr), b) {
			t.Fatal("accepted input does not re-encode to itself")
		}
	})
}

// rawTransfer reads the fixed layout without the decoder's checks, so that
// Validate also sees transfers no decoder would produce.
func rawTransfer(b []byte) Transfer {
	var buf [EncodedSize]byte
	copy(buf[:], b)
	var t Transfer
	copy(t.From[:], buf[offFrom:])
	copy(t.To[:], buf[offTo:])
	t.Amount = binary.BigEndian.Uint64(buf[offAmount:])
	t.Fee = binary.BigEndian.Uint64(buf[offFee:])
	t.Nonce = binary.BigEndian.Uint64(buf[offNonce:])
	copy(t.Signature[:], buf[offSig:])
	return t
}

// FuzzValidate: hostile transfers and hostile views never panic; every
// refusal is typed, and every acceptance satisfies each rule.
// spec: TX-9 … TX-20
func FuzzValidate(f *testing.F) {
	good := validTx()
	f.Add(encode(&good), uint64(1000), uint64(5), uint64(2), uint64(100), false, uint64(3))
	f.Add(encode(&good), uint64(math.MaxUint64), uint64(7), uint64(0), uint64(math.MaxUint64), false, uint64(0))
	f.Add(encode(&good), uint64(0), uint64(math.MaxUint64), uint64(math.MaxUint64), uint64(0), true, uint64(math.MaxUint64))
	f.Add([]byte{}, uint64(0), uint64(0), uint64(0), uint64(0), false, uint64(0))
	f.Fuzz(func(t *testing.T, b []byte, balance, acctNonce, count, debits uint64, seen bool, minFee uint64) {
		tr := rawTransfer(b)
		cfg := Config{MinFee: minFee}
		v := fixedViews{acct: Account{balance, acctNonce}, pend: Pending{count, debits}, seen: seen}
		err := cfg.Validate(&tr, v, v)
		if err != nil {
			if r := ReasonOf(err); r == 0 || r.String() == "" {
				t.Fatalf("untyped refusal %v", err)
			}
			if ReasonOf(err) <= ReasonNonCanonical {
				t.Fatalf("Validate reported a decode reason: %v", err)
			}
			return
		}
		cost, c1 := bits.Add64(tr.Amount, tr.Fee, 0)
		need, c2 := bits.Add64(cost, debits, 0)
		switch {
		case tr.From == tr.To, tr.Amount == 0, tr.Fee < minFee, c1 != 0, c2 != 0, need > balance:
			t.Fatalf("accepted a transfer breaking a stateless or funds rule: %+v", tr)
		case seen, tr.Nonce < acctNonce, tr.Nonce-acctNonce != count, tr.Nonce == math.MaxUint64:
			t.Fatalf("accepted a transfer breaking a nonce or duplicate rule: %+v", tr)
		case !usableKey(&tr.To), VerifySignature(&tr) != nil:
			t.Fatalf("accepted a transfer with a bad key or signature: %+v", tr)
		}
	})
}
