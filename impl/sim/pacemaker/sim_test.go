package pacemaker

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/fhbft/fhbft/impl/certification"
	"github.com/fhbft/fhbft/impl/crypto/threshold"
	pm "github.com/fhbft/fhbft/impl/pacemaker"
	"github.com/fhbft/fhbft/impl/pacemaker/timeout"
	"github.com/fhbft/fhbft/impl/sim/network"
)

func small(seed uint64) Config {
	return Config{
		Seed: seed, N: 4,
		Timeout:  timeout.Config{Mode: timeout.Fixed, Base: 60 * time.Millisecond},
		MinDelay: 2 * time.Millisecond, MaxDelay: 10 * time.Millisecond,
		CommandInterval: 10 * time.Millisecond, MaxViews: 25, Wire: true,
	}
}

func run(t *testing.T, cfg Config) *Report {
	t.Helper()
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s.Run()
}

// fingerprint is everything protocol-relevant in a report (no wall times).
func fingerprint(r *Report) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d %v %d %d %d %d %v %+v|", r.Steps, r.SimTime, r.MaxView, r.QCs, r.TCs, r.DistinctCommits, r.Rejected, r.Net)
	for _, nd := range r.Nodes {
		st := nd.Rep.State()
		fmt.Fprintf(&b, "%d:%d:%v:%v:", nd.NID, st.CurView, st.BLock, st.BExec)
		for _, e := range nd.Executed {
			fmt.Fprintf(&b, "%d@%d,", e.ID, e.Step)
		}
	}
	return b.String()
}

func TestDeterministicBySeed(t *testing.T) {
	cfg := small(7)
	cfg.Drop = 0.1
	a, b := run(t, cfg), run(t, cfg)
	if fa, fb := fingerprint(a), fingerprint(b); fa != fb {
		t.Fatalf("seed 7 twice differs:\n%s\n%s", fa, fb)
	}
	cfg.Seed = 8
	if fingerprint(run(t, cfg)) == fingerprint(a) {
		t.Fatal("seeds 7 and 8 gave the same run")
	}
}

func TestFaultFreeCommitsEveryView(t *testing.T) {
	r := run(t, small(1))
	if !r.Safe() {
		t.Fatal(r.Violations[0])
	}
	// Steady state: one commit per view, three views of pipeline latency.
	if r.TCs != 0 || r.DistinctCommits < int(r.MaxView)-4 || r.MinCommits < int(r.MaxView)-5 {
		t.Fatalf("view %d: %d commits (fewest %d), %d TCs", r.MaxView, r.DistinctCommits, r.MinCommits, r.TCs)
	}
	// Every honest replica executed the same commands in the same order.
	ref := r.Nodes[0].Executed
	for _, nd := range r.Nodes[1:] {
		for i := range min(len(ref), len(nd.Executed)) {
			if nd.Executed[i].ID != ref[i].ID {
				t.Fatalf("node %d executed %d at %d, node 1 %d", nd.NID, nd.Executed[i].ID, i, ref[i].ID)
			}
		}
	}
	if len(ref) == 0 || r.WireErrors != 0 {
		t.Fatalf("%d commands executed, %d wire errors", len(ref), r.WireErrors)
	}
	var b strings.Builder
	r.Format(&b)
	if !strings.Contains(b.String(), "held at every step") {
		t.Fatalf("report lacks the safety line:\n%s", b.String())
	}
}

// Every Byzantine behaviour within the bound: safe, and its messages are
// dropped for the reasons the spec gives.
func TestByzantineBehavioursRejected(t *testing.T) {
	cases := []struct {
		b       Behaviour
		reasons []pm.Reason
		evid    bool
	}{
		{Silent, nil, false},
		{SilentLeader, nil, false},
		{Equivocate, nil, true},
		{EquivocateAll, []pm.Reason{pm.ReasonEquivocation}, true},
		{InflateViews, []pm.Reason{pm.ReasonTooFarAhead, pm.ReasonBadQC, pm.ReasonBadTC}, false},
		{ForgeQC, []pm.Reason{pm.ReasonBadQC}, false},
		{VoteTwice, []pm.Reason{pm.ReasonEquivocation}, true},
		{StaleLeader, nil, false},
	}
	for _, c := range cases {
		cfg := small(3)
		cfg.N = 5
		cfg.Q = 4 // b = 1 < 2q − n = 3
		cfg.Byzantine = map[pm.ReplicaID]Behaviour{5: c.b}
		r := run(t, cfg)
		if !r.Safe() {
			t.Errorf("%s: %v", c.b, r.Violations[0])
		}
		for _, reason := range c.reasons {
			if r.Rejected[reason] == 0 {
				t.Errorf("%s: no message dropped as %v (rejected %v)", c.b, reason, r.Rejected)
			}
		}
		if c.evid && r.Evidence == 0 {
			t.Errorf("%s: no equivocation evidence", c.b)
		}
		if c.b != Silent && r.DistinctCommits == 0 {
			t.Errorf("%s: nothing committed in %d views", c.b, r.MaxView)
		}
		t.Logf("%-15s views %d commits %d TCs %d evidence %d rejected %v", c.b, r.MaxView, r.DistinctCommits, r.TCs, r.Evidence, nonzero(r.Rejected))
	}
}

