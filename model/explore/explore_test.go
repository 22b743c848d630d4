package explore

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// counters is a toy spec: two counters x, y in 0..max, each incremented by
// its own action. Optional extras plant cycles, stutters and resets.
type counters struct {
	max      int
	stutter  bool // add a Skip action whose Next equals the state
	wrap     bool // add WrapX: x = max -> x = 0, which closes a cycle
	initBoth bool // two initial states, (0,0) and (0,1), plus a duplicate
}

type xy struct{ x, y int }

func (c counters) Init() []xy {
	if c.initBoth {
		return []xy{{0, 0}, {0, 1}, {0, 0}}
	}
	return []xy{{0, 0}}
}

func (c counters) Actions(s xy) []Transition[xy] {
	var ts []Transition[xy]
	if s.x < c.max {
		ts = append(ts, Transition[xy]{"IncX", xy{s.x + 1, s.y}})
	}
	if s.y < c.max {
		ts = append(ts, Transition[xy]{"IncY", xy{s.x, s.y + 1}})
	}
	if c.stutter {
		ts = append(ts, Transition[xy]{"Skip", s})
	}
	if c.wrap && s.x == c.max {
		ts = append(ts, Transition[xy]{"WrapX", xy{0, s.y}})
	}
	return ts
}

func (counters) Encode(dst []byte, s xy) []byte {
	return append(dst, byte(s.x), byte(s.y))
}

func (counters) Format(s xy) string { return fmt.Sprintf("/\\ x = %d\n/\\ y = %d", s.x, s.y) }

func mustCheck[S any](t *testing.T, spec Spec[S], opts Options[S]) Result[S] {
	t.Helper()
	res, err := Check(spec, opts)
	if err != nil {
		t.Fatalf("Check: %v", err)
	}
	return res
}

func TestCountsAndDepth(t *testing.T) {
	for _, tc := range []struct {
		spec          counters
		distinct, dep int
	}{
		{counters{max: 0}, 1, 1},
		{counters{max: 3}, 16, 7},
		{counters{max: 5, stutter: true}, 36, 11},
		// (0,1) is initial, so (max,max) is one step closer.
		{counters{max: 4, initBoth: true}, 25, 8},
	} {
		res := mustCheck[xy](t, tc.spec, Options[xy]{})
		if res.Distinct != tc.distinct || res.Depth != tc.dep || res.Violation != nil {
			t.Errorf("%+v: got distinct=%d depth=%d violation=%v, want %d, %d, none",
				tc.spec, res.Distinct, res.Depth, res.Violation, tc.distinct, tc.dep)
		}
	}
}

func TestInvariantShortestTrace(t *testing.T) {
	// x+y < 5 first fails at depth 6 (five increments); many longer paths
	// exist but breadth-first search must return a 6-state trace.
	spec := counters{max: 4, stutter: true}
	res := mustCheck[xy](t, spec, Options[xy]{Invariants: []Invariant[xy]{
		{"Small", func(s xy) bool { return s.x < 10 }},
		{"SumBelow5", func(s xy) bool { return s.x+s.y < 5 }},
	}})
	v := res.Violation
	if v == nil {
		t.Fatal("no violation found")
	}
	if v.Kind != KindInvariant || v.Name != "SumBelow5" || len(v.Trace) != 6 {
		t.Fatalf("got %v %q with %d states, want invariant SumBelow5 with 6:\n%s", v.Kind, v.Name, len(v.Trace), v)
	}
	if v.Trace[0].Label != InitialLabel || v.Trace[0].State != (xy{}) {
		t.Errorf("trace does not start in the initial state: %+v", v.Trace[0])
	}
	for k := 1; k < len(v.Trace); k++ {
		a, b := v.Trace[k-1].State, v.Trace[k].State
		want := map[string]xy{"IncX": {a.x + 1, a.y}, "IncY": {a.x, a.y + 1}}[v.Trace[k].Label]
		if b != want {
			t.Errorf("step %d: %q from %v to %v is not that action", k+1, v.Trace[k].Label, a, b)
		}
	}
	out := v.String()
	for _, frag := range []string{"Invariant SumBelow5 is violated", "State 1: <Initial predicate>\n/\\ x = 0\n/\\ y = 0", "State 6: <"} {
		if !strings.Contains(out, frag) {
			t.Errorf("trace text lacks %q:\n%s", frag, out)
		}
	}
	t.Logf("\n%s", out)
}

func TestInvariantOnInitialState(t *testing.T) {
	res := mustCheck[xy](t, counters{max: 2, initBoth: true}, Options[xy]{Invariants: []Invariant[xy]{
		{"YZero", func(s xy) bool { return s.y == 0 }},
	}})
	if v := res.Violation; v == nil || len(v.Trace) != 1 || v.Trace[0].State != (xy{0, 1}) {
		t.Fatalf("want a 1-state trace at (0,1), got %v", v)
	}
}

