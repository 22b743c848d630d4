package scheduler

import (
	"errors"
	"math"
	"testing"
	"time"
)

// decisionScenario feeds one node tasks while its peers' reports change
// and returns the decision for each probe task. spec: SCHED-6, SCHED-8
func decisionScenario(t *testing.T, m Mutations) []Effect {
	check := m == (Mutations{}) // intermediate figures hold only for the correct scheduler
	cfg := testConfig()
	cfg.Mutations = m
	s := mustNew(t, cfg)
	var got []Effect
	// No peer report: L = {self}, LN_self = 0, everything local.
	for i := 1; i <= 3; i++ {
		if e := one(t, s, TaskArrived{task(i, 100, Dependency{})}); e.Kind != EffectExecute || e.Cause != CauseLocal {
			t.Fatalf("task %d: %v, want local", i, e)
		}
	}
	// P_self = 1 + log10(4·300·100) = 1 + log10(120000).
	if p := s.Backpressure(); check && math.Abs(p-(1+math.Log10(120000))) > 1e-12 {
		t.Fatalf("P_self = %v", p)
	}
	// Peer 2 idle (P = 0): L = {6.08, 0}, LN_self = 1 ≥ 0.5 → delegate to 2.
	mustStep(t, s, report(2, 1, Stats{}))
	got = append(got, one(t, s, TaskArrived{task(4, 100, Dependency{})}))
	// Peer 2 now heavy: 10 tasks of 1000 → x = 4e7, P = 8.60 > P_self → local.
	mustStep(t, s, report(2, 2, st(10, 10000, 0, 0, 0, 0)))
	got = append(got, one(t, s, TaskArrived{task(5, 100, Dependency{})}))
	// Peer 3 light: one task of 10 → x = 400, P = 3.60. Self holds local 400
	// in 4 tasks and remote 100 in 1: x = 4·400·100 + 2·100·100 = 180000,
	// P = 6.255; LN_self = (6.255 − 3.602)/(8.602 − 3.602) = 0.531 ≥ 0.5 → delegate to 3.
	mustStep(t, s, report(3, 1, st(1, 10, 0, 0, 0, 0)))
	if l := s.Loads(); check && len(l) != 3 || check && math.Abs(l[0].LN-(math.Log10(180000)-math.Log10(400))/(math.Log10(4e7)-math.Log10(400))) > 1e-12 {
		t.Fatalf("loads %+v", l)
	}
	got = append(got, one(t, s, TaskArrived{task(6, 100, Dependency{})}))
	// Both reports expire: L = {self} again → local.
	mustStep(t, s, Tick{Now: 51 * time.Millisecond})
	got = append(got, one(t, s, TaskArrived{task(7, 100, Dependency{})}))
	return got
}

// TestDecisionChangesWithPeerLoad shows the computed backpressure is used:
// the same kind of task goes to different places as peers' loads change
// (BRIEF §7). spec: SCHED-6, SCHED-7, SCHED-8
func TestDecisionChangesWithPeerLoad(t *testing.T) {
	got := decisionScenario(t, Mutations{})
	want := []Effect{
		{Kind: EffectDelegate, Cause: CauseBackpressure, Peer: 2},
		{Kind: EffectExecute, Cause: CauseLocal},
		{Kind: EffectDelegate, Cause: CauseBackpressure, Peer: 3},
		{Kind: EffectExecute, Cause: CauseLocal},
	}
	for i := range want {
		if got[i].Kind != want[i].Kind || got[i].Cause != want[i].Cause || got[i].Peer != want[i].Peer {
			t.Errorf("decision %d: %v, want %v %v peer %d", i, got[i], want[i].Kind, want[i].Cause, want[i].Peer)
		}
	}
}

// TestDecisionScenarioCatchesMutations: the scenario above tells the
// planted bugs apart from the correct scheduler.
func TestDecisionScenarioCatchesMutations(t *testing.T) {
	for name, m := range map[string]Mutations{
		"IgnoreBackpressure": {IgnoreBackpressure: true},
		"PickHighestPeer":    {PickHighestPeer: true},
	} {
		got := decisionScenario(t, m)
		if got[0].Kind == EffectDelegate && got[2].Kind == EffectDelegate && got[2].Peer == 3 {
			t.Errorf("%s: decisions %v indistinguishable from the correct ones", name, got)
		}
	}
}

