package pacemaker

import (
	"bytes"
	"errors"
	"testing"

	"github.com/fhbft/fhbft/impl/certification"
)

// sampleMessages returns one message of every type, with real signatures.
func sampleMessages(t testing.TB) []Message {
	f := newFixture(t, 4, 3)
	q, e := f.roster.Quorum, f.roster.Epoch
	g := GenesisQCOf(f.roster)
	b1 := Block{Quorum: q, Epoch: e, View: 1, Parent: GenesisHash(q, e), Justify: g, Proposer: 2, Cmds: []Command{{ID: 7, Payload: []byte("hello")}, {ID: 8}}}
	qc1 := f.qcFor(t, 1, b1.Hash())
	d2 := Dummy(q, e, 2, b1.Hash())
	b3 := Block{Quorum: q, Epoch: e, View: 3, Parent: d2.Hash(), Justify: qc1, Proposer: 4}
	return []Message{
		SignProposal(f.shares[1], b1),
		SignProposal(f.shares[3], b3),
		Vote{Vote: signVote(f.shares[0], VoteStatement(f.roster, 3, b3.Hash()))},
		NewView{QC: g},
		NewView{QC: qc1},
		Complain{Vote: signVote(f.shares[1], ComplaintStatement(f.roster, 2)), QCHigh: qc1},
		Complain{Vote: signVote(f.shares[2], ComplaintStatement(f.roster, 2)), QCHigh: g},
		NextView{TC: f.tcFor(t, 2)},
		FetchRequest{Quorum: q, Epoch: e, Hash: b3.Hash()},
		FetchResponse{Block: b3},
		FetchResponse{Block: d2},
	}
}

func TestWireRoundTrip(t *testing.T) {
	for _, m := range sampleMessages(t) {
		enc, err := m.MarshalBinary()
		if err != nil {
			t.Fatalf("%T: %v", m, err)
		}
		dec, err := DecodeMessage(enc)
		if err != nil {
			t.Fatalf("%T: %v", m, err)
		}
		if dec.Type() != m.Type() {
			t.Fatalf("%T decoded as %T", m, dec)
		}
		re, _ := dec.MarshalBinary()
		if !bytes.Equal(re, enc) {
			t.Fatalf("%T: re-encoding differs", m)
		}
		// Every strict prefix and every extension is refused with a typed error.
		for i := range enc {
			if _, err := DecodeMessage(enc[:i]); !isWireError(err) {
				t.Fatalf("%T prefix %d/%d: %v", m, i, len(enc), err)
			}
		}
		if _, err := DecodeMessage(append(bytes.Clone(enc), 0)); !isWireError(err) {
			t.Fatalf("%T with a trailing byte: %v", m, err)
		}
	}
}

func isWireError(err error) bool {
	var we *WireError
	return errors.As(err, &we)
}

func TestBlockHashCoversEveryField(t *testing.T) {
	f := newFixture(t, 4, 3)
	q, e := f.roster.Quorum, f.roster.Epoch
	base := Block{Quorum: q, Epoch: e, View: 3, Parent: Hash{1}, Justify: f.qcFor(t, 2, Hash{1}), Cmds: []Command{{ID: 1, Payload: []byte("x")}}, Proposer: 4}
	variants := []func(*Block){
		func(b *Block) { b.Quorum++ },
		func(b *Block) { b.Epoch++ },
		func(b *Block) { b.View++ },
		func(b *Block) { b.Parent[0]++ },
		func(b *Block) { b.Justify = GenesisQC(q, e) },
		func(b *Block) { b.Justify = f.qcFor(t, 2, Hash{2}) },
		func(b *Block) { b.Justify = f.qcFor(t, 1, Hash{1}) },
		func(b *Block) { b.Cmds[0].ID++ },
		func(b *Block) { b.Cmds[0].Payload = []byte("y") },
		func(b *Block) { b.Cmds = append(b.Cmds, Command{ID: 2}) },
		func(b *Block) { b.Proposer = 3 },
	}
	h := base.Hash()
	for i, mut := range variants {
		b := base
		b.Cmds = append([]Command(nil), base.Cmds...)
		mut(&b)
		if b.Hash() == h {
			t.Errorf("variant %d has the same hash", i)
		}
	}
	// The QC enters the hash by its statement only: another signer set or
	// a re-encoding does not change the block's identity (PM-1).
	other := base
	c := newFixture(t, 4, 3).certifyBy(t, VoteStatement(f.roster, 2, Hash{1}), []int{1, 2, 3})
	other.Justify = QC{Cert: c}
	if other.Justify.Cert.Signers.Equal(base.Justify.Cert.Signers) || other.Hash() != h {
		t.Fatal("the signer bitmap changed the block hash, or the test used the same signers")
	}
	g := GenesisHash(q, e)
	if Dummy(q, e, 1, g).Hash() == g || Genesis(q, e).Hash() != g || Genesis(q, e).Height() != 1 || Dummy(q, e, 5, h).Height() != 6 {
		t.Fatal("genesis/dummy identities")
	}
	if GenesisHash(q, e+1) == g || GenesisHash(q+1, e) == g || Dummy(q, e+1, 1, g).Hash() == Dummy(q, e, 1, g).Hash() {
		t.Fatal("hashes do not depend on quorum and epoch")
	}
}

