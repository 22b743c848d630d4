// Package explore is a generic explicit-state model checker: the Go
// counterpart of TLC for the specifications in model/ (BRIEF §5 item 2).
//
// A Spec gives the initial states, the enabled transitions of a state, a
// canonical byte encoding and a printer. Check explores the reachable state
// graph breadth-first, as TLC does with one worker:
//
//   - "distinct states" has TLC's meaning: every reachable state counted once,
//     initial states included;
//   - Depth is TLC's "depth of the complete state graph search": the number of
//     states on the longest of the shortest paths from an initial state
//     (a graph with only initial states has depth 1);
//   - every invariant is checked on every state when it is first found,
//     initial states included, and the first violation stops the search.
//     Because states are found in breadth-first order, the trace returned
//     (rebuilt from parent pointers) is a shortest counterexample, so its
//     length equals the length of TLC's breadth-first trace.
//
// # Fingerprints
//
// States are deduplicated by a 128-bit fingerprint: the first 16 bytes of the
// SHA-256 digest of the spec's canonical encoding. TLC uses 64-bit polynomial
// fingerprints; with N states the chance that two distinct states collide
// (and one is silently never explored) is about N²/2^65 for 64 bits, and
// about N²/2^129 for 128 bits: below 10^-20 even for 10^9 states. SHA-256 is
// fixed and unseeded, so runs are reproducible, and its cost is negligible
// next to computing successors for the model sizes we check.
//
// # Liveness
//
// Liveness is checked only for specs whose every behaviour takes finitely
// many non-stuttering steps (for example specs whose actions only add
// elements to finite sets). Then a weakly fair behaviour eventually stutters
// forever in a state where no fair action is enabled, a "fair-quiescent"
// state, and every path to such a state followed by stuttering is a fair
// behaviour. So, for a goal that is stable (once true it stays true),
// "eventually goal" holds under weak fairness iff the goal holds in every
// reachable fair-quiescent state. Check verifies both premises instead of
// trusting them: it reports a CycleError if the graph has a cycle of
// non-stuttering steps and a GoalNotStableError if a step falsifies the goal.
// A self-loop (a transition to an identical state) is a stutter and ignored.
// The counterexample is a shortest path to a fair-quiescent state that
// violates the goal, followed by stuttering forever.
package explore

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Transition is one enabled step out of a state.
type Transition[S any] struct {
	// Label names the action instance, e.g. "CastVote(m=1, s=1, v=2)".
	Label string
	// Next is the successor state.
	Next S
}

// Spec is a state machine to explore. Implementations must be deterministic:
// the same state always yields the same transitions in the same order.
type Spec[S any] interface {
	// Init returns the initial states.
	Init() []S
	// Actions returns every enabled transition of s. It must not modify s.
	Actions(s S) []Transition[S]
	// Encode appends a canonical encoding of s to dst: two states are equal
	// iff their encodings are equal.
	Encode(dst []byte, s S) []byte
	// Format prints s for counterexample traces, e.g. "/\ x = 1\n/\ y = 2".
	Format(s S) string
}

// Invariant is a named state predicate that must hold in every reachable state.
type Invariant[S any] struct {
	Name  string
	Holds func(S) bool
}

// Liveness asks whether Goal eventually holds on every weakly fair
// behaviour (see the package doc for the conditions under which this check
// is exact, which Check verifies).
type Liveness[S any] struct {
	// Name is the temporal property's name, e.g. "Termination".
	Name string
	// Goal is the stable state predicate that must eventually hold.
	Goal func(S) bool
	// FairLabel reports whether a transition label belongs to a weakly fair
	// action. A fair action is enabled in s iff some non-stuttering
	// transition out of s has a fair label.
	FairLabel func(label string) bool
	// FairEnabled reports whether some fair action is enabled in s. If both
	// FairLabel and FairEnabled are set, Check verifies that they agree in
	// every state (a cross-check of the spec's enabling conditions) and
	// reports a FairnessMismatchError if they do not.
	FairEnabled func(S) bool
}

// Options configures Check, like a TLC model configuration.
type Options[S any] struct {
	// Invariants are checked, in order, on every state.
	Invariants []Invariant[S]
	// Liveness, if not nil, is checked after the whole graph is explored.
	Liveness *Liveness[S]
	// CheckDeadlock reports a state with no transitions at all as a
	// violation (TLC's default; off here because our specs terminate).
	CheckDeadlock bool
	// MaxStates stops the search with ErrStateLimit once more than this many
	// distinct states are found. 0 means no limit.
	MaxStates int
}

// Kind says what a Violation violates.
type Kind int

// Kinds of violation.
const (
	KindInvariant Kind = iota + 1
	KindLiveness
	KindDeadlock
)

