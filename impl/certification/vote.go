package certification

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"

	"github.com/fhbft/fhbft/impl/crypto/bls"
	"github.com/fhbft/fhbft/impl/crypto/threshold"
)

// Roster is a quorum's membership and keys for one epoch. spec: CERT-1
type Roster struct {
	Quorum QuorumID
	Epoch  Epoch
	Key    threshold.GroupKey // Key.N members, threshold Key.T, one public share each
}

// N is the number of members.
func (r Roster) N() int { return r.Key.N }

// Q is the certification threshold q.
func (r Roster) Q() int { return r.Key.T }

// Validate enforces CERT-1: 1 ≤ q ≤ n and 2q > n.
func (r Roster) Validate() error {
	n, q := r.Key.N, r.Key.T
	if n < 1 || q < 1 || q > n {
		return &ConfigError{Field: "threshold", Reason: fmt.Sprintf("need 1 ≤ q ≤ n, got q=%d n=%d", q, n)}
	}
	if 2*q <= n {
		return &ConfigError{Field: "threshold", Reason: fmt.Sprintf("2q ≤ n (q=%d n=%d): two disjoint quorums could certify conflicting values", q, n)}
	}
	if len(r.Key.Shares) != n {
		return &ConfigError{Field: "shares", Reason: fmt.Sprintf("%d public shares for %d members", len(r.Key.Shares), n)}
	}
	return nil
}

// ConfigError reports an unusable roster or collector configuration.
type ConfigError struct {
	Field, Reason string
}

func (e *ConfigError) Error() string { return "certification config: " + e.Field + ": " + e.Reason }

// Domain-separation tags, one per kind. spec: CERT-15
var (
	dstVoteTx          = []byte("FHBFT-V01-CS01-with-BLS12381G1_XMD:SHA-256_SSWU_RO_VOTE_TX_")
	dstVoteConvergence = []byte("FHBFT-V01-CS01-with-BLS12381G1_XMD:SHA-256_SSWU_RO_VOTE_CONVERGENCE_")
	dstVoteQC          = []byte("FHBFT-V01-CS01-with-BLS12381G1_XMD:SHA-256_SSWU_RO_VOTE_QC_")
	dstComplaint       = []byte("FHBFT-V01-CS01-with-BLS12381G1_XMD:SHA-256_SSWU_RO_COMPLAINT_")
)

// DST returns the hash-to-curve tag of a kind, or nil for an unknown kind.
// spec: CERT-15
func DST(k Kind) []byte {
	switch k {
	case KindTx:
		return dstVoteTx
	case KindConvergence:
		return dstVoteConvergence
	case KindQC:
		return dstVoteQC
	case KindComplaint:
		return dstComplaint
	}
	return nil
}

const messagePrefix = "FHBFT/vote/v1"

// headerLen is the size of the signed fields (quorum, epoch, kind, slot id,
// subject, verdict), shared by votes and certificates.
const headerLen = 4 + 8 + 1 + 32 + 32 + 1

// Statement is what a vote and a certificate both assert: in this quorum and
// epoch, this slot has this value.
type Statement struct {
	Quorum QuorumID
	Epoch  Epoch
	Slot   Slot
	Value  Value
}

func (s Statement) appendHeader(b []byte) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(s.Quorum))
	b = binary.BigEndian.AppendUint64(b, uint64(s.Epoch))
	b = append(b, byte(s.Slot.Kind))
	b = append(b, s.Slot.ID[:]...)
	b = append(b, s.Value.Subject[:]...)
	return append(b, byte(s.Value.Verdict))
}

// Message is the canonical signed message. spec: CERT-3
func (s Statement) Message() []byte {
	b := make([]byte, 0, len(messagePrefix)+headerLen)
	b = append(b, messagePrefix...)
	return s.appendHeader(b)
}

// Vote is one member's partial signature on a statement. spec: CERT-3
type Vote struct {
	Statement
	Member  Member
	Partial bls.Signature
}

// SignVote makes a member's vote. Honest callers sign at most one value per
// slot (CERT-5); this function cannot know, so the farmer and harvester
// roles enforce it. The kind must be known: signing is only ever done by
// honest code for its own statements, never for network input, so an
// unknown kind is a programming error and bls.Sign panics on its nil tag.
func SignVote(share threshold.SecretShare, st Statement) Vote {
	p := threshold.PartialSign(share, DST(st.Slot.Kind), st.Message())
	return Vote{Statement: st, Member: share.Index, Partial: p.Sig}
}

// Certificate is q votes' worth of agreement in one group signature.
// spec: CERT-9
type Certificate struct {
	Statement
	Signers   Bitmap
	Signature bls.Signature
}

// Evidence proves a member signed two values in one slot. spec: CERT-8
type Evidence struct {
	First, Second Vote
}