func TestWireRejects(t *testing.T) {
	f := newFixture(t, 4, 3)
	vote := signVote(f.shares[0], VoteStatement(f.roster, 1, Hash{1}))
	complaint := signVote(f.shares[0], ComplaintStatement(f.roster, 1))
	enc := func(m Message) []byte {
		b, err := m.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	// A complaint where a vote is expected and vice versa.
	wrongVote := enc(Vote{Vote: complaint})
	wrongComplain := enc(Complain{Vote: vote, QCHigh: GenesisQCOf(f.roster)})
	// A QC that is really a complaint certificate.
	tc := f.tcFor(t, 1)
	// Encoders refuse the wrong kind, so build those bytes by hand.
	qcAsTC := appendCert([]byte{byte(TypeNextView)}, f.qcFor(t, 1, Hash{1}).Cert)
	tcAsQC := appendCert([]byte{byte(TypeNewView), qcTagCert}, tc.Cert)
	if _, err := (NextView{TC: TC{Cert: f.qcFor(t, 1, Hash{1}).Cert}}).MarshalBinary(); err == nil {
		t.Error("a QC encoded as a TC")
	}
	if _, err := (NewView{QC: QC{Cert: tc.Cert}}).MarshalBinary(); err == nil {
		t.Error("a TC encoded as a QC")
	}
	badTag := enc(NewView{QC: GenesisQCOf(f.roster)})
	badTag[1] = 9
	bigCount := enc(SignProposal(f.shares[1], Block{View: 1, Proposer: 2, Justify: GenesisQCOf(f.roster)}))
	bigCount[len(bigCount)-48-4] = 0xff
	badSig := enc(SignProposal(f.shares[1], Block{View: 1, Proposer: 2, Justify: GenesisQCOf(f.roster)}))
	badSig[len(badSig)-1] ^= 1
	cases := map[string][]byte{
		"empty": nil, "unknown type": {42}, "vote kind": wrongVote, "complain kind": wrongComplain,
		"qc as tc": qcAsTC, "tc as qc": tcAsQC, "qc tag": badTag, "ncmds": bigCount, "partial": badSig,
	}
	for name, b := range cases {
		if _, err := DecodeMessage(b); !isWireError(err) {
			t.Errorf("%s: %v", name, err)
		}
	}
	// Values that cannot be encoded.
	if _, err := (Block{View: 1, Cmds: []Command{{ID: 1}}}).MarshalBinary(); err == nil {
		t.Error("dummy with commands encoded")
	}
	if _, err := (Block{View: 1, Proposer: 1}).MarshalBinary(); err == nil {
		t.Error("real block without a justify encoded")
	}
	fakeGenesis := GenesisQCOf(f.roster)
	fakeGenesis.Cert.Value.Subject = Hash{9}
	if _, err := fakeGenesis.MarshalBinary(); err == nil {
		t.Error("a genesis-shaped QC with another subject encoded")
	}
	if _, err := (Block{View: 1, Proposer: 1, Cmds: []Command{{Payload: make([]byte, MaxPayloadBytes+1)}}}).MarshalBinary(); err == nil {
		t.Error("oversize payload encoded")
	}
	var re *certification.RejectError
	_, err := DecodeQC([]byte{qcTagCert, 0, 0, 0, 3, 1, 2, 3})
	if !errors.As(err, &re) || re.Reason != certification.ReasonEncoding {
		t.Errorf("bad certificate bytes: %v", err)
	}
}

func FuzzDecodeMessage(f *testing.F) {
	for _, m := range sampleMessages(f) {
		b, _ := m.MarshalBinary()
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := DecodeMessage(b)
		if err != nil {
			if !isWireError(err) {
				t.Fatalf("untyped error %T: %v", err, err)
			}
			return
		}
		re, err := m.MarshalBinary()
		if err != nil || !bytes.Equal(re, b) {
			t.Fatalf("decoded %T does not re-encode to its input (err %v)", m, err)
		}
	})
}

func FuzzDecodeBlock(f *testing.F) {
	for _, m := range sampleMessages(f) {
		if p, ok := m.(Proposal); ok {
			b, _ := p.Block.MarshalBinary()
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		blk, err := DecodeBlock(b)
		if err != nil {
			if !isWireError(err) {
				t.Fatalf("untyped error %T", err)
			}
			return
		}
		if re, err := blk.MarshalBinary(); err != nil || !bytes.Equal(re, b) {
			t.Fatalf("not canonical (err %v)", err)
		}
		_ = blk.Hash()
	})
}

func FuzzDecodeQC(f *testing.F) {
	for _, m := range sampleMessages(f) {
		if nv, ok := m.(NewView); ok {
			b, _ := nv.QC.MarshalBinary()
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		qc, err := DecodeQC(b)
		if err != nil {
			if !isWireError(err) {
				t.Fatalf("untyped error %T", err)
			}
			return
		}
		if re, err := qc.MarshalBinary(); err != nil || !bytes.Equal(re, b) {
			t.Fatalf("not canonical (err %v)", err)
		}
	})
}

func FuzzDecodeTC(f *testing.F) {
	for _, m := range sampleMessages(f) {
		if nv, ok := m.(NextView); ok {
			b, _ := nv.TC.MarshalBinary()
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		tc, err := DecodeTC(b)
		if err != nil {
			if !isWireError(err) {
				t.Fatalf("untyped error %T", err)
			}
			return
		}
		if re, err := tc.MarshalBinary(); err != nil || !bytes.Equal(re, b) {
			t.Fatalf("not canonical (err %v)", err)
		}
	})
}
