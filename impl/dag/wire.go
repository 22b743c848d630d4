package dag

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/fhbft/fhbft/impl/certification"
	"github.com/fhbft/fhbft/impl/crypto/bls"
	"github.com/fhbft/fhbft/impl/tx"
)

// Wire formats (spec: PB-7). Big-endian, fixed-width integers, lists as a
// u32 count followed by the entries. Every value has exactly one encoding:
// decoders reject trailing bytes, unknown tags and reasons, points that are
// not canonical subgroup points, and lists out of their CONV-1 order.
//
//	proposal block:   tag 0x01 | quorum u32 | epoch u64 | round u64 |
//	                  proposer u32 | prev 32 | n u32 | n × certified tx |
//	                  signature 48
//	certified tx:     transfer 163 (TX-2) | m u32 | certificate m (CERT wire)
//	equivocation:     proposer u32 | round u64 | hash1 32 | sig1 48 |
//	                  hash2 32 | sig2 48   (standalone: tag 0x03 first)
//	convergence:      tag 0x02 | quorum u32 | epoch u64 | round u64 |
//	                  prev 32 | beacon 32 | miner u32 | rank u32 |
//	                  refs (proposer u32 | hash 32)* | equivocations* |
//	                  applied (digest 32)* | rejected (digest 32 | reason u8)* |
//	                  deferred (since u64 | certified tx)* | fees u64 |
//	                  state root 32
const (
	tagProposal     byte = 0x01
	tagConvergence  byte = 0x02
	tagEquivocation byte = 0x03

	sigSize = 48
	// proposalHeaderSize is the fixed part of a proposal block encoding.
	proposalHeaderSize = 1 + 4 + 8 + 8 + 4 + 32 + 4
	equivocationSize   = 4 + 8 + 32 + sigSize + 32 + sigSize
)

// minCertifiedTxSize bounds list counts before allocation: a transfer, the
// length and the smallest certificate (n = 1).
var minCertifiedTxSize = tx.EncodedSize + 4 + certification.CertificateLen(1)

// Domain tags of the hashes (spec: PB-2, CONV-1; notation "H with a domain
// tag per use").
const (
	tagHashProposal    = "FHBFT/dag/proposal-block/v1"
	tagHashConvergence = "FHBFT/dag/convergence-block/v1"
)

// DSTProposal is the hash-to-curve tag of proposal block signatures, used
// by no other message kind (spec: PB-2, CERT-15).
var DSTProposal = []byte("FHBFT/dag/proposal/v1")

// Size is the number of bytes c takes in a proposal block encoding; MEV-1
// divides the fee by it.
func (c *CertifiedTx) Size() int {
	return tx.EncodedSize + 4 + certification.CertificateLen(c.Cert.Signers.Len())
}

// Digest is the transfer's TX-5 digest.
func (c *CertifiedTx) Digest() tx.Digest { return c.Transfer.Digest() }

func appendCertifiedTx(b []byte, c *CertifiedTx) ([]byte, error) {
	b = c.Transfer.AppendBinary(b)
	cert, err := c.Cert.MarshalBinary()
	if err != nil {
		return b, err
	}
	b = binary.BigEndian.AppendUint32(b, uint32(len(cert)))
	return append(b, cert...), nil
}

func appendSig(b []byte, s bls.Signature) []byte {
	x := s.Bytes()
	return append(b, x[:]...)
}

// appendProposalBody is the encoding without the signature: what Hash covers.
func (b *ProposalBlock) appendBody(out []byte) ([]byte, error) {
	out = append(out, tagProposal)
	out = binary.BigEndian.AppendUint32(out, uint32(b.Quorum))
	out = binary.BigEndian.AppendUint64(out, uint64(b.Epoch))
	out = binary.BigEndian.AppendUint64(out, uint64(b.Round))
	out = binary.BigEndian.AppendUint32(out, uint32(b.Proposer))
	out = append(out, b.Prev[:]...)
	if uint64(len(b.Txs)) > 1<<32-1 {
		return out, fmt.Errorf("%w: %d transfers", ErrNotEncodable, len(b.Txs))
	}
	out = binary.BigEndian.AppendUint32(out, uint32(len(b.Txs)))
	for i := range b.Txs {
		var err error
		if out, err = appendCertifiedTx(out, &b.Txs[i]); err != nil {
			return out, fmt.Errorf("%w: txs[%d]: %v", ErrNotEncodable, i, err)
		}
	}
	return out, nil
}

