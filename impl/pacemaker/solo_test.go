package pacemaker

import (
	"testing"

	"github.com/fhbft/fhbft/impl/certification"
)

// solo drives one replica (id 1 of n = 7, q = 5: it leads view 7 and
// collects the votes of view 6, so views 1–5 are other replicas' views)
// with hand-built blocks, recording what it sends.
type solo struct {
	t      *testing.T
	f      fixture
	r      *Replica
	blocks *Store // the test's view of the chain
	last   []Effect
}

func newSolo(t *testing.T, m Mutations) *solo { return newSoloN(t, 7, 5, Config{Mutations: m}) }

func newSoloN(t *testing.T, n, q int, cfg Config) *solo {
	t.Helper()
	f := newFixture(t, n, q)
	s := &solo{t: t, f: f, r: f.replica(t, cfg, 1), blocks: NewStore(f.roster.Quorum, f.roster.Epoch)}
	s.step(Start{})
	return s
}

func (s *solo) step(ev Event) []Effect {
	s.t.Helper()
	s.last = s.r.Step(ev)
	return s.last
}

// block builds the block of view v proposed by its leader with the given
// justify QC, padded with dummies from the justify node.
func (s *solo) block(v View, justify QC, cmds ...Command) Block {
	s.t.Helper()
	jh := justify.Block()
	jb, ok := s.blocks.Get(jh)
	if !ok {
		s.t.Fatalf("test chain lacks %x", jh[:4])
	}
	ds, parent := padding(jb, jh, v)
	for _, d := range ds {
		if _, err := s.blocks.Put(d); err != nil {
			s.t.Fatal(err)
		}
	}
	b := Block{Quorum: s.f.roster.Quorum, Epoch: s.f.roster.Epoch, View: v, Parent: parent, Justify: justify, Cmds: cmds, Proposer: RoundRobinLeader(v, s.f.roster.N())}
	if _, err := s.blocks.Put(b); err != nil {
		s.t.Fatal(err)
	}
	return b
}

// propose delivers b signed by its proposer.
func (s *solo) propose(b Block) []Effect {
	s.t.Helper()
	return s.step(ProposalReceived{From: b.Proposer, Proposal: SignProposal(s.f.shares[b.Proposer-1], b)})
}

func (s *solo) genesisQC() QC { return GenesisQCOf(s.f.roster) }

func (s *solo) qc(b Block) QC { return s.f.qcFor(s.t, b.View, b.Hash()) }

func votesIn(effs []Effect) (views []View) {
	for _, e := range effs {
		if snd, ok := e.(Send); ok {
			if v, ok := snd.Msg.(Vote); ok {
				views = append(views, View(v.Slot.Number()))
			}
		}
	}
	return views
}

func rejections(effs []Effect) (out []Reason) {
	for _, e := range effs {
		if r, ok := e.(Rejected); ok {
			out = append(out, r.Reason)
		}
	}
	return out
}

func hasReason(effs []Effect, want Reason) bool {
	for _, r := range rejections(effs) {
		if r == want {
			return true
		}
	}
	return false
}

// chainWithGap: B1 ← B2 ← dummy(3) ← B4 ← B5, view 3 skipped by a TC.
// UPDATE(B5) sees b” = B4, b' = B2, b = B1: not consecutive (B4's parent
// is the dummy), so B1 must not commit.
func runChainWithGap(t *testing.T, m Mutations) (s *solo, b1, b5 Block) {
	s = newSolo(t, m)
	b1 = s.block(1, s.genesisQC())
	s.propose(b1)
	b2 := s.block(2, s.qc(b1))
	s.propose(b2)
	s.step(NextViewReceived{From: 4, NextView: NextView{TC: s.f.tcFor(t, 3)}})
	if v := s.r.State().CurView; v != 4 {
		t.Fatalf("TC(3) did not move to view 4: %d", v)
	}
	b4 := s.block(4, s.qc(b2))
	s.propose(b4)
	b5 = s.block(5, s.qc(b4))
	s.propose(b5)
	if v := s.r.State().CurView; v != 6 {
		t.Fatalf("view %d after B5, want 6 (rejections %v)", v, rejections(s.last))
	}
	return s, b1, b5
}