func (k Kind) String() string {
	switch k {
	case KindInvariant:
		return "invariant"
	case KindLiveness:
		return "liveness"
	case KindDeadlock:
		return "deadlock"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// InitialLabel is the label of the first step of every trace, as TLC prints it.
const InitialLabel = "Initial predicate"

// Step is one state of a trace and the transition that reached it.
type Step[S any] struct {
	// Label is the transition taken into State; InitialLabel for the first.
	Label string
	State S
	// Text is State printed by Spec.Format.
	Text string
}

// Violation is a counterexample.
type Violation[S any] struct {
	Kind Kind
	// Name is the violated invariant or property ("Deadlock" for deadlocks).
	Name string
	// Trace is a shortest behaviour prefix from an initial state to the bad
	// state. For liveness the behaviour continues by stuttering forever in
	// the last state.
	Trace []Step[S]
}

// String prints the counterexample in TLC's style.
func (v *Violation[S]) String() string {
	var b strings.Builder
	switch v.Kind {
	case KindInvariant:
		fmt.Fprintf(&b, "Error: Invariant %s is violated.\n", v.Name)
	case KindLiveness:
		fmt.Fprintf(&b, "Error: Temporal property %s is violated: no fair action is enabled in the last state and the goal does not hold.\n", v.Name)
	case KindDeadlock:
		b.WriteString("Error: Deadlock reached.\n")
	}
	b.WriteString("Error: The behavior up to this point is:\n")
	writeTrace(&b, v.Trace)
	if v.Kind == KindLiveness {
		fmt.Fprintf(&b, "State %d: Stuttering\n", len(v.Trace)+1)
	}
	return b.String()
}

func writeTrace[S any](b *strings.Builder, trace []Step[S]) {
	for i, st := range trace {
		fmt.Fprintf(b, "State %d: <%s>\n%s\n\n", i+1, st.Label, st.Text)
	}
}

// Result summarises a run of Check.
type Result[S any] struct {
	// Distinct is the number of distinct reachable states found (TLC's
	// "distinct states found"); complete unless a violation or an error
	// stopped the search.
	Distinct int
	// Depth is the number of states on the longest shortest path from an
	// initial state (TLC's "depth of the complete state graph search").
	Depth int
	// Transitions counts the transitions computed, initial states included.
	// It is not comparable with TLC's "states generated", which also counts
	// the duplicates produced by TLC's enumeration of quantifiers.
	Transitions int
	// Violation is the first violation found, or nil.
	Violation *Violation[S]
	Duration  time.Duration
}

// Fingerprint identifies a state by its canonical encoding (see package doc).
type Fingerprint [16]byte

// FingerprintOf returns the fingerprint of a canonical encoding.
func FingerprintOf(enc []byte) Fingerprint {
	sum := sha256.Sum256(enc)
	var fp Fingerprint
	copy(fp[:], sum[:])
	return fp
}

// ErrStateLimit is returned (wrapped) when Options.MaxStates is exceeded.
var ErrStateLimit = errors.New("explore: state limit exceeded")

// ErrBadOptions is returned (wrapped) for unusable options.
var ErrBadOptions = errors.New("explore: bad options")

// CycleError reports a cycle of non-stuttering steps, which makes the
// liveness reduction unsound. Trace is a shortest path to the cycle's first
// state followed by the cycle; its last state equals Trace[LoopStart].
type CycleError[S any] struct {
	Property  string
	Trace     []Step[S]
	LoopStart int
}

func (e *CycleError[S]) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "explore: cannot check %s: the state graph has a cycle of %d non-stuttering steps (back to state %d); liveness is only checked for specs without such cycles\n",
		e.Property, len(e.Trace)-1-e.LoopStart, e.LoopStart+1)
	writeTrace(&b, e.Trace)
	return b.String()
}

// GoalNotStableError reports a step from a state satisfying the liveness
// goal to one that does not; the last two states of Trace are that step.
type GoalNotStableError[S any] struct {
	Property string
	Trace    []Step[S]
}

func (e *GoalNotStableError[S]) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "explore: cannot check %s: its goal is not stable (the last step below falsifies it)\n", e.Property)
	writeTrace(&b, e.Trace)
	return b.String()
}

// FairnessMismatchError reports a state where Liveness.FairEnabled and the
// fair transition labels disagree.
type FairnessMismatchError[S any] struct {
	Property    string
	FairEnabled bool // what FairEnabled said
	ByLabel     bool // whether a non-stuttering transition has a fair label
	Trace       []Step[S]
}

func (e *FairnessMismatchError[S]) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "explore: %s: FairEnabled = %v but fair-labelled transitions enabled = %v in the last state below\n",
		e.Property, e.FairEnabled, e.ByLabel)
	writeTrace(&b, e.Trace)
	return b.String()
}

