package threshold

import (
	"crypto/sha256"
	"encoding/binary"
	"slices"

	"github.com/consensys/gnark-crypto/ecc/bls12-381/fr"

	"github.com/fhbft/fhbft/impl/crypto/bls"
)

// Locating invalid partials (spec: CERT-17).
//
// Batch check. For a set S of partials on one message with weights r_i,
//
//	e(Σ r_i σ_i, g2) == e(H(m), Σ r_i pk_i)
//
// costs two multi-exponentiations and ONE pairing check (two Miller loops),
// whatever |S|. Writing σ_i = s_i·H(m) + Δ_i, the check holds iff
// Σ r_i Δ_i = 0 in G1, because x ↦ e(x, g2) is injective on G1. If some
// Δ_i ≠ 0, that is one linear equation in the r_i, which a uniformly random
// 128-bit weight vector satisfies with probability at most 2^-128
// (small-exponents test, Bellare-Garay-Rabin 1998). In particular a pair
// σ_i + D, σ_j - D that cancels in a plain sum does not cancel here.
//
// Deterministic weights. The r_i are SHA-256 (counter mode) of the message,
// the tag, the group key and every partial's index and bytes, so FindInvalid
// is a pure function. This is sound because the weights are fixed only
// after the adversary has committed to its partials: changing any partial
// changes every weight (random-oracle model), so to pass the check the
// adversary must find partials whose own hash satisfies a 2^-128 event, i.e.
// about 2^128 hash evaluations. Honest-but-unlucky inputs are no concern:
// a batch of valid partials passes for every weight vector.
//
// Bisection. If S fails, split it in half and check the left half; if the
// left half passes, the right half must fail (the sums are additive, and the
// halves use the same weights), so its check is skipped. Single partials are
// always verified individually with the exact check, so a partial is never
// reported invalid by inference alone.

// weightDomain separates these hash uses from any other SHA-256 use.
const weightDomain = "fhbft/threshold/batch-verification-weights/v1"

// batchWeights derives one non-zero 128-bit weight per partial.
func batchWeights(gk GroupKey, dst, msg []byte, partials []Partial) []fr.Element {
	h := sha256.New()
	var u [8]byte
	put := func(v uint64) {
		binary.BigEndian.PutUint64(u[:], v)
		h.Write(u[:])
	}
	h.Write([]byte(weightDomain))
	put(uint64(len(dst)))
	h.Write(dst)
	put(uint64(len(msg)))
	h.Write(msg)
	pub := gk.Public.Bytes()
	h.Write(pub[:])
	put(uint64(gk.N))
	put(uint64(gk.T))
	put(uint64(len(partials)))
	for _, p := range partials {
		var ib [4]byte
		binary.BigEndian.PutUint32(ib[:], uint32(p.Index))
		h.Write(ib[:])
		sb := p.Sig.Bytes()
		h.Write(sb[:])
	}
	seed := h.Sum(nil)

	w := make([]fr.Element, len(partials))
	for blk := 0; 2*blk < len(w); blk++ {
		var in [sha256.Size + 8]byte
		copy(in[:], seed)
		binary.BigEndian.PutUint64(in[sha256.Size:], uint64(blk))
		out := sha256.Sum256(in[:])
		for half := range 2 {
			i := 2*blk + half
			if i >= len(w) {
				break
			}
			var buf [fr.Bytes]byte // 128-bit value, zero-extended: < r
			copy(buf[16:], out[16*half:16*half+16])
			w[i].SetBytes(buf[:])
			if w[i].IsZero() {
				// Probability 2^-128; any non-zero weight keeps the test sound.
				w[i].SetOne()
			}
		}
	}
	return w
}

// searcher carries the state of one bisection.
type searcher struct {
	h        bls.HashedMessage
	partials []Partial
	pks      []bls.PublicKey // public share per input position
	weights  []fr.Element
	bad      []int // input positions
}

