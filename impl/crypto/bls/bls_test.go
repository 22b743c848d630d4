package bls

import (
	"bytes"
	"errors"
	"fmt"
	"math/big"
	"math/rand/v2"
	"strings"
	"testing"

	bls12381 "github.com/consensys/gnark-crypto/ecc/bls12-381"
	"github.com/consensys/gnark-crypto/ecc/bls12-381/fr"
)

var testDST = []byte("FHBFT-V1-TEST-BLS12381G1_XMD:SHA-256_SSWU_RO_")

// seededRand returns a deterministic randomness source and prints its seed
// if the test fails, so any failure can be replayed.
func seededRand(tb testing.TB, seed uint64) *rand.ChaCha8 {
	tb.Helper()
	var s [32]byte
	for i := range 8 {
		s[i] = byte(seed >> (8 * i))
	}
	tb.Cleanup(func() {
		if tb.Failed() {
			tb.Logf("randomness seed: %d", seed)
		}
	})
	return rand.NewChaCha8(s)
}

func mustKey(tb testing.TB, r *rand.ChaCha8) SecretKey {
	tb.Helper()
	sk, err := GenerateKey(r)
	if err != nil {
		tb.Fatalf("GenerateKey: %v", err)
	}
	return sk
}

func TestSignVerify(t *testing.T) {
	r := seededRand(t, 1)
	sk := mustKey(t, r)
	pk := sk.PublicKey()
	msg := []byte("subject digest and verdict")
	sig := Sign(sk, testDST, msg)
	if err := Verify(pk, testDST, msg, sig); err != nil {
		t.Fatalf("valid signature rejected: %v", err)
	}
	if again := Sign(sk, testDST, msg); again != sig || !again.Equal(sig) {
		t.Fatalf("signing is not deterministic")
	}

	other := mustKey(t, r)
	var g1 bls12381.G1Affine
	_, _, g1, _ = bls12381.Generators()
	tampered := sig.p
	tampered.Add(&tampered, &g1)
	otherDST := []byte("FHBFT-V1-OTHER-BLS12381G1_XMD:SHA-256_SSWU_RO_")

	cases := []struct {
		name string
		pk   PublicKey
		dst  []byte
		msg  []byte
		sig  Signature
	}{
		{"other message", pk, testDST, []byte("subject digest and verdicT"), sig},
		{"other dst", pk, otherDST, msg, sig},
		{"other key", other.PublicKey(), testDST, msg, sig},
		{"tampered signature", pk, testDST, msg, Signature{p: tampered}},
		{"signature by other key", pk, testDST, msg, Sign(other, testDST, msg)},
	}
	for _, c := range cases {
		err := Verify(c.pk, c.dst, c.msg, c.sig)
		if !errors.Is(err, ErrInvalidSignature) {
			t.Errorf("%s: got %v, want ErrInvalidSignature", c.name, err)
		}
	}
}

func TestVerifyRejectsIdentity(t *testing.T) {
	r := seededRand(t, 2)
	sk := mustKey(t, r)
	msg := []byte("m")
	// With key and signature both the identity the pairing equation holds
	// for every message, so this must be caught before the pairing.
	if err := Verify(PublicKey{}, testDST, msg, Signature{}); !errors.Is(err, ErrInvalidPublicKey) {
		t.Fatalf("identity key and signature: got %v, want ErrInvalidPublicKey", err)
	}
	if err := Verify(sk.PublicKey(), testDST, msg, Signature{}); !errors.Is(err, ErrInvalidSignature) {
		t.Fatalf("identity signature: got %v, want ErrInvalidSignature", err)
	}
	if err := VerifyHashed(sk.PublicKey(), HashedMessage{}, Sign(sk, testDST, msg)); !errors.Is(err, ErrZeroMessage) {
		t.Fatalf("zero hashed message: got %v, want ErrZeroMessage", err)
	}
	// The zero secret key signs to the identity, which never verifies.
	if s := Sign(SecretKey{}, testDST, msg); !s.IsInfinity() {
		t.Fatalf("zero key should sign to the identity")
	}
}

func TestDST(t *testing.T) {
	r := seededRand(t, 3)
	sk := mustKey(t, r)
	pk := sk.PublicKey()
	msg := []byte("m")
	sig := Sign(sk, testDST, msg)
	long := bytes.Repeat([]byte{'a'}, MaxDSTLen+1)
	for name, dst := range map[string][]byte{
		"nil":      nil,
		"empty":    {},
		"too long": long,
		"reserved": []byte(DSTPoP),
	} {
		if err := Verify(pk, dst, msg, sig); !errors.Is(err, ErrInvalidDST) {
			t.Errorf("Verify with %s dst: got %v, want ErrInvalidDST", name, err)
		}
		if _, err := HashMessage(dst, msg); !errors.Is(err, ErrInvalidDST) {
			t.Errorf("HashMessage with %s dst: got %v, want ErrInvalidDST", name, err)
		}
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("Sign with %s dst did not panic", name)
				}
			}()
			Sign(sk, dst, msg)
		}()
	}
	maxDST := bytes.Repeat([]byte{'b'}, MaxDSTLen)
	if err := Verify(pk, maxDST, msg, Sign(sk, maxDST, msg)); err != nil {
		t.Fatalf("255-byte dst rejected: %v", err)
	}
}

