package certification

import (
	"encoding/binary"
	"fmt"

	"github.com/fhbft/fhbft/impl/crypto/bls"
)

// Wire formats of spec/certification.md §6. Every decoder is total: any
// input gives a value or a *RejectError with Reason ReasonEncoding naming
// the field (spec: CERT-14, CERT-19).

const (
	sigLen = 48
	// VoteLen is the encoded size of a vote.
	VoteLen = headerLen + 4 + sigLen
	// MaxMembers bounds n in encoded certificates (u16 on the wire).
	MaxMembers = 1<<16 - 1
)

// CertificateLen is the encoded size of a certificate for n members.
func CertificateLen(n int) int { return headerLen + 2 + (n+7)/8 + sigLen }

func encodingError(field string, format string, args ...any) error {
	return &RejectError{Reason: ReasonEncoding, Detail: field + ": " + fmt.Sprintf(format, args...)}
}

// MarshalBinary encodes a vote.
func (v Vote) MarshalBinary() ([]byte, error) { return v.AppendBinary(make([]byte, 0, VoteLen)), nil }

// AppendBinary appends the vote's encoding to b.
func (v Vote) AppendBinary(b []byte) []byte {
	b = v.Statement.appendHeader(b)
	b = binary.BigEndian.AppendUint32(b, uint32(v.Member))
	sig := v.Partial.Bytes()
	return append(b, sig[:]...)
}

// decodeHeader reads the signed fields; it checks kind and verdict so that
// nothing undefined gets past decoding.
func decodeHeader(b []byte) (Statement, error) {
	var s Statement
	s.Quorum = QuorumID(binary.BigEndian.Uint32(b[0:4]))
	s.Epoch = Epoch(binary.BigEndian.Uint64(b[4:12]))
	s.Slot.Kind = Kind(b[12])
	copy(s.Slot.ID[:], b[13:45])
	copy(s.Value.Subject[:], b[45:77])
	s.Value.Verdict = Verdict(b[77])
	if !s.Slot.Kind.Known() {
		return s, encodingError("kind", "unknown kind %d", b[12])
	}
	if !s.Value.Verdict.Known() {
		return s, encodingError("verdict", "unknown verdict %d", b[77])
	}
	return s, nil
}

// DecodeVote parses a vote. It checks the encoding and the point (CERT-14),
// not membership or the signature: the collector does that.
func DecodeVote(b []byte) (Vote, error) {
	if len(b) != VoteLen {
		return Vote{}, encodingError("vote", "length %d, want %d", len(b), VoteLen)
	}
	st, err := decodeHeader(b)
	if err != nil {
		return Vote{}, err
	}
	v := Vote{Statement: st, Member: Member(binary.BigEndian.Uint32(b[headerLen : headerLen+4]))}
	if v.Member == 0 {
		return Vote{}, encodingError("member", "index 0")
	}
	if v.Partial, err = bls.SignatureFromBytes(b[headerLen+4:]); err != nil {
		return Vote{}, encodingError("partial", "%v", err)
	}
	return v, nil
}

// MarshalBinary encodes a certificate.
func (c Certificate) MarshalBinary() ([]byte, error) {
	if c.Signers.Len() > MaxMembers {
		return nil, encodingError("signers", "%d members exceed %d", c.Signers.Len(), MaxMembers)
	}
	b := make([]byte, 0, CertificateLen(c.Signers.Len()))
	b = c.Statement.appendHeader(b)
	b = binary.BigEndian.AppendUint16(b, uint16(c.Signers.Len()))
	b = append(b, c.Signers.words...)
	sig := c.Signature.Bytes()
	return append(b, sig[:]...), nil
}

// DecodeCertificate parses a certificate; Verify checks it against a roster.
func DecodeCertificate(b []byte) (Certificate, error) {
	if len(b) < headerLen+2+sigLen {
		return Certificate{}, encodingError("certificate", "length %d below minimum %d", len(b), headerLen+2+sigLen)
	}
	st, err := decodeHeader(b)
	if err != nil {
		return Certificate{}, err
	}
	n := int(binary.BigEndian.Uint16(b[headerLen : headerLen+2]))
	if n == 0 {
		return Certificate{}, encodingError("signers", "zero members")
	}
	if want := CertificateLen(n); len(b) != want {
		return Certificate{}, encodingError("certificate", "length %d, want %d for n=%d", len(b), want, n)
	}
	words := b[headerLen+2 : headerLen+2+(n+7)/8]
	// Padding bits past n must be zero, so each certificate has exactly one encoding.
	if rem := n % 8; rem != 0 && words[len(words)-1]>>rem != 0 {
		return Certificate{}, encodingError("signers", "padding bits set")
	}
	c := Certificate{Statement: st, Signers: Bitmap{n: n, words: append([]byte(nil), words...)}}
	if c.Signature, err = bls.SignatureFromBytes(b[len(b)-sigLen:]); err != nil {
		return Certificate{}, encodingError("signature", "%v", err)
	}
	return c, nil
}

// MarshalBinary encodes evidence as two votes.
func (e Evidence) MarshalBinary() ([]byte, error) {
	b := e.First.AppendBinary(make([]byte, 0, 2*VoteLen))
	return e.Second.AppendBinary(b), nil
}

// DecodeEvidence parses evidence; Evidence.Verify checks it.
func DecodeEvidence(b []byte) (Evidence, error) {
	if len(b) != 2*VoteLen {
		return Evidence{}, encodingError("evidence", "length %d, want %d", len(b), 2*VoteLen)
	}
	first, err := DecodeVote(b[:VoteLen])
	if err != nil {
		return Evidence{}, err
	}
	second, err := DecodeVote(b[VoteLen:])
	if err != nil {
		return Evidence{}, err
	}
	return Evidence{First: first, Second: second}, nil
}
