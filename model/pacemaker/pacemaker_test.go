package pacemaker

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

// n4 has replicas 1..4, replica 3 Byzantine (it leads view 2), q = 3.
var n4 = Config{Replicas: seq(1, 4), Byzantine: []int{3}, Quorum: 3, MaxView: 5, TimeoutViews: seq(1, 5)}

func mustStep(t *testing.T) func(State, bool) State {
	return func(s State, ok bool) State {
		t.Helper()
		if !ok {
			t.Fatal("action unexpectedly disabled")
		}
		return s
	}
}

func rep(t *testing.T, s State, id int) Replica {
	t.Helper()
	r, ok := s.Replica(id)
	if !ok {
		t.Fatalf("no replica %d", id)
	}
	return r
}

func TestBlock(t *testing.T) {
	g := Genesis
	x := g.Child(1, g)
	y := x.Child(3, x) // a dummy for view 2 between x and y
	z := y.Child(4, g) // justified by the genesis QC, parent y
	if g.View() != 0 || g.Height() != 1 || x.Height() != 2 || y.View() != 3 || z.JustifyView() != 0 {
		t.Fatal("views/heights")
	}
	if y.JustifyNode() != x || z.JustifyNode() != g || g.JustifyNode() != g || x.JustifyNode() != g {
		t.Fatal("JustifyNode")
	}
	if z.Parent() != y || y.Parent() != x || x.Parent() != g || g.Parent() != g {
		t.Fatal("Parent")
	}
	if !z.Extends(x) || !z.Extends(g) || !x.Extends(x) || x.Extends(y) || g.Child(2, g).Extends(x) {
		t.Fatal("Extends")
	}
	if !DirectParent(x, g) || DirectParent(y, x) || !DirectParent(z, y) || DirectParent(g, g) {
		t.Fatal("DirectParent: consecutive views only")
	}
	if !z.WellFormed(4) || z.WellFormed(3) || !g.WellFormed(1) {
		t.Fatal("WellFormed")
	}
	for _, bad := range []Block{"\x01", "\x02\x00\x01\x00", "\x01\x02", "\x00\x00"} {
		if bad.WellFormed(5) {
			t.Errorf("WellFormed(%q)", string(bad))
		}
	}
	if got := y.String(); got != "<<<<1, 0>>, <<3, 1>>>>" || g.String() != "<<>>" {
		t.Errorf("String = %s", got)
	}
}

func TestValidate(t *testing.T) {
	if err := n4.Validate(); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(n4.Honest(), []int{1, 2, 4}) || !slices.Equal(n4.Active(), []int{1, 2, 4}) {
		t.Error("Honest/Active")
	}
	if n4.Leader(1) != 2 || n4.Leader(3) != 4 || n4.Leader(4) != 1 {
		t.Error("Leader: round robin, v mod n + 1")
	}
	for field, mutate := range map[string]func(*Config){
		"Replicas":     func(c *Config) { c.Replicas = []int{1, 2, 4} },
		"Byzantine":    func(c *Config) { c.Byzantine = []int{9} },
		"Silent":       func(c *Config) { c.Silent = []int{3} },
		"Quorum":       func(c *Config) { c.Quorum = 5 },
		"MaxView":      func(c *Config) { c.MaxView = 255 },
		"TimeoutViews": func(c *Config) { c.TimeoutViews = []int{6} },
	} {
		c := n4
		mutate(&c)
		var ce *ConfigError
		if err := c.Validate(); !errors.As(err, &ce) || ce.Field != field {
			t.Errorf("%s: got %v", field, err)
		}
	}
	if _, err := Explore(Config{Replicas: []int{1}, Quorum: 2, MaxView: 1}, Options{}); err == nil {
		t.Error("Explore accepted a bad config")
	}
	if _, err := Explore(n4, Options{Invariants: []string{"Nope"}}); err == nil {
		t.Error("Explore accepted an unknown invariant")
	}
	if _, err := Explore(n4, Options{Properties: []string{"Progress"}}); err == nil {
		t.Error("Explore accepted Progress in Safety mode")
	}
}

