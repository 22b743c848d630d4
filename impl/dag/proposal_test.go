package dag

import (
	"errors"
	"testing"

	"github.com/fhbft/fhbft/impl/certification"
	"github.com/fhbft/fhbft/impl/state"
)

// signedRound is a real round: the world's harvester roster, genesis, and
// signed proposal blocks with real transaction certificates.
type signedRound struct {
	w       *world
	p       Params
	prev    ConvergenceBlock
	genesis []state.Change
	st      state.Tree
}

func newSignedRound(t *testing.T) *signedRound {
	t.Helper()
	w := testWorld(t)
	s := &signedRound{w: w, p: DefaultParams(w.harvesters.roster), genesis: w.genesis()}
	s.st = state.NewTree(s.genesis)
	s.prev = Genesis(w.harvesters.roster.Quorum, w.harvesters.roster.Epoch, s.st.Root())
	return s
}

func (s *signedRound) sign(m certification.Member, txs ...CertifiedTx) ProposalBlock {
	b := block(&s.prev, m, txs...)
	return SignProposal(s.w.harvesters.shares[m-1], b)
}

func TestDefaultParams(t *testing.T) {
	w := testWorld(t)
	p := DefaultParams(w.harvesters.roster)
	if p.Harvesters != 4 || p.MinRefs != 3 || p.MaxDeferRounds != 4 || p.MaxBlockBytes != 64<<10 || p.MaxBlockTxs != 256 || p.Fallbacks != 3 {
		t.Fatalf("defaults %+v", p)
	}
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, f := range []func(*Params){
		func(p *Params) { p.Harvesters = 0 },
		func(p *Params) { p.MinRefs = 0 },
		func(p *Params) { p.MinRefs = 5 },
		func(p *Params) { p.MaxBlockBytes = 10 },
		func(p *Params) { p.MaxBlockTxs = 0 },
		func(p *Params) { p.MaxDeferRounds = 0 },
		func(p *Params) { p.Fallbacks = 0 },
	} {
		q := p
		f(&q)
		if err := q.Validate(); !errors.Is(err, ErrParams) {
			t.Errorf("%+v accepted: %v", q, err)
		}
	}
}

// spec: PB-2
func TestSignProposal(t *testing.T) {
	s := newSignedRound(t)
	r := s.w.harvesters.roster
	b := s.sign(2, s.w.certified(t, 0, 1, 5, 1, 0))
	if err := b.VerifySignature(r); err != nil {
		t.Fatalf("honest block: %v", err)
	}
	// Another member's share, a changed field, or a moved proposer fail.
	forged := SignProposal(s.w.harvesters.shares[0], b) // signed by member 1 as member 2
	if err := forged.VerifySignature(r); !errors.Is(err, ErrBadSignature) {
		t.Errorf("wrong share: %v", err)
	}
	changed := b
	changed.Round++
	if err := changed.VerifySignature(r); !errors.Is(err, ErrBadSignature) {
		t.Errorf("changed round: %v", err)
	}
	changed = b
	changed.Txs = nil
	if err := changed.VerifySignature(r); !errors.Is(err, ErrBadSignature) {
		t.Errorf("dropped txs: %v", err)
	}
	changed = b
	changed.Proposer = 9
	if err := changed.VerifySignature(r); !errors.Is(err, ErrBadProposer) {
		t.Errorf("proposer 9: %v", err)
	}
	// The pacemaker's proposal tag is different: no cross-kind reuse (CERT-15).
	if string(DSTProposal) != "FHBFT/dag/proposal/v1" {
		t.Errorf("DST %q", DSTProposal)
	}
}

