package pacemaker

import (
	"encoding/binary"

	"github.com/fhbft/fhbft/impl/certification"
	"github.com/fhbft/fhbft/impl/crypto/bls"
)

// Wire formats (spec/pacemaker.md, wire section). All integers are
// big-endian. Every decoder is total: any input yields a value or a
// *WireError naming the field, never a panic, and accepts exactly one
// encoding per value (canonical: no trailing bytes, no alternative tags),
// so re-encoding a decoded value gives the input back.
//
//	block    = quorum u32 ‖ epoch u64 ‖ view u64 ‖ parent [32] ‖ proposer u32 ‖ (proposer ≠ 0: qc ‖ cmds)
//	cmds     = ncmds u32 ‖ ncmds × (id u64 ‖ len u32 ‖ payload)
//	qc       = 0x00 ‖ quorum u32 ‖ epoch u64     (the genesis QC of that epoch)
//	         | 0x01 ‖ len u32 ‖ certificate       (certification wire format, kind qc)
//	tc       = len u32 ‖ certificate              (kind complaint)
//	message  = type u8 ‖ body
//	  proposal: block ‖ partial [48]; vote: vote (certification); new-view: qc;
//	  complain: vote ‖ qc; next-view: tc; fetch-request: quorum u32 ‖ epoch u64 ‖ hash [32];
//	  fetch-response: block
//
// A proposer-0 block (dummy, genesis) has no justify and no commands on the
// wire; honest replicas never send one (PM-1). The genesis QC is a tag, not
// a certificate with an empty bitmap, because the certification format has
// no encoding for "no signers".

// Wire limits.
const (
	MaxCmdsPerBlock = 1 << 16
	MaxPayloadBytes = 1 << 20
	qcTagGenesis    = 0
	qcTagCert       = 1
)

// appendBlock encodes b without checking limits (Hash must be total);
// MarshalBinary checks them.
func appendBlock(buf []byte, b Block) []byte {
	buf = appendDomain(buf, b.Quorum, b.Epoch)
	buf = binary.BigEndian.AppendUint64(buf, uint64(b.View))
	buf = append(buf, b.Parent[:]...)
	buf = binary.BigEndian.AppendUint32(buf, uint32(b.Proposer))
	if b.Proposer == 0 {
		return buf
	}
	buf = appendQC(buf, b.Justify)
	return appendCmds(buf, b.Cmds)
}

func appendCmds(buf []byte, cmds []Command) []byte {
	buf = binary.BigEndian.AppendUint32(buf, uint32(len(cmds)))
	for _, c := range cmds {
		buf = binary.BigEndian.AppendUint64(buf, uint64(c.ID))
		buf = binary.BigEndian.AppendUint32(buf, uint32(len(c.Payload)))
		buf = append(buf, c.Payload...)
	}
	return buf
}

func appendCert(buf []byte, c certification.Certificate) []byte {
	enc, err := c.MarshalBinary()
	if err != nil {
		// Only an impossible roster (n > 65535) gets here; encode a length
		// that no decoder accepts so that the value still hashes uniquely.
		return binary.BigEndian.AppendUint32(buf, 0)
	}
	buf = binary.BigEndian.AppendUint32(buf, uint32(len(enc)))
	return append(buf, enc...)
}

func appendQC(buf []byte, qc QC) []byte {
	if qc.IsGenesis() {
		return appendDomain(append(buf, qcTagGenesis), qc.Cert.Quorum, qc.Cert.Epoch)
	}
	return appendCert(append(buf, qcTagCert), qc.Cert)
}

// checkQCEncodable: a genesis-shaped QC must be exactly its epoch's genesis
// QC (the tag carries nothing else); any other QC must be a kind-qc
// certificate the certification format can encode.
func checkQCEncodable(qc QC) error {
	if qc.IsZero() {
		return wireErr("qc", "no QC")
	}
	if qc.IsGenesis() {
		g := GenesisQC(qc.Cert.Quorum, qc.Cert.Epoch)
		if qc.Cert.Statement != g.Cert.Statement || !qc.Cert.Signature.IsInfinity() {
			return wireErr("qc", "a view-0 QC without signers that is not its epoch's genesis QC")
		}
		return nil
	}
	if err := checkQCShape("qc", qc.Cert); err != nil {
		return err
	}
	return checkCertEncodable(qc.Cert)
}

func checkBlockLimits(b Block) error {
	if b.Proposer == 0 {
		if !b.Justify.IsZero() || len(b.Cmds) != 0 {
			return wireErr("block", "a dummy block (proposer 0) has no justify and no commands")
		}
		return nil
	}
	if len(b.Cmds) > MaxCmdsPerBlock {
		return wireErr("cmds", "%d commands exceed %d", len(b.Cmds), MaxCmdsPerBlock)
	}
	for i, c := range b.Cmds {
		if len(c.Payload) > MaxPayloadBytes {
			return wireErr("cmds", "command %d payload %d bytes exceeds %d", i, len(c.Payload), MaxPayloadBytes)
		}
	}
	return checkQCEncodable(b.Justify)
}