func TestConsecutiveViewsRequiredForCommit(t *testing.T) {
	s, _, b5 := runChainWithGap(t, Mutations{})
	if c := s.r.State().Committed; len(c) != 0 {
		t.Fatalf("committed %v across a view gap", c)
	}
	// Closing the gap: B4 ← B5 ← B6 are consecutive. Replica 1 collects
	// the votes of view 6, forms QC(B6), leads view 7 and its own B7
	// (justify QC(B6)) commits B4 with its ancestors B1, B2.
	b6 := s.block(6, s.qc(b5))
	s.propose(b6)
	var proposed bool
	for i := range 5 {
		st := VoteStatement(s.f.roster, 6, b6.Hash())
		for _, e := range s.step(VoteReceived{From: ReplicaID(i + 1), Vote: Vote{Vote: signVote(s.f.shares[i], st)}}) {
			if bc, ok := e.(Broadcast); ok {
				_, proposed = bc.Msg.(Proposal)
			}
		}
	}
	st := s.r.State()
	if !proposed || st.CurView != 8 { // it handled its own B7 and moved on
		t.Fatalf("no proposal in view 7: view %d", st.CurView)
	}
	if len(st.Committed) != 3 || st.Committed[0].View != 1 || st.Committed[1].View != 2 || st.Committed[2].View != 4 {
		t.Fatalf("committed %v, want B1 B2 B4", st.Committed)
	}
}

func TestMutationNoConsecutiveCheck(t *testing.T) {
	s, b1, _ := runChainWithGap(t, Mutations{NoConsecutiveCheck: true})
	c := s.r.State().Committed
	if len(c) != 1 || c[0].Hash != b1.Hash() {
		t.Fatalf("mutant committed %v, want [B1]", c)
	}
}

func mustBlock(t *testing.T, s *Store, h Hash) Block {
	t.Helper()
	b, ok := s.Get(h)
	if !ok {
		t.Fatalf("no block %x", h[:4])
	}
	return b
}

// forgedQC certifies b's hash in its view with a signature over another
// block: well-formed, q signers, but the pairing check fails.
func (s *solo) forgedQC(b Block) QC {
	qc := s.f.qcFor(s.t, b.View, Hash{0xee})
	qc.Cert.Value.Subject = b.Hash()
	return qc
}

func runForgedQC(t *testing.T, m Mutations) (*solo, []Effect) {
	s := newSolo(t, m)
	b1 := s.block(1, s.genesisQC())
	s.propose(b1)
	b2 := s.block(2, s.forgedQC(b1))
	return s, s.propose(b2)
}

func TestForgedQCDropsProposal(t *testing.T) {
	s, effs := runForgedQC(t, Mutations{})
	if !hasReason(effs, ReasonBadQC) || len(votesIn(effs)) != 0 || s.r.State().CurView != 2 {
		t.Fatalf("forged QC: rejections %v votes %v view %d", rejections(effs), votesIn(effs), s.r.State().CurView)
	}
	if s.r.Stats().CertVerifies != 1 {
		t.Fatalf("%d pairing checks", s.r.Stats().CertVerifies)
	}
}

func TestMutationAcceptUnverifiedQC(t *testing.T) {
	s, effs := runForgedQC(t, Mutations{AcceptUnverifiedQC: true})
	if len(votesIn(effs)) != 1 || s.r.State().CurView != 3 {
		t.Fatalf("mutant: rejections %v votes %v view %d", rejections(effs), votesIn(effs), s.r.State().CurView)
	}
}

// runLock: B1 ← B2 ← B3 locks B1 (b' of UPDATE(B3)). Then the leader of
// view 4 proposes B4' extending genesis with the genesis QC: it neither
// extends the lock nor justifies anything above it, so no vote.
func runLock(t *testing.T, m Mutations) (*solo, []Effect, Block) {
	s := newSolo(t, m)
	b1 := s.block(1, s.genesisQC())
	s.propose(b1)
	b2 := s.block(2, s.qc(b1))
	s.propose(b2)
	b3 := s.block(3, s.qc(b2))
	s.propose(b3)
	fork := s.block(4, s.genesisQC())
	return s, s.propose(fork), b1
}

func TestLockRefusesConflictingProposal(t *testing.T) {
	s, effs, b1 := runLock(t, Mutations{})
	st := s.r.State()
	if st.BLock.Hash != b1.Hash() || st.BLock.Height != 2 {
		t.Fatalf("lock %v, want B1", st.BLock)
	}
	if len(votesIn(effs)) != 0 {
		t.Fatal("voted for a proposal conflicting with its lock")
	}
	if st.CurView != 5 {
		t.Fatalf("view %d: a proposal it does not vote for still moves it on (PM-8)", st.CurView)
	}
}