// Verify checks that the evidence is what it claims under roster r.
func (e Evidence) Verify(r Roster) error {
	a, b := e.First, e.Second
	if a.Member != b.Member || a.Quorum != b.Quorum || a.Epoch != b.Epoch || a.Slot != b.Slot {
		return &RejectError{Reason: ReasonMalformed, Detail: "evidence votes differ in member, quorum, epoch or slot"}
	}
	if a.Value == b.Value {
		return &RejectError{Reason: ReasonMalformed, Detail: "evidence votes have the same value"}
	}
	for _, v := range []Vote{a, b} {
		if err := checkVote(r, v); err != nil {
			return err
		}
	}
	return nil
}

// checkVote applies the stateless checks CERT-4 and CERT-6.
func checkVote(r Roster, v Vote) error {
	if err := checkHeader(r, v); err != nil {
		return err
	}
	p := threshold.Partial{Index: v.Member, Sig: v.Partial}
	if err := threshold.VerifyPartial(r.Key, DST(v.Slot.Kind), v.Message(), p); err != nil {
		return &RejectError{Reason: ReasonBadPartial, Member: v.Member, Detail: err.Error()}
	}
	return nil
}

// checkHeader is the part of checkVote that needs no pairing (CERT-4).
func checkHeader(r Roster, v Vote) error {
	if v.Quorum != r.Quorum {
		return &RejectError{Reason: ReasonWrongQuorum, Member: v.Member, Detail: fmt.Sprintf("quorum %d, roster is %d", v.Quorum, r.Quorum)}
	}
	if v.Epoch != r.Epoch {
		return &RejectError{Reason: ReasonWrongEpoch, Member: v.Member, Detail: fmt.Sprintf("epoch %d, roster is %d", v.Epoch, r.Epoch)}
	}
	if v.Member < 1 || int(v.Member) > r.N() {
		return &RejectError{Reason: ReasonNotMember, Member: v.Member, Detail: fmt.Sprintf("index %d outside 1..%d", v.Member, r.N())}
	}
	if !v.Slot.Kind.Known() || !v.Value.Verdict.Known() {
		return &RejectError{Reason: ReasonMalformed, Member: v.Member, Detail: fmt.Sprintf("%v / %v", v.Slot.Kind, v.Value.Verdict)}
	}
	return nil
}

// Verify checks a certificate against a roster with one pairing check.
// spec: CERT-10
func (c Certificate) Verify(r Roster) error {
	if err := c.checkShape(r); err != nil {
		return err
	}
	return c.checkSignature(r)
}

// checkShape is CERT-10 without the pairing: roster, kind, verdict and the
// signer bitmap's width and count.
func (c Certificate) checkShape(r Roster) error {
	if c.Quorum != r.Quorum {
		return &RejectError{Reason: ReasonWrongQuorum, Detail: fmt.Sprintf("certificate quorum %d, roster is %d", c.Quorum, r.Quorum)}
	}
	if c.Epoch != r.Epoch {
		return &RejectError{Reason: ReasonWrongEpoch, Detail: fmt.Sprintf("certificate epoch %d, roster is %d", c.Epoch, r.Epoch)}
	}
	if !c.Slot.Kind.Known() || !c.Value.Verdict.Known() {
		return &RejectError{Reason: ReasonMalformed, Detail: fmt.Sprintf("%v / %v", c.Slot.Kind, c.Value.Verdict)}
	}
	if c.Signers.Len() != r.N() {
		return &RejectError{Reason: ReasonMalformed, Detail: fmt.Sprintf("bitmap of %d bits for %d members", c.Signers.Len(), r.N())}
	}
	if k := c.Signers.Count(); k < r.Q() {
		return &RejectError{Reason: ReasonTooFewSigners, Detail: fmt.Sprintf("%d signers, threshold %d", k, r.Q())}
	}
	return nil
}

// checkSignature is CERT-10's pairing check of the group signature.
func (c Certificate) checkSignature(r Roster) error {
	if err := bls.Verify(r.Key.Public, DST(c.Slot.Kind), c.Message(), c.Signature); err != nil {
		return &RejectError{Reason: ReasonBadSignature, Detail: err.Error()}
	}
	return nil
}

// VerifyCache remembers the certificates whose pairing check passed, so a
// driver that checks one certificate many times (every collector of a
// slot forms the same group signature, CERT-9; only the signer bitmap
// differs) pays one pairing per distinct (roster key, statement,
// signature). A hit still runs the shape checks of CERT-10, which depend on
// the bitmap. Failures are not remembered. The zero value is ready; it is
// not safe for concurrent use.
type VerifyCache struct{ ok map[[32]byte]struct{} }

// Verify is Certificate.Verify with the pairing remembered.
func (vc *VerifyCache) Verify(c Certificate, r Roster) error {
	if err := c.checkShape(r); err != nil {
		return err
	}
	h := sha256.New()
	pk := r.Key.Public.Bytes()
	h.Write(pk[:])
	h.Write(c.Message())
	sig := c.Signature.Bytes()
	h.Write(sig[:])
	var k [32]byte
	h.Sum(k[:0])
	if _, hit := vc.ok[k]; hit {
		return nil
	}
	if err := c.checkSignature(r); err != nil {
		return err
	}
	if vc.ok == nil {
		vc.ok = map[[32]byte]struct{}{}
	}
	vc.ok[k] = struct{}{}
	return nil
}