func checkCertEncodable(c certification.Certificate) error {
	if _, err := c.MarshalBinary(); err != nil {
		return &WireError{Field: "certificate", Detail: "not encodable", Err: err}
	}
	return nil
}

// MarshalBinary encodes a block.
func (b Block) MarshalBinary() ([]byte, error) {
	if err := checkBlockLimits(b); err != nil {
		return nil, err
	}
	return appendBlock(nil, b), nil
}

// MarshalBinary encodes a QC.
func (qc QC) MarshalBinary() ([]byte, error) {
	if err := checkQCEncodable(qc); err != nil {
		return nil, err
	}
	return appendQC(nil, qc), nil
}

// MarshalBinary encodes a TC.
func (tc TC) MarshalBinary() ([]byte, error) {
	if err := checkTCShape("tc", tc.Cert); err != nil {
		return nil, err
	}
	if err := checkCertEncodable(tc.Cert); err != nil {
		return nil, err
	}
	return appendCert(nil, tc.Cert), nil
}

func withType(t MsgType, body []byte, err error) ([]byte, error) {
	if err != nil {
		return nil, err
	}
	return append([]byte{byte(t)}, body...), nil
}

func (m Proposal) MarshalBinary() ([]byte, error) {
	b, err := m.Block.MarshalBinary()
	sig := m.Partial.Bytes()
	return withType(TypeProposal, append(b, sig[:]...), err)
}

func (m Vote) MarshalBinary() ([]byte, error) {
	return m.Vote.AppendBinary([]byte{byte(TypeVote)}), nil
}

func (m NewView) MarshalBinary() ([]byte, error) {
	b, err := m.QC.MarshalBinary()
	return withType(TypeNewView, b, err)
}

func (m Complain) MarshalBinary() ([]byte, error) {
	q, err := m.QCHigh.MarshalBinary()
	if err != nil {
		return nil, err
	}
	return append(m.Vote.AppendBinary([]byte{byte(TypeComplain)}), q...), nil
}

func (m NextView) MarshalBinary() ([]byte, error) {
	b, err := m.TC.MarshalBinary()
	return withType(TypeNextView, b, err)
}

func (m FetchRequest) MarshalBinary() ([]byte, error) {
	b := appendDomain([]byte{byte(TypeFetchRequest)}, m.Quorum, m.Epoch)
	return append(b, m.Hash[:]...), nil
}

func (m FetchResponse) MarshalBinary() ([]byte, error) {
	b, err := m.Block.MarshalBinary()
	return withType(TypeFetchResponse, b, err)
}

// reader consumes bytes with bounds checks; the first failure sticks.
type reader struct {
	b   []byte
	err error
}

func (r *reader) take(field string, n int) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || len(r.b) < n {
		r.err = wireErr(field, "need %d bytes, have %d", n, len(r.b))
		return nil
	}
	out := r.b[:n]
	r.b = r.b[n:]
	return out
}

func (r *reader) u8(field string) uint8 {
	if b := r.take(field, 1); b != nil {
		return b[0]
	}
	return 0
}

func (r *reader) u32(field string) uint32 {
	if b := r.take(field, 4); b != nil {
		return binary.BigEndian.Uint32(b)
	}
	return 0
}

func (r *reader) u64(field string) uint64 {
	if b := r.take(field, 8); b != nil {
		return binary.BigEndian.Uint64(b)
	}
	return 0
}

func (r *reader) end(what string) error {
	if r.err != nil {
		return r.err
	}
	if len(r.b) != 0 {
		return wireErr(what, "%d trailing bytes", len(r.b))
	}
	return nil
}

func (r *reader) cert(field string) certification.Certificate {
	n := r.u32(field + " length")
	body := r.take(field, int(min(n, 1<<30)))
	if r.err != nil {
		return certification.Certificate{}
	}
	c, err := certification.DecodeCertificate(body)
	if err != nil {
		r.err = &WireError{Field: field, Detail: "bad certificate", Err: err}
	}
	return c
}

func (r *reader) qc(field string) QC {
	switch tag := r.u8(field + " tag"); {
	case r.err != nil:
		return QC{}
	case tag == qcTagGenesis:
		q := certification.QuorumID(r.u32(field + " quorum"))
		e := certification.Epoch(r.u64(field + " epoch"))
		return GenesisQC(q, e)
	case tag == qcTagCert:
		c := r.cert(field)
		if r.err == nil {
			r.err = checkQCShape(field, c)
		}
		return QC{Cert: c}
	default:
		r.err = wireErr(field, "unknown qc tag %d", tag)
		return QC{}
	}
}

func checkQCShape(field string, c certification.Certificate) error {
	if c.Slot.Kind != certification.KindQC || c.Value.Verdict != certification.Accept {
		return wireErr(field, "a QC is a %v/%v certificate, got %v/%v", certification.KindQC, certification.Accept, c.Slot.Kind, c.Value.Verdict)
	}
	return nil
}

