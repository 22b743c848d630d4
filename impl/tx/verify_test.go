package tx

import (
	"crypto/ed25519"
	"crypto/sha512"
	"encoding/binary"
	"fmt"
	"testing"

	"github.com/oasisprotocol/curve25519-voi/curve"
	"github.com/oasisprotocol/curve25519-voi/curve/scalar"
	voi "github.com/oasisprotocol/curve25519-voi/primitives/ed25519"
	"pgregory.net/rapid"
)

// secret returns the Ed25519 secret scalar a of priv (RFC 8032 §5.1.5).
func secret(priv ed25519.PrivateKey) *scalar.Scalar {
	h := sha512.Sum512(priv[:32])
	h[0] &= 248
	h[31] &= 127
	h[31] |= 64
	s, err := scalar.NewFromBytesModOrder(h[:32])
	if err != nil {
		panic(err)
	}
	return s
}

func hram(R, A, msg []byte) *scalar.Scalar {
	h := sha512.New()
	h.Write(R)
	h.Write(A)
	h.Write(msg)
	k, err := scalar.NewFromBytesModOrderWide(h.Sum(nil))
	if err != nil {
		panic(err)
	}
	return k
}

func scalarFrom(label string, i uint64) *scalar.Scalar {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], i)
	h := sha512.Sum512(append([]byte(label), b[:]...))
	s, _ := scalar.NewFromBytesModOrderWide(h[:])
	return s
}

// signWithTorsion signs t with a nonce point R = [r]B + T, where T is a
// torsion point of order ord (1 = none). Only the key holder can do this;
// the result satisfies the cofactored equation and, for ord > 1, fails the
// cofactorless one.
func signWithTorsion(t *Transfer, priv ed25519.PrivateKey, r *scalar.Scalar, torsion int) {
	copy(t.From[:], priv[32:])
	var R curve.EdwardsPoint
	R.MulBasepoint(curve.ED25519_BASEPOINT_TABLE, r)
	R.Add(&R, curve.EIGHT_TORSION[torsion])
	var Rc curve.CompressedEdwardsY
	Rc.SetEdwardsPoint(&R)
	k := hram(Rc[:], t.From[:], t.SigningBytes())
	var S scalar.Scalar
	S.Mul(k, secret(priv))
	S.Add(&S, r)
	copy(t.Signature[:32], Rc[:])
	_ = S.ToBytes(t.Signature[32:])
}

// signSmallOrderR signs with R = identity: S = k·a. With nonCanonical
// the identity is encoded as y = p+1 instead of y = 1.
func signSmallOrderR(t *Transfer, priv ed25519.PrivateKey, nonCanonical bool) {
	copy(t.From[:], priv[32:])
	var Rc curve.CompressedEdwardsY
	Rc.Identity()
	if nonCanonical {
		copy(Rc[:], encPPlus1)
	}
	k := hram(Rc[:], t.From[:], t.SigningBytes())
	var S scalar.Scalar
	S.Mul(k, secret(priv))
	copy(t.Signature[:32], Rc[:])
	_ = S.ToBytes(t.Signature[32:])
}

// forgeSmallOrderKey sets From to the small-order point EIGHT_TORSION[i]
// and a "signature" that anyone can make without a secret: R = [s]B, S = s.
// The cofactorless equation accepts it whenever [k]A = 0; the cofactored
// one always does. TX-7 must reject it by refusing small-order keys.
func forgeSmallOrderKey(t *Transfer, i int, s uint64) {
	var Ac curve.CompressedEdwardsY
	Ac.SetEdwardsPoint(curve.EIGHT_TORSION[i])
	copy(t.From[:], Ac[:])
	S := scalar.NewFromUint64(s)
	var R curve.EdwardsPoint
	R.MulBasepoint(curve.ED25519_BASEPOINT_TABLE, S)
	var Rc curve.CompressedEdwardsY
	Rc.SetEdwardsPoint(&R)
	copy(t.Signature[:32], Rc[:])
	_ = S.ToBytes(t.Signature[32:])
}