func TestInit(t *testing.T) {
	s := Init(n4)
	x := Genesis.Child(1, Genesis)
	if !slices.Equal(s.Blocks(), []Block{x}) || !slices.Equal(s.QCs(), []Block{Genesis}) {
		t.Fatalf("Init: the leader of view 1 (replica 2) proposes at once:\n%v", s)
	}
	r := rep(t, s, 1)
	if r.CurView != 1 || r.VHeight != 1 || r.BLock != Genesis || r.QCHigh != Genesis || len(r.Committed) != 0 {
		t.Fatalf("replica 1: %+v", r)
	}
	if _, ok := s.Replica(3); ok {
		t.Error("the Byzantine replica has variables")
	}
	silent := n4
	silent.Silent = []int{2}
	if len(Init(silent).Blocks()) != 0 {
		t.Error("a silent leader proposed")
	}
	if !TypeOK(n4, s) {
		t.Error("TypeOK fails on Init")
	}
}

// A run through views 1-4 with honest leaders and the Byzantine leader of
// view 2 behaving: votes, next-leader waiting, QCs, the 2-chain lock and
// the commit on a 3-chain of consecutive views.
func TestHappyPathCommits(t *testing.T) {
	step := mustStep(t)
	cfg := n4
	g := Genesis
	x := g.Child(1, g)
	s := Init(cfg)
	for _, r := range []int{1, 2, 4} {
		s = step(ReceiveProposal(cfg, s, r, x))
	}
	if rep(t, s, 1).CurView != 2 || rep(t, s, 1).VHeight != 2 || len(s.Votes()) != 3 {
		t.Fatalf("after view 1:\n%v", s)
	}
	if _, ok := ReceiveProposal(cfg, s, 1, x); ok {
		t.Error("a proposal of a past view was accepted (PM-4)")
	}
	if Voters(cfg, s, x) != 4 {
		t.Errorf("Voters = %d: three honest votes and the Byzantine one", Voters(cfg, s, x))
	}
	if _, ok := FormQC(cfg, s, 1, x); ok {
		t.Error("a replica that does not lead view 2 formed its QC")
	}
	s = step(ByzantineFormQC(cfg, s, 3, x))
	y := x.Child(2, x)
	s = step(ByzantinePropose(cfg, s, 3, 2, x, x))
	s = step(ReceiveProposal(cfg, s, 1, y))
	s = step(ReceiveProposal(cfg, s, 2, y))
	s = step(ReceiveProposal(cfg, s, 4, y)) // 4 leads view 3: it waits in view 2
	if rep(t, s, 4).CurView != 2 || rep(t, s, 1).CurView != 3 {
		t.Fatalf("next leader must wait (PM-8):\n%v", s)
	}
	if n, ok := ReceiveProposal(cfg, s, 4, y); !ok || !n.Equal(s) {
		t.Error("receiving the same block again is a stutter")
	}
	s = step(FormQC(cfg, s, 4, y))
	z := y.Child(3, y)
	if r := rep(t, s, 4); r.CurView != 3 || r.QCHigh != y || !slices.Contains(s.Blocks(), z) {
		t.Fatalf("FormQC must move to view 3 and propose z (PM-9, PM-13):\n%v", s)
	}
	if _, ok := FormQC(cfg, s, 4, y); ok {
		t.Error("the QC formed twice")
	}
	s = step(ReceiveProposal(cfg, s, 1, z)) // 1 leads view 4: waits
	if r := rep(t, s, 1); r.BLock != x || r.QCHigh != y || len(r.Committed) != 0 {
		t.Fatalf("lock on the 2-chain head x (PM-6): %+v", r)
	}
	s = step(ReceiveProposal(cfg, s, 2, z))
	s = step(FormQC(cfg, s, 1, z))
	w := z.Child(4, z)
	s = step(ReceiveProposal(cfg, s, 2, w))
	if r := rep(t, s, 2); r.BLock != y || !slices.Equal(r.Committed, []Block{x}) {
		t.Fatalf("w commits x on x <- y <- z (PM-6, PM-7): %+v", r)
	}
	for _, name := range InvariantNames {
		if !invariantFuncs[name](cfg, s) {
			t.Errorf("%s fails on\n%v", name, s)
		}
	}
	if !Progress(cfg, s) {
		t.Error("Progress goal")
	}
	if l, ok := LegalStep(cfg, Init(cfg), step(ReceiveProposal(cfg, Init(cfg), 1, x))); !ok || l != "ReceiveProposal(r=1, b=<<<<1, 0>>>>)" {
		t.Errorf("LegalStep = %q, %v", l, ok)
	}
	if _, ok := LegalStep(cfg, s, Init(cfg)); ok {
		t.Error("LegalStep accepted a step back to Init")
	}
	if l, ok := LegalStep(cfg, s, s); !ok || l != "stutter" {
		t.Error("LegalStep stutter")
	}
}

