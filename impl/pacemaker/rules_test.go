package pacemaker

import (
	"testing"
	"time"
)

// PM-34: with R = 2 views per leader, one crashed replica in n = 4 leaves
// runs of four views with good leaders, so commits continue (with R = 1
// they stop: TestLeaderCrashViewChange).
func TestViewsPerLeaderKeepsCommitting(t *testing.T) {
	c := newCluster(t, 4, 3, Config{ViewsPerLeader: 2, Timeout: fixedTimeout(50 * time.Millisecond)})
	c.down[2] = true // leads views 2, 3, 10, 11, …
	c.start()
	c.run(20000, func() bool { return c.minCommitted(1, 3, 4) >= 10 })
	t.Log(c.summary())
	if got := c.minCommitted(1, 3, 4); got < 10 {
		t.Fatalf("R = 2: only %d committed with one crash", got)
	}
	if got := c.rep(1).Leader(2); got != 2 || c.rep(1).Leader(3) != 2 || c.rep(1).Leader(4) != 3 {
		t.Fatalf("R = 2 schedule: leader(2..4) = %d %d %d", got, c.rep(1).Leader(3), c.rep(1).Leader(4))
	}
}

// PM-35: configurations outside the rules are refused with typed errors.
func TestConfigValidation(t *testing.T) {
	f := newFixture(t, 7, 5)
	bad := []Config{
		{ViewsPerLeader: -1},
		{MaxViewLookahead: 1},                      // L < R·(n−q) = 2
		{ViewsPerLeader: 40, MaxViewLookahead: 64}, // L < 80
		{MaxBatch: -1},
		{MaxBatch: MaxCmdsPerBlock + 1},
		{MaxOrphans: -2},
		{Leader: 9},
		{Timeout: timeoutConfig{Mode: timeoutAdaptive, Base: time.Millisecond, Min: time.Second, Max: time.Minute}},
		{Timeout: timeoutConfig{Window: 1}},
	}
	for i, cfg := range bad {
		_, err := New(cfg, 1, f.shares[0], f.roster)
		if _, ok := err.(*ConfigError); !ok {
			t.Errorf("config %d (%+v): %v", i, cfg, err)
		}
	}
	r := f.replica(t, Config{ViewsPerLeader: 40}, 1)
	if got := r.Config().MaxViewLookahead; got != 80 {
		t.Fatalf("default L with R = 40, n − q = 2: %d, want 80", got)
	}
}

// PM-32: the i-th expiry in one view complains about curView + min(i−1, L);
// PM-19: each expiry re-sends outstanding block requests to the next
// replica in roster order.
func TestRepeatedTimeoutsEscalateAndRetryFetches(t *testing.T) {
	s := newSoloN(t, 7, 5, Config{MaxViewLookahead: 3})
	// A NewView for a block this replica lacks: fetch from its sender, 4.
	b1 := s.block(1, s.genesisQC())
	effs := s.step(NewViewReceived{From: 4, NewView: NewView{QC: s.qc(b1)}})
	if !sentFetch(effs, 4, b1.Hash()) {
		t.Fatalf("no fetch to the sender: %v", effs)
	}
	// curView is 2 now; expiries complain about 2, 3, 4, 5, 5 (L = 3).
	var views []View
	var fetchedFrom []ReplicaID
	for range 5 {
		effs := s.step(TimerFired{View: s.r.timerView})
		for _, e := range effs {
			if snd, ok := e.(Send); ok {
				switch m := snd.Msg.(type) {
				case Complain:
					if snd.To != s.r.Leader(View(m.Slot.Number())+1) {
						t.Fatalf("complaint about %d sent to %d", m.Slot.Number(), snd.To)
					}
					views = append(views, View(m.Slot.Number()))
				case FetchRequest:
					fetchedFrom = append(fetchedFrom, snd.To)
				}
			}
		}
	}
	want := []View{2, 3, 4, 5, 5}
	for i := range want {
		if i >= len(views) || views[i] != want[i] {
			t.Fatalf("complained about %v, want %v", views, want)
		}
	}
	if got := []ReplicaID{5, 6, 7, 2, 3}; len(fetchedFrom) != 5 || fetchedFrom[0] != got[0] || fetchedFrom[3] != got[3] {
		t.Fatalf("fetch retries to %v, want %v (roster order, skipping itself)", fetchedFrom, got)
	}
	// Only the current view is abandoned, not the future views complained
	// about (the livelock fix; tests.TestLivelockAbandonedViews).
	if st := s.r.State(); st.ComplainedView != 2 || st.CurView != 2 {
		t.Fatalf("state %+v", st)
	}
}