// spec: PB-4 (every check, in order, by name)
func TestValidateProposal(t *testing.T) {
	s := newSignedRound(t)
	w := s.w
	r := w.harvesters.roster
	prev := s.prev.Hash()
	good := s.sign(1, w.certified(t, 0, 1, 5, 1, 0), w.certified(t, 3, 1, 5, 1, 0))
	if err := ValidateProposal(s.p, r, 1, prev, w.verifier, &good); err != nil {
		t.Fatalf("good block: %v", err)
	}
	resign := func(b ProposalBlock) ProposalBlock {
		if b.Proposer >= 1 && int(b.Proposer) <= r.N() {
			return SignProposal(w.harvesters.shares[b.Proposer-1], b)
		}
		return b
	}
	ct := w.certified(t, 2, 1, 5, 1, 0)
	badCert := func(f func(*certification.Certificate)) CertifiedTx {
		c := ct
		f(&c.Cert)
		return c
	}
	rejectCert := CertifiedTx{Transfer: ct.Transfer, Cert: w.certify(t, ct.Transfer, certification.Reject)}
	other := w.transfer(2, 1, 6, 1, 0)
	wrongSubject := CertifiedTx{Transfer: ct.Transfer, Cert: w.certify(t, other, certification.Accept)}
	wrongQuorum := ct
	wrongQuorum.Cert = w.certifyStatement(t, w.farmers[2-entryOf(ct.Transfer.From)], withQuorum(ct.Cert.Statement, w.farmers[2-entryOf(ct.Transfer.From)].roster.Quorum))
	badSig := ct
	badSig.Transfer.Signature[0] ^= 1
	badSig.Cert = w.certify(t, badSig.Transfer, certification.Accept)
	selfTx := w.transfer(2, 2, 6, 1, 0)
	self := CertifiedTx{Transfer: selfTx, Cert: w.certify(t, selfTx, certification.Accept)}

	cases := []struct {
		name  string
		b     ProposalBlock
		round Round
		check string
		err   error
	}{
		{"quorum", resign(with(good, func(b *ProposalBlock) { b.Quorum++ })), 1, CheckQuorum, ErrWrongQuorum},
		{"epoch", resign(with(good, func(b *ProposalBlock) { b.Epoch++ })), 1, CheckEpoch, ErrWrongQuorum},
		{"proposer", with(good, func(b *ProposalBlock) { b.Proposer = 5 }), 1, CheckProposer, ErrBadProposer},
		{"round", good, 2, CheckRound, ErrWrongRound},
		{"prev", resign(with(good, func(b *ProposalBlock) { b.Prev[0]++ })), 1, CheckPrev, ErrWrongPrev},
		{"size", resign(with(good, func(b *ProposalBlock) { b.Txs = repeatTx(ct, 300) })), 1, CheckSize, ErrTooLarge},
		{"digests", resign(with(good, func(b *ProposalBlock) { b.Txs = []CertifiedTx{ct, ct} })), 1, CheckDigests, ErrDuplicateDigest},
		{"signature", with(good, func(b *ProposalBlock) { b.Txs = b.Txs[:1] }), 1, CheckSignature, ErrBadSignature},
		{"verdict", resign(with(good, func(b *ProposalBlock) { b.Txs = []CertifiedTx{rejectCert} })), 1, CheckTx, ErrCertVerdict},
		{"subject", resign(with(good, func(b *ProposalBlock) { b.Txs = []CertifiedTx{wrongSubject} })), 1, CheckTx, ErrCertSubject},
		{"kind", resign(with(good, func(b *ProposalBlock) {
			b.Txs = []CertifiedTx{badCert(func(c *certification.Certificate) { c.Slot.Kind = certification.KindConvergence })}
		})), 1, CheckTx, ErrCertKind},
		{"entry-quorum", resign(with(good, func(b *ProposalBlock) { b.Txs = []CertifiedTx{wrongQuorum} })), 1, CheckTx, ErrCertQuorum},
		{"cert-epoch", resign(with(good, func(b *ProposalBlock) {
			b.Txs = []CertifiedTx{badCert(func(c *certification.Certificate) { c.Epoch++ })}
		})), 1, CheckTx, ErrCertEpoch},
		{"cert-signature", resign(with(good, func(b *ProposalBlock) {
			b.Txs = []CertifiedTx{badCert(func(c *certification.Certificate) { c.Signature = placeholderSig })}
		})), 1, CheckTx, ErrCertInvalid},
		{"tx-signature", resign(with(good, func(b *ProposalBlock) { b.Txs = []CertifiedTx{badSig} })), 1, CheckTx, ErrTxMalformed},
		{"tx-stateless", resign(with(good, func(b *ProposalBlock) { b.Txs = []CertifiedTx{self} })), 1, CheckTx, ErrTxMalformed},
	}
	for _, c := range cases {
		err := ValidateProposal(s.p, r, c.round, prev, w.verifier, &c.b)
		var pe *ProposalError
		if !errors.As(err, &pe) || pe.Check != c.check || !errors.Is(err, c.err) {
			t.Errorf("%s: got %v, want check %q wrapping %v", c.name, err, c.check, c.err)
		}
	}
	// Count limit (below the byte limit).
	p := s.p
	p.MaxBlockTxs = 1
	if err := ValidateProposal(p, r, 1, prev, w.verifier, &good); !isCheck(err, CheckTxCount) {
		t.Errorf("tx count: %v", err)
	}
	// Entry roster missing.
	v := w.verifier
	v.Rosters = v.Rosters[:0]
	if err := ValidateProposal(s.p, r, 1, prev, v, &good); !errors.Is(err, ErrNoEntryRoster) {
		t.Errorf("no entry roster: %v", err)
	}
	if err := ValidateProposal(s.p, r, 1, prev, nil, &good); !isCheck(err, CheckTx) {
		t.Errorf("nil verifier: %v", err)
	}
}

