package tx

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"

	voi "github.com/oasisprotocol/curve25519-voi/primitives/ed25519"
)

// The signature rule (spec: TX-7) is RFC 8032 Ed25519 with:
//   - S canonical (S < L), so a third party cannot malleate a signature;
//   - A (= From) and R canonically encoded, A not of small order (a
//     small-order key lets anyone "sign" for it);
//   - the cofactored equation [8][S]B = [8]R + [8][k]A.
//
// This is what the batch verifier can check: a random linear combination
// can only reproduce the cofactored equation, so single and batch
// verification share this one rule and accept the same signatures (a
// batch wrongly passing has probability about 2^-128; TX-8). It
// differs from crypto/ed25519 (cofactorless, accepts non-canonical and
// small-order A) only on signatures that an honest signer never produces;
// verify_test.go exhibits each difference.
//
// The options are spelled out rather than taken from the library's default
// preset so that a library upgrade cannot change the consensus rule.
var sigOptions = &voi.Options{Verify: &voi.VerifyOptions{
	AllowSmallOrderA:   false,
	AllowSmallOrderR:   true,
	AllowNonCanonicalA: false,
	AllowNonCanonicalR: false,
	CofactorlessVerify: false,
}}

// BatchMin is the smallest batch VerifyBatch hands to the batch verifier;
// below it, one-by-one verification is faster (bench_test.go).
const BatchMin = 4

// VerifySignature checks t's signature under TX-7. The error is an
// *InvalidError with ReasonBadSenderKey or ReasonBadSignature.
func VerifySignature(t *Transfer) error {
	if t == nil {
		return ErrNilInput
	}
	var buf [SigningSize]byte
	if voi.VerifyWithOptions(t.From[:], t.AppendSigningBytes(buf[:0]), t.Signature[:], sigOptions) {
		return nil
	}
	return signatureError(t)
}

// signatureError names why a signature failed: the key itself, or the
// signature under a usable key (spec: TX-7).
func signatureError(t *Transfer) error {
	if !usableKey(&t.From) {
		return invalid(ReasonBadSenderKey, "from %x is not a canonical, prime-order-usable Ed25519 key", t.From[:4])
	}
	return invalid(ReasonBadSignature, "signature does not verify under from")
}

// VerifyBatch checks the signatures of txs under TX-7 and returns one
// verdict per entry; a nil entry is invalid. For BatchMin or more entries
// it runs one randomised batch check and, only if that fails, verifies each
// entry on its own to find the bad ones; the verdicts equal
// VerifySignature's in every case (spec: TX-8).
//
// The batch coefficients are derived from a hash of every encoding in the
// batch rather than drawn at random, so the function is deterministic; a
// forger would have to fix the batch before learning its coefficients,
// exactly as with fresh randomness (spec: TX-8).
func VerifyBatch(txs []*Transfer) []bool {
	ok := make([]bool, len(txs))
	n := 0
	for _, t := range txs {
		if t != nil {
			n++
		}
	}
	if n < BatchMin {
		for i, t := range txs {
			ok[i] = t != nil && VerifySignature(t) == nil
		}
		return ok
	}
	bv := voi.NewBatchVerifierWithCapacity(n)
	msgs := make([]byte, 0, n*SigningSize)
	index := make([]int, 0, n)
	h := sha256.New()
	h.Write([]byte(Domain + "/batch"))
	var cnt [8]byte
	binary.BigEndian.PutUint64(cnt[:], uint64(n))
	h.Write(cnt[:])
	for i, t := range txs {
		if t == nil {
			continue
		}
		start := len(msgs)
		msgs = t.AppendSigningBytes(msgs)
		msg := msgs[start:len(msgs):len(msgs)]
		h.Write(msg)
		h.Write(t.Signature[:])
		bv.AddWithOptions(t.From[:], msg, t.Signature[:], sigOptions)
		index = append(index, i)
	}
	// The library reads a 32-byte ChaCha20 key from this reader and
	// expands it into the 128-bit coefficients.
	_, valid := bv.Verify(bytes.NewReader(h.Sum(nil)))
	for j, i := range index {
		ok[i] = valid[j]
	}
	return ok
}