func TestMutationLockDoesNotMove(t *testing.T) {
	s, effs, _ := runLock(t, Mutations{LockDoesNotMove: true})
	if st := s.r.State(); st.BLock.Hash != s.r.genesis {
		t.Fatalf("mutant lock moved to %v", st.BLock)
	}
	if got := votesIn(effs); len(got) != 1 || got[0] != 4 {
		t.Fatalf("mutant votes %v, want one for view 4", got)
	}
}

func runTwoProposals(t *testing.T, m Mutations) []View {
	s := newSolo(t, m)
	a := s.block(1, s.genesisQC(), Command{ID: 1})
	b := s.block(1, s.genesisQC(), Command{ID: 2})
	votes := votesIn(s.propose(a))
	return append(votes, votesIn(s.propose(b))...)
}

func TestOneVotePerView(t *testing.T) {
	if got := runTwoProposals(t, Mutations{}); len(got) != 1 {
		t.Fatalf("votes %v, want one", got)
	}
}

func TestMutationVoteTwice(t *testing.T) {
	if got := runTwoProposals(t, Mutations{VoteTwice: true}); len(got) != 2 || got[0] != 1 || got[1] != 1 {
		t.Fatalf("mutant votes %v, want two in view 1", got)
	}
}

func TestProposalAdmission(t *testing.T) {
	s := newSolo(t, Mutations{})
	b1 := s.block(1, s.genesisQC())
	signed := func(b Block) Proposal { return SignProposal(s.f.shares[b.Proposer-1], b) }
	byOther := b1
	byOther.Proposer = 3
	otherEpoch := b1
	otherEpoch.Epoch++
	forged := signed(b1)
	forged.Partial = signed(byOther).Partial
	farB := Block{Quorum: b1.Quorum, Epoch: b1.Epoch, View: 100, Justify: s.genesisQC(), Proposer: RoundRobinLeader(100, 7)}
	cases := []struct {
		name string
		p    Proposal
		want Reason
	}{
		{"proposer not leader", signed(byOther), ReasonNotLeader},
		{"other epoch", signed(otherEpoch), ReasonWrongDomain},
		{"dummy", Proposal{Block: Dummy(b1.Quorum, b1.Epoch, 1, s.r.genesis)}, ReasonMalformed},
		{"too far ahead", signed(farB), ReasonTooFarAhead},
		{"bad signature", forged, ReasonBadSignature},
		{"unsigned", Proposal{Block: b1}, ReasonBadSignature},
		{"bad ancestry", signed(Block{Quorum: b1.Quorum, Epoch: b1.Epoch, View: 1, Parent: Hash{1}, Justify: s.genesisQC(), Proposer: 2}), ReasonBadAncestry},
		{"justify not below", signed(Block{Quorum: b1.Quorum, Epoch: b1.Epoch, View: 1, Justify: s.f.qcFor(t, 1, Hash{2}), Proposer: 2}), ReasonMalformed},
		{"no justify", signed(Block{Quorum: b1.Quorum, Epoch: b1.Epoch, View: 1, Proposer: 2}), ReasonMalformed},
	}
	for _, tc := range cases {
		effs := s.step(ProposalReceived{From: 5, Proposal: tc.p})
		if !hasReason(effs, tc.want) || s.r.State().CurView != 1 {
			t.Errorf("%s: rejections %v, view %d; want %v", tc.name, rejections(effs), s.r.State().CurView, tc.want)
		}
	}
	if st := s.r.Stats(); st.CertVerifies != 0 || st.ProposalVerifies != 3 {
		t.Fatalf("pairings: %d certificate, %d proposal (want 0 and 3: the two bad signatures and the well-signed block of bad ancestry)", st.CertVerifies, st.ProposalVerifies)
	}
	// Relayed by anyone: the signature, not the sender, authenticates.
	if effs := s.step(ProposalReceived{From: 6, Proposal: signed(b1)}); len(votesIn(effs)) != 1 {
		t.Fatalf("relayed proposal: %v", rejections(effs))
	}
	if effs := s.propose(b1); !hasReason(effs, ReasonStale) {
		t.Fatalf("replay: %v", rejections(effs))
	}
}

