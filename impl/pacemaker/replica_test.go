package pacemaker

import (
	"testing"
	"time"
)

func TestFourReplicasCommit(t *testing.T) {
	c := newCluster(t, 4, 3, Config{})
	// 30 commands to every replica before start; each leader batches up to 4.
	for _, r := range c.reps {
		r.cfg.MaxBatch = 4
		for i := range 30 {
			c.stepOne(r.ID(), ClientCommand{Cmd: Command{ID: CommandID(100 + i), Payload: []byte{byte(i)}}})
		}
	}
	c.start()
	c.run(20000, func() bool { return c.minCommitted() >= 15 })
	t.Log(c.summary())
	if got := c.minCommitted(); got < 15 {
		t.Fatalf("only %d blocks committed", got)
	}
	if c.tcs != 0 || c.entered[CauseTC] != 0 {
		t.Fatalf("view changes in a fault-free run: %d TCs", c.tcs)
	}
	// Each command committed exactly once, in the same order, at every replica.
	ref := c.cmds[1]
	if len(ref) != 30 {
		t.Fatalf("replica 1 executed %d commands, want 30", len(ref))
	}
	seen := map[CommandID]bool{}
	for _, cmd := range ref {
		if seen[cmd.ID] {
			t.Fatalf("command %d executed twice", cmd.ID)
		}
		seen[cmd.ID] = true
	}
	for id, cmds := range c.cmds {
		if len(cmds) != len(ref) {
			t.Fatalf("replica %d executed %d commands", id, len(cmds))
		}
		for i := range cmds {
			if cmds[i].ID != ref[i].ID {
				t.Fatalf("replica %d order differs at %d", id, i)
			}
		}
	}
	for _, r := range c.reps {
		st := r.State()
		if st.CurView < 16 || st.Pending != 0 {
			t.Fatalf("replica %d: view %d pending %d", st.ID, st.CurView, st.Pending)
		}
		// Fault-free: consecutive views commit, so committed views are 1, 2, 3, ...
		for i, b := range st.Committed {
			if b.View != View(i+1) {
				t.Fatalf("replica %d committed %v at position %d", st.ID, b, i)
			}
		}
		// bLock is two views below the newest QC, bExec one below that.
		if st.BLock.Height <= st.BExec.Height {
			t.Fatalf("lock %v not above exec %v", st.BLock, st.BExec)
		}
		if s := r.Stats(); s.CertVerifies == 0 || s.VotesSigned < 15 {
			t.Fatalf("stats %+v", s)
		}
	}
}

// crashLeader: replica 2 (leader of views 1, 5, 9, …) is down from the
// start. The others time out, complain to the next leader, which forms a TC
// and broadcasts NextView; views advance and QCs form. With n = 4 and round
// robin, no four consecutive views have live leaders, so the 3-chain commit
// rule cannot fire while 2 is down; once it recovers, commits resume.
func TestLeaderCrashViewChange(t *testing.T) {
	c := newCluster(t, 4, 3, Config{Timeout: fixedTimeout(50 * time.Millisecond)})
	c.down[2] = true
	c.start()
	c.run(20000, func() bool { return c.rep(1).State().CurView >= 30 })
	t.Log(c.summary())
	if c.tcs < 5 || c.entered[CauseTC] < 5 || c.qcs < 10 {
		t.Fatalf("expected view changes and QCs: %s", c.summary())
	}
	if got := c.minCommitted(1, 3, 4); got != 0 {
		t.Fatalf("committed %d blocks with no 4 consecutive live leaders (commit rule broken?)", got)
	}
	for _, id := range []ReplicaID{1, 3, 4} {
		if st := c.rep(id).State(); st.CurView < 29 || st.ComplainedView == 0 {
			t.Fatalf("replica %d: view %d complained %d", id, st.CurView, st.ComplainedView)
		}
	}
	// Recovery: replica 2 comes back with its state (it was only partitioned
	// off), catches up from certificates and fetched blocks.
	c.down[2] = false
	c.stepOne(2, Start{})
	target := c.rep(1).State().CurView
	c.run(40000, func() bool { return c.minCommitted() >= 10 })
	t.Log(c.summary())
	if got := c.minCommitted(); got < 10 {
		t.Fatalf("after recovery only %d committed", got)
	}
	if st := c.rep(2).State(); st.CurView <= target {
		t.Fatalf("replica 2 did not catch up: view %d", st.CurView)
	}
}