// check reports whether every partial in set is valid: exactly for one
// partial, by the weighted batch check for more.
func (s *searcher) check(set []int) bool {
	if len(set) == 1 {
		i := set[0]
		return bls.VerifyHashed(s.pks[i], s.h, s.partials[i].Sig) == nil
	}
	sigs := make([]bls.Signature, len(set))
	pks := make([]bls.PublicKey, len(set))
	ws := make([]fr.Element, len(set))
	for k, i := range set {
		sigs[k], pks[k], ws[k] = s.partials[i].Sig, s.pks[i], s.weights[i]
	}
	aggSig, err := bls.LinearCombinationSignatures(sigs, ws)
	if err != nil {
		return false
	}
	aggPK, err := bls.LinearCombinationPublicKeys(pks, ws)
	if err != nil {
		return false
	}
	// VerifyHashed also fails on an identity aggregate; that can only make
	// the search do more work, since singletons are checked exactly.
	return bls.VerifyHashed(aggPK, s.h, aggSig) == nil
}

// search appends to s.bad the invalid partials of set, in input order.
// knownBad says that a check of set has already failed.
func (s *searcher) search(set []int, knownBad bool) {
	if len(set) == 0 {
		return
	}
	if len(set) == 1 {
		if !s.check(set) {
			s.bad = append(s.bad, set[0])
		}
		return
	}
	if !knownBad && s.check(set) {
		return
	}
	mid := len(set) / 2
	left, right := set[:mid], set[mid:]
	if s.check(left) {
		s.search(right, true)
		return
	}
	if len(left) == 1 {
		s.bad = append(s.bad, left[0]) // just verified exactly
	} else {
		s.search(left, true)
	}
	s.search(right, false)
}

// badEntry is an invalid partial: its input position and index.
type badEntry struct {
	pos int
	idx Index
}

// findInvalid returns the invalid partials in input order. Partials whose
// index has no public share, or whose signature is the identity, are
// invalid without any pairing.
func findInvalid(gk GroupKey, h bls.HashedMessage, dst, msg []byte, partials []Partial) []badEntry {
	s := &searcher{
		h:        h,
		partials: partials,
		pks:      make([]bls.PublicKey, len(partials)),
		weights:  batchWeights(gk, dst, msg, partials),
	}
	var cand []int
	for pos, p := range partials {
		pk, err := gk.ShareOf(p.Index)
		if err != nil || p.Sig.IsInfinity() || pk.IsInfinity() {
			s.bad = append(s.bad, pos)
			continue
		}
		s.pks[pos] = pk
		cand = append(cand, pos)
	}
	s.search(cand, false)
	slices.Sort(s.bad)
	out := make([]badEntry, len(s.bad))
	for k, pos := range s.bad {
		out[k] = badEntry{pos: pos, idx: partials[pos].Index}
	}
	return out
}

// FindInvalid returns the indices of the partials that do not verify
// against their member's public share, one entry per invalid partial, in
// input order (spec: CERT-17). It uses random-weight batch verification and
// bisection (see the comment at the top of this file), so with k invalid
// partials among m it needs about 2k·log2(m) pairing checks instead of m.
// The weights are derived from the inputs, so the result is a deterministic
// function of them. If dst is invalid, every partial is reported.
func FindInvalid(gk GroupKey, dst, msg []byte, partials []Partial) []Index {
	h, err := bls.HashMessage(dst, msg)
	if err != nil {
		out := make([]Index, len(partials))
		for i, p := range partials {
			out[i] = p.Index
		}
		return out
	}
	return badIndices(findInvalid(gk, h, dst, msg, partials))
}

// badIndices lists the indices of bad entries; nil if there are none.
func badIndices(bad []badEntry) []Index {
	if len(bad) == 0 {
		return nil
	}
	out := make([]Index, len(bad))
	for i, b := range bad {
		out[i] = b.idx
	}
	return out
}