// checker holds the explored graph. States are numbered in the order found,
// which is breadth-first order, so a smaller index never has a larger depth.
type checker[S any] struct {
	spec   Spec[S]
	opts   Options[S]
	states []S
	fps    []Fingerprint
	parent []int32
	depth  []int32
	index  map[Fingerprint]int32
	buf    []byte

	// Liveness only: non-stuttering edges in CSR form, goal and quiescence.
	edgeStart []int32
	edgeTo    []int32
	goal      []bool
	quiescent []bool
}

func validate[S any](opts Options[S]) error {
	seen := map[string]bool{}
	for i, inv := range opts.Invariants {
		if inv.Name == "" || inv.Holds == nil {
			return fmt.Errorf("%w: invariant %d needs a Name and Holds", ErrBadOptions, i)
		}
		if seen[inv.Name] {
			return fmt.Errorf("%w: invariant %q listed twice", ErrBadOptions, inv.Name)
		}
		seen[inv.Name] = true
	}
	if l := opts.Liveness; l != nil {
		if l.Name == "" || l.Goal == nil {
			return fmt.Errorf("%w: liveness needs a Name and a Goal", ErrBadOptions)
		}
		if l.FairLabel == nil && l.FairEnabled == nil {
			return fmt.Errorf("%w: liveness %q needs FairLabel or FairEnabled", ErrBadOptions, l.Name)
		}
	}
	if opts.MaxStates < 0 {
		return fmt.Errorf("%w: MaxStates %d < 0", ErrBadOptions, opts.MaxStates)
	}
	if opts.MaxStates > 1<<31-2 {
		return fmt.Errorf("%w: MaxStates %d too large", ErrBadOptions, opts.MaxStates)
	}
	return nil
}

// Check explores every state reachable in spec, checking opts. It returns an
// error, with the partial Result, when the search cannot give a verdict
// (ErrStateLimit, CycleError, GoalNotStableError, FairnessMismatchError,
// ErrBadOptions); a violation is a verdict, reported in Result.Violation
// with a nil error.
func Check[S any](spec Spec[S], opts Options[S]) (Result[S], error) {
	start := time.Now()
	var res Result[S]
	if err := validate(opts); err != nil {
		return res, err
	}
	c := &checker[S]{spec: spec, opts: opts, index: map[Fingerprint]int32{}}
	err := c.run(&res)
	res.Distinct = len(c.states)
	res.Duration = time.Since(start)
	return res, err
}

func (c *checker[S]) fingerprint(s S) Fingerprint {
	c.buf = c.spec.Encode(c.buf[:0], s)
	return FingerprintOf(c.buf)
}

// add records a newly found state; it reports the invariant it violates, if any.
func (c *checker[S]) add(s S, fp Fingerprint, parent int32, depth int32) (int32, *Invariant[S], error) {
	if c.opts.MaxStates > 0 && len(c.states) >= c.opts.MaxStates {
		return 0, nil, fmt.Errorf("%w: more than %d distinct states", ErrStateLimit, c.opts.MaxStates)
	}
	i := int32(len(c.states))
	c.states = append(c.states, s)
	c.fps = append(c.fps, fp)
	c.parent = append(c.parent, parent)
	c.depth = append(c.depth, depth)
	c.index[fp] = i
	for k := range c.opts.Invariants {
		if !c.opts.Invariants[k].Holds(s) {
			return i, &c.opts.Invariants[k], nil
		}
	}
	return i, nil, nil
}