func isCheck(err error, check string) bool {
	var pe *ProposalError
	return errors.As(err, &pe) && pe.Check == check
}

func with(b ProposalBlock, f func(*ProposalBlock)) ProposalBlock {
	b.Txs = append([]CertifiedTx(nil), b.Txs...)
	f(&b)
	return b
}

func withQuorum(st certification.Statement, q certification.QuorumID) certification.Statement {
	st.Quorum = q
	return st
}

func repeatTx(c CertifiedTx, n int) []CertifiedTx {
	out := make([]CertifiedTx, n)
	for i := range out {
		out[i] = c
		out[i].Transfer.Nonce = uint64(i) // distinct digests; the size check comes first
	}
	return out
}

// spec: PB-5
func TestEquivocation(t *testing.T) {
	s := newSignedRound(t)
	r := s.w.harvesters.roster
	a := s.sign(3, s.w.certified(t, 0, 1, 5, 1, 0))
	b := s.sign(3)
	e, err := NewEquivocation(&a, &b)
	if err != nil {
		t.Fatal(err)
	}
	e2, _ := NewEquivocation(&b, &a)
	if e != e2 {
		t.Fatal("evidence depends on argument order")
	}
	if string(e.Hash1[:]) >= string(e.Hash2[:]) {
		t.Fatal("hashes not ordered")
	}
	if err := e.Verify(r); err != nil {
		t.Fatalf("valid evidence: %v", err)
	}
	if _, err := NewEquivocation(&a, &a); !errors.Is(err, ErrNotEvidence) {
		t.Errorf("same block: %v", err)
	}
	c := s.sign(2)
	if _, err := NewEquivocation(&a, &c); !errors.Is(err, ErrNotEvidence) {
		t.Errorf("different proposers: %v", err)
	}
	// Evidence cannot be moved to another round or proposer, or reordered.
	moved := e
	moved.Round = 2
	if err := moved.Verify(r); !errors.Is(err, ErrBadSignature) {
		t.Errorf("moved round: %v", err)
	}
	moved = e
	moved.Proposer = 2
	if err := moved.Verify(r); !errors.Is(err, ErrBadSignature) {
		t.Errorf("moved proposer: %v", err)
	}
	moved = e
	moved.Hash1, moved.Hash2, moved.Sig1, moved.Sig2 = e.Hash2, e.Hash1, e.Sig2, e.Sig1
	if err := moved.Verify(r); !errors.Is(err, ErrBadEvidence) {
		t.Errorf("unordered: %v", err)
	}
	// Two honest blocks of different rounds are not evidence of anything.
	s.prev.Round = 1
	d := s.sign(3)
	fake := Equivocation{Proposer: 3, Round: 1, Hash1: a.Hash(), Sig1: a.Signature, Hash2: d.Hash(), Sig2: d.Signature}
	if string(fake.Hash1[:]) > string(fake.Hash2[:]) {
		fake.Hash1, fake.Hash2, fake.Sig1, fake.Sig2 = fake.Hash2, fake.Hash1, fake.Sig2, fake.Sig1
	}
	if err := fake.Verify(r); err == nil {
		t.Error("blocks of two rounds passed as evidence")
	}
}