// TestThreshold: the same L delegates or not depending on θ, at the
// boundary LN_self = θ inclusive. spec: SCHED-8
func TestThreshold(t *testing.T) {
	// L = {P_self, 0, P_high}; choose loads so LN_self is exactly 0.5:
	// self x = 1000 (P 4), peer 2 idle (P 0), peer 3 x = 10^7 (P 8).
	for _, c := range []struct {
		theta float64
		want  EffectKind
	}{{0.5, EffectDelegate}, {0.25, EffectDelegate}, {0.5000001, EffectExecute}, {1, EffectExecute}} {
		cfg := testConfig()
		cfg.Threshold = c.theta
		s := mustNew(t, cfg)
		// 4·T·avg = 1000 with one task: T² = 250 is not integral; use forwarding: T_f = 1000.
		one(t, s, TaskArrived{Task{ID: id(1), Cost: 1000, Dep: Dependency{Kind: DepQuorum, Quorum: 20}}})
		if p := s.Backpressure(); p != 4 {
			t.Fatalf("P_self = %v, want 4", p)
		}
		mustStep(t, s, report(2, 1, Stats{}))
		mustStep(t, s, report(3, 1, st(0, 0, 0, 0, 1, 10000000)))
		if l := s.Loads(); l[0].LN != 0.5 {
			t.Fatalf("LN_self = %v, want 0.5 (%+v)", l[0].LN, l)
		}
		e := one(t, s, TaskArrived{task(2, 5, Dependency{})})
		if e.Kind != c.want || (e.Kind == EffectDelegate && e.Peer != 2) {
			t.Errorf("θ = %v: %v, want %v", c.theta, e, c.want)
		}
	}
}

// TestDecisionTreeBranches: D1 forward, D2 delegate to the holder, the
// dependency-in-this-quorum cases fall through to D3/D4. spec: SCHED-8
func TestDecisionTreeBranches(t *testing.T) {
	s := mustNew(t, testConfig())
	// Make self the most loaded so D3 would delegate if reached.
	one(t, s, TaskArrived{task(1, 500, Dependency{})})
	mustStep(t, s, report(2, 1, Stats{}))
	mustStep(t, s, report(4, 1, st(1, 1, 0, 0, 0, 0)))
	for _, c := range []struct {
		dep  Dependency
		kind EffectKind
		who  uint32
		why  Cause
	}{
		{Dependency{Kind: DepQuorum, Quorum: 30}, EffectForward, 30, CauseDepQuorum},
		{Dependency{Kind: DepPeer, Peer: 4}, EffectDelegate, 4, CauseDepPeer},           // D2 ignores backpressure: 4 is not the least loaded
		{Dependency{Kind: DepPeer, Peer: 3}, EffectDelegate, 3, CauseDepPeer},           // even a peer with no report
		{Dependency{Kind: DepQuorum, Quorum: 10}, EffectDelegate, 2, CauseBackpressure}, // own quorum: data-local
		{Dependency{Kind: DepPeer, Peer: 1}, EffectDelegate, 2, CauseBackpressure},      // self: data-local
		{Dependency{Kind: DepLocal}, EffectDelegate, 2, CauseBackpressure},
		{Dependency{}, EffectDelegate, 2, CauseBackpressure},
	} {
		n := s.Len() + 100
		e := one(t, s, TaskArrived{task(n, 1, c.dep)})
		who := uint32(e.Peer) + uint32(e.Quorum)
		if e.Kind != c.kind || who != c.who || e.Cause != c.why {
			t.Errorf("dep %+v: %v, want %v to %d (%v)", c.dep, e, c.kind, c.who, c.why)
		}
		// Undo the delegation's in-flight accounting so every row sees the same L.
		mustStep(t, s, report(2, uint64(n), Stats{}))
		mustStep(t, s, report(4, uint64(n), st(1, 1, 0, 0, 0, 0)))
	}
}