func TestLiveness(t *testing.T) {
	fairX := func(l string) bool { return l == "IncX" }
	// Only IncX is fair: x reaches max on every fair behaviour, y need not.
	res := mustCheck[xy](t, counters{max: 3, stutter: true}, Options[xy]{Liveness: &Liveness[xy]{
		Name: "XDone", Goal: func(s xy) bool { return s.x == 3 }, FairLabel: fairX,
	}})
	if res.Violation != nil || res.Distinct != 16 {
		t.Fatalf("XDone: got %d states, violation %v", res.Distinct, res.Violation)
	}
	res = mustCheck[xy](t, counters{max: 3, stutter: true}, Options[xy]{Liveness: &Liveness[xy]{
		Name: "YDone", Goal: func(s xy) bool { return s.y == 3 }, FairLabel: fairX,
		FairEnabled: func(s xy) bool { return s.x < 3 },
	}})
	v := res.Violation
	if v == nil || v.Kind != KindLiveness || v.Name != "YDone" {
		t.Fatalf("YDone: want a liveness violation, got %v", v)
	}
	// Shortest path to a fair-quiescent state (x = 3) with y < 3: IncX x3.
	if len(v.Trace) != 4 || v.Trace[3].State != (xy{3, 0}) {
		t.Fatalf("YDone: want the 4-state trace to (3,0), got\n%s", v)
	}
	if !strings.Contains(v.String(), "State 5: Stuttering") {
		t.Errorf("liveness trace should end in stuttering:\n%s", v)
	}
}

func TestCycleIsAnError(t *testing.T) {
	res, err := Check[xy](counters{max: 2, wrap: true}, Options[xy]{Liveness: &Liveness[xy]{
		Name: "XDone", Goal: func(s xy) bool { return s.x == 2 }, FairLabel: func(string) bool { return true },
	}})
	var ce *CycleError[xy]
	if !errors.As(err, &ce) {
		t.Fatalf("want a CycleError, got %v (violation %v)", err, res.Violation)
	}
	tr := ce.Trace
	if tr[len(tr)-1].State != tr[ce.LoopStart].State || len(tr)-1 <= ce.LoopStart {
		t.Fatalf("trace is not a lasso (loop start %d):\n%v", ce.LoopStart, err)
	}
	t.Logf("%v", err)
	// Self-loops are stutters, not cycles.
	if _, err := Check[xy](counters{max: 2, stutter: true}, Options[xy]{Liveness: &Liveness[xy]{
		Name: "XDone", Goal: func(s xy) bool { return s.x == 2 }, FairLabel: func(string) bool { return true },
	}}); err != nil {
		t.Fatalf("self-loops must be ignored: %v", err)
	}
}

func TestUnstableGoalIsAnError(t *testing.T) {
	// "x != 1" holds initially and IncX falsifies it.
	_, err := Check[xy](counters{max: 2}, Options[xy]{Liveness: &Liveness[xy]{
		Name: "NotOne", Goal: func(s xy) bool { return s.x != 1 }, FairLabel: func(string) bool { return true },
	}})
	var ge *GoalNotStableError[xy]
	if !errors.As(err, &ge) || len(ge.Trace) != 2 || ge.Trace[1].Label != "IncX" {
		t.Fatalf("want a GoalNotStableError on the step IncX, got %v", err)
	}
}

func TestFairnessMismatchIsAnError(t *testing.T) {
	_, err := Check[xy](counters{max: 2}, Options[xy]{Liveness: &Liveness[xy]{
		Name: "XDone", Goal: func(s xy) bool { return s.x == 2 }, FairLabel: func(l string) bool { return l == "IncX" },
		FairEnabled: func(s xy) bool { return s.x < 2 && s.y < 2 }, // wrong once y = 2
	}})
	var fe *FairnessMismatchError[xy]
	if !errors.As(err, &fe) || fe.FairEnabled || !fe.ByLabel {
		t.Fatalf("want a FairnessMismatchError, got %v", err)
	}
}

func TestDeadlock(t *testing.T) {
	res := mustCheck[xy](t, counters{max: 2}, Options[xy]{CheckDeadlock: true})
	if v := res.Violation; v == nil || v.Kind != KindDeadlock || len(v.Trace) != 5 || v.Trace[4].State != (xy{2, 2}) {
		t.Fatalf("want a deadlock at (2,2) after 4 steps, got %v", res.Violation)
	}
	res = mustCheck[xy](t, counters{max: 2, stutter: true}, Options[xy]{CheckDeadlock: true})
	if res.Violation != nil {
		t.Fatalf("a stutter step is not a deadlock: %v", res.Violation)
	}
}

