// Package certification implements threshold certification by a quorum
// (spec/certification.md, rules CERT-1..CERT-19): votes that carry partial
// BLS threshold signatures, the certificates formed from q of them,
// equivocation evidence, their wire formats, and the vote Collector, a pure
// step function that a driver (impl/sim, later TCP nodes) feeds with votes.
// The Collector verifies every partial as it arrives (CERT-6), or, with
// Options.Optimistic, holds votes unverified and verifies one combination of
// q of them instead (CERT-20, optimistic.go).
//
// The TLA+ counterpart is tla/HarvesterCertification.tla and the executable
// model is model/certification; names match: a counted vote is a model
// vote, an emitted Certificate is a model certificate.
package certification

import (
	"encoding/binary"
	"fmt"

	"github.com/fhbft/fhbft/impl/crypto/threshold"
)

// QuorumID names a quorum (a farmer quorum or the harvester quorum).
type QuorumID uint32

// Epoch numbers the periods during which a roster is fixed (spec: OV-2).
type Epoch uint64

// Kind is the kind of thing a slot decides. spec: CERT-2, CERT-15
type Kind uint8

const (
	KindTx          Kind = 1 // a transaction's validity, decided by a farmer quorum
	KindConvergence Kind = 2 // a round's convergence block, decided by the harvester quorum
	KindQC          Kind = 3 // a pacemaker vote for a block in a view (spec/pacemaker.md PM-3)
	KindComplaint   Kind = 4 // a pacemaker complaint about a view (PM-15, PM-16)
)

func (k Kind) String() string {
	switch k {
	case KindTx:
		return "tx"
	case KindConvergence:
		return "convergence"
	case KindQC:
		return "qc"
	case KindComplaint:
		return "complaint"
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// Known reports whether k is a kind this version defines.
func (k Kind) Known() bool { return k >= KindTx && k <= KindComplaint }

// Verdict is signed inside every vote (spec: CERT-3), so a vote for
// "reject" can never be replayed as "accept".
type Verdict uint8

const (
	Accept Verdict = 1
	Reject Verdict = 2
)

func (v Verdict) String() string {
	switch v {
	case Accept:
		return "accept"
	case Reject:
		return "reject"
	}
	return fmt.Sprintf("verdict(%d)", uint8(v))
}

// Known reports whether v is accept or reject.
func (v Verdict) Known() bool { return v == Accept || v == Reject }

// Digest is a 32-byte hash.
type Digest [32]byte

// Slot is what a certificate decides. spec: CERT-2
type Slot struct {
	Kind Kind
	ID   Digest
}

// RoundSlot is the slot of round r's convergence block: the round in the
// last eight bytes of the ID. spec: CERT-2
func RoundSlot(r uint64) Slot { return NumberedSlot(KindConvergence, r) }

// NumberedSlot is the slot of a kind decided once per round or view: the
// number in the last eight bytes of the ID. spec: CERT-2
func NumberedSlot(k Kind, number uint64) Slot {
	var id Digest
	binary.BigEndian.PutUint64(id[24:], number)
	return Slot{Kind: k, ID: id}
}

// Number is the round or view of a NumberedSlot.
func (s Slot) Number() uint64 { return binary.BigEndian.Uint64(s.ID[24:]) }

// Value is what a vote supports in a slot; two values differ if the subject
// or the verdict differs. spec: CERT-2
type Value struct {
	Subject Digest
	Verdict Verdict
}

// Member is a member's index in the roster, 1..n.
type Member = threshold.Index

// DefaultThreshold is ceil(0.6·n) in integer arithmetic. spec: CERT-1
func DefaultThreshold(n int) int { return (3*n + 4) / 5 }