func TestProofOfPossession(t *testing.T) {
	r := seededRand(t, 4)
	sk, other := mustKey(t, r), mustKey(t, r)
	pk := sk.PublicKey()
	proof := ProvePossession(sk)
	if err := VerifyPossession(pk, proof); err != nil {
		t.Fatalf("valid proof rejected: %v", err)
	}
	if err := VerifyPossession(other.PublicKey(), proof); !errors.Is(err, ErrInvalidSignature) {
		t.Fatalf("proof for another key: got %v", err)
	}
	if err := VerifyPossession(pk, ProvePossession(other)); !errors.Is(err, ErrInvalidSignature) {
		t.Fatalf("other key's proof: got %v", err)
	}
	// A signature on the key bytes under a message DST is not a proof
	// (domain separation, CERT-15).
	pkb := pk.Bytes()
	if err := VerifyPossession(pk, Sign(sk, testDST, pkb[:])); !errors.Is(err, ErrInvalidSignature) {
		t.Fatalf("message signature accepted as proof: %v", err)
	}
	// And the proof is not a message signature under any message DST.
	if err := Verify(pk, testDST, pkb[:], proof); !errors.Is(err, ErrInvalidSignature) {
		t.Fatalf("proof accepted as message signature: %v", err)
	}
	if err := VerifyPossession(PublicKey{}, Signature{}); err == nil {
		t.Fatalf("identity key with identity proof accepted")
	}
}

func TestAggregate(t *testing.T) {
	r := seededRand(t, 5)
	msg := []byte("one message")
	var pks []PublicKey
	var sigs []Signature
	for range 5 {
		sk := mustKey(t, r)
		pks = append(pks, sk.PublicKey())
		sigs = append(sigs, Sign(sk, testDST, msg))
	}
	agg, err := AggregateSignatures(sigs)
	if err != nil {
		t.Fatal(err)
	}
	if err := FastAggregateVerify(pks, testDST, msg, agg); err != nil {
		t.Fatalf("aggregate rejected: %v", err)
	}
	if err := FastAggregateVerify(pks[:4], testDST, msg, agg); !errors.Is(err, ErrInvalidSignature) {
		t.Fatalf("aggregate with a key missing: got %v", err)
	}
	part, _ := AggregateSignatures(sigs[:4])
	if err := FastAggregateVerify(pks, testDST, msg, part); !errors.Is(err, ErrInvalidSignature) {
		t.Fatalf("aggregate with a signature missing: got %v", err)
	}
	if _, err := AggregateSignatures(nil); !errors.Is(err, ErrEmpty) {
		t.Fatalf("empty signatures: got %v", err)
	}
	if _, err := AggregatePublicKeys(nil); !errors.Is(err, ErrEmpty) {
		t.Fatalf("empty keys: got %v", err)
	}
	if _, err := AggregatePublicKeys([]PublicKey{pks[0], {}}); !errors.Is(err, ErrInvalidPublicKey) {
		t.Fatalf("identity key aggregated: got %v", err)
	}
	if _, err := AggregateSignatures([]Signature{{}, sigs[0]}); !errors.Is(err, ErrInvalidSignature) {
		t.Fatalf("identity signature aggregated: got %v", err)
	}
}

// TestRogueKeyNeedsPoP shows why CERT-16 exists: without proofs of
// possession an attacker aggregates a key it has no secret for and forges
// an "aggregate" signature alone; the proof of possession stops it.
func TestRogueKeyNeedsPoP(t *testing.T) {
	r := seededRand(t, 6)
	honest, attacker := mustKey(t, r), mustKey(t, r)
	var minusOne fr.Element
	minusOne.SetOne()
	minusOne.Neg(&minusOne)
	one := fr.One()
	rogue, err := LinearCombinationPublicKeys(
		[]PublicKey{attacker.PublicKey(), honest.PublicKey()}, []fr.Element{one, minusOne})
	if err != nil {
		t.Fatal(err)
	}
	msg := []byte("the honest member never signed this")
	forged := Sign(attacker, testDST, msg)
	if err := FastAggregateVerify([]PublicKey{honest.PublicKey(), rogue}, testDST, msg, forged); err != nil {
		t.Fatalf("rogue-key forgery should pass without PoP (test premise): %v", err)
	}
	// The attacker can produce proofs only for keys whose secret it knows.
	for _, proof := range []Signature{ProvePossession(attacker), ProvePossession(honest), forged} {
		if err := VerifyPossession(rogue, proof); err == nil {
			t.Fatalf("rogue key passed proof of possession")
		}
	}
}