// offCurve returns a canonical encoding that is not on the curve.
func offCurve() AccountID {
	for y := uint64(2); ; y++ {
		var id AccountID
		binary.LittleEndian.PutUint64(id[:], y)
		var c curve.CompressedEdwardsY
		copy(c[:], id[:])
		var p curve.EdwardsPoint
		if _, err := p.SetCompressedY(&c); err != nil {
			return id
		}
	}
}

func stdlibVerify(t *Transfer) bool {
	return ed25519.Verify(t.From[:], t.SigningBytes(), t.Signature[:])
}

// Each case shows where TX-7 stands against crypto/ed25519 (cofactorless,
// lax on keys), and that batch and single verification agree on it.
// spec: TX-7, TX-8
func TestSignatureRuleVectors(t *testing.T) {
	base := Transfer{To: pub(key(2)), Amount: 5, Fee: 1, Nonce: 0}
	honest := base
	honest.Sign(key(1))

	malleated := honest
	copy(malleated.Signature[32:], addL(honest.Signature[32:]))

	mixedR := base
	signWithTorsion(&mixedR, key(1), scalarFrom("r", 1), 1)

	primeR := base // the same construction with no torsion: an ordinary signature
	signWithTorsion(&primeR, key(1), scalarFrom("r", 1), 0)

	smallR := base
	signSmallOrderR(&smallR, key(1), false)

	nonCanonR := base
	signSmallOrderR(&nonCanonR, key(1), true)

	identityKey := base // A = identity: crypto/ed25519 accepts for any message
	forgeSmallOrderKey(&identityKey, 0, 1)

	order8Key := base // A of order 8: the cofactored equation alone accepts
	forgeSmallOrderKey(&order8Key, 1, 1)

	nonCanonKey := honest // y = p ≡ 0: a non-canonical key
	copy(nonCanonKey.From[:], encP)

	offKey := honest
	offKey.From = offCurve()

	wrongMsg := honest
	wrongMsg.Amount++

	cases := []struct {
		name   string
		tr     Transfer
		want   Reason // 0 = valid under TX-7
		stdlib bool
	}{
		{"honest", honest, 0, true},
		{"non-canonical S = S+L", malleated, ReasonBadSignature, false},
		{"R with order-8 torsion, by the key holder", mixedR, 0, false},
		{"R built without torsion", primeR, 0, true},
		{"small-order R, by the key holder", smallR, 0, true},
		{"non-canonical R (y = p+1), by the key holder", nonCanonR, ReasonBadSignature, false},
		{"identity key, no secret", identityKey, ReasonBadSenderKey, true},
		{"order-8 key, no secret", order8Key, ReasonBadSenderKey, false},
		{"non-canonical key", nonCanonKey, ReasonBadSenderKey, false},
		{"key off the curve", offKey, ReasonBadSenderKey, false},
		{"message changed", wrongMsg, ReasonBadSignature, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tr := c.tr
			if got := ReasonOf(VerifySignature(&tr)); got != c.want {
				t.Fatalf("VerifySignature: reason %q, want %q", got, c.want)
			}
			if got := stdlibVerify(&tr); got != c.stdlib {
				t.Fatalf("crypto/ed25519 says %v, the vector expects %v", got, c.stdlib)
			}
			// Batch agreement: the case inside a batch of honest ones,
			// large enough to take the batch path.
			batch := make([]*Transfer, 0, 2*BatchMin+1)
			for i := range BatchMin {
				h := signed(uint64(10+i), 2, 1, 1, 0)
				batch = append(batch, &h)
			}
			batch = append(batch, &tr)
			for i := range BatchMin {
				h := signed(uint64(20+i), 2, 1, 1, 0)
				batch = append(batch, &h)
			}
			ok := VerifyBatch(batch)
			for i, v := range ok {
				want := i != BatchMin || c.want == 0
				if v != want {
					t.Fatalf("VerifyBatch entry %d = %v, want %v", i, v, want)
				}
			}
		})
	}
}