func TestSafeNode(t *testing.T) {
	g := Genesis
	x := g.Child(1, g)
	y := x.Child(2, x)
	fork := g.Child(3, g)
	forkHigh := y.Child(3, y)
	locked := Replica{VHeight: 3, BLock: x}
	if !SafeNode(locked, x.Child(3, x)) {
		t.Error("extends the lock")
	}
	if SafeNode(locked, fork) {
		t.Error("conflicting block with a QC not higher than the lock")
	}
	if !SafeNode(locked, g.Child(2, g).Child(5, g.Child(2, g))) {
		t.Error("liveness rule: justify higher than the lock")
	}
	if SafeNode(Replica{VHeight: 4, BLock: x}, forkHigh) {
		t.Error("height not above vheight (PM-5: once per view)")
	}
	if !safeNode(Mutations{VoteTwice: true}, Replica{VHeight: 4, BLock: x}, forkHigh) {
		t.Error("VoteTwice drops the vheight test")
	}
}

func TestTimeoutsAndTC(t *testing.T) {
	step := mustStep(t)
	cfg := n4
	cfg.TimeoutViews = []int{1}
	s := Init(cfg)
	s = step(Timeout(cfg, s, 1))
	if _, ok := Timeout(cfg, s, 1); ok {
		t.Error("complained twice in a view")
	}
	if _, ok := ReceiveProposal(cfg, s, 1, Genesis.Child(1, Genesis)); ok {
		t.Error("accepted a proposal of an abandoned view (PM-15)")
	}
	if _, ok := FormTC(cfg, s, 3, 1); ok {
		t.Error("a Byzantine replica used the honest FormTC")
	}
	if _, ok := FormTC(cfg, s, 3, 1); ok || Complainers(cfg, s, 1) != 2 {
		t.Error("TC with 2 < q complainers")
	}
	s = step(Timeout(cfg, s, 2))
	if _, ok := FormTC(cfg, s, 2, 1); ok {
		t.Error("only the leader of view 2 (replica 3) collects complaints of view 1")
	}
	tc := step(ByzantineFormTC(cfg, s, 3, 1))
	if !NextViewNeedsComplaintQuorum(cfg, tc) || !slices.Equal(tc.TCs(), []int{1}) {
		t.Fatal("TC(1)")
	}
	tc = step(ReceiveNextView(cfg, tc, 4, 1))
	if rep(t, tc, 4).CurView != 2 {
		t.Error("catch-up on TC(1) must enter view 2")
	}
	if _, ok := ReceiveNextView(cfg, tc, 4, 1); ok {
		t.Error("catch-up on a TC below curView")
	}
	if _, ok := Timeout(cfg, tc, 4); ok {
		t.Error("timeout outside TimeoutViews")
	}
	// After GST only views with a faulty leader time out.
	live := n4
	live.Silent = []int{2}
	if _, ok := TimeoutAfterGST(live, Init(live), 1); !ok {
		t.Error("view 1's leader is silent: a timeout is allowed")
	}
	honest := Config{Replicas: seq(1, 4), Quorum: 3, MaxView: 4, TimeoutViews: seq(1, 4)}
	if _, ok := TimeoutAfterGST(honest, Init(honest), 1); ok {
		t.Error("timeout after GST under an honest leader")
	}
}

func TestReceiveNewView(t *testing.T) {
	step := mustStep(t)
	cfg := n4
	g := Genesis
	x := g.Child(1, g)
	s := Init(cfg)
	s = step(ReceiveProposal(cfg, s, 1, x))
	s = step(ReceiveProposal(cfg, s, 4, x))
	s = step(ByzantineFormQC(cfg, s, 3, x))
	// Catch-up: replica 2 is in view 1, the QC is of view 1.
	c := step(ReceiveNewView(cfg, s, 2, x))
	if r := rep(t, c, 2); r.CurView != 2 || r.QCHigh != x {
		t.Fatalf("catch-up: %+v", r)
	}
	// Replica 4 is in view 2 and leads view 3: a NewView raises its qcHigh.
	c = step(ReceiveNewView(cfg, s, 4, x))
	if r := rep(t, c, 4); r.CurView != 2 || r.QCHigh != x {
		t.Fatalf("NewView to the next leader: %+v", r)
	}
	// Replica 1 is in view 2 but does not lead view 3: a stale NewView.
	if _, ok := ReceiveNewView(cfg, s, 1, x); ok {
		t.Error("NewView handled by a replica that is not the next leader (PM-14)")
	}
	if _, ok := ReceiveNewView(cfg, c, 4, x); ok {
		t.Error("NewView that changes nothing")
	}
	if _, ok := ReceiveNewView(cfg, s, 4, g.Child(2, g)); ok {
		t.Error("NewView with a QC that was never formed")
	}
}