// PM-33: a complaint about a past view is answered once per sender and
// view with the highest certificate.
func TestSyncReply(t *testing.T) {
	s := newSolo(t, Mutations{})
	b1 := s.block(1, s.genesisQC())
	s.propose(b1)
	s.propose(s.block(2, s.qc(b1)))
	if s.r.State().CurView != 3 {
		t.Fatal("setup")
	}
	old := Complain{Vote: signVote(s.f.shares[4], ComplaintStatement(s.f.roster, 1)), QCHigh: s.genesisQC()}
	effs := s.step(ComplainReceived{From: 5, Complain: old})
	var reply Message
	for _, e := range effs {
		if snd, ok := e.(Send); ok && snd.To == 5 {
			reply = snd.Msg
		}
	}
	nv, ok := reply.(NewView)
	if !ok || nv.QC.View() != 1 {
		t.Fatalf("sync reply %v", effs)
	}
	if effs := s.step(ComplainReceived{From: 5, Complain: old}); len(sends(effs)) != 0 {
		t.Fatal("second sync reply in the same view")
	}
	// With a higher TC it answers NextView.
	s.step(NextViewReceived{From: 3, NextView: NextView{TC: s.f.tcFor(t, 3)}})
	effs = s.step(ComplainReceived{From: 5, Complain: old})
	if ss := sends(effs); len(ss) != 1 {
		t.Fatalf("sends %v", ss)
	} else if m, ok := ss[0].Msg.(NextView); !ok || m.TC.View() != 3 {
		t.Fatalf("reply %v", ss[0].Msg)
	}
}

func sends(effs []Effect) (out []Send) {
	for _, e := range effs {
		if s, ok := e.(Send); ok {
			out = append(out, s)
		}
	}
	return out
}

// PM-3: a QC whose block is known with another view is invalid.
func TestQCViewMustMatchBlock(t *testing.T) {
	s := newSolo(t, Mutations{})
	b1 := s.block(1, s.genesisQC())
	s.propose(b1)
	lie := s.f.qcFor(t, 2, b1.Hash()) // a "QC of view 2" for the view-1 block
	if effs := s.step(NewViewReceived{From: 3, NewView: NewView{QC: lie}}); !hasReason(effs, ReasonBadQC) {
		t.Fatalf("%v", rejections(effs))
	}
	// Every view-0 QC other than this epoch's genesis QC is invalid.
	other := GenesisQC(s.f.roster.Quorum, s.f.roster.Epoch+1)
	b := s.block(2, s.genesisQC())
	b.Justify = other
	if effs := s.step(ProposalReceived{From: 3, Proposal: SignProposal(s.f.shares[2], b)}); !hasReason(effs, ReasonBadQC) {
		t.Fatalf("foreign genesis QC: %v", rejections(effs))
	}
}

// PM-7: UPDATE asking to commit a block that does not extend bExec (only
// possible with b ≥ 2q − n: here the test signs for everyone) is refused
// and reported.
func TestConflictingCommitRefused(t *testing.T) {
	s := newSoloN(t, 10, 6, Config{}) // replica 1 leads views 10, 20, …: views 1–8 are others'
	b1 := s.block(1, s.genesisQC())
	b2 := s.block(2, s.qc(b1))
	b3 := s.block(3, s.qc(b2))
	b4 := s.block(4, s.qc(b3))
	for _, b := range []Block{b1, b2, b3, b4} {
		s.propose(b)
	}
	if c := s.r.State().Committed; len(c) != 1 || c[0].Hash != b1.Hash() {
		t.Fatalf("committed %v, want [B1]", c)
	}
	// A fork from genesis with its own consecutive 3-chain, views 5–8.
	f5 := s.block(5, s.genesisQC())
	f6 := s.block(6, s.qc(f5))
	f7 := s.block(7, s.qc(f6))
	f8 := s.block(8, s.qc(f7))
	var conflict *ConflictingCommit
	for _, b := range []Block{f5, f6, f7, f8} {
		for _, e := range s.propose(b) {
			if cc, ok := e.(ConflictingCommit); ok {
				conflict = &cc
			}
		}
	}
	st := s.r.State()
	if conflict == nil || conflict.Block.Hash != f5.Hash() || conflict.Exec.Hash != b1.Hash() {
		t.Fatalf("no ConflictingCommit: %+v", conflict)
	}
	if len(st.Committed) != 1 || st.BExec.Hash != b1.Hash() {
		t.Fatalf("state changed: committed %v exec %v", st.Committed, st.BExec)
	}
}