// EncodedSize is the length of b's encoding, computed without encoding
// (PB-4 bounds it by MaxBlockBytes).
func (b *ProposalBlock) EncodedSize() int {
	n := proposalHeaderSize + sigSize
	for i := range b.Txs {
		n += b.Txs[i].Size()
	}
	return n
}

// MarshalBinary returns the canonical encoding (spec: PB-7).
func (b *ProposalBlock) MarshalBinary() ([]byte, error) {
	out, err := b.appendBody(make([]byte, 0, b.EncodedSize()))
	if err != nil {
		return nil, err
	}
	return appendSig(out, b.Signature), nil
}

// Hash is the domain-tagged hash of everything but the signature. A block
// whose certificates cannot be encoded (more than certification.MaxMembers
// signers) hashes its encodable prefix; such a block never passes PB-4.
// spec: PB-2
func (b *ProposalBlock) Hash() Hash {
	body, _ := b.appendBody(make([]byte, 0, b.EncodedSize()))
	return taggedHash(tagHashProposal, body)
}

func taggedHash(tag string, body []byte) Hash {
	h := sha256.New()
	h.Write([]byte(tag))
	h.Write(body)
	var out Hash
	h.Sum(out[:0])
	return out
}

// reader decodes one value and remembers the first error, naming its field.
type reader struct {
	what string
	b    []byte
	off  int
	err  error
}

func (r *reader) fail(field string, at int, err error, detail string) {
	if r.err == nil {
		r.err = &DecodeError{What: r.what, Field: field, Offset: at, Err: err, Detail: detail}
	}
}

func (r *reader) take(field string, n int) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || len(r.b)-r.off < n {
		r.fail(field, r.off, ErrTruncated, fmt.Sprintf("need %d bytes, have %d", n, len(r.b)-r.off))
		return nil
	}
	s := r.b[r.off : r.off+n]
	r.off += n
	return s
}

func (r *reader) u8(field string) uint8 {
	if s := r.take(field, 1); s != nil {
		return s[0]
	}
	return 0
}

func (r *reader) u32(field string) uint32 {
	if s := r.take(field, 4); s != nil {
		return binary.BigEndian.Uint32(s)
	}
	return 0
}

func (r *reader) u64(field string) uint64 {
	if s := r.take(field, 8); s != nil {
		return binary.BigEndian.Uint64(s)
	}
	return 0
}

func (r *reader) hash(field string) (h [32]byte) {
	if s := r.take(field, 32); s != nil {
		copy(h[:], s)
	}
	return h
}

func (r *reader) sig(field string) bls.Signature {
	at := r.off
	s := r.take(field, sigSize)
	if s == nil {
		return bls.Signature{}
	}
	sig, err := bls.SignatureFromBytes(s)
	if err != nil {
		r.fail(field, at, ErrEmbedded, err.Error())
	}
	return sig
}

// count reads a list length and checks that the rest of the input could
// hold that many entries of at least minSize bytes, so that a forged count
// never makes the decoder allocate.
func (r *reader) count(field string, minSize int) int {
	at := r.off
	n := r.u32(field)
	if r.err != nil {
		return 0
	}
	if uint64(n)*uint64(minSize) > uint64(len(r.b)-r.off) {
		r.fail(field, at, ErrTooMany, fmt.Sprintf("%d entries of at least %d bytes, %d bytes left", n, minSize, len(r.b)-r.off))
		return 0
	}
	return int(n)
}

func (r *reader) tag(want byte) {
	at := r.off
	if t := r.u8("tag"); r.err == nil && t != want {
		r.fail("tag", at, ErrType, fmt.Sprintf("tag 0x%02x, want 0x%02x", t, want))
	}
}