func TestByzantinePropose(t *testing.T) {
	step := mustStep(t)
	cfg := n4
	g := Genesis
	x := g.Child(1, g)
	s := Init(cfg)
	if _, ok := ByzantinePropose(cfg, s, 3, 2, x, x); ok {
		t.Error("justified by a QC that does not exist")
	}
	s = step(ReceiveProposal(cfg, s, 1, x))
	s = step(ReceiveProposal(cfg, s, 2, x))
	if _, ok := ByzantinePropose(cfg, s, 3, 3, g, g); ok {
		t.Error("proposed in a view it does not lead")
	}
	if _, ok := ByzantinePropose(cfg, s, 2, 1, g, g); ok {
		t.Error("an honest replica used ByzantinePropose")
	}
	s = step(ByzantinePropose(cfg, s, 3, 2, x, g)) // parent x, justify genesis
	s = step(ByzantinePropose(cfg, s, 3, 2, g, g))
	if _, ok := ByzantinePropose(cfg, s, 3, 6, x, g); ok {
		t.Error("view outside 1..MaxView")
	}
	if len(s.Blocks()) != 3 {
		t.Fatalf("two view-2 blocks: %v", s.Blocks())
	}
	s2 := step(ByzantineFormQC(cfg, s, 3, x))
	if _, ok := ByzantinePropose(cfg, s2, 3, 2, x, x); ok {
		t.Error("a third block in one view")
	}
	if _, ok := ByzantineFormQC(cfg, s, 3, g.Child(2, g)); ok {
		t.Error("QC without q votes (PM-3)")
	}
	forged, ok := newMachine(cfg, Mutations{AcceptUnverifiedQC: true}, false).byzantineFormQC(s, 3, g.Child(2, g))
	if !ok || QCNeedsVoteQuorum(cfg, forged) {
		t.Error("AcceptUnverifiedQC forges a QC that QCNeedsVoteQuorum rejects")
	}
}