// TestTieBreak: equally loaded peers are chosen by the rendezvous score of
// (signer, peer): one signer always gets the same peer, and signers spread
// over the tied peers. spec: SCHED-8
func TestTieBreak(t *testing.T) {
	counts := map[NodeID]int{}
	for sig := range 64 {
		var first NodeID
		for rep := range 3 {
			s := mustNew(t, testConfig())
			one(t, s, TaskArrived{task(1000, 50, Dependency{})})
			for _, p := range []NodeID{2, 3, 4} {
				mustStep(t, s, report(p, 1, Stats{}))
			}
			tk := Task{ID: id(rep + 1), Signer: acct(sig), Cost: 1}
			e := one(t, s, TaskArrived{tk})
			if e.Kind != EffectDelegate {
				t.Fatalf("signer %d: %v", sig, e)
			}
			if rep == 0 {
				first = e.Peer
				counts[first]++
			} else if e.Peer != first {
				t.Fatalf("signer %d: peer %d then %d", sig, first, e.Peer)
			}
		}
	}
	if len(counts) != 3 {
		t.Errorf("64 signers over 3 tied peers: %v", counts)
	}
	t.Logf("64 signers over 3 tied peers: %v", counts)
}

// TestInFlightAccounting: a delegation counts towards the peer's view until
// its next report, so a burst does not all go to one peer. spec: SCHED-7
func TestInFlightAccounting(t *testing.T) {
	cfg := testConfig()
	cfg.Map.Peers = []NodeID{2, 3}
	s := mustNew(t, cfg)
	for i := range 4 {
		one(t, s, TaskArrived{task(i+1, 1000, Dependency{})})
	}
	mustStep(t, s, report(2, 1, Stats{}))
	mustStep(t, s, report(3, 1, Stats{}))
	a := one(t, s, TaskArrived{task(10, 100, Dependency{})})
	b := one(t, s, TaskArrived{task(11, 100, Dependency{})})
	if a.Kind != EffectDelegate || b.Kind != EffectDelegate || a.Peer == b.Peer {
		t.Fatalf("burst went %v, %v; want two different peers", a, b)
	}
	// The view of a.Peer now holds one task of 100: x = 4·100·100.
	for _, l := range s.Loads() {
		if l.Node == a.Peer && math.Abs(l.P-(1+math.Log10(40000))) > 1e-12 {
			t.Errorf("view of %d: P = %v", a.Peer, l.P)
		}
	}
	// A new report replaces the view.
	mustStep(t, s, report(a.Peer, 2, Stats{}))
	for _, l := range s.Loads() {
		if l.Node == a.Peer && l.P != 0 {
			t.Errorf("after report: view of %d P = %v", a.Peer, l.P)
		}
	}
}

// TestStaleReports: older Seq, other epochs and expired reports are not
// used. spec: SCHED-7
func TestStaleReports(t *testing.T) {
	s := mustNew(t, testConfig())
	mustStep(t, s, Tick{Now: 5 * time.Millisecond})
	mustStep(t, s, report(2, 7, st(1, 10, 0, 0, 0, 0)))
	wantErr(t, s, report(2, 7, Stats{}), ErrStaleReport)
	wantErr(t, s, report(2, 3, Stats{}), ErrStaleReport)
	wantErr(t, s, PeerLoad{Peer: 2, Epoch: 2, Seq: 9}, ErrWrongEpoch)
	wantErr(t, s, PeerLoad{Peer: 2, Epoch: 0, Seq: 9}, ErrWrongEpoch)
	if l := s.Loads(); len(l) != 2 {
		t.Fatalf("loads %+v", l)
	}
	// Received at 5ms, MaxReportAge 50ms: fresh at 55ms, gone at 55ms+1ns.
	mustStep(t, s, Tick{Now: 55 * time.Millisecond})
	if l := s.Loads(); len(l) != 2 {
		t.Fatalf("at 55ms: loads %+v", l)
	}
	mustStep(t, s, Tick{Now: 55*time.Millisecond + 1})
	if l := s.Loads(); len(l) != 1 {
		t.Fatalf("at 55ms+1ns: loads %+v", l)
	}
	// An expired peer may report again with a newer Seq.
	mustStep(t, s, report(2, 8, Stats{}))
	if l := s.Loads(); len(l) != 2 {
		t.Fatalf("after new report: loads %+v", l)
	}
}