func (r *reader) end() {
	if r.err == nil && r.off != len(r.b) {
		r.fail("end", r.off, ErrTrailing, fmt.Sprintf("%d bytes", len(r.b)-r.off))
	}
}

func (r *reader) certifiedTx(field string) CertifiedTx {
	var c CertifiedTx
	at := r.off
	s := r.take(field+".transfer", tx.EncodedSize)
	if s == nil {
		return c
	}
	t, err := tx.Decode(s)
	if err != nil {
		sub := ""
		var ie *tx.InvalidError
		if errors.As(err, &ie) && ie.Field != "" {
			sub = "." + ie.Field
		}
		r.fail(field+".transfer"+sub, at, ErrEmbedded, err.Error())
		return c
	}
	c.Transfer = t
	m := r.u32(field + ".cert-length")
	at = r.off
	s = r.take(field+".cert", int(min(m, 1<<31-1)))
	if s == nil {
		return c
	}
	if c.Cert, err = certification.DecodeCertificate(s); err != nil {
		r.fail(field+".cert", at, ErrEmbedded, err.Error())
	}
	return c
}

// DecodeProposalBlock parses a proposal block. It is total: any input gives
// a block or a *DecodeError naming the field; an accepted input re-encodes
// to itself. It checks the encoding only; ValidateProposal checks the rest
// (PB-4). spec: PB-7, PB-1
func DecodeProposalBlock(data []byte) (ProposalBlock, error) {
	r := &reader{what: "proposal block", b: data}
	var b ProposalBlock
	r.tag(tagProposal)
	b.Quorum = certification.QuorumID(r.u32("quorum"))
	b.Epoch = certification.Epoch(r.u64("epoch"))
	b.Round = Round(r.u64("round"))
	b.Proposer = certification.Member(r.u32("proposer"))
	b.Prev = r.hash("prev")
	n := r.count("txs", minCertifiedTxSize)
	if n > 0 {
		b.Txs = make([]CertifiedTx, n)
	}
	for i := 0; i < n && r.err == nil; i++ {
		b.Txs[i] = r.certifiedTx(fmt.Sprintf("txs[%d]", i))
	}
	b.Signature = r.sig("signature")
	r.end()
	if r.err != nil {
		return ProposalBlock{}, r.err
	}
	return b, nil
}

func appendEquivocation(b []byte, e *Equivocation) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(e.Proposer))
	b = binary.BigEndian.AppendUint64(b, uint64(e.Round))
	b = append(b, e.Hash1[:]...)
	b = appendSig(b, e.Sig1)
	b = append(b, e.Hash2[:]...)
	return appendSig(b, e.Sig2)
}

func (r *reader) equivocation(field string) Equivocation {
	var e Equivocation
	e.Proposer = certification.Member(r.u32(field + ".proposer"))
	e.Round = Round(r.u64(field + ".round"))
	at := r.off
	e.Hash1 = r.hash(field + ".hash1")
	e.Sig1 = r.sig(field + ".sig1")
	e.Hash2 = r.hash(field + ".hash2")
	e.Sig2 = r.sig(field + ".sig2")
	if r.err == nil && bytes.Compare(e.Hash1[:], e.Hash2[:]) >= 0 {
		r.fail(field+".hash1", at, ErrOrder, "hash1 must be below hash2")
	}
	return e
}

// MarshalBinary returns the canonical standalone encoding (spec: PB-7).
func (e *Equivocation) MarshalBinary() ([]byte, error) {
	return appendEquivocation(append(make([]byte, 0, 1+equivocationSize), tagEquivocation), e), nil
}

// DecodeEquivocation parses standalone evidence; Verify checks it against
// a roster. spec: PB-7
func DecodeEquivocation(data []byte) (Equivocation, error) {
	r := &reader{what: "equivocation", b: data}
	r.tag(tagEquivocation)
	e := r.equivocation("evidence")
	r.end()
	if r.err != nil {
		return Equivocation{}, r.err
	}
	return e, nil
}