// Two signed proposals of one leader in one view: the first is kept, the
// second reported as self-verifying evidence. spec: PM-4, PM-31
func TestProposalEquivocationEvidence(t *testing.T) {
	f := newFixture(t, 7, 5)
	r := f.replica(t, Config{}, 3) // leads view 2: stays in view 1 after a proposal
	r.Step(Start{})
	g := GenesisQCOf(f.roster)
	mk := func(id CommandID) Proposal {
		b := Block{Quorum: f.roster.Quorum, Epoch: f.roster.Epoch, View: 1, Parent: GenesisHash(f.roster.Quorum, f.roster.Epoch), Justify: g, Cmds: []Command{{ID: id}}, Proposer: 2}
		return SignProposal(f.shares[1], b)
	}
	a, b := mk(1), mk(2)
	r.Step(ProposalReceived{From: 2, Proposal: a})
	var ev *ProposalEvidence
	effs := r.Step(ProposalReceived{From: 2, Proposal: b})
	for _, e := range effs {
		if pe, ok := e.(ProposalEquivocation); ok {
			ev = &pe.Evidence
		}
	}
	if ev == nil || !hasReason(effs, ReasonEquivocation) {
		t.Fatalf("no evidence: %v", rejections(effs))
	}
	if err := ev.Verify(f.roster); err != nil {
		t.Fatal(err)
	}
	if ev.First.Block.Hash() != a.Block.Hash() {
		t.Fatal("the first proposal was not kept")
	}
	forged := *ev
	forged.Second.Partial = forged.First.Partial
	if forged.Verify(f.roster) == nil {
		t.Fatal("forged evidence verified")
	}
}

// A replica that timed out in view 1 complains to the leader of view 2 and
// refuses view 1's proposal afterwards (PM-15); the timer escalates.
func TestTimeoutComplainsAndAbandons(t *testing.T) {
	s := newSolo(t, Mutations{})
	effs := s.step(TimerFired{View: 1})
	var complained bool
	var timer SetTimer
	for _, e := range effs {
		switch e := e.(type) {
		case Send:
			if c, ok := e.Msg.(Complain); ok && e.To == 3 && c.Slot.Number() == 1 {
				complained = true
			}
		case SetTimer:
			timer = e
		}
	}
	if !complained || timer.View != 2 {
		t.Fatalf("effects %v", effs)
	}
	if effs := s.propose(s.block(1, s.genesisQC())); !hasReason(effs, ReasonAbandoned) || len(votesIn(effs)) != 0 {
		t.Fatalf("proposal after complaint: %v", rejections(effs))
	}
	if effs := s.step(TimerFired{View: 1}); !hasReason(effs, ReasonStale) {
		t.Fatalf("replaced timer fired: %v", rejections(effs))
	}
}

// The leader of view v+1 forms a QC from q votes and proposes; a TC from
// q complaints makes it broadcast NextView and propose in v+1.
func TestCollectorFormsQCAndTC(t *testing.T) {
	f := newFixture(t, 7, 5)
	// Replica 3 leads view 2 and collects view 1.
	r := f.replica(t, Config{}, 3)
	r.Step(Start{})
	b1 := Block{Quorum: f.roster.Quorum, Epoch: f.roster.Epoch, View: 1, Parent: GenesisHash(f.roster.Quorum, f.roster.Epoch), Justify: GenesisQCOf(f.roster), Proposer: 2}
	var formed bool
	var all []Effect
	for i := range 5 {
		st := VoteStatement(f.roster, 1, b1.Hash())
		effs := r.Step(VoteReceived{From: ReplicaID(i + 1), Vote: Vote{Vote: signVote(f.shares[i], st)}})
		all = append(all, effs...)
		for _, e := range effs {
			if _, ok := e.(QCFormed); ok {
				formed = true
			}
		}
		if i == 1 { // a repeat is a duplicate
			if effs := r.Step(VoteReceived{From: 2, Vote: Vote{Vote: signVote(f.shares[1], st)}}); !hasReason(effs, ReasonDuplicate) {
				t.Fatalf("duplicate vote: %v", rejections(effs))
			}
		}
	}
	st := r.State()
	if !formed || st.CurView != 2 || st.QCHigh.View() != 1 {
		t.Fatalf("formed %v view %d qcHigh %v", formed, st.CurView, st.QCHigh)
	}
	// B1 was never received: the new leader asked the voter that completed
	// the QC (replica 5) for it, and proposes once it arrives.
	if !sentFetch(all, 5, b1.Hash()) {
		t.Fatal("no fetch request to replica 5")
	}
	effs := r.Step(FetchResponseReceived{From: 1, FetchResponse: FetchResponse{Block: b1}})
	var proposed *Block
	for _, e := range effs {
		if bc, ok := e.(Broadcast); ok {
			if p, ok := bc.Msg.(Proposal); ok {
				proposed = &p.Block
			}
		}
	}
	if proposed == nil || proposed.View != 2 || proposed.Parent != b1.Hash() || proposed.Justify.Block() != b1.Hash() {
		t.Fatalf("no proposal on B1 after the fetch: %v", effs)
	}
	// Complaints about view 2 go to the leader of view 3 (replica 4).
	r4 := f.replica(t, Config{}, 4)
	r4.Step(Start{})
	r4.Step(NewViewReceived{From: 3, NewView: NewView{QC: st.QCHigh}}) // catch up to view 2
	var next *NextView
	for i := range 5 {
		c := Complain{Vote: signVote(f.shares[i], ComplaintStatement(f.roster, 2)), QCHigh: GenesisQCOf(f.roster)}
		for _, e := range r4.Step(ComplainReceived{From: ReplicaID(i + 1), Complain: c}) {
			if bc, ok := e.(Broadcast); ok {
				if nv, ok := bc.Msg.(NextView); ok {
					next = &nv
				}
			}
		}
	}
	if next == nil || next.TC.View() != 2 || r4.State().CurView != 3 {
		t.Fatalf("no NextView(TC(2)); view %d", r4.State().CurView)
	}
	if err := next.TC.Cert.Verify(f.roster); err != nil {
		t.Fatal(err)
	}
}