// TestHandoffOutcomes: acks retire, a failed delegation executes locally,
// a failed forward is retried, or re-decided once its quorum is gone.
// spec: SCHED-10, SCHED-11
func TestHandoffOutcomes(t *testing.T) {
	s := mustNew(t, testConfig())
	d := one(t, s, TaskArrived{task(1, 7, Dependency{Kind: DepPeer, Peer: 3})})
	f := one(t, s, TaskArrived{task(2, 9, Dependency{Kind: DepQuorum, Quorum: 20})})
	g := one(t, s, TaskArrived{task(3, 11, Dependency{Kind: DepQuorum, Quorum: 30})})
	if d.Kind != EffectDelegate || f.Kind != EffectForward || g.Kind != EffectForward {
		t.Fatal(d, f, g)
	}
	if got := s.Load(); got != st(0, 0, 1, 7, 2, 20) {
		t.Fatalf("load %+v", got)
	}
	wantErr(t, s, TaskCompleted{id(1)}, ErrWrongQueue)
	if e := one(t, s, HandoffFailed{id(1)}); e.Kind != EffectExecute || e.Cause != CauseFallback {
		t.Fatalf("failed delegation: %v", e)
	}
	wantErr(t, s, HandoffAcked{id(1)}, ErrWrongQueue)
	if e := one(t, s, HandoffFailed{id(2)}); e.Kind != EffectForward || e.Quorum != 20 || e.Cause != CauseRetry {
		t.Fatalf("failed forward: %v", e)
	}
	// Quorum 30 leaves; the failed forward of task 3 is re-decided as data-local.
	mustStep(t, s, QuorumMapChanged{QuorumMap{Epoch: 2, Quorum: 10, Quorums: []QuorumID{10, 20}, Peers: []NodeID{2, 3}}})
	if e := one(t, s, HandoffFailed{id(3)}); e.Kind != EffectExecute || e.Cause != CauseLocal {
		t.Fatalf("failed forward to a removed quorum: %v", e)
	}
	if e := one(t, s, HandoffAcked{id(2)}); e.Kind != EffectDone || e.Cause != CauseAcked {
		t.Fatal(e)
	}
	for _, n := range []int{1, 3} {
		if e := one(t, s, TaskCompleted{id(n)}); e.Kind != EffectDone || e.Cause != CauseCompleted || e.Task.ID != id(n) {
			t.Fatal(e)
		}
	}
	if s.Len() != 0 || s.Load() != (Stats{}) {
		t.Fatalf("left %d tasks, load %+v", s.Len(), s.Load())
	}
	wantErr(t, s, TaskCompleted{id(1)}, ErrUnknownTask)
}

// TestDelegatedInRunsLocally: a delegated task is executed even when this
// node is the most loaded: one intra-quorum hop at most. spec: SCHED-9
func TestDelegatedInRunsLocally(t *testing.T) {
	s := mustNew(t, testConfig())
	one(t, s, TaskArrived{task(1, 900, Dependency{})})
	mustStep(t, s, report(2, 1, Stats{}))
	tk := task(2, 5, Dependency{Kind: DepPeer, Peer: 9}) // the delegator's view: shape only
	if e := one(t, s, TaskDelegatedIn{From: 3, Task: tk}); e.Kind != EffectExecute || e.Cause != CauseDelegatedIn {
		t.Fatal(e)
	}
	wantErr(t, s, TaskDelegatedIn{From: 1, Task: task(3, 5, Dependency{})}, ErrUnknownPeer)
	wantErr(t, s, TaskDelegatedIn{From: 9, Task: task(3, 5, Dependency{})}, ErrUnknownPeer)
	wantErr(t, s, TaskDelegatedIn{From: 2, Task: task(3, 0, Dependency{})}, ErrMalformedTask)
	wantErr(t, s, TaskDelegatedIn{From: 2, Task: tk}, ErrDuplicateTask)
}