// appendConvergence encodes c. Lists are written as given; Converge makes
// them canonical (CONV-1).
func (c *ConvergenceBlock) appendTo(b []byte) ([]byte, error) {
	b = append(b, tagConvergence)
	b = binary.BigEndian.AppendUint32(b, uint32(c.Quorum))
	b = binary.BigEndian.AppendUint64(b, uint64(c.Epoch))
	b = binary.BigEndian.AppendUint64(b, uint64(c.Round))
	b = append(b, c.Prev[:]...)
	b = append(b, c.Beacon[:]...)
	b = binary.BigEndian.AppendUint32(b, uint32(c.Miner))
	b = binary.BigEndian.AppendUint32(b, c.Rank)
	b = binary.BigEndian.AppendUint32(b, uint32(len(c.Refs)))
	for _, ref := range c.Refs {
		b = binary.BigEndian.AppendUint32(b, uint32(ref.Proposer))
		b = append(b, ref.Hash[:]...)
	}
	b = binary.BigEndian.AppendUint32(b, uint32(len(c.Equivocations)))
	for i := range c.Equivocations {
		b = appendEquivocation(b, &c.Equivocations[i])
	}
	b = binary.BigEndian.AppendUint32(b, uint32(len(c.Applied)))
	for _, d := range c.Applied {
		b = append(b, d[:]...)
	}
	b = binary.BigEndian.AppendUint32(b, uint32(len(c.Rejected)))
	for _, d := range c.Rejected {
		b = append(b, d.Digest[:]...)
		b = append(b, byte(d.Reason))
	}
	b = binary.BigEndian.AppendUint32(b, uint32(len(c.Deferred)))
	for i := range c.Deferred {
		b = binary.BigEndian.AppendUint64(b, uint64(c.Deferred[i].Since))
		var err error
		if b, err = appendCertifiedTx(b, &c.Deferred[i].Tx); err != nil {
			return b, fmt.Errorf("%w: deferred[%d]: %v", ErrNotEncodable, i, err)
		}
	}
	b = binary.BigEndian.AppendUint64(b, c.Fees)
	return append(b, c.StateRoot[:]...), nil
}

func (c *ConvergenceBlock) encodedSizeHint() int {
	n := 1 + 4 + 8 + 8 + 32 + 32 + 4 + 4 + 5*4 + 8 + 32
	n += 36*len(c.Refs) + equivocationSize*len(c.Equivocations) + 32*len(c.Applied) + 33*len(c.Rejected)
	for i := range c.Deferred {
		n += 8 + c.Deferred[i].Tx.Size()
	}
	return n
}

// MarshalBinary returns the canonical encoding (spec: PB-7, CONV-13: the
// encodings are compared byte for byte).
func (c *ConvergenceBlock) MarshalBinary() ([]byte, error) {
	return c.appendTo(make([]byte, 0, c.encodedSizeHint()))
}

// Hash is the domain-tagged hash of the encoding: the subject of the
// convergence certificate (MINE-3). A block whose deferred certificates
// cannot be encoded hashes its encodable prefix; Converge never makes one.
func (c *ConvergenceBlock) Hash() Hash {
	b, _ := c.appendTo(make([]byte, 0, c.encodedSizeHint()))
	return taggedHash(tagHashConvergence, b)
}