func checkTCShape(field string, c certification.Certificate) error {
	if c.Slot.Kind != certification.KindComplaint || c.Value != (certification.Value{Verdict: certification.Accept}) {
		return wireErr(field, "a TC is a %v certificate with the zero subject and verdict accept", certification.KindComplaint)
	}
	return nil
}

func (r *reader) tc(field string) TC {
	c := r.cert(field)
	if r.err == nil {
		r.err = checkTCShape(field, c)
	}
	return TC{Cert: c}
}

func (r *reader) block() Block {
	var b Block
	b.Quorum = certification.QuorumID(r.u32("block quorum"))
	b.Epoch = certification.Epoch(r.u64("block epoch"))
	b.View = View(r.u64("block view"))
	copy(b.Parent[:], r.take("block parent", 32))
	b.Proposer = ReplicaID(r.u32("block proposer"))
	if r.err != nil || b.Proposer == 0 {
		return b
	}
	b.Justify = r.qc("block justify")
	b.Cmds = r.cmds()
	return b
}

func (r *reader) cmds() []Command {
	n := r.u32("block ncmds")
	if r.err != nil {
		return nil
	}
	// Each command takes at least 12 bytes: refuse counts the input cannot
	// hold before allocating for them.
	if n > MaxCmdsPerBlock || int(n) > len(r.b)/12 {
		r.err = wireErr("block ncmds", "%d commands (limit %d, %d bytes left)", n, MaxCmdsPerBlock, len(r.b))
		return nil
	}
	var cmds []Command
	if n > 0 {
		cmds = make([]Command, n)
	}
	for i := range cmds {
		cmds[i].ID = CommandID(r.u64("cmd id"))
		l := r.u32("cmd length")
		if r.err == nil && l > MaxPayloadBytes {
			r.err = wireErr("cmd length", "%d bytes exceeds %d", l, MaxPayloadBytes)
		}
		if p := r.take("cmd payload", int(l)); p != nil && len(p) > 0 {
			cmds[i].Payload = append([]byte(nil), p...)
		}
		if r.err != nil {
			return nil
		}
	}
	return cmds
}

// DecodeBlock parses a block.
func DecodeBlock(b []byte) (Block, error) {
	r := &reader{b: b}
	blk := r.block()
	if err := r.end("block"); err != nil {
		return Block{}, err
	}
	return blk, nil
}

// DecodeQC parses a QC (its shape, not its signature: Verify does that).
func DecodeQC(b []byte) (QC, error) {
	r := &reader{b: b}
	qc := r.qc("qc")
	if err := r.end("qc"); err != nil {
		return QC{}, err
	}
	return qc, nil
}

// DecodeTC parses a TC (its shape, not its signature).
func DecodeTC(b []byte) (TC, error) {
	r := &reader{b: b}
	tc := r.tc("tc")
	if err := r.end("tc"); err != nil {
		return TC{}, err
	}
	return tc, nil
}

func (r *reader) vote(field string, kind certification.Kind) certification.Vote {
	body := r.take(field, certification.VoteLen)
	if r.err != nil {
		return certification.Vote{}
	}
	v, err := certification.DecodeVote(body)
	if err != nil {
		r.err = &WireError{Field: field, Detail: "bad vote", Err: err}
		return v
	}
	if v.Slot.Kind != kind {
		r.err = wireErr(field, "kind %v, want %v", v.Slot.Kind, kind)
	}
	return v
}

// DecodeMessage parses any message.
func DecodeMessage(b []byte) (Message, error) {
	if len(b) == 0 {
		return nil, wireErr("message", "empty")
	}
	r := &reader{b: b[1:]}
	var m Message
	switch t := MsgType(b[0]); t {
	case TypeProposal:
		blk := r.block()
		sig := r.take("proposal partial", bls.SignatureSize)
		p := Proposal{Block: blk}
		if r.err == nil {
			var err error
			if p.Partial, err = bls.SignatureFromBytes(sig); err != nil {
				r.err = &WireError{Field: "proposal partial", Detail: "bad signature encoding", Err: err}
			}
		}
		m = p
	case TypeVote:
		m = Vote{Vote: r.vote("vote", certification.KindQC)}
	case TypeNewView:
		m = NewView{QC: r.qc("new-view qc")}
	case TypeComplain:
		v := r.vote("complain", certification.KindComplaint)
		m = Complain{Vote: v, QCHigh: r.qc("complain qc")}
	case TypeNextView:
		m = NextView{TC: r.tc("next-view tc")}
	case TypeFetchRequest:
		fr := FetchRequest{Quorum: certification.QuorumID(r.u32("fetch quorum")), Epoch: certification.Epoch(r.u64("fetch epoch"))}
		copy(fr.Hash[:], r.take("fetch hash", 32))
		m = fr
	case TypeFetchResponse:
		m = FetchResponse{Block: r.block()}
	default:
		return nil, wireErr("message type", "unknown type %d", b[0])
	}
	if err := r.end(m.Type().String()); err != nil {
		return nil, err
	}
	return m, nil
}