// TestQuorumMapChange: newer epochs only; peer views are reset.
// spec: SCHED-11
func TestQuorumMapChange(t *testing.T) {
	s := mustNew(t, testConfig())
	mustStep(t, s, report(2, 5, Stats{}))
	wantErr(t, s, QuorumMapChanged{testMap}, ErrStaleMap)
	wantErr(t, s, QuorumMapChanged{QuorumMap{Epoch: 2, Quorum: 11, Quorums: []QuorumID{10}}}, ErrMalformedMap)
	wantErr(t, s, QuorumMapChanged{QuorumMap{Epoch: 2, Quorum: 10, Quorums: []QuorumID{10, 10}}}, ErrMalformedMap)
	wantErr(t, s, QuorumMapChanged{QuorumMap{Epoch: 2, Quorum: 10, Quorums: []QuorumID{10}, Peers: []NodeID{1}}}, ErrMalformedMap)
	wantErr(t, s, QuorumMapChanged{QuorumMap{Epoch: 2, Quorum: 10, Quorums: []QuorumID{10}, Peers: []NodeID{0}}}, ErrMalformedMap)
	wantErr(t, s, QuorumMapChanged{QuorumMap{Epoch: 2, Quorum: 10, Quorums: []QuorumID{10}, Peers: []NodeID{3, 3}}}, ErrMalformedMap)
	wantErr(t, s, QuorumMapChanged{QuorumMap{Epoch: 2, Quorum: 10}}, ErrMalformedMap)
	mustStep(t, s, QuorumMapChanged{QuorumMap{Epoch: 2, Quorum: 10, Quorums: []QuorumID{10}, Peers: []NodeID{2}}})
	if l := s.Loads(); len(l) != 1 {
		t.Fatalf("old report survived the epoch: %+v", l)
	}
	wantErr(t, s, report(2, 6, Stats{}), ErrWrongEpoch)
	mustStep(t, s, PeerLoad{Peer: 2, Epoch: 2, Seq: 1})
	wantErr(t, s, PeerLoad{Peer: 3, Epoch: 2, Seq: 1}, ErrUnknownPeer)
}

// TestTickReports: the first tick and then every ReportInterval emit this
// node's load with an increasing Seq; time never goes back. spec: SCHED-12
func TestTickReports(t *testing.T) {
	s := mustNew(t, testConfig())
	one(t, s, TaskArrived{task(1, 3, Dependency{})})
	e := one(t, s, Tick{Now: 1})
	if e.Kind != EffectReport || e.Report != (PeerLoad{Peer: 1, Epoch: 1, Seq: 1, Load: st(1, 3, 0, 0, 0, 0)}) {
		t.Fatal(e)
	}
	if effs := mustStep(t, s, Tick{Now: 10 * time.Millisecond}); len(effs) != 0 {
		t.Fatal(effs)
	}
	if e := one(t, s, Tick{Now: 10*time.Millisecond + 1}); e.Report.Seq != 2 {
		t.Fatal(e)
	}
	wantErr(t, s, Tick{Now: 5}, ErrClockBackwards)
}

