package tests

// Twins-style scenarios (Bano et al., "Twins: BFT Systems Made Robust"):
// one Byzantine identity runs as two honest replicas that share its id and
// key (twins), placed in different partitions that change as views go by.
// Below the fault bound (n = 4, q = 3: b = 1 < 2q − n = 2) the runs must
// commit blocks and never commit conflicting ones; at the bound (n = 5,
// q = 3: b = 1 = 2q − n) some scenario must produce conflicting commits,
// which shows the scenarios and the checker can find them (PM-23, PM-30).
// Safety is checked after every step by impl/sim/pacemaker's Checker.

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	pm "github.com/fhbft/fhbft/impl/pacemaker"
	"github.com/fhbft/fhbft/impl/pacemaker/timeout"
	"github.com/fhbft/fhbft/impl/sim/network"
	pmsim "github.com/fhbft/fhbft/impl/sim/pacemaker"
)

type nodes = []network.NodeID

// twinsSetup names the nodes of a twins configuration: identity t runs as
// node t (T) and node n+1 (T'); the other identities are honest.
type twinsSetup struct {
	n, q   int
	t      pm.ReplicaID
	T, T2  network.NodeID
	honest nodes
}

func newTwins(n, q int, t pm.ReplicaID) twinsSetup {
	s := twinsSetup{n: n, q: q, t: t, T: network.NodeID(t), T2: network.NodeID(n + 1)}
	for i := 1; i <= n; i++ {
		if pm.ReplicaID(i) != t {
			s.honest = append(s.honest, network.NodeID(i))
		}
	}
	return s
}

// leaderView is the first view ≥ from led by identity id (round robin:
// leader(v) = v mod n + 1).
func (s twinsSetup) leaderView(id int, from pm.View) pm.View {
	v := from
	for pm.RoundRobinLeader(v, s.n) != pm.ReplicaID(id) {
		v++
	}
	return v
}

// id wraps an identity into 1..n.
func (s twinsSetup) id(x int) int { return ((x-1)%s.n+s.n)%s.n + 1 }

type twinsScenario struct {
	name    string
	actions func(s twinsSetup, seed uint64) []pmsim.Action
	views   pm.View // run until an honest replica reaches this view
}

var twinsScenarios = []twinsScenario{
	{"static-split", staticSplit, 30},
	{"rotating-split", rotatingSplit, 30},
	// Longer: replicas that were cut off complained about the views ahead
	// (PM-32) and abandon them, so after the heal views are burnt by TCs
	// up to the highest one complained about before blocks commit again.
	{"fork-then-join", forkThenJoin, 45},
	{"random-rounds", randomRounds, 30},
}

// staticSplit: from the start, half the honest replicas with T, the other
// half with T'; healed at view 12.
func staticSplit(s twinsSetup, _ uint64) []pmsim.Action {
	h := len(s.honest) / 2
	a := append(slices.Clone(s.honest[:h]), s.T)
	b := append(slices.Clone(s.honest[h:]), s.T2)
	return []pmsim.Action{
		{Partition: true, Groups: [][]network.NodeID{a, b}},
		pmsim.Cut(12, 0), // heal
	}
}

// rotatingSplit: every three views another rotation of the honest
// replicas is split in two, T with the first part, T' with the second;
// healed at view 15.
func rotatingSplit(s twinsSetup, _ uint64) []pmsim.Action {
	var out []pmsim.Action
	k := len(s.honest)
	for r := range 4 {
		rot := append(slices.Clone(s.honest[r%k:]), s.honest[:r%k]...)
		a := append(slices.Clone(rot[:s.q-1]), s.T)
		b := append(slices.Clone(rot[s.q-1:]), s.T2)
		out = append(out, pmsim.Cut(pm.View(1+3*r), 0, a, b))
	}
	return append(out, pmsim.Cut(15, 0))
}

// forkThenJoin is the attack of spec/pacemaker.md §8 (PM-30) played with
// twins. With leaders L0 = t−1, L1 = t (the twin), L2 = t+1, L3 = t+2:
// L0 proposes b0 while T' is cut off; when T forms QC(b0), side A = {L2,
// L3, T} is cut from the rest, so only A sees b1, b2 and the proposal of L3
// that commits b0. Then A freezes (L2 crashes, i.e. pauses) and side B =
// the rest ∪ {T'} times out, forms TCs and builds a chain from below b0;
// when T' leads again (and proposes on B's highest QC), L2 recovers into
// B, forms the QC of that proposal (higher than b0, so L2's lock on b0
// does not stop it) and proposes on it, and B's next four views commit a
// block that conflicts with b0. Below the bound B has
// too few replicas to form QCs without A's and nothing conflicting
// commits; at the bound it does.
func forkThenJoin(s twinsSetup, _ uint64) []pmsim.Action {
	t := int(s.t)
	L0, L2, L3 := network.NodeID(s.id(t-1)), network.NodeID(s.id(t+1)), network.NodeID(s.id(t+2))
	v0 := s.leaderView(int(L0), 2)
	var all, b nodes
	for i := 1; i <= s.n; i++ {
		all = append(all, network.NodeID(i))
		if id := network.NodeID(i); id != L2 && id != L3 && id != s.T {
			b = append(b, id)
		}
	}
	a := nodes{L2, L3, s.T}
	b = append(b, s.T2)
	bJoined := append(nodes{L2}, b...)
	return []pmsim.Action{
		pmsim.Cut(v0, L0, all, nodes{s.T2}),
		pmsim.Cut(v0+1, s.T, a, b),
		{AtView: v0 + 4, Node: L3, Crash: nodes{L2}, Partition: true, Groups: [][]network.NodeID{{L3}, {s.T}, b}},
		{AtView: s.leaderView(t, v0+2), Node: s.T2, Recover: nodes{L2}, Partition: true, Groups: [][]network.NodeID{bJoined, {L3}, {s.T}}},
		// Heal, time-based: below the bound B never reaches view v0+5.
		{At: 1200 * time.Millisecond, Partition: true, Recover: nodes{L2}, Final: true},
	}
}