// With n = 5 one crashed leader leaves runs of four live leaders, so
// commits continue through the crash.
func TestLeaderCrashStillCommitsN5(t *testing.T) {
	c := newCluster(t, 5, 3, Config{Timeout: fixedTimeout(50 * time.Millisecond)})
	c.down[3] = true
	c.start()
	c.run(40000, func() bool { return c.minCommitted(1, 2, 4, 5) >= 10 })
	t.Log(c.summary())
	if got := c.minCommitted(1, 2, 4, 5); got < 10 {
		t.Fatalf("only %d committed", got)
	}
	if c.tcs == 0 {
		t.Fatal("no TC despite a crashed leader")
	}
}

// Two adjacent crashed leaders in n = 5 (q = 3): each timeout escalates to
// the next view, so replicas skip both dead leaders.
func TestTwoCrashedLeadersEscalate(t *testing.T) {
	c := newCluster(t, 5, 3, Config{Timeout: fixedTimeout(50 * time.Millisecond)})
	c.down[2], c.down[3] = true, true // leaders of views 1, 2, 6, 7, …
	c.start()
	c.run(20000, func() bool { return c.rep(1).State().CurView >= 20 })
	t.Log(c.summary())
	if st := c.rep(1).State(); st.CurView < 20 {
		t.Fatalf("stuck: %s", c.summary())
	}
	if c.qcs == 0 {
		t.Fatal("no QC formed")
	}
}

func fixedTimeout(d time.Duration) (cfg timeoutConfig) {
	cfg.Mode = timeoutFixed
	cfg.Base = d
	return cfg
}

// equivocator makes replica byz an equivocating leader: whenever it
// proposes, it sends its block to the replicas in groupA and a conflicting
// block (other commands) to the rest, and votes for both (the collector
// counts the first, aFirst choosing which, and reports the second as
// evidence).
func equivocator(byz ReplicaID, groupA []ReplicaID, aFirst bool) func(c *cluster, from ReplicaID, e Effect) bool {
	return func(c *cluster, from ReplicaID, e Effect) bool {
		bc, ok := e.(Broadcast)
		if from != byz || !ok {
			return false
		}
		p, ok := bc.Msg.(Proposal)
		if !ok {
			return false
		}
		a := p.Block
		b := a
		b.Cmds = []Command{{ID: CommandID(1<<40 + uint64(a.View)), Payload: []byte("fork")}}
		share := c.f.shares[byz-1]
		for _, r := range c.reps {
			switch id := r.ID(); {
			case id == byz:
			case containsID(groupA, id):
				c.sendMsg(byz, id, SignProposal(share, a))
			default:
				c.sendMsg(byz, id, SignProposal(share, b))
			}
		}
		next := c.rep(byz).Leader(a.View + 1)
		order := []Block{b, a}
		if aFirst {
			order = []Block{a, b}
		}
		for _, blk := range order {
			v := Vote{Vote: signVote(share, VoteStatement(c.f.roster, a.View, blk.Hash()))}
			if next == byz {
				c.push(c.now, byz, Deliver(byz, v), false)
			} else {
				c.sendMsg(byz, next, v)
			}
		}
		return true
	}
}

func TestEquivocatingLeaderCannotSplitCommits(t *testing.T) {
	// Safety needs b < 2q − n: n = 4, q = 3 tolerates 1; n = 7, q = 5 tolerates 2.
	cases := []struct {
		n, q   int
		byz    ReplicaID
		groupA []ReplicaID
		aFirst bool
	}{
		{4, 3, 4, []ReplicaID{1}, false},      // B reaches q with the Byzantine vote: a QC for B
		{4, 3, 4, []ReplicaID{2, 3}, true},    // A reaches q
		{7, 5, 7, []ReplicaID{1, 2, 3}, true}, // neither reaches q: the view fails
	}
	for _, tc := range cases {
		c := newCluster(t, tc.n, tc.q, Config{Timeout: fixedTimeout(50 * time.Millisecond)})
		c.byz = equivocator(tc.byz, tc.groupA, tc.aFirst)
		c.start()
		var honest []ReplicaID
		for id := ReplicaID(1); id < tc.byz; id++ {
			honest = append(honest, id)
		}
		c.run(20000, func() bool { return c.minCommitted(honest...) >= 12 }) // checkSafety after every step
		t.Logf("n=%d groupA %v: %s evidence %d", tc.n, tc.groupA, c.summary(), c.evidence)
		if got := c.minCommitted(honest...); got < 12 {
			t.Fatalf("n=%d groupA %v: honest replicas committed only %d", tc.n, tc.groupA, got)
		}
		if c.evidence == 0 {
			t.Fatalf("n=%d groupA %v: the double vote was not reported", tc.n, tc.groupA)
		}
	}
}