func TestMaxStates(t *testing.T) {
	res, err := Check[xy](counters{max: 9}, Options[xy]{MaxStates: 10})
	if !errors.Is(err, ErrStateLimit) || res.Distinct != 10 {
		t.Fatalf("want ErrStateLimit after 10 states, got %v with %d", err, res.Distinct)
	}
	if _, err := Check[xy](counters{max: 3}, Options[xy]{MaxStates: 16}); err != nil {
		t.Fatalf("exactly MaxStates states must pass: %v", err)
	}
}

func TestBadOptions(t *testing.T) {
	for name, opts := range map[string]Options[xy]{
		"nil Holds":      {Invariants: []Invariant[xy]{{Name: "A"}}},
		"duplicate name": {Invariants: []Invariant[xy]{{"A", func(xy) bool { return true }}, {"A", func(xy) bool { return true }}}},
		"no fairness":    {Liveness: &Liveness[xy]{Name: "L", Goal: func(xy) bool { return true }}},
		"no goal":        {Liveness: &Liveness[xy]{Name: "L", FairLabel: func(string) bool { return true }}},
		"negative limit": {MaxStates: -1},
	} {
		if _, err := Check[xy](counters{max: 1}, opts); !errors.Is(err, ErrBadOptions) {
			t.Errorf("%s: want ErrBadOptions, got %v", name, err)
		}
	}
}

// mutex is a two-process lock. With atomic test-and-set it guarantees mutual
// exclusion; the planted bug splits the test from the set, the classic race.
type mutex struct{ racy bool }

type mstate struct {
	pc   [2]byte // 'i' idle, 't' tested the lock (racy version only), 'c' critical
	lock bool
}

func (mutex) Init() []mstate { return []mstate{{pc: [2]byte{'i', 'i'}}} }

func (m mutex) Actions(s mstate) []Transition[mstate] {
	var ts []Transition[mstate]
	for p := 0; p < 2; p++ {
		n := s
		switch {
		case s.pc[p] == 'i' && !s.lock && m.racy:
			n.pc[p] = 't'
			ts = append(ts, Transition[mstate]{fmt.Sprintf("Test(p=%d)", p+1), n})
		case s.pc[p] == 'i' && !s.lock:
			n.pc[p], n.lock = 'c', true
			ts = append(ts, Transition[mstate]{fmt.Sprintf("Acquire(p=%d)", p+1), n})
		case s.pc[p] == 't':
			n.pc[p], n.lock = 'c', true
			ts = append(ts, Transition[mstate]{fmt.Sprintf("Set(p=%d)", p+1), n})
		case s.pc[p] == 'c':
			n.pc[p], n.lock = 'i', false
			ts = append(ts, Transition[mstate]{fmt.Sprintf("Release(p=%d)", p+1), n})
		}
	}
	return ts
}

func (mutex) Encode(dst []byte, s mstate) []byte {
	l := byte(0)
	if s.lock {
		l = 1
	}
	return append(dst, s.pc[0], s.pc[1], l)
}

func (mutex) Format(s mstate) string {
	return fmt.Sprintf("/\\ pc = <<%q, %q>>\n/\\ lock = %v", s.pc[0], s.pc[1], s.lock)
}

func TestPlantedBugIsCaught(t *testing.T) {
	excl := []Invariant[mstate]{{"MutualExclusion", func(s mstate) bool { return s.pc[0] != 'c' || s.pc[1] != 'c' }}}
	res := mustCheck[mstate](t, mutex{}, Options[mstate]{Invariants: excl})
	if res.Violation != nil || res.Distinct != 3 {
		t.Fatalf("correct lock: want 3 states and no violation, got %d, %v", res.Distinct, res.Violation)
	}
	res = mustCheck[mstate](t, mutex{racy: true}, Options[mstate]{Invariants: excl})
	v := res.Violation
	if v == nil || v.Name != "MutualExclusion" {
		t.Fatalf("planted race not caught: %+v", res)
	}
	// Test, Test, Set, Set: both processes pass the test before either sets.
	if len(v.Trace) != 5 {
		t.Fatalf("want a 5-state trace, got\n%s", v)
	}
	t.Logf("planted bug caught as expected:\n%s", v)
}

func TestFingerprintDistinguishesEncodings(t *testing.T) {
	if FingerprintOf([]byte{1, 2}) == FingerprintOf([]byte{2, 1}) || FingerprintOf(nil) != FingerprintOf([]byte{}) {
		t.Fatal("fingerprint must depend on the bytes and only on them")
	}
}
