package dag

import (
	"bytes"
	"encoding/binary"
	"errors"
	"strings"
	"testing"

	"github.com/fhbft/fhbft/impl/state"
)

// wireSamples returns a signed proposal block with real certificates, a
// convergence block with every list non-empty, and evidence.
func wireSamples(t testing.TB) (ProposalBlock, ConvergenceBlock, Equivocation) {
	t.Helper()
	w := testWorld(t)
	s := &signedRound{w: w, p: DefaultParams(w.harvesters.roster), genesis: w.genesis()}
	s.st = state.NewTree(s.genesis)
	s.prev = Genesis(w.harvesters.roster.Quorum, w.harvesters.roster.Epoch, s.st.Root())
	x := w.certified(t, 0, 1, 5, 1, 0)
	y := w.certified(t, 0, 2, 7, 1, 0)
	z := w.certified(t, 1, 0, 9, 2, 1)
	b1 := s.sign(1, x, z)
	b2 := s.sign(2, y)
	b3a, b3b := s.sign(3, x), s.sign(3)
	ev, err := NewEquivocation(&b3a, &b3b)
	if err != nil {
		t.Fatal(err)
	}
	s.p.MinRefs = 2
	out, err := Converge(s.p, &s.prev, s.prev.Beacon, s.st, 1, 0, Input{Blocks: []ProposalBlock{b1, b2, b3a, b3b}})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Block.Applied) == 0 || len(out.Block.Rejected) == 0 || len(out.Block.Deferred) == 0 || len(out.Block.Equivocations) == 0 {
		t.Fatalf("sample block lacks a list: %+v", out.Block)
	}
	return b1, out.Block, ev
}

// spec: PB-7
func TestWireRoundTrip(t *testing.T) {
	pb, cb, ev := wireSamples(t)
	enc, err := pb.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	if len(enc) != pb.EncodedSize() {
		t.Fatalf("EncodedSize %d, encoding %d", pb.EncodedSize(), len(enc))
	}
	dec, err := DecodeProposalBlock(enc)
	if err != nil {
		t.Fatal(err)
	}
	if re, _ := dec.MarshalBinary(); !bytes.Equal(re, enc) || dec.Hash() != pb.Hash() || !dec.Signature.Equal(pb.Signature) {
		t.Fatal("proposal block does not round-trip")
	}
	if err := dec.VerifySignature(testWorld(t).harvesters.roster); err != nil {
		t.Fatalf("decoded block's signature: %v", err)
	}
	enc, _ = cb.MarshalBinary()
	dcb, err := DecodeConvergenceBlock(enc)
	if err != nil {
		t.Fatal(err)
	}
	if err := Compare(&cb, &dcb); err != nil {
		t.Fatal(err)
	}
	enc, _ = ev.MarshalBinary()
	dev, err := DecodeEquivocation(enc)
	if err != nil || dev != ev {
		t.Fatalf("evidence round-trip: %v", err)
	}
	// Hashes are domain-separated: a block's hash is not the plain SHA-256.
	if pb.Hash() == cb.Hash() {
		t.Fatal("hash collision across kinds")
	}
}

func decodeErr(t *testing.T, err error) *DecodeError {
	t.Helper()
	var de *DecodeError
	if !errors.As(err, &de) {
		t.Fatalf("error %v (%T) is not a *DecodeError", err, err)
	}
	return de
}

// spec: PB-7 (typed errors naming the field; never a panic)
func TestDecodeErrorsNameTheField(t *testing.T) {
	pb, cb, ev := wireSamples(t)
	pEnc, _ := pb.MarshalBinary()
	cEnc, _ := cb.MarshalBinary()
	eEnc, _ := ev.MarshalBinary()
	// Every proper prefix fails with ErrTruncated or ErrTooMany.
	for _, enc := range [][]byte{pEnc, cEnc, eEnc} {
		for n := 0; n < len(enc); n++ {
			var err error
			switch enc[0] {
			case tagProposal:
				_, err = DecodeProposalBlock(enc[:n])
			case tagConvergence:
				_, err = DecodeConvergenceBlock(enc[:n])
			default:
				_, err = DecodeEquivocation(enc[:n])
			}
			if de := decodeErr(t, err); !errors.Is(de, ErrTruncated) && !errors.Is(de, ErrTooMany) && !errors.Is(de, ErrEmbedded) {
				t.Fatalf("prefix %d of tag %d: %v", n, enc[0], de)
			}
		}
	}
	cases := []struct {
		name  string
		dec   func([]byte) error
		enc   []byte
		field string
		err   error
	}{
		{"trailing", decP, append(clone(pEnc), 0), "end", ErrTrailing},
		{"tag", decP, set(pEnc, 0, tagConvergence), "tag", ErrType},
		{"count", decP, put32(pEnc, proposalHeaderSize-4, 1<<31), "txs", ErrTooMany},
		{"transfer", decP, set(pEnc, proposalHeaderSize, 'X'), "txs[0].transfer.domain", ErrEmbedded},
		{"cert", decP, set(pEnc, proposalHeaderSize+163+4+12, 99), "txs[0].cert", ErrEmbedded},
		{"signature", decP, set(pEnc, len(pEnc)-sigSize, 0xff), "signature", ErrEmbedded},
		{"conv-tag", decC, set(cEnc, 0, tagProposal), "tag", ErrType},
		{"refs-order", decC, swapRefs(cEnc), "refs[2].proposer", ErrOrder},
		{"reason", decC, setReason(cb, 9), "rejected[0].reason", ErrValue},
		{"fees-trailing", decC, append(clone(cEnc), 1, 2), "end", ErrTrailing},
		{"evidence-order", decE, swapEvidence(eEnc), "evidence.hash1", ErrOrder},
		{"evidence-sig", decE, set(eEnc, 1+4+8+32, 0), "evidence.sig1", ErrEmbedded},
	}
	for _, c := range cases {
		de := decodeErr(t, c.dec(c.enc))
		if de.Field != c.field || !errors.Is(de, c.err) {
			t.Errorf("%s: field %q err %v, want %q %v", c.name, de.Field, de, c.field, c.err)
		}
		if !strings.Contains(de.Error(), c.field) {
			t.Errorf("%s: message %q does not name the field", c.name, de.Error())
		}
	}
}