// spec: CONV-13, DAG-4
func TestRecompute(t *testing.T) {
	s := newSignedRound(t)
	w := s.w
	r := w.harvesters.roster
	x := w.certified(t, 0, 1, 5, 1, 0)
	y := w.certified(t, 0, 2, 7, 1, 0) // conflicts with x
	z := w.certified(t, 1, 0, 9, 2, 1) // gap: deferred
	b1 := s.sign(1, x, z)
	b2 := s.sign(2, y)
	b3 := s.sign(3, x)
	b4a, b4b := s.sign(4, y), s.sign(4)
	ev, _ := NewEquivocation(&b4a, &b4b)
	beacon := s.prev.Beacon
	out, err := Converge(s.p, &s.prev, beacon, s.st, 2, 1, Input{Blocks: []ProposalBlock{b1, b2, b3}, Evidence: []Equivocation{ev}})
	if err != nil {
		t.Fatal(err)
	}
	cb := out.Block
	blocks := map[Hash]*ProposalBlock{b1.Hash(): &b1, b2.Hash(): &b2, b3.Hash(): &b3}
	got, err := Recompute(s.p, r, w.verifier, &s.prev, beacon, s.st, &cb, blocks)
	if err != nil {
		t.Fatalf("honest block: %v", err)
	}
	if got.Block.StateRoot != cb.StateRoot || len(got.Applied) != len(cb.Applied) {
		t.Fatal("outcome differs")
	}
	if _, err := Recompute(s.p, r, nil, &s.prev, beacon, s.st, &cb, blocks); err != nil {
		t.Fatalf("pre-checked blocks (v == nil): %v", err)
	}
	// Missing and fetch.
	delete(blocks, b2.Hash())
	if m := Missing(&cb, func(h Hash) bool { _, ok := blocks[h]; return ok }); len(m) != 1 || m[0] != b2.Hash() {
		t.Fatalf("missing %x", m)
	}
	if _, err := Recompute(s.p, r, w.verifier, &s.prev, beacon, s.st, &cb, blocks); !errors.Is(err, ErrMissingBlock) {
		t.Fatalf("missing block: %v", err)
	}
	blocks[b2.Hash()] = &b2
	// A tampered block names the first differing field.
	tamper := []struct {
		field string
		f     func(*ConvergenceBlock)
	}{
		{"Beacon", func(c *ConvergenceBlock) { c.Beacon[0]++ }},
		{"Round", func(c *ConvergenceBlock) { c.Round++ }},
		{"Applied.len", func(c *ConvergenceBlock) { c.Applied = nil }},
		{"Rejected[0]", func(c *ConvergenceBlock) { c.Rejected[0].Reason = ReasonReplay }},
		{"Deferred.len", func(c *ConvergenceBlock) { c.Deferred = nil }},
		{"Fees", func(c *ConvergenceBlock) { c.Fees++ }},
		{"StateRoot", func(c *ConvergenceBlock) { c.StateRoot[3]++ }},
		{"Deferred[0]", func(c *ConvergenceBlock) {
			c.Deferred = append([]Deferred(nil), c.Deferred...)
			c.Deferred[0].Since = 0
		}},
	}
	for _, tc := range tamper {
		bad := cb
		bad.Rejected = append([]Drop(nil), cb.Rejected...)
		tc.f(&bad)
		_, err := Recompute(s.p, r, w.verifier, &s.prev, beacon, s.st, &bad, blocks)
		var me *MismatchError
		if !errors.As(err, &me) || me.Field != tc.field {
			t.Errorf("tampered %s: %v", tc.field, err)
		}
	}
	// Omitting a referenced block here leaves fewer than MinRefs.
	bad0 := cb
	bad0.Refs = cb.Refs[:2]
	if _, err := Recompute(s.p, r, w.verifier, &s.prev, beacon, s.st, &bad0, blocks); !errors.Is(err, ErrTooFewRefs) {
		t.Errorf("two refs: %v", err)
	}
	// A reference to a block by someone else, and forged evidence, are input errors.
	bad := cb
	bad.Refs = append([]Ref(nil), cb.Refs...)
	bad.Refs[0].Proposer = 4
	if _, err := Recompute(s.p, r, w.verifier, &s.prev, beacon, s.st, &bad, blocks); !errors.Is(err, ErrMismatch) {
		t.Errorf("wrong proposer in ref: %v", err)
	}
	bad = cb
	bad.Equivocations = []Equivocation{ev}
	bad.Equivocations[0].Sig1 = placeholderSig
	var ie *InputError
	if _, err := Recompute(s.p, r, nil, &s.prev, beacon, s.st, &bad, blocks); !errors.As(err, &ie) || ie.Check != "evidence" {
		t.Errorf("forged evidence: %v", err)
	}
	// A different miner's identical block is fine only with its own miner/rank.
	other, err := Converge(s.p, &s.prev, beacon, s.st, 3, 0, Input{Blocks: []ProposalBlock{b3, b2, b1, b1}, Evidence: []Equivocation{ev}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Recompute(s.p, r, w.verifier, &s.prev, beacon, s.st, &other.Block, blocks); err != nil {
		t.Errorf("other miner: %v", err)
	}
	// A block with an invalid certificate inside fails PB-4 within Recompute.
	bb := b1
	bb.Txs = []CertifiedTx{{Transfer: x.Transfer, Cert: y.Cert}}
	bb = SignProposal(w.harvesters.shares[0], bb)
	out2, err := Converge(s.p, &s.prev, beacon, s.st, 2, 1, Input{Blocks: []ProposalBlock{bb, b2, b3}})
	if err != nil {
		t.Fatal(err)
	}
	blocks[bb.Hash()] = &bb
	if _, err := Recompute(s.p, r, w.verifier, &s.prev, beacon, s.st, &out2.Block, blocks); !errors.Is(err, ErrCertSubject) {
		t.Errorf("bad certificate inside a referenced block: %v", err)
	}
	// Params must match the roster.
	p := s.p
	p.Harvesters = 5
	p.MinRefs = 1
	if _, err := Recompute(p, r, w.verifier, &s.prev, beacon, s.st, &cb, blocks); !errors.Is(err, ErrParams) {
		t.Errorf("params/roster mismatch: %v", err)
	}
	// Store.Apply of the outcome gives the block's root (FIN-2).
	st, err := state.NewMem(s.genesis)
	if err != nil {
		t.Fatal(err)
	}
	head, err := st.Apply(got.Applied)
	if err != nil || head.Root != cb.StateRoot {
		t.Fatalf("apply: %v root %x, block %x", err, head.Root[:4], cb.StateRoot[:4])
	}
}