func TestInvariantsDetectBadStates(t *testing.T) {
	cfg := n4
	g := Genesis
	x, f := g.Child(1, g), g.Child(2, g)
	y := x.Child(2, x)
	reps := func(mod func(r *Replica)) []Replica {
		var out []Replica
		for _, id := range cfg.Honest() {
			r := Replica{ID: id, CurView: 3, VHeight: 1}
			if mod != nil {
				mod(&r)
			}
			out = append(out, r)
		}
		return out
	}
	build := func(p Parts) State {
		s, err := Build(cfg, p)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	conflict := build(Parts{Replicas: reps(func(r *Replica) {
		r.Committed = map[int][]Block{1: {x}, 2: {f}}[r.ID]
	}), Blocks: []Block{x, f}})
	if NoConflictingCommits(cfg, conflict) {
		t.Error("NoConflictingCommits")
	}
	if CommitOnConsecutive3Chain(cfg, conflict) {
		t.Error("CommitOnConsecutive3Chain: commits without any 3-chain")
	}
	twoQCs := build(Parts{Replicas: reps(nil), Blocks: []Block{x, y, f}, QCs: []Block{y, f}})
	if UniqueQCPerView(cfg, twoQCs) || QCNeedsVoteQuorum(cfg, twoQCs) {
		t.Error("UniqueQCPerView / QCNeedsVoteQuorum")
	}
	twice := build(Parts{Replicas: reps(nil), Blocks: []Block{y, f}, Votes: []Vote{{1, y}, {1, f}}})
	if VoteOncePerView(cfg, twice) {
		t.Error("VoteOncePerView")
	}
	z := y.Child(3, y)
	unlocked := build(Parts{Replicas: reps(nil), Blocks: []Block{x, y, z}, Votes: []Vote{{2, z}}})
	if LockCoversVotes(cfg, unlocked) {
		t.Error("LockCoversVotes")
	}
	noTC := build(Parts{Replicas: reps(nil), TCs: []int{2}, Complaints: []Complaint{{1, 2}}})
	if NextViewNeedsComplaintQuorum(cfg, noTC) {
		t.Error("NextViewNeedsComplaintQuorum")
	}
	for name, bad := range map[string]State{
		"block outside MaxView": build(Parts{Replicas: reps(nil), Blocks: []Block{g.Child(6, g)}}),
		"lock without a QC":     build(Parts{Replicas: reps(func(r *Replica) { r.BLock = x }), Blocks: []Block{x}}),
		"qcHigh not below view": build(Parts{Replicas: reps(func(r *Replica) { r.QCHigh, r.CurView = x, 1 }), Blocks: []Block{x}, QCs: []Block{x}}),
		"vote by Byzantine":     build(Parts{Replicas: reps(nil), Blocks: []Block{x}, Votes: []Vote{{3, x}}}),
		"complaint after Max":   build(Parts{Replicas: reps(nil), Complaints: []Complaint{{1, 6}}}),
		"view beyond Max + 1":   build(Parts{Replicas: reps(func(r *Replica) { r.CurView = 7 })}),
	} {
		if TypeOK(cfg, bad) {
			t.Errorf("TypeOK accepts %s", name)
		}
	}
	from := Init(cfg)
	to := build(Parts{Replicas: reps(func(r *Replica) { r.CurView = 1; r.VHeight = 1 }), Blocks: from.Blocks()})
	if !ViewMonotonic(cfg, from, to) || !LockMonotonic(cfg, from, to) {
		t.Error("monotonic on an equal step")
	}
	if ViewMonotonic(cfg, build(Parts{Replicas: reps(nil)}), from) {
		t.Error("ViewMonotonic accepts a view going down")
	}
	high := build(Parts{Replicas: reps(func(r *Replica) { r.BLock = x }), Blocks: []Block{x}, QCs: []Block{x}})
	if LockMonotonic(cfg, high, build(Parts{Replicas: reps(nil)})) {
		t.Error("LockMonotonic accepts a lock going down")
	}
}

func TestBuildIsCanonical(t *testing.T) {
	cfg := n4
	g := Genesis
	x, f := g.Child(1, g), g.Child(2, g)
	r := func(id int, committed ...Block) Replica {
		return Replica{ID: id, CurView: 2, VHeight: 2, Committed: committed}
	}
	a, err := Build(cfg, Parts{
		Replicas: []Replica{r(4), r(1, x, x), r(2)},
		Blocks:   []Block{f, x, f},
		Votes:    []Vote{{4, x}, {1, x}, {4, x}},
		QCs:      []Block{x},
		TCs:      []int{2, 1, 2},
	})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := Build(cfg, Parts{
		Replicas:   []Replica{r(1, x), r(2), r(4)},
		Blocks:     []Block{x, f},
		Votes:      []Vote{{1, x}, {4, x}},
		QCs:        []Block{g, x},
		TCs:        []int{1, 2},
		Complaints: nil,
	})
	if !a.Equal(b) || a.String() != b.String() {
		t.Fatalf("same sets, different states:\n%v\n%v", a, b)
	}
	if !strings.Contains(a.String(), "/\\ curView = (1 :> 2 @@ 2 :> 2 @@ 4 :> 2)") ||
		!strings.Contains(a.String(), "/\\ qcs = {<<>>, <<<<1, 0>>>>}") {
		t.Errorf("String():\n%s", a)
	}
	p := a.Parts()
	p.Replicas[0].Committed[0] = f // a copy: a must not change
	if !a.Equal(b) {
		t.Error("Parts aliases the state")
	}
	if _, err := Build(cfg, Parts{Replicas: []Replica{r(1), r(2)}}); err == nil {
		t.Error("Build accepted a missing replica")
	}
	if _, err := Build(cfg, Parts{Replicas: []Replica{r(1), r(2), r(3)}}); err == nil {
		t.Error("Build accepted the Byzantine replica")
	}
	c, _ := Build(cfg, Parts{Replicas: []Replica{r(1), r(2), r(4)}, Blocks: []Block{x}})
	d, _ := Build(cfg, Parts{Replicas: []Replica{r(1), r(2), r(4)}, QCs: []Block{x}})
	if c.Equal(d) {
		t.Error("blocks and QCs confused by the encoding")
	}
}