// TestBadInput: every refused input gets its sentinel and changes nothing.
// spec: SCHED-1, SCHED-2, SCHED-7, SCHED-15
func TestBadInput(t *testing.T) {
	cfg := testConfig()
	cfg.MaxQueued = 2
	s := mustNew(t, cfg)
	one(t, s, TaskArrived{task(1, 5, Dependency{})})
	for _, c := range []struct {
		ev  Event
		err error
	}{
		{nil, ErrNilEvent},
		{&TaskArrived{task(9, 5, Dependency{})}, ErrNilEvent}, // pointers are not events
		{TaskArrived{task(9, 0, Dependency{})}, ErrMalformedTask},
		{TaskArrived{task(9, 5, Dependency{Kind: 4})}, ErrMalformedTask},
		{TaskArrived{task(9, 5, Dependency{Kind: DepNone, Peer: 2})}, ErrMalformedTask},
		{TaskArrived{task(9, 5, Dependency{Kind: DepLocal, Quorum: 20})}, ErrMalformedTask},
		{TaskArrived{task(9, 5, Dependency{Kind: DepPeer})}, ErrMalformedTask},
		{TaskArrived{task(9, 5, Dependency{Kind: DepPeer, Peer: 2, Quorum: 20})}, ErrMalformedTask},
		{TaskArrived{task(9, 5, Dependency{Kind: DepQuorum, Quorum: 20, Peer: 2})}, ErrMalformedTask},
		{TaskArrived{task(9, 5, Dependency{Kind: DepPeer, Peer: 8})}, ErrUnknownPeer},
		{TaskArrived{task(9, 5, Dependency{Kind: DepQuorum, Quorum: 99})}, ErrUnknownQuorum},
		{TaskArrived{task(1, 5, Dependency{})}, ErrDuplicateTask},
		{TaskCompleted{id(9)}, ErrUnknownTask},
		{HandoffAcked{id(9)}, ErrUnknownTask},
		{HandoffFailed{id(9)}, ErrUnknownTask},
		{HandoffFailed{id(1)}, ErrWrongQueue},
		{report(1, 1, Stats{}), ErrUnknownPeer},
		{report(9, 1, Stats{}), ErrUnknownPeer},
		{report(2, 1, st(1, 0, 0, 0, 0, 0)), ErrMalformedLoad},
		{report(2, 1, st(0, 1, 0, 0, 0, 0)), ErrMalformedLoad},
		{report(2, 1, st(0, 0, 2, 1, 0, 0)), ErrMalformedLoad},
		{report(2, 1, st(0, 0, 0, 0, 1, MaxCost+1)), ErrMalformedLoad},
		{report(2, 1, st(HardMaxQueued+1, HardMaxQueued+1, 0, 0, 0, 0)), ErrMalformedLoad},
		{report(2, 1, st(math.MaxUint64, math.MaxUint64, 0, 0, 0, 0)), ErrMalformedLoad},
	} {
		wantErr(t, s, c.ev, c.err)
	}
	one(t, s, TaskArrived{task(2, 5, Dependency{})})
	wantErr(t, s, TaskArrived{task(3, 5, Dependency{})}, ErrFull)
	wantErr(t, s, TaskDelegatedIn{From: 2, Task: task(3, 5, Dependency{})}, ErrFull)
	if !Benign(&InputError{Err: ErrStaleReport}) || Benign(&InputError{Err: ErrMalformedLoad}) {
		t.Error("Benign")
	}
}

// TestNewRejects: unusable configurations get a *ConfigError.
func TestNewRejects(t *testing.T) {
	for name, mut := range map[string]func(*Config){
		"self 0":          func(c *Config) { c.Self = 0 },
		"weight":          func(c *Config) { c.Weights = Weights{1, 1, 0.5} },
		"threshold NaN":   func(c *Config) { c.Threshold = math.NaN() },
		"threshold < 0":   func(c *Config) { c.Threshold = -0.1 },
		"threshold > 1":   func(c *Config) { c.Threshold = 1.01 },
		"max queued":      func(c *Config) { c.MaxQueued = HardMaxQueued + 1 },
		"max queued < 0":  func(c *Config) { c.MaxQueued = -1 },
		"age < 0":         func(c *Config) { c.MaxReportAge = -1 },
		"interval < 0":    func(c *Config) { c.ReportInterval = -1 },
		"map: no quorums": func(c *Config) { c.Map.Quorums = nil },
		"map: self peer":  func(c *Config) { c.Map.Peers = []NodeID{2, 1} },
		"map: own quorum": func(c *Config) { c.Map.Quorum = 77 },
	} {
		cfg := testConfig()
		mut(&cfg)
		s, err := New(cfg)
		var ce *ConfigError
		if s != nil || !errors.As(err, &ce) {
			t.Errorf("%s: %v, %v", name, s, err)
		}
		if name[:4] == "map:" && !errors.Is(err, ErrMalformedMap) {
			t.Errorf("%s: %v does not wrap ErrMalformedMap", name, err)
		}
	}
	// The caller's slices are copied.
	cfg := testConfig()
	cfg.Map.Peers = []NodeID{2, 3}
	s := mustNew(t, cfg)
	cfg.Map.Peers[0] = 9
	mustStep(t, s, report(2, 1, Stats{}))
}