// DecodeConvergenceBlock parses a convergence block. It is total: any
// input gives a block or a *DecodeError naming the field; an accepted input
// re-encodes to itself. Lists must be in their CONV-1 order and rejection
// reasons known; everything else is for Recompute (CONV-13). spec: PB-7
func DecodeConvergenceBlock(data []byte) (ConvergenceBlock, error) {
	r := &reader{what: "convergence block", b: data}
	var c ConvergenceBlock
	r.tag(tagConvergence)
	c.Quorum = certification.QuorumID(r.u32("quorum"))
	c.Epoch = certification.Epoch(r.u64("epoch"))
	c.Round = Round(r.u64("round"))
	c.Prev = r.hash("prev")
	c.Beacon = r.hash("beacon")
	c.Miner = MinerID(r.u32("miner"))
	c.Rank = r.u32("rank")

	n := r.count("refs", 36)
	if n > 0 {
		c.Refs = make([]Ref, n)
	}
	for i := 0; i < n && r.err == nil; i++ {
		at := r.off
		f := fmt.Sprintf("refs[%d]", i)
		c.Refs[i] = Ref{Proposer: certification.Member(r.u32(f + ".proposer")), Hash: r.hash(f + ".hash")}
		if r.err == nil && i > 0 && c.Refs[i].Proposer <= c.Refs[i-1].Proposer {
			r.fail(f+".proposer", at, ErrOrder, "refs must be sorted by proposer, one each")
		}
	}
	n = r.count("equivocations", equivocationSize)
	if n > 0 {
		c.Equivocations = make([]Equivocation, n)
	}
	for i := 0; i < n && r.err == nil; i++ {
		at := r.off
		f := fmt.Sprintf("equivocations[%d]", i)
		c.Equivocations[i] = r.equivocation(f)
		if r.err == nil && i > 0 && c.Equivocations[i].Proposer <= c.Equivocations[i-1].Proposer {
			r.fail(f+".proposer", at, ErrOrder, "evidence must be sorted by proposer, one each")
		}
	}
	n = r.count("applied", 32)
	if n > 0 {
		c.Applied = make([]tx.Digest, n)
	}
	for i := 0; i < n && r.err == nil; i++ {
		c.Applied[i] = r.hash(fmt.Sprintf("applied[%d]", i))
	}
	n = r.count("rejected", 33)
	if n > 0 {
		c.Rejected = make([]Drop, n)
	}
	for i := 0; i < n && r.err == nil; i++ {
		at := r.off
		f := fmt.Sprintf("rejected[%d]", i)
		c.Rejected[i].Digest = r.hash(f + ".digest")
		if r.err == nil && i > 0 && bytes.Compare(c.Rejected[i].Digest[:], c.Rejected[i-1].Digest[:]) <= 0 {
			r.fail(f+".digest", at, ErrOrder, "rejected must be sorted by digest, one each")
		}
		at = r.off
		c.Rejected[i].Reason = Reason(r.u8(f + ".reason"))
		if r.err == nil && !c.Rejected[i].Reason.Known() {
			r.fail(f+".reason", at, ErrValue, fmt.Sprintf("unknown reason %d", c.Rejected[i].Reason))
		}
	}
	n = r.count("deferred", 8+minCertifiedTxSize)
	if n > 0 {
		c.Deferred = make([]Deferred, n)
	}
	var last tx.Digest
	for i := 0; i < n && r.err == nil; i++ {
		f := fmt.Sprintf("deferred[%d]", i)
		c.Deferred[i].Since = Round(r.u64(f + ".since"))
		at := r.off
		c.Deferred[i].Tx = r.certifiedTx(f)
		if r.err == nil {
			d := c.Deferred[i].Tx.Digest()
			if i > 0 && bytes.Compare(d[:], last[:]) <= 0 {
				r.fail(f+".transfer", at, ErrOrder, "deferred must be sorted by digest, one each")
			}
			last = d
		}
	}
	c.Fees = r.u64("fees")
	c.StateRoot = r.hash("state-root")
	r.end()
	if r.err != nil {
		return ConvergenceBlock{}, r.err
	}
	return c, nil
}

// Known reports whether r is one of the four reasons of CONV-10.
func (r Reason) Known() bool { return r >= ReasonConflict && r <= ReasonGapExpired }

func (r Reason) String() string {
	switch r {
	case ReasonConflict:
		return "conflict"
	case ReasonReplay:
		return "replay"
	case ReasonOverdraft:
		return "overdraft"
	case ReasonGapExpired:
		return "gap-expired"
	}
	return fmt.Sprintf("reason(%d)", uint8(r))
}

// Reasons lists every Reason in declaration order (for reports).
func Reasons() []Reason {
	return []Reason{ReasonConflict, ReasonReplay, ReasonOverdraft, ReasonGapExpired}
}