func TestNewViewAndCache(t *testing.T) {
	s := newSolo(t, Mutations{})
	b1 := s.block(1, s.genesisQC())
	qc := s.qc(b1)
	s.step(NewViewReceived{From: 3, NewView: NewView{QC: qc}})
	if st := s.r.State(); st.CurView != 2 || st.QCHigh.View() != 1 {
		t.Fatalf("NewView QC(1) did not catch up: %+v", st)
	}
	if effs := s.step(NewViewReceived{From: 4, NewView: NewView{QC: qc}}); !hasReason(effs, ReasonObsolete) {
		t.Fatalf("repeat: %v", rejections(effs))
	}
	// The proposal carrying the same QC hits the cache: one pairing overall.
	b2 := s.block(2, qc)
	s.propose(b2) // B1 unknown: fetched, proposal buffered
	effs := s.step(FetchResponseReceived{From: 3, FetchResponse: FetchResponse{Block: b1}})
	if got := votesIn(effs); len(got) != 1 || got[0] != 2 {
		t.Fatalf("after fetch: votes %v rejections %v", got, rejections(effs))
	}
	if st := s.r.Stats(); st.CertVerifies != 1 || st.CertCacheHits == 0 {
		t.Fatalf("verifies %d cache hits %d", st.CertVerifies, st.CertCacheHits)
	}
	// Unsolicited and bad fetch responses.
	if effs := s.step(FetchResponseReceived{From: 3, FetchResponse: FetchResponse{Block: s.block(3, s.qc(b2))}}); !hasReason(effs, ReasonUnsolicited) {
		t.Fatalf("unsolicited: %v", rejections(effs))
	}
}

func TestBeforeStartAndUnknownEvents(t *testing.T) {
	f := newFixture(t, 7, 5)
	r := f.replica(t, Config{}, 1)
	if effs := r.Step(TimerFired{View: 1}); !hasReason(effs, ReasonNotStarted) {
		t.Fatal(rejections(effs))
	}
	r.Step(Start{})
	if effs := r.Step(nil); !hasReason(effs, ReasonMalformed) {
		t.Fatal(rejections(effs))
	}
	if effs := r.Step(Start{}); !hasReason(effs, ReasonDuplicate) {
		t.Fatal(rejections(effs))
	}
	if _, err := New(Config{}, 2, f.shares[0], f.roster); err == nil {
		t.Fatal("share of replica 1 accepted for replica 2")
	}
	if _, err := New(Config{}, 8, f.shares[0], f.roster); err == nil {
		t.Fatal("id outside the roster accepted")
	}
	bad := f.roster
	bad.Key.T = 2
	if _, err := New(Config{}, 1, f.shares[0], bad); err == nil {
		t.Fatal("invalid roster accepted")
	}
}

var _ = certification.KindQC

func sentFetch(effs []Effect, to ReplicaID, h Hash) bool {
	for _, e := range effs {
		if snd, ok := e.(Send); ok && snd.To == to {
			if fr, ok := snd.Msg.(FetchRequest); ok && fr.Hash == h {
				return true
			}
		}
	}
	return false
}