// The small-order-key check is what keeps the cofactored equation from
// accepting keyless forgeries: with it switched off the library accepts
// the order-8 forgery. If this ever stops failing, TX-7's key check is
// the only thing standing, and the vector above must still catch it.
func TestSmallOrderKeyCheckIsNeeded(t *testing.T) {
	tr := Transfer{To: pub(key(2)), Amount: 5, Fee: 1}
	forgeSmallOrderKey(&tr, 1, 1)
	lax := &voi.Options{Verify: &voi.VerifyOptions{AllowSmallOrderA: true, AllowSmallOrderR: true}}
	if !voi.VerifyWithOptions(tr.From[:], tr.SigningBytes(), tr.Signature[:], lax) {
		t.Fatal("the planted weakness (small-order keys allowed) did not accept the forgery; the vector is wrong")
	}
	if VerifySignature(&tr) == nil {
		t.Fatal("TX-7 accepted a forgery under a small-order key")
	}
}

// kinds of batch entries for the agreement property.
var entryKinds = []string{"honest", "mutated", "malleated S", "mixed R", "small R", "small-order key", "garbage", "nil"}

func genEntry(t *rapid.T, i int) *Transfer {
	kind := rapid.SampledFrom(entryKinds).Draw(t, fmt.Sprintf("kind%d", i))
	from := rapid.Uint64Range(0, 50).Draw(t, fmt.Sprintf("from%d", i))
	tr := Transfer{To: pub(key(from + 1000)), Amount: uint64(i + 1), Fee: 1, Nonce: uint64(i)}
	switch kind {
	case "honest":
		tr.Sign(key(from))
	case "mutated":
		tr.Sign(key(from))
		tr.Fee++
	case "malleated S":
		tr.Sign(key(from))
		copy(tr.Signature[32:], addL(tr.Signature[32:]))
	case "mixed R":
		signWithTorsion(&tr, key(from), scalarFrom("r", uint64(i)), rapid.IntRange(1, 7).Draw(t, fmt.Sprintf("torsion%d", i)))
	case "small R":
		signSmallOrderR(&tr, key(from), rapid.Bool().Draw(t, fmt.Sprintf("noncanonical%d", i)))
	case "small-order key":
		forgeSmallOrderKey(&tr, rapid.IntRange(0, 7).Draw(t, fmt.Sprintf("point%d", i)), from+1)
	case "garbage":
		tr.From = pub(key(from))
		copy(tr.Signature[:], rapid.SliceOfN(rapid.Byte(), 64, 64).Draw(t, fmt.Sprintf("sig%d", i)))
	case "nil":
		return nil
	}
	return &tr
}

// Batch verdicts equal single verdicts entry by entry, whatever the mix.
// spec: TX-8
func TestBatchAgreesWithSingle(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		n := rapid.IntRange(0, 24).Draw(t, "n")
		txs := make([]*Transfer, n)
		for i := range txs {
			txs[i] = genEntry(t, i)
		}
		got := VerifyBatch(txs)
		if len(got) != n {
			t.Fatalf("%d verdicts for %d entries", len(got), n)
		}
		for i, tr := range txs {
			want := tr != nil && VerifySignature(tr) == nil
			if got[i] != want {
				t.Fatalf("entry %d: batch %v, single %v", i, got[i], want)
			}
		}
	})
}

// spec: TX-8
func TestVerifyBatchSizes(t *testing.T) {
	for _, n := range []int{0, 1, BatchMin - 1, BatchMin, 65} {
		txs := make([]*Transfer, n)
		for i := range txs {
			tr := signed(uint64(i), uint64(i+1), 1, 0, 0)
			txs[i] = &tr
		}
		for i, ok := range VerifyBatch(txs) {
			if !ok {
				t.Fatalf("n=%d: honest entry %d rejected", n, i)
			}
		}
		if n == 0 {
			continue
		}
		for _, bad := range []int{0, n / 2, n - 1} {
			saved := *txs[bad]
			txs[bad].Nonce++
			for i, ok := range VerifyBatch(txs) {
				if ok != (i != bad) {
					t.Fatalf("n=%d bad=%d: entry %d verdict %v", n, bad, i, ok)
				}
			}
			*txs[bad] = saved
		}
	}
}