func (c *checker[S]) run(res *Result[S]) error {
	live := c.opts.Liveness
	violation := func(kind Kind, name string, at int32) {
		res.Violation = &Violation[S]{Kind: kind, Name: name, Trace: c.trace(at)}
	}
	for _, s := range c.spec.Init() {
		res.Transitions++
		fp := c.fingerprint(s)
		if _, ok := c.index[fp]; ok {
			continue
		}
		i, bad, err := c.add(s, fp, -1, 1)
		if err != nil {
			return err
		}
		res.Depth = 1
		if bad != nil {
			violation(KindInvariant, bad.Name, i)
			return nil
		}
	}
	if live != nil {
		c.edgeStart = append(c.edgeStart, 0)
	}
	for i := int32(0); int(i) < len(c.states); i++ {
		s := c.states[i]
		trs := c.spec.Actions(s)
		fairByLabel := false
		for _, t := range trs {
			res.Transitions++
			fp := c.fingerprint(t.Next)
			if fp == c.fps[i] {
				continue // stutter
			}
			if live != nil && live.FairLabel != nil && live.FairLabel(t.Label) {
				fairByLabel = true
			}
			j, ok := c.index[fp]
			if !ok {
				var bad *Invariant[S]
				var err error
				j, bad, err = c.add(t.Next, fp, i, c.depth[i]+1)
				if err != nil {
					return err
				}
				if d := int(c.depth[j]); d > res.Depth {
					res.Depth = d
				}
				if bad != nil {
					violation(KindInvariant, bad.Name, j)
					return nil
				}
			}
			if live != nil {
				c.edgeTo = append(c.edgeTo, j)
			}
		}
		if c.opts.CheckDeadlock && len(trs) == 0 {
			violation(KindDeadlock, "Deadlock", i)
			return nil
		}
		if live != nil {
			c.edgeStart = append(c.edgeStart, int32(len(c.edgeTo)))
			enabled := fairByLabel
			if live.FairEnabled != nil {
				enabled = live.FairEnabled(s)
				if live.FairLabel != nil && enabled != fairByLabel {
					return &FairnessMismatchError[S]{Property: live.Name, FairEnabled: enabled, ByLabel: fairByLabel, Trace: c.trace(i)}
				}
			}
			c.quiescent = append(c.quiescent, !enabled)
			c.goal = append(c.goal, live.Goal(s))
		}
	}
	if live == nil {
		return nil
	}
	return c.checkLiveness(res)
}

func (c *checker[S]) checkLiveness(res *Result[S]) error {
	live := c.opts.Liveness
	if err := c.findCycle(); err != nil {
		return err
	}
	for u := range c.states {
		if !c.goal[u] {
			continue
		}
		for _, v := range c.edgeTo[c.edgeStart[u]:c.edgeStart[u+1]] {
			if !c.goal[v] {
				trace := append(c.trace(int32(u)), c.step(int32(u), v))
				return &GoalNotStableError[S]{Property: live.Name, Trace: trace}
			}
		}
	}
	// Index order is breadth-first order: the first violating state found
	// has the shortest path.
	for u := range c.states {
		if c.quiescent[u] && !c.goal[u] {
			res.Violation = &Violation[S]{Kind: KindLiveness, Name: live.Name, Trace: c.trace(int32(u))}
			return nil
		}
	}
	return nil
}

// findCycle runs an iterative depth-first search over non-stuttering edges.
func (c *checker[S]) findCycle() error {
	const (
		white = iota
		grey
		black
	)
	color := make([]uint8, len(c.states))
	type frame struct{ node, next int32 }
	var stack []frame
	for root := range c.states {
		if color[root] != white {
			continue
		}
		color[root] = grey
		stack = append(stack[:0], frame{int32(root), c.edgeStart[root]})
		for len(stack) > 0 {
			top := &stack[len(stack)-1]
			if top.next == c.edgeStart[top.node+1] {
				color[top.node] = black
				stack = stack[:len(stack)-1]
				continue
			}
			v := c.edgeTo[top.next]
			top.next++
			switch color[v] {
			case white:
				color[v] = grey
				stack = append(stack, frame{v, c.edgeStart[v]})
			case grey:
				// Back edge: the stack from v to the top is a cycle.
				k := len(stack) - 1
				for stack[k].node != v {
					k--
				}
				trace := c.trace(v)
				loopStart := len(trace) - 1
				for ; k < len(stack)-1; k++ {
					trace = append(trace, c.step(stack[k].node, stack[k+1].node))
				}
				trace = append(trace, c.step(stack[len(stack)-1].node, v))
				return &CycleError[S]{Property: c.opts.Liveness.Name, Trace: trace, LoopStart: loopStart}
			}
		}
	}
	return nil
}

// step rebuilds the step u -> v: the first transition of u reaching v, which
// for a parent edge is the transition that found v.
func (c *checker[S]) step(u, v int32) Step[S] {
	if u < 0 {
		return Step[S]{Label: InitialLabel, State: c.states[v], Text: c.spec.Format(c.states[v])}
	}
	label := "?"
	for _, t := range c.spec.Actions(c.states[u]) {
		if c.fingerprint(t.Next) == c.fps[v] {
			label = t.Label
			break
		}
	}
	return Step[S]{Label: label, State: c.states[v], Text: c.spec.Format(c.states[v])}
}

// trace returns the shortest path found to state i, following parents.
func (c *checker[S]) trace(i int32) []Step[S] {
	var path []int32
	for j := i; j >= 0; j = c.parent[j] {
		path = append(path, j)
	}
	steps := make([]Step[S], 0, len(path))
	prev := int32(-1)
	for k := len(path) - 1; k >= 0; k-- {
		steps = append(steps, c.step(prev, path[k]))
		prev = path[k]
	}
	return steps
}