// randomRounds: every second view a seeded random split (q−1 honest
// replicas with T, the others with T'), six rounds, then healed.
func randomRounds(s twinsSetup, seed uint64) []pmsim.Action {
	rng := rand.New(rand.NewPCG(seed, 0x7717))
	var out []pmsim.Action
	for r := range 6 {
		h := slices.Clone(s.honest)
		rng.Shuffle(len(h), func(i, j int) { h[i], h[j] = h[j], h[i] })
		a := append(slices.Clone(h[:s.q-1]), s.T)
		b := append(slices.Clone(h[s.q-1:]), s.T2)
		if rng.IntN(2) == 0 {
			a, b = append(slices.Clone(h[:s.q-1]), s.T2), append(slices.Clone(h[s.q-1:]), s.T)
		}
		out = append(out, pmsim.Cut(pm.View(1+2*r), 0, a, b))
	}
	return append(out, pmsim.Cut(14, 0))
}

func twinsConfig(s twinsSetup, sc twinsScenario, seed uint64) pmsim.Config {
	return pmsim.Config{
		Seed: seed, N: s.n, Q: s.q, Twins: []pm.ReplicaID{s.t},
		Timeout:  timeout.Config{Mode: timeout.Fixed, Base: 100 * time.Millisecond},
		MinDelay: 2 * time.Millisecond, MaxDelay: 10 * time.Millisecond, GST: network.Never,
		Actions: sc.actions(s, seed), MaxViews: sc.views, MaxTime: 8 * time.Second,
		CommandInterval: 20 * time.Millisecond, Wire: true,
	}
}

// TestTwinsBelowBoundCommitAndAgree: n = 4, q = 3, identity 4 twinned
// (b = 1 < 2q − n = 2). Every scenario must commit and stay safe.
func TestTwinsBelowBoundCommitAndAgree(t *testing.T) {
	t.Parallel()
	s := newTwins(4, 3, 4)
	seeds := []uint64{1, 2}
	if testing.Short() {
		seeds = seeds[:1]
	}
	for _, sc := range twinsScenarios {
		for _, seed := range seeds {
			cfg := twinsConfig(s, sc, seed)
			sim, err := pmsim.New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			r := sim.Run()
			t.Logf("%-15s seed %d: %d blocks committed (fewest at an honest replica %d), %d views, %d TCs, evidence %d, %d commands executed at node 1",
				sc.name, seed, r.DistinctCommits, r.MinCommits, r.MaxView, r.TCs, r.Evidence, len(r.Nodes[0].Executed))
			if !r.Safe() {
				t.Errorf("%s seed %d: safety violated below the bound: %v", sc.name, seed, r.Violations[0])
			}
			if r.DistinctCommits == 0 {
				t.Errorf("%s seed %d: nothing committed; a safety check over a run that commits nothing proves nothing", sc.name, seed)
			}
		}
	}
}

// TestTwinsAtBoundFindConflict: the same scenarios with n = 5, q = 3 and
// identity 5 twinned (b = 1 = 2q − n): conflicting commits are possible
// (PM-30) and at least one scenario and seed must exhibit them.
func TestTwinsAtBoundFindConflict(t *testing.T) {
	t.Parallel()
	s := newTwins(5, 3, 5)
	maxSeed := uint64(3)
	if testing.Short() {
		maxSeed = 1
	}
	found := 0
	for _, sc := range twinsScenarios {
		for seed := uint64(1); seed <= maxSeed; seed++ {
			cfg := twinsConfig(s, sc, seed)
			cfg.StopOnViolation = true
			sim, err := pmsim.New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			r := sim.Run()
			verdict := "no conflict"
			if !r.Safe() {
				verdict = fmt.Sprint("CONFLICT: ", r.Violations[0])
				found++
			}
			t.Logf("%-15s seed %d: %d blocks committed, %d views: %s", sc.name, seed, r.DistinctCommits, r.MaxView, verdict)
		}
	}
	if found == 0 {
		t.Fatalf("no scenario found conflicting commits at the bound b = 2q − n (seeds 1..%d): the scenarios or the checker are too weak", maxSeed)
	}
}
