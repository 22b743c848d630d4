package pacemaker

import (
	"fmt"
	"strings"
	"testing"
)

// Witnesses: behaviours, too long for an exhaustive search, in which two
// honest replicas commit conflicting blocks. Each is replayed step by step
// through the successor relation, so it is a behaviour of the model.

func recvL(r int, b Block) string    { return fmt.Sprintf("ReceiveProposal(r=%d, b=%s)", r, b) }
func formQCL(r int, b Block) string  { return fmt.Sprintf("FormQC(r=%d, b=%s)", r, b) }
func newViewL(r int, b Block) string { return fmt.Sprintf("ReceiveNewView(r=%d, b=%s)", r, b) }
func nextViewL(r, v int) string      { return fmt.Sprintf("ReceiveNextView(r=%d, v=%d)", r, v) }
func timeoutL(r int) string          { return fmt.Sprintf("Timeout(r=%d)", r) }
func formTCL(r, v int) string        { return fmt.Sprintf("FormTC(r=%d, v=%d)", r, v) }
func byzQCL(r int, b Block) string   { return fmt.Sprintf("ByzantineFormQC(r=%d, b=%s)", r, b) }
func byzTCL(r, v int) string         { return fmt.Sprintf("ByzantineFormTC(r=%d, v=%d)", r, v) }
func byzProposeL(r, v int, p, j Block) string {
	return fmt.Sprintf("ByzantinePropose(r=%d, v=%d, parent=%s, justify=%s)", r, v, p, j)
}

// replay runs the labelled steps from Init under mut. It returns the final
// state and the number of steps taken, stopping at the first label that is
// not an enabled step.
func replay(cfg Config, mut Mutations, labels []string) (State, int, string) {
	m := newMachine(cfg, mut, false)
	s := Init(cfg)
	for i, l := range labels {
		var next *State
		var enabled []string
		for _, n := range m.successors(s) {
			enabled = append(enabled, n.Label)
			if n.Label == l {
				next = &n.Next
			}
		}
		if next == nil {
			return s, i, fmt.Sprintf("step %d %s is not enabled; enabled:\n  %s", i+1, l, strings.Join(enabled, "\n  "))
		}
		s = *next
	}
	return s, len(labels), ""
}

// witness replays labels under mut, requires every step to be enabled and
// NoConflictingCommits to hold until the last step and fail there (it logs
// the first step at which each other invariant fails). Under a mutation it
// then replays the labels in the correct model, which must either refuse a
// step or end with no conflicting commits; it returns the number of steps
// the correct model takes.
func witness(t *testing.T, cfg Config, mut Mutations, labels []string) int {
	t.Helper()
	s, n, why := replay(cfg, mut, nil)
	reported := map[string]bool{}
	for i, l := range labels {
		if s, n, why = replay(cfg, mut, labels[:i+1]); n <= i {
			t.Fatal(why)
		}
		last := i == len(labels)-1
		if NoConflictingCommits(cfg, s) == last {
			t.Fatalf("after step %d (%s) NoConflictingCommits = %v\n%v", i+1, l, !last, s)
		}
		for _, name := range InvariantNames {
			if !reported[name] && name != "NoConflictingCommits" && !invariantFuncs[name](cfg, s) {
				reported[name] = true
				t.Logf("%s fails first after step %d (%s)", name, i+1, l)
			}
		}
	}
	var committed []string
	for _, r := range s.reps {
		if len(r.Committed) > 0 {
			committed = append(committed, fmt.Sprintf("replica %d: %v", r.ID, r.Committed))
		}
	}
	t.Logf("%d steps; committed: %s", len(labels), strings.Join(committed, "; "))
	if mut == (Mutations{}) {
		return len(labels)
	}
	good, n, why := replay(cfg, Mutations{}, labels)
	switch {
	case n < len(labels):
		t.Logf("without the mutation: %s", strings.SplitN(why, ";", 2)[0])
	case !NoConflictingCommits(cfg, good):
		t.Fatal("the correct model commits conflicting blocks too")
	default:
		t.Logf("without the mutation every step is taken and nothing conflicting is committed")
	}
	return n
}

