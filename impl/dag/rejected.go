package dag

import (
	"bytes"
	"slices"

	"github.com/fhbft/fhbft/impl/state"
	"github.com/fhbft/fhbft/impl/tx"
)

// RejectedTx is a transfer a convergence block rejected: the transfer (so
// that its slot is known), its digest (= Transfer.Digest()) and the
// reason. Outcome.Rejected lists them in the order of Block.Rejected.
// spec: CONV-1, CONV-14, FIN-2
type RejectedTx struct {
	Transfer tx.Transfer
	Digest   tx.Digest
	Reason   Reason
}

// RejectedEntry is one member of a RejectedSet: a digest with its slot
// (From, Nonce) and the reason it was first rejected for.
type RejectedEntry struct {
	Digest tx.Digest
	From   tx.AccountID
	Nonce  uint64
	Reason Reason
}

// RejectedSet is the rejected half of a node's ledger (CONV-14): every
// digest a final convergence block rejected, with its slot, kept while the
// slot is open (nonce ≥ the sender's nonce) and dropped once the sender's
// nonce passes it. Converge excludes the candidates it holds (CONV-3), so
// a transfer rejected for conflict, overdraft or gap-expired is never
// applied by a later block, even when a Byzantine harvester re-proposes it
// with its still-valid transaction certificate.
//
// Every honest node derives its set the same way, from its final blocks
// alone (FIN-2: Apply each final block's Outcome), so harvesters and
// miners agree on it as they agree on the state. Membership is by digest;
// the map is only looked up, and Entries sorts, so nothing depends on map
// iteration order. The zero value is an empty set ready to use; a nil
// *RejectedSet is an empty set for every read-only method. Not safe for
// concurrent use.
//
// Size: one entry per rejected transfer whose slot is still open. Entries
// come only from final blocks, so the set is bounded by the transfers the
// farmers certified; an account whose nonce never reaches a rejected
// transfer's nonce keeps that entry.
//
// spec: CONV-14, FIN-2, tla: DAGConvergence!RejectionsFinal
type RejectedSet struct {
	m map[tx.Digest]RejectedEntry
}

// NewRejectedSet returns an empty set.
func NewRejectedSet() *RejectedSet { return &RejectedSet{} }

// Add records rejected transfers; a digest already present keeps its
// first reason (CONV-14). r.Digest must be r.Transfer.Digest() (as in
// Outcome.Rejected). Adding a transfer whose slot has already closed is
// harmless: Converge ignores it and Prune drops it.
func (s *RejectedSet) Add(rs ...RejectedTx) {
	if len(rs) == 0 {
		return
	}
	if s.m == nil {
		s.m = make(map[tx.Digest]RejectedEntry, len(rs))
	}
	for i := range rs {
		r := &rs[i]
		if _, ok := s.m[r.Digest]; ok {
			continue
		}
		s.m[r.Digest] = RejectedEntry{Digest: r.Digest, From: r.Transfer.From, Nonce: r.Transfer.Nonce, Reason: r.Reason}
	}
}

// Prune drops the entries whose slot has closed in st (nonce below the
// sender's nonce): a re-proposal of such a transfer is a replay (CONV-6),
// so the set need not remember it. It returns how many it dropped. The
// result does not depend on map order: each entry is decided on its own.
func (s *RejectedSet) Prune(st state.Tree) int {
	if s == nil {
		return 0
	}
	dropped := 0
	for d, e := range s.m {
		if a, _ := st.Get(e.From); e.Nonce < a.Nonce {
			delete(s.m, d)
			dropped++
		}
	}
	return dropped
}

// Apply is FIN-2 for the set: add the final block's rejections and prune
// against the state after it. out is the Outcome of the final block
// (from Converge or RecomputeWithRejected). It returns how many entries
// Prune dropped.
func (s *RejectedSet) Apply(out *Outcome) int {
	s.Add(out.Rejected...)
	return s.Prune(out.Tree)
}

// Has reports whether d is in the set.
func (s *RejectedSet) Has(d tx.Digest) bool {
	if s == nil {
		return false
	}
	_, ok := s.m[d]
	return ok
}

// Entry returns d's entry.
func (s *RejectedSet) Entry(d tx.Digest) (RejectedEntry, bool) {
	if s == nil {
		return RejectedEntry{}, false
	}
	e, ok := s.m[d]
	return e, ok
}

// open reports whether d is in the set with its slot still open in st:
// the set as CONV-14 defines it, whether or not the holder pruned.
func (s *RejectedSet) open(d tx.Digest, st state.Tree) bool {
	if s == nil {
		return false
	}
	e, ok := s.m[d]
	if !ok {
		return false
	}
	a, _ := st.Get(e.From)
	return e.Nonce >= a.Nonce
}

// Len is the number of entries.
func (s *RejectedSet) Len() int {
	if s == nil {
		return 0
	}
	return len(s.m)
}

// Clone returns an independent copy (nil for nil).
func (s *RejectedSet) Clone() *RejectedSet {
	if s == nil {
		return nil
	}
	c := &RejectedSet{}
	if len(s.m) > 0 {
		c.m = make(map[tx.Digest]RejectedEntry, len(s.m))
		for d, e := range s.m {
			c.m[d] = e
		}
	}
	return c
}

// Entries lists the set sorted by digest.
func (s *RejectedSet) Entries() []RejectedEntry {
	if s == nil || len(s.m) == 0 {
		return nil
	}
	out := make([]RejectedEntry, 0, len(s.m))
	for _, e := range s.m {
		out = append(out, e)
	}
	slices.SortFunc(out, func(a, b RejectedEntry) int { return bytes.Compare(a.Digest[:], b.Digest[:]) })
	return out
}

// Equal reports whether two sets hold the same entries (nil equals empty).
func (s *RejectedSet) Equal(o *RejectedSet) bool {
	if s.Len() != o.Len() {
		return false
	}
	for d, e := range s.mapOrNil() {
		if f, ok := o.Entry(d); !ok || f != e {
			return false
		}
	}
	return true
}

func (s *RejectedSet) mapOrNil() map[tx.Digest]RejectedEntry {
	if s == nil {
		return nil
	}
	return s.m
}
