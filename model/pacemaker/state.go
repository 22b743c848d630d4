package pacemaker

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"slices"
	"strings"
)

// Replica is one honest replica's variables: curView, vheight, bLock,
// qcHigh and committed[r] of tla/Pacemaker.tla. A refinement test maps an
// implementation replica to this.
type Replica struct {
	ID      int
	CurView int   // curView[r] (PM-13)
	VHeight int   // vheight[r]: height of the last block voted for (PM-5)
	BLock   Block // bLock[r] (PM-6)
	QCHigh  Block // qcHigh[r]: the block of the highest known QC (PM-12)
	// Committed is committed[r] (PM-7), sorted; it contains every ancestor
	// of a committed block except genesis.
	Committed []Block
}

// Vote is <<r, b>> in votes: honest replica Replica voted for Block.
type Vote struct {
	Replica int
	Block   Block
}

// Complaint is <<r, v>> in complaints: honest replica Replica complained
// in View (PM-15).
type Complaint struct{ Replica, View int }

func cmpVote(a, b Vote) int {
	return cmp.Or(cmp.Compare(a.Replica, b.Replica), strings.Compare(string(a.Block), string(b.Block)))
}

func cmpComplaint(a, b Complaint) int {
	return cmp.Or(cmp.Compare(a.Replica, b.Replica), cmp.Compare(a.View, b.View))
}

// State is a state of tla/Pacemaker.tla. It is an immutable value: every
// set is a sorted slice without duplicates that is never modified after the
// state is built, so successors share the slices they do not change.
// Compare states with Equal.
type State struct {
	reps       []Replica // honest replicas (Silent ones included), by ID
	blocks     []Block
	votes      []Vote
	complaints []Complaint
	qcs        []Block // includes Genesis
	tcs        []int
	// violated records the action properties (LockMonotonic,
	// ViewMonotonic) that the step into this state broke. Only the explorer
	// adapter sets it, to check action properties as state invariants; it
	// is zero in every state of a correct model.
	violated uint8
}

const (
	violLock uint8 = 1 << iota
	violView
)

// Parts lists a state's variables; Build turns it into a State. Order and
// duplicates in the slices do not matter.
type Parts struct {
	Replicas   []Replica
	Blocks     []Block
	Votes      []Vote
	Complaints []Complaint
	QCs        []Block // Genesis is added if missing
	TCs        []int
}

// Build returns the state with the given variables, canonicalised. cfg is
// used only to check that there is one Replica per honest replica; values
// outside the config's ranges are kept, so that TypeOK can report them.
func Build(cfg Config, p Parts) (State, error) {
	honest := cfg.Honest()
	if len(p.Replicas) != len(honest) {
		return State{}, fmt.Errorf("pacemaker: %d replicas given, the config has %d honest ones", len(p.Replicas), len(honest))
	}
	reps := slices.Clone(p.Replicas)
	slices.SortFunc(reps, func(a, b Replica) int { return cmp.Compare(a.ID, b.ID) })
	for i := range reps {
		if reps[i].ID != honest[i] {
			return State{}, fmt.Errorf("pacemaker: replica %d given, want the honest replicas %v", reps[i].ID, honest)
		}
		reps[i].Committed = sortedSet(reps[i].Committed, cmpBlock)
	}
	qcs := append(slices.Clone(p.QCs), Genesis)
	return State{
		reps:       reps,
		blocks:     sortedSet(p.Blocks, cmpBlock),
		votes:      sortedSet(p.Votes, cmpVote),
		complaints: sortedSet(p.Complaints, cmpComplaint),
		qcs:        sortedSet(qcs, cmpBlock),
		tcs:        sortedSet(p.TCs, cmp.Compare),
	}, nil
}

func sortedSet[T any](xs []T, c func(a, b T) int) []T {
	out := slices.Clone(xs)
	slices.SortFunc(out, c)
	return slices.CompactFunc(out, func(a, b T) bool { return c(a, b) == 0 })
}

// Parts returns copies of s's variables.
func (s State) Parts() Parts {
	reps := slices.Clone(s.reps)
	for i := range reps {
		reps[i].Committed = slices.Clone(reps[i].Committed)
	}
	return Parts{
		Replicas:   reps,
		Blocks:     slices.Clone(s.blocks),
		Votes:      slices.Clone(s.votes),
		Complaints: slices.Clone(s.complaints),
		QCs:        slices.Clone(s.qcs),
		TCs:        slices.Clone(s.tcs),
	}
}

// Replica returns honest replica id's variables (a copy).
func (s State) Replica(id int) (Replica, bool) {
	i, ok := s.repIndex(id)
	if !ok {
		return Replica{}, false
	}
	r := s.reps[i]
	r.Committed = slices.Clone(r.Committed)
	return r, true
}

func (s State) repIndex(id int) (int, bool) {
	return slices.BinarySearchFunc(s.reps, id, func(r Replica, id int) int { return cmp.Compare(r.ID, id) })
}

// Blocks returns every proposed block, sorted.
func (s State) Blocks() []Block { return slices.Clone(s.blocks) }

// QCs returns the blocks with a QC, genesis included, sorted.
func (s State) QCs() []Block { return slices.Clone(s.qcs) }

// TCs returns the views with a TC, sorted.
func (s State) TCs() []int { return slices.Clone(s.tcs) }

// Votes returns the honest votes, sorted.
func (s State) Votes() []Vote { return slices.Clone(s.votes) }

// Complaints returns the honest complaints, sorted.
func (s State) Complaints() []Complaint { return slices.Clone(s.complaints) }

func (s State) hasBlock(b Block) bool {
	_, ok := slices.BinarySearch(s.blocks, b)
	return ok
}