// PM-30: at the fault bound (n = 5, q = 3, b = 1 = 2q − n) two honest
// replicas commit conflicting blocks. Replicas 3 and 4 vote for view 3's
// block and lock on view 1's; the Byzantine leader of view 4 (replica 5)
// shows replica 4 a block that commits view 1's block, and shows replicas 1
// and 2, which never saw view 3's block and are locked on genesis, a block
// forked from genesis. Their two votes and the Byzantine one make a QC, and
// views 5, 6 and 7 commit the fork. With n = 4 the same QC would need a
// vote from a replica locked on view 1's block.
func TestWitnessConflictAtFaultBound(t *testing.T) {
	cfg := Config{seq(1, 5), []int{5}, nil, 3, 7, nil}
	g := Genesis
	x := g.Child(1, g)
	y := x.Child(2, x)
	z := y.Child(3, y)
	w := z.Child(4, z)
	a := g.Child(4, g) // the fork
	c := a.Child(5, a)
	d := c.Child(6, c)
	e := d.Child(7, d)
	witness(t, cfg, Mutations{}, []string{
		recvL(1, x), recvL(2, x), recvL(4, x), recvL(3, x), formQCL(3, x), // y proposed
		recvL(1, y), recvL(2, y), recvL(3, y), recvL(4, y), formQCL(4, y), // z proposed
		recvL(3, z), recvL(4, z), // 3 and 4 lock on x
		byzQCL(5, z), byzProposeL(5, 4, z, z), byzProposeL(5, 4, g, g),
		recvL(4, w),                    // 4 commits x
		newViewL(1, z), newViewL(2, z), // catch-up to view 4, locks still genesis
		recvL(1, a), recvL(2, a), formQCL(1, a), // c proposed
		recvL(3, a),
		recvL(4, c), recvL(2, c), formQCL(2, c), // d proposed
		recvL(4, d), recvL(3, c), recvL(3, d), formQCL(3, d), // e proposed
		recvL(3, e), // 3 commits a, which conflicts with x
	})
}

// LockDoesNotMove on n = 4, b = 1: the attack above needs two unlocked
// honest replicas; with locks that never move, replica 3, which voted for
// view 3's block, votes for the fork too.
func TestWitnessLockDoesNotMove(t *testing.T) {
	cfg := Config{seq(1, 4), []int{1}, nil, 3, 7, nil}
	g := Genesis
	x := g.Child(1, g)
	y := x.Child(2, x)
	z := y.Child(3, y)
	w := z.Child(4, z)
	a := g.Child(4, g)
	c := a.Child(5, a)
	d := c.Child(6, c)
	e := d.Child(7, d)
	n := witness(t, cfg, Mutations{LockDoesNotMove: true}, []string{
		recvL(2, x), recvL(4, x), recvL(3, x), formQCL(3, x),
		recvL(2, y), recvL(3, y), recvL(4, y), formQCL(4, y),
		recvL(3, z), recvL(4, z),
		byzQCL(1, z), byzProposeL(1, 4, z, z), byzProposeL(1, 4, g, g),
		recvL(4, w), // 4 commits x
		newViewL(2, z),
		recvL(2, a), recvL(3, a), // 3 votes for the fork: its lock is still genesis
		formQCL(2, a),
		recvL(3, c), recvL(4, c), formQCL(3, c),
		recvL(4, d), recvL(2, c), recvL(2, d), formQCL(4, d),
		recvL(2, e), // 2 commits a
	})
	if n != 17 { // formQCL(2, a) lacks replica 3's vote
		t.Errorf("the correct model stops at step %d, want 18", n+1)
	}
}

// NoConsecutiveCheck on n = 4, b = 1: view 2's Byzantine leader forks from
// genesis (x'); view 2 times out, so view 3 extends view 1's block with a
// gap, and the gapped 3-chain 4 <- 3 <- 1 commits view 1's block at
// replica 2. Replicas 1 and 4, locked on view 1's block, then vote for the
// Byzantine leader's view-6 block on x' (its QC, view 2, is higher than
// their lock), and the gapped chain 7 <- 6 <- 2 commits x' at replica 4.
func TestWitnessNoConsecutiveCheck(t *testing.T) {
	cfg := Config{seq(1, 4), []int{3}, nil, 3, 8, []int{2, 5}}
	g := Genesis
	x := g.Child(1, g)
	xf := g.Child(2, g) // x'
	y := x.Child(3, x)
	z := y.Child(4, y)
	a := xf.Child(6, xf)
	c := a.Child(7, a)
	n := witness(t, cfg, Mutations{NoConsecutiveCheck: true}, []string{
		recvL(1, x), recvL(2, x), recvL(4, x), byzQCL(3, x),
		byzProposeL(3, 2, g, g), recvL(1, xf), recvL(4, xf),
		timeoutL(4), timeoutL(2), newViewL(4, x), formTCL(4, 2), // y proposed on x
		nextViewL(2, 2),
		recvL(1, y), recvL(2, y), recvL(4, y), formQCL(1, y), // z proposed
		recvL(4, z), recvL(2, z), formQCL(2, z), // w proposed
		recvL(2, z.Child(5, z)), // 2 commits x on a gapped chain
		byzQCL(3, xf), byzProposeL(3, 6, xf, xf),
		recvL(1, z), timeoutL(1), timeoutL(4), byzTCL(3, 5), nextViewL(1, 5), nextViewL(4, 5),
		recvL(1, a), recvL(4, a), formQCL(4, a), // c proposed
		recvL(1, c), recvL(4, c), formQCL(1, c), // d proposed
		recvL(4, c.Child(8, c)), // 4 commits x', which conflicts with x
	})
	if n != 35 { // commits only change: receiving w and the last block commit nothing
		t.Errorf("the correct model stops at step %d", n+1)
	}
}