func nonzero(a [32]int) map[pm.Reason]int {
	m := map[pm.Reason]int{}
	for i, n := range a {
		if n > 0 {
			m[pm.Reason(i)] = n
		}
	}
	return m
}

// The view-change latency after a leader crash: adaptive timeouts, once
// they have W samples, wait far less than a fixed T0 (simulated time, so
// this is deterministic, not a timed assertion).
func TestCrashLatencyFixedVsAdaptive(t *testing.T) {
	var lat [2]time.Duration
	for i, mode := range []timeout.Mode{timeout.Fixed, timeout.Adaptive} {
		cfg := small(2)
		cfg.N = 5
		cfg.Timeout = timeout.Config{Mode: mode, Base: 500 * time.Millisecond, Min: 5 * time.Millisecond, Max: 5 * time.Second, Window: 8}
		cfg.CrashLeaderAt = 300 * time.Millisecond
		cfg.MaxViews = 60
		r := run(t, cfg)
		cr := r.Crash
		if !r.Safe() || cr == nil || cr.FirstQC < 0 || cr.FirstTC < 0 {
			t.Fatalf("%v: no view change measured: %+v %v", mode, cr, r.Violations)
		}
		if cr.TimeoutWait() <= 0 || cr.Latency() <= cr.TimeoutWait() || cr.Hops < 2 {
			t.Fatalf("%v: implausible measurement %+v", mode, cr)
		}
		lat[i] = cr.Latency()
		t.Logf("%v: latency %v (timeout wait %v, %d hops)", mode, cr.Latency(), cr.TimeoutWait(), cr.Hops)
	}
	if lat[1] >= lat[0] {
		t.Fatalf("adaptive %v not below fixed %v", lat[1], lat[0])
	}
}

func TestCrashAndRecovery(t *testing.T) {
	cfg := small(4)
	cfg.N = 5
	cfg.Crashes = []CrashSpec{{Replica: 2, At: 100 * time.Millisecond, RecoverAt: 600 * time.Millisecond}}
	cfg.MaxViews = 60
	r := run(t, cfg)
	if !r.Safe() {
		t.Fatal(r.Violations[0])
	}
	nd := r.Nodes[1]
	if !nd.Up || nd.Committed < r.DistinctCommits-5 {
		t.Fatalf("recovered replica committed %d of %d", nd.Committed, r.DistinctCommits)
	}
}

func TestActionsPartitionAndHeal(t *testing.T) {
	cfg := small(5)
	cfg.GST = network.Never
	cfg.Actions = []Action{
		{At: 50 * time.Millisecond, Partition: true, Groups: [][]network.NodeID{{1, 2}, {3, 4}}},
		{At: 400 * time.Millisecond, Partition: true},
	}
	cfg.MaxViews = 30
	r := run(t, cfg)
	if !r.Safe() || r.DistinctCommits == 0 {
		t.Fatalf("safe %v, %d commits", r.Safe(), r.DistinctCommits)
	}
	stalled := false
	for _, p := range r.Phases {
		if strings.HasPrefix(p.Name, "partition [[1 2] [3 4]]") {
			stalled = p.QCs == 0 && p.Commits == 0 && p.Dropped > 0
		}
	}
	if !stalled {
		t.Fatalf("no QC may form while no side has q = 3 replicas: %+v", r.Phases)
	}
}

func TestConfigValidation(t *testing.T) {
	for _, c := range []Config{
		{N: 0},
		{N: 4, Q: 2},
		{N: 4, Q: 5},
		{N: 4, MinDelay: 2, MaxDelay: 1},
		{N: 4, Byzantine: map[pm.ReplicaID]Behaviour{5: Silent}},
		{N: 4, Byzantine: map[pm.ReplicaID]Behaviour{1: "nonsense"}},
		{N: 4, Twins: []pm.ReplicaID{1, 1}},
		{N: 4, Crashes: []CrashSpec{{Replica: 9}}},
		{N: 4, Actions: []Action{{Partition: true, Groups: [][]network.NodeID{{1}, {1}}}}},
		{N: 4, Actions: []Action{{Crash: []network.NodeID{6}}}},
	} {
		if _, err := New(c); err == nil {
			t.Errorf("config %+v accepted", c)
		}
	}
	c := Config{N: 4, Twins: []pm.ReplicaID{4}, Byzantine: map[pm.ReplicaID]Behaviour{3: Equivocate}}
	if c.Faulty() != 2 || c.WithinSafetyBound() || TwinNode(c, 4) != 5 || TwinNode(c, 1) != 0 {
		t.Fatalf("faulty %d, bound %v, twin node %d", c.Faulty(), c.WithinSafetyBound(), TwinNode(c, 4))
	}
}