// An equivocator that splits n = 4 into two halves that each miss q makes
// its view fail and, since the next leader then waits in that view until
// it times out, the next view too: like a crash, it leaves no four
// consecutive good views, so nothing commits, but views keep advancing and
// safety holds (checked after every step).
func TestEquivocatorSplitN4NoCommitNoFork(t *testing.T) {
	c := newCluster(t, 4, 3, Config{Timeout: fixedTimeout(50 * time.Millisecond)})
	c.byz = equivocator(4, []ReplicaID{1, 2}, false)
	c.start()
	c.run(5000, func() bool { return c.rep(1).State().CurView >= 40 })
	t.Log(c.summary())
	if v := c.rep(1).State().CurView; v < 40 || c.tcs == 0 || c.evidence == 0 {
		t.Fatalf("views stalled or equivocation unseen: %s", c.summary())
	}
}

func TestBeaconLeader(t *testing.T) {
	beacon := Hash{0xbe, 0xac, 0x04}
	c := newCluster(t, 4, 3, Config{Leader: LeaderBeacon, Beacon: beacon, Timeout: fixedTimeout(50 * time.Millisecond)})
	c.start()
	c.run(20000, func() bool { return c.minCommitted() >= 20 })
	t.Log(c.summary())
	if got := c.minCommitted(); got < 20 {
		t.Fatalf("beacon leaders: only %d committed", got)
	}
	// Proposers follow the beacon schedule, not round robin.
	var off int
	for _, ref := range c.rep(1).State().Committed {
		b, _ := c.rep(1).Block(ref.Hash)
		if b.Proposer != BeaconLeader(beacon, b.View, 4) {
			t.Fatalf("view %d proposed by %d, beacon leader %d", b.View, b.Proposer, BeaconLeader(beacon, b.View, 4))
		}
		if b.Proposer != RoundRobinLeader(b.View, 4) {
			off++
		}
	}
	if off == 0 {
		t.Fatal("the beacon schedule coincided with round robin")
	}
	if c.tcs != 0 {
		t.Fatalf("%d view changes in a fault-free beacon run: replicas disagreed on leaders", c.tcs)
	}
	// With the beacon, one crashed replica in n = 4 no longer stops commits
	// for good: pseudo-random leaders give runs of four live leaders.
	before := c.minCommitted(1, 2, 3)
	c.down[4] = true
	c.run(40000, func() bool { return c.minCommitted(1, 2, 3) >= before+10 })
	t.Log(c.summary())
	if got := c.minCommitted(1, 2, 3); got < before+10 {
		t.Fatalf("after the crash: %d → %d commits", before, got)
	}
}

// Adaptive timeouts learn the view duration of a fault-free run (two
// message delays) and then detect a crashed leader much faster than a
// fixed timeout sized for the worst case.
func TestAdaptiveTimeoutShortensViewChange(t *testing.T) {
	latency := func(cfg timeoutConfig) (time.Duration, time.Duration) {
		c := newCluster(t, 5, 3, Config{Timeout: cfg})
		c.start()
		c.run(20000, func() bool { return c.minCommitted() >= 24 })
		learned := c.rep(1).Timeout()
		c.down[RoundRobinLeader(c.rep(1).State().CurView+2, 5)] = true
		crashAt := c.now
		c.run(20000, func() bool { return c.tcs > 0 && c.entered[CauseTC] >= 4 })
		return learned, c.now - crashAt
	}
	fixedLearned, fixed := latency(timeoutConfig{Mode: timeoutFixed, Base: time.Second})
	adaptLearned, adaptive := latency(timeoutConfig{Mode: timeoutAdaptive, Base: time.Second, Min: time.Millisecond, Window: 8})
	t.Logf("timeout after 24 commits: fixed %v, adaptive %v; view change after crash: fixed %v, adaptive %v", fixedLearned, adaptLearned, fixed, adaptive)
	if fixedLearned != time.Second || adaptLearned >= 10*time.Millisecond {
		t.Fatalf("learned timeouts: fixed %v adaptive %v", fixedLearned, adaptLearned)
	}
	if adaptive >= fixed/10 {
		t.Fatalf("adaptive view change %v not much faster than fixed %v", adaptive, fixed)
	}
}