func (s State) hasQC(b Block) bool {
	_, ok := slices.BinarySearch(s.qcs, b)
	return ok
}

func (s State) hasTC(v int) bool {
	_, ok := slices.BinarySearch(s.tcs, v)
	return ok
}

func (s State) hasVote(v Vote) bool {
	_, ok := slices.BinarySearchFunc(s.votes, v, cmpVote)
	return ok
}

func (s State) hasComplaint(c Complaint) bool {
	_, ok := slices.BinarySearchFunc(s.complaints, c, cmpComplaint)
	return ok
}

// insert returns the sorted set xs with x added; xs is not modified.
func insert[T any](xs []T, x T, c func(a, b T) int) []T {
	i, found := slices.BinarySearchFunc(xs, x, c)
	if found {
		return xs
	}
	out := make([]T, 0, len(xs)+1)
	out = append(out, xs[:i]...)
	out = append(out, x)
	return append(out, xs[i:]...)
}

// withReplica returns s with honest replica index i replaced by r.
func (s State) withReplica(i int, r Replica) State {
	reps := slices.Clone(s.reps)
	reps[i] = r
	s.reps = reps
	return s
}

// Equal reports whether s and t are the same state.
func (s State) Equal(t State) bool { return string(s.encode(nil)) == string(t.encode(nil)) }

func appendBlock(dst []byte, b Block) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(b)))
	return append(dst, b...)
}

func appendInt(dst []byte, x int) []byte { return binary.AppendVarint(dst, int64(x)) }

// encode appends the canonical encoding: every field with its length.
func (s State) encode(dst []byte) []byte {
	dst = append(dst, s.violated)
	dst = appendInt(dst, len(s.reps))
	for _, r := range s.reps {
		dst = appendInt(dst, r.ID)
		dst = appendInt(dst, r.CurView)
		dst = appendInt(dst, r.VHeight)
		dst = appendBlock(dst, r.BLock)
		dst = appendBlock(dst, r.QCHigh)
		dst = appendInt(dst, len(r.Committed))
		for _, b := range r.Committed {
			dst = appendBlock(dst, b)
		}
	}
	dst = appendInt(dst, len(s.blocks))
	for _, b := range s.blocks {
		dst = appendBlock(dst, b)
	}
	dst = appendInt(dst, len(s.votes))
	for _, v := range s.votes {
		dst = appendInt(dst, v.Replica)
		dst = appendBlock(dst, v.Block)
	}
	dst = appendInt(dst, len(s.complaints))
	for _, c := range s.complaints {
		dst = appendInt(dst, c.Replica)
		dst = appendInt(dst, c.View)
	}
	dst = appendInt(dst, len(s.qcs))
	for _, b := range s.qcs {
		dst = appendBlock(dst, b)
	}
	dst = appendInt(dst, len(s.tcs))
	for _, v := range s.tcs {
		dst = appendInt(dst, v)
	}
	return dst
}

func setString[T any](xs []T, f func(T) string) string {
	parts := make([]string, len(xs))
	for i, x := range xs {
		parts[i] = f(x)
	}
	return "{" + strings.Join(parts, ", ") + "}"
}

func fnString(reps []Replica, f func(Replica) string) string {
	parts := make([]string, len(reps))
	for i, r := range reps {
		parts[i] = fmt.Sprintf("%d :> %s", r.ID, f(r))
	}
	return "(" + strings.Join(parts, " @@ ") + ")"
}

// String prints the state in TLC's style, one conjunct per variable.
func (s State) String() string {
	blk := func(b Block) string { return b.String() }
	var b strings.Builder
	fmt.Fprintf(&b, "/\\ curView = %s\n", fnString(s.reps, func(r Replica) string { return fmt.Sprint(r.CurView) }))
	fmt.Fprintf(&b, "/\\ vheight = %s\n", fnString(s.reps, func(r Replica) string { return fmt.Sprint(r.VHeight) }))
	fmt.Fprintf(&b, "/\\ bLock = %s\n", fnString(s.reps, func(r Replica) string { return r.BLock.String() }))
	fmt.Fprintf(&b, "/\\ qcHigh = %s\n", fnString(s.reps, func(r Replica) string { return r.QCHigh.String() }))
	fmt.Fprintf(&b, "/\\ committed = %s\n", fnString(s.reps, func(r Replica) string { return setString(r.Committed, blk) }))
	fmt.Fprintf(&b, "/\\ blocks = %s\n", setString(s.blocks, blk))
	fmt.Fprintf(&b, "/\\ votes = %s\n", setString(s.votes, func(v Vote) string { return fmt.Sprintf("<<%d, %s>>", v.Replica, v.Block) }))
	fmt.Fprintf(&b, "/\\ complaints = %s\n", setString(s.complaints, func(c Complaint) string { return fmt.Sprintf("<<%d, %d>>", c.Replica, c.View) }))
	fmt.Fprintf(&b, "/\\ qcs = %s\n", setString(s.qcs, blk))
	fmt.Fprintf(&b, "/\\ tcs = %s", setString(s.tcs, func(v int) string { return fmt.Sprint(v) }))
	if s.violated != 0 {
		fmt.Fprintf(&b, "\n(step into this state violates action properties: %s)", violatedNames(s.violated))
	}
	return b.String()
}

func violatedNames(v uint8) string {
	var names []string
	if v&violLock != 0 {
		names = append(names, "LockMonotonic")
	}
	if v&violView != 0 {
		names = append(names, "ViewMonotonic")
	}
	return strings.Join(names, ", ")
}

func cmpBlock(a, b Block) int { return strings.Compare(string(a), string(b)) }

func cmpInt(a, b int) int { return cmp.Compare(a, b) }