// --- the checker on its own --------------------------------------------

type chain struct {
	r      certification.Roster
	shares []threshold.SecretShare
}

func newChain(t *testing.T) chain {
	gk, shares, err := threshold.TrustedDealerForTesting(4, 3, rand.NewChaCha8([32]byte{'c'}))
	if err != nil {
		t.Fatal(err)
	}
	return chain{certification.Roster{Quorum: 1, Epoch: 1, Key: gk}, shares}
}

func (c chain) qc(t *testing.T, v pm.View, h pm.Hash) pm.QC {
	col, err := certification.NewCollector(c.r, certification.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, sh := range c.shares[:3] {
		if eff := col.Step(certification.VoteReceived{Vote: certification.SignVote(sh, pm.VoteStatement(c.r, v, h))}); eff.Certificate != nil {
			return pm.QC{Cert: *eff.Certificate}
		}
	}
	t.Fatal("no QC")
	return pm.QC{}
}

// block of view v on parent (padding with dummies from justify's node).
func (c chain) block(t *testing.T, v pm.View, justify pm.QC, jview pm.View, tag byte) pm.Block {
	prev := justify.Block()
	for w := jview + 1; w < v; w++ {
		prev = pm.Dummy(c.r.Quorum, c.r.Epoch, w, prev).Hash()
	}
	return pm.Block{Quorum: c.r.Quorum, Epoch: c.r.Epoch, View: v, Parent: prev, Justify: justify,
		Cmds: []pm.Command{{ID: pm.CommandID(tag), Payload: []byte{tag}}}, Proposer: pm.RoundRobinLeader(v, 4)}
}

func TestCheckerCatches(t *testing.T) {
	c := newChain(t)
	g := pm.GenesisQCOf(c.r)
	a1 := c.block(t, 1, g, 0, 1)
	b1 := c.block(t, 1, g, 0, 2) // conflicts with a1
	a2 := c.block(t, 2, c.qc(t, 1, a1.Hash()), 1, 3)
	a3 := c.block(t, 3, c.qc(t, 2, a2.Hash()), 2, 4)
	a4 := c.block(t, 4, c.qc(t, 3, a3.Hash()), 3, 5)
	b5 := c.block(t, 5, c.qc(t, 1, b1.Hash()), 1, 6) // b1 also has a QC in view 1

	k := NewChecker(c.r)
	k.Track(1)
	k.Track(2)
	for _, b := range []pm.Block{a1, b1, a2, a3, a4, b5} {
		k.OnBlock(b)
	}
	if len(k.Violations()) != 1 || k.Violations()[0].Invariant != InvUniqueQCPerView {
		t.Fatalf("two QCs of view 1: %v", k.Violations())
	}
	k.OnCommit(1, []pm.Block{a1}) // a1 ← a2 ← a3 with QC(a3) in a4: fine
	if n := len(k.Violations()); n != 1 {
		t.Fatalf("a correct commit flagged: %v", k.Violations()[1:])
	}
	k.OnCommit(2, []pm.Block{b1})
	want := map[string]bool{InvNoConflictingCommits: false, InvCommitOnConsecutive3: false}
	for _, v := range k.Violations()[1:] {
		want[v.Invariant] = true
	}
	if !want[InvNoConflictingCommits] || !want[InvCommitOnConsecutive3] {
		t.Fatalf("conflicting commit without a 3-chain not caught: %v", k.Violations())
	}

	k2 := NewChecker(c.r)
	k2.Track(1)
	k2.OnState(1, pm.ReplicaState{CurView: 5, BLock: pm.BlockRef{Height: 3}, QCHigh: g})
	k2.OnState(1, pm.ReplicaState{CurView: 4, BLock: pm.BlockRef{Height: 2}, QCHigh: g})
	k2.OnVote(1, 4, a1.Hash())
	k2.OnVote(1, 4, b1.Hash())
	forged := c.qc(t, 3, a3.Hash())
	forged.Cert.Signature = certification.SignVote(c.shares[0], pm.VoteStatement(c.r, 3, a3.Hash())).Partial
	k2.OnState(1, pm.ReplicaState{CurView: 90, BLock: pm.BlockRef{Height: 3}, QCHigh: forged})
	got := map[string]bool{}
	for _, v := range k2.Violations() {
		got[v.Invariant] = true
	}
	for _, inv := range []string{InvViewMonotonic, InvLockMonotonic, InvVoteOncePerView, InvQCVerified, InvViewBound} {
		if !got[inv] {
			t.Errorf("%s not caught: %v", inv, k2.Violations())
		}
	}
}