func decP(b []byte) error { _, err := DecodeProposalBlock(b); return err }
func decC(b []byte) error { _, err := DecodeConvergenceBlock(b); return err }
func decE(b []byte) error { _, err := DecodeEquivocation(b); return err }

func clone(b []byte) []byte { return append([]byte(nil), b...) }
func set(b []byte, i int, v byte) []byte {
	c := clone(b)
	c[i] = v
	return c
}
func put32(b []byte, i int, v uint32) []byte {
	c := clone(b)
	binary.BigEndian.PutUint32(c[i:], v)
	return c
}

// swapRefs re-encodes a convergence block with refs out of order.
func swapRefs(enc []byte) []byte {
	cb, _ := DecodeConvergenceBlock(enc)
	cb.Refs = append(cb.Refs, Ref{Proposer: 0})
	out, _ := cb.MarshalBinary()
	return out
}

func setReason(cb ConvergenceBlock, r Reason) []byte {
	cb.Rejected = append([]Drop(nil), cb.Rejected...)
	cb.Rejected[0].Reason = r
	out, _ := cb.MarshalBinary()
	return out
}

func swapEvidence(enc []byte) []byte {
	e, _ := DecodeEquivocation(enc)
	e.Hash1, e.Hash2, e.Sig1, e.Sig2 = e.Hash2, e.Hash1, e.Sig2, e.Sig1
	out, _ := e.MarshalBinary()
	return out
}

// FuzzDecodeProposalBlock: any input decodes to a block that re-encodes to
// itself, or fails with a *DecodeError; never a panic. spec: PB-7
func FuzzDecodeProposalBlock(f *testing.F) {
	pb, _, _ := wireSamples(f)
	enc, _ := pb.MarshalBinary()
	f.Add(enc)
	f.Add(enc[:proposalHeaderSize])
	f.Add([]byte{tagProposal})
	f.Add([]byte{})
	empty := pb
	empty.Txs = nil
	e2, _ := empty.MarshalBinary()
	f.Add(e2)
	f.Fuzz(func(t *testing.T, data []byte) {
		b, err := DecodeProposalBlock(data)
		if err != nil {
			var de *DecodeError
			if !errors.As(err, &de) || de.Field == "" {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		re, err := b.MarshalBinary()
		if err != nil || !bytes.Equal(re, data) {
			t.Fatalf("accepted input does not re-encode to itself: %v", err)
		}
		_ = b.Hash()
	})
}

// FuzzDecodeConvergenceBlock: as FuzzDecodeProposalBlock. spec: PB-7
func FuzzDecodeConvergenceBlock(f *testing.F) {
	_, cb, ev := wireSamples(f)
	enc, _ := cb.MarshalBinary()
	f.Add(enc)
	g := Genesis(1, 2, [32]byte{3})
	ge, _ := g.MarshalBinary()
	f.Add(ge)
	f.Add([]byte{tagConvergence})
	ee, _ := ev.MarshalBinary()
	f.Add(ee)
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := DecodeConvergenceBlock(data)
		if err != nil {
			var de *DecodeError
			if !errors.As(err, &de) || de.Field == "" {
				t.Fatalf("untyped error %v", err)
			}
		} else if re, err := c.MarshalBinary(); err != nil || !bytes.Equal(re, data) {
			t.Fatalf("accepted input does not re-encode to itself: %v", err)
		}
		e, err := DecodeEquivocation(data)
		if err == nil {
			if re, _ := e.MarshalBinary(); !bytes.Equal(re, data) {
				t.Fatal("evidence does not re-encode to itself")
			}
		}
	})
}