func TestLinearCombination(t *testing.T) {
	r := seededRand(t, 7)
	msg := []byte("m")
	// Sizes on both sides of msmMinPoints exercise both code paths.
	for _, n := range []int{1, 4, msmMinPoints - 1, msmMinPoints, 12} {
		var sigs []Signature
		var pks []PublicKey
		var cs []fr.Element
		var sum fr.Element
		for i := range n {
			sk := mustKey(t, r)
			sigs = append(sigs, Sign(sk, testDST, msg))
			pks = append(pks, sk.PublicKey())
			var c fr.Element
			c.SetUint64(uint64(3*i + 2))
			if i%3 == 1 {
				c = mustKey(t, r).Scalar() // full-size coefficients too
			}
			cs = append(cs, c)
			s := sk.Scalar()
			s.Mul(&s, &c)
			sum.Add(&sum, &s)
		}
		want, err := SecretKeyFromScalar(sum)
		if err != nil {
			t.Fatal(err)
		}
		gotSig, err := LinearCombinationSignatures(sigs, cs)
		if err != nil {
			t.Fatal(err)
		}
		if !gotSig.Equal(Sign(want, testDST, msg)) {
			t.Fatalf("n=%d: signature combination differs from signing with the combined key", n)
		}
		gotPK, err := LinearCombinationPublicKeys(pks, cs)
		if err != nil {
			t.Fatal(err)
		}
		if gotPK != want.PublicKey() {
			t.Fatalf("n=%d: key combination differs from the combined key", n)
		}
		if _, err := LinearCombinationSignatures(sigs, cs[:n-1]); !errors.Is(err, ErrLengthMismatch) {
			t.Fatalf("length mismatch: got %v", err)
		}
		if _, err := LinearCombinationPublicKeys(pks, append(cs, cs[0])); !errors.Is(err, ErrLengthMismatch) {
			t.Fatalf("length mismatch: got %v", err)
		}
	}
	if _, err := LinearCombinationPublicKeys(nil, nil); !errors.Is(err, ErrEmpty) {
		t.Fatalf("empty: got %v", err)
	}
	if _, err := LinearCombinationSignatures(nil, nil); !errors.Is(err, ErrEmpty) {
		t.Fatalf("empty: got %v", err)
	}
}

func TestSecretKey(t *testing.T) {
	r := seededRand(t, 8)
	sk := mustKey(t, r)
	b := sk.Bytes()
	back, err := SecretKeyFromBytes(b[:])
	if err != nil || back != sk || !back.Equal(sk) {
		t.Fatalf("round trip: %v", err)
	}
	if sk.Equal(mustKey(t, r)) {
		t.Fatalf("distinct keys compare equal")
	}
	var zero [32]byte
	if _, err := SecretKeyFromBytes(zero[:]); !errors.Is(err, ErrInvalidSecretKey) {
		t.Fatalf("zero scalar: got %v", err)
	}
	mod := fr.Modulus().FillBytes(make([]byte, 32))
	if _, err := SecretKeyFromBytes(mod); !errors.Is(err, ErrNonCanonical) {
		t.Fatalf("scalar = r: got %v", err)
	}
	if _, err := SecretKeyFromBytes(b[:31]); !errors.Is(err, ErrLength) {
		t.Fatalf("short scalar: got %v", err)
	}
	var de *DecodeError
	if _, err := SecretKeyFromBytes(nil); !errors.As(err, &de) || de.Kind != KindSecretKey {
		t.Fatalf("want DecodeError of kind secret key, got %v", err)
	}
	if _, err := SecretKeyFromScalar(fr.Element{}); !errors.Is(err, ErrInvalidSecretKey) {
		t.Fatalf("zero scalar: got %v", err)
	}
	for _, s := range []string{sk.String(), fmtV(sk), fmtGoV(sk)} {
		hb := bigHex(sk)
		if strings.Contains(s, hb) {
			t.Fatalf("secret leaked by formatting: %q", s)
		}
	}
	// A source that always yields zero bytes gives zero scalars only.
	if _, err := GenerateKey(bytes.NewReader(make([]byte, 1024))); !errors.Is(err, ErrInvalidSecretKey) {
		t.Fatalf("zero randomness: got %v", err)
	}
	if _, err := GenerateKey(bytes.NewReader(make([]byte, 10))); err == nil {
		t.Fatalf("short randomness accepted")
	}
	if _, err := GenerateKey(nil); err == nil {
		t.Fatalf("nil randomness accepted")
	}
}

func bigHex(sk SecretKey) string {
	s := sk.Scalar()
	var b big.Int
	s.BigInt(&b)
	return b.Text(16)
}

func fmtV(sk SecretKey) string   { return fmt.Sprintf("%v %s %+v", sk, sk, sk) }
func fmtGoV(sk SecretKey) string { return fmt.Sprintf("%#v", sk) }
