// Package pacemaker is the Pacemaker model in Go: the state space, actions,
// invariants and liveness property of tla/Pacemaker.tla, under the same
// names, for the rules of spec/pacemaker.md it models (PM-1 to PM-17 and
// the properties PM-23 to PM-30): chained HotStuff with the modified
// pacemaker of seeds/001 (Algorithms 1 and 2) at the level of blocks and
// quorum certificates. model/explore checks it exhaustively for the
// constants of the tla/MC_pm_*.cfg models, and TestManifestVerdicts
// compares the verdicts and state counts with tla/manifest.json, so TLC and
// the Go explorer check one definition.
//
// The abstractions are the TLA+ module's (see its header): messages are
// sets that only grow; signatures are abstracted, so a vote or complaint in
// a set exists and verifies; Byzantine votes and complaints are always
// available and counted, not stored; a Block is the chain of real blocks
// from genesis with dummies implicit.
//
// Refinement tests map an implementation's replicas and messages to a State
// with Build (Replica holds the per-replica variables curView, vheight,
// bLock, qcHigh and committed) and check each implementation step with
// LegalStep.
package pacemaker

import (
	"fmt"
	"slices"
)

// Config holds the constants of the TLA+ module. Lists encode sets.
type Config struct {
	Replicas  []int // 1..n
	Byzantine []int
	// Silent are honest replicas that have crashed: they never act.
	Silent  []int
	Quorum  int
	MaxView int
	// TimeoutViews are the views in which an honest replica's timer may
	// expire under Spec (under LiveSpec, only views with a faulty leader
	// among these).
	TimeoutViews []int
}

// ConfigError says which constant is malformed and why.
type ConfigError struct {
	Field  string
	Reason string
}

func (e *ConfigError) Error() string {
	return fmt.Sprintf("pacemaker: bad config: %s: %s", e.Field, e.Reason)
}

// maxMaxView keeps every view in one byte of a Block entry.
const maxMaxView = 254

// Validate checks the module's ASSUME ConstantsOK (Replicas = 1..n,
// Byzantine ⊆ Replicas, Silent ⊆ Replicas \ Byzantine, Quorum ∈ 1..n,
// MaxView ∈ 1..254, TimeoutViews ⊆ 1..MaxView) and that no list repeats an
// element. Like the ASSUME
// it does not require b < 2q − n: the models explore unsafe configurations
// on purpose.
func (c Config) Validate() error {
	for _, f := range []struct {
		name string
		xs   []int
	}{{"Replicas", c.Replicas}, {"Byzantine", c.Byzantine}, {"Silent", c.Silent}, {"TimeoutViews", c.TimeoutViews}} {
		s := slices.Sorted(slices.Values(f.xs))
		for i := 1; i < len(s); i++ {
			if s[i] == s[i-1] {
				return &ConfigError{f.name, fmt.Sprintf("%d listed twice", s[i])}
			}
		}
	}
	rs := slices.Sorted(slices.Values(c.Replicas))
	if len(rs) == 0 {
		return &ConfigError{"Replicas", "empty"}
	}
	for i, r := range rs {
		if r != i+1 {
			return &ConfigError{"Replicas", fmt.Sprintf("must be 1..%d (round-robin leaders), got %v", len(rs), rs)}
		}
	}
	for _, b := range c.Byzantine {
		if !slices.Contains(c.Replicas, b) {
			return &ConfigError{"Byzantine", fmt.Sprintf("%d is not a replica", b)}
		}
	}
	for _, s := range c.Silent {
		if !slices.Contains(c.Replicas, s) {
			return &ConfigError{"Silent", fmt.Sprintf("%d is not a replica", s)}
		}
		if slices.Contains(c.Byzantine, s) {
			return &ConfigError{"Silent", fmt.Sprintf("%d is Byzantine; Silent lists honest replicas only", s)}
		}
	}
	if c.Quorum < 1 || c.Quorum > len(c.Replicas) {
		return &ConfigError{"Quorum", fmt.Sprintf("%d is not in 1..%d", c.Quorum, len(c.Replicas))}
	}
	if c.MaxView < 1 || c.MaxView > maxMaxView {
		return &ConfigError{"MaxView", fmt.Sprintf("%d is not in 1..%d", c.MaxView, maxMaxView)}
	}
	for _, v := range c.TimeoutViews {
		if v < 1 || v > c.MaxView {
			return &ConfigError{"TimeoutViews", fmt.Sprintf("%d is not in 1..MaxView", v)}
		}
	}
	return nil
}

// Honest returns Replicas \ Byzantine, sorted.
func (c Config) Honest() []int {
	var h []int
	for _, r := range slices.Sorted(slices.Values(c.Replicas)) {
		if !slices.Contains(c.Byzantine, r) {
			h = append(h, r)
		}
	}
	return h
}

// Active returns Honest \ Silent, sorted.
func (c Config) Active() []int {
	var a []int
	for _, r := range c.Honest() {
		if !slices.Contains(c.Silent, r) {
			a = append(a, r)
		}
	}
	return a
}

// Leader is the leader of view v: round robin, (v mod n) + 1.
// tla: Pacemaker!Leader, spec: PM-11
func (c Config) Leader(v int) int { return v%len(c.Replicas) + 1 }

// String prints a config like the CONSTANTS section of an MC_pm_*.cfg file.
func (c Config) String() string {
	set := func(xs []int) string {
		return setString(slices.Sorted(slices.Values(xs)), func(x int) string { return fmt.Sprint(x) })
	}
	return fmt.Sprintf("Replicas = %s, Byzantine = %s, Silent = %s, Quorum = %d, MaxView = %d, TimeoutViews = %s",
		set(c.Replicas), set(c.Byzantine), set(c.Silent), c.Quorum, c.MaxView, set(c.TimeoutViews))
}

// Mutations plant bugs in the actions. They exist ONLY so that tests can
// show that the checks catch them (the planted bugs of issue 4); the zero
// value is the model of the TLA+ module, and every exported action
// function uses it.
type Mutations struct {
	// NoConsecutiveCheck commits on a 3-chain of parents without checking
	// that the views are consecutive (PM-6's direct-parent test).
	NoConsecutiveCheck bool
	// AcceptUnverifiedQC lets any Byzantine replica make a QC for any
	// block, with or without Quorum votes, which honest replicas then
	// accept (PM-3: a QC must be verified before use).
	AcceptUnverifiedQC bool
	// LockDoesNotMove never updates bLock (PM-6).
	LockDoesNotMove bool
	// VoteTwice drops the vheight test of the vote rule, so an honest
	// replica may vote for a second block in a view (PM-5).
	VoteTwice bool
}

// machine is a config with its derived sets, a mutation set and the choice
// of next-state relation (Next, or LiveNext after GST).
type machine struct {
	cfg      Config
	mut      Mutations
	live     bool
	honest   []int
	active   []int
	byz      []int
	isActive []bool // by replica id
	isByz    []bool // by replica id
	isFaulty []bool // Byzantine or Silent, by replica id
	timesOut []bool // by view: in TimeoutViews
	nByz     int
}

func newMachine(cfg Config, mut Mutations, live bool) *machine {
	n := len(cfg.Replicas)
	m := &machine{cfg: cfg, mut: mut, live: live, honest: cfg.Honest(), active: cfg.Active(),
		byz: slices.Sorted(slices.Values(cfg.Byzantine)), isActive: make([]bool, n+1), isByz: make([]bool, n+1),
		isFaulty: make([]bool, n+1), timesOut: make([]bool, cfg.MaxView+2), nByz: len(cfg.Byzantine)}
	for _, r := range m.active {
		m.isActive[r] = true
	}
	for _, r := range cfg.Byzantine {
		m.isByz[r] = true
		m.isFaulty[r] = true
	}
	for _, v := range cfg.TimeoutViews {
		m.timesOut[v] = true
	}
	for _, r := range cfg.Silent {
		m.isFaulty[r] = true
	}
	return m
}

func (m *machine) active_(r int) bool { return r >= 0 && r < len(m.isActive) && m.isActive[r] }

func (m *machine) byzantine(r int) bool { return r >= 0 && r < len(m.isByz) && m.isByz[r] }

// replica returns the index and variables of active replica r.
func (m *machine) replica(s State, r int) (int, Replica, bool) {
	if !m.active_(r) {
		return 0, Replica{}, false
	}
	i, ok := s.repIndex(r)
	if !ok {
		return 0, Replica{}, false
	}
	return i, s.reps[i], true
}

// Init returns the initial state: every honest replica in view 1 with
// genesis as lock and qcHigh, the genesis QC, and the proposal of view 1 if
// its leader is active (every replica starts with ONNEXTSYNCVIEW(1)).
// tla: Pacemaker!Init, spec: PM-2, PM-13
func Init(cfg Config) State {
	var s State
	for _, r := range cfg.Honest() {
		s.reps = append(s.reps, Replica{ID: r, CurView: 1, VHeight: Genesis.Height(), BLock: Genesis, QCHigh: Genesis})
	}
	s.qcs = []Block{Genesis}
	if slices.Contains(cfg.Active(), cfg.Leader(1)) {
		s.blocks = []Block{Genesis.Child(1, Genesis)}
	}
	return s
}

// Voters counts the replicas that voted for b: the honest ones with a vote
// in s, and every Byzantine replica.
// tla: Pacemaker!Voters
func Voters(cfg Config, s State, b Block) int { return voters(s, b, len(cfg.Byzantine)) }

func voters(s State, b Block, nByz int) int {
	n := nByz
	for _, v := range s.votes {
		if v.Block == b {
			n++
		}
	}
	return n
}

// Complainers counts the replicas that complained in view v: the honest
// ones with a complaint in s, and every Byzantine replica.
// tla: Pacemaker!Complainers
func Complainers(cfg Config, s State, v int) int { return complainers(s, v, len(cfg.Byzantine)) }

func complainers(s State, v, nByz int) int {
	n := nByz
	for _, c := range s.complaints {
		if c.View == v {
			n++
		}
	}
	return n
}

// UpdateQCHigh is UPDATEQCHIGH with the assignment the right way round:
// r's qcHigh after learning the QC of b.
// tla: Pacemaker!UpdateQCHigh, spec: PM-12
func UpdateQCHigh(r Replica, b Block) Block {
	if b.Height() > r.QCHigh.Height() {
		return b
	}
	return r.QCHigh
}

// SafeNode is the vote rule: b is higher than the last vote, and extends
// the lock or carries a QC higher than the lock.
// tla: Pacemaker!SafeNode, spec: PM-5
func SafeNode(r Replica, b Block) bool { return safeNode(Mutations{}, r, b) }

func safeNode(mut Mutations, r Replica, b Block) bool {
	return (mut.VoteTwice || b.Height() > r.VHeight) &&
		(b.Extends(r.BLock) || b.JustifyNode().Height() > r.BLock.Height())
}

func (m *machine) commits(b2, b1, b0 Block) bool {
	if m.mut.NoConsecutiveCheck {
		return b2 != Genesis && b1 != Genesis && b2.Parent() == b1 && b1.Parent() == b0
	}
	return DirectParent(b2, b1) && DirectParent(b1, b0)
}

func hasView(bs []Block, v int) bool {
	for _, b := range bs {
		if b.View() == v {
			return true
		}
	}
	return false
}

// nextSyncView is ONNEXTSYNCVIEW(v): rep enters view v and, through ONBEAT,
// proposes at once if it leads v: CREATELEAF on qcHigh's block with qcHigh
// as justify (bLeaf is qcHigh's block).
// tla: Pacemaker!NextSyncView, spec: PM-10, PM-13
func (m *machine) nextSyncView(s State, rep Replica, v int) (State, Replica) {
	rep.CurView = v
	if v <= m.cfg.MaxView && m.cfg.Leader(v) == rep.ID && !hasView(s.blocks, v) {
		s.blocks = insert(s.blocks, rep.QCHigh.Child(v, rep.QCHigh), cmpBlock)
	}
	return s, rep
}

// ReceiveProposal is ONRECEIVEPROPOSAL for the current view: vote if
// SafeNode, then UPDATE (qcHigh, the lock on the 2-chain head, the commit
// on a 3-chain of direct parents), then move to the next view unless r is
// the next leader, which waits for the votes. It may be a stutter (the next
// leader receiving a block again).
// tla: Pacemaker!ReceiveProposal, spec: PM-4, PM-5, PM-6, PM-7, PM-8, PM-15
func ReceiveProposal(cfg Config, s State, r int, b Block) (State, bool) {
	return newMachine(cfg, Mutations{}, false).receiveProposal(s, r, b)
}

func (m *machine) receiveProposal(s State, r int, b Block) (State, bool) {
	i, rep, ok := m.replica(s, r)
	v := rep.CurView
	if !ok || !s.hasBlock(b) || b.View() != v || s.hasComplaint(Complaint{r, v}) {
		return s, false
	}
	b2 := b.JustifyNode()  // b''
	b1 := b2.JustifyNode() // b'
	b0 := b1.JustifyNode() // b
	nr := rep
	if safeNode(m.mut, rep, b) {
		s.votes = insert(s.votes, Vote{r, b}, cmpVote)
		nr.VHeight = b.Height()
	}
	nr.QCHigh = UpdateQCHigh(rep, b2)
	if !m.mut.LockDoesNotMove && b1.Height() > rep.BLock.Height() {
		nr.BLock = b1
	}
	if m.commits(b2, b1, b0) {
		// ONCOMMIT: b0 and its ancestors; dummies and genesis commit nothing.
		for k := 1; k <= b0.Len(); k++ {
			nr.Committed = insert(nr.Committed, b0.Prefix(k), cmpBlock)
		}
	}
	if r != m.cfg.Leader(v+1) {
		nr.CurView = v + 1 // r does not lead v + 1: nothing to propose
	}
	return s.withReplica(i, nr), true
}

// receiveStutters reports whether the ReceiveProposal step s -> n of r
// changed nothing: it changes only the vote set and r's variables.
func receiveStutters(s, n State, r int) bool {
	if len(n.votes) != len(s.votes) {
		return false
	}
	i, _ := s.repIndex(r)
	a, b := s.reps[i], n.reps[i]
	return a.CurView == b.CurView && a.VHeight == b.VHeight && a.BLock == b.BLock &&
		a.QCHigh == b.QCHigh && slices.Equal(a.Committed, b.Committed)
}

// FormQC is ONRECEIVEVOTE at the q-th vote: the leader of View(b) + 1,
// still in a view <= View(b), forms the QC, updates qcHigh and moves on to
// View(b) + 1, where it proposes.
// tla: Pacemaker!FormQC, spec: PM-9, PM-12, PM-13
func FormQC(cfg Config, s State, r int, b Block) (State, bool) {
	return newMachine(cfg, Mutations{}, false).formQC(s, r, b)
}

func (m *machine) formQC(s State, r int, b Block) (State, bool) {
	i, rep, ok := m.replica(s, r)
	if !ok || !s.hasBlock(b) || r != m.cfg.Leader(b.View()+1) || rep.CurView > b.View() ||
		voters(s, b, m.nByz) < m.cfg.Quorum {
		return s, false
	}
	s.qcs = insert(s.qcs, b, cmpBlock)
	rep.QCHigh = UpdateQCHigh(rep, b)
	s, rep = m.nextSyncView(s, rep, b.View()+1)
	return s.withReplica(i, rep), true
}

// Timeout is ONTIMEOUT in a view of TimeoutViews: complain once in the
// current view, which is then abandoned.
// tla: Pacemaker!Timeout, spec: PM-15
func Timeout(cfg Config, s State, r int) (State, bool) {
	return newMachine(cfg, Mutations{}, false).timeout(s, r)
}

// TimeoutAfterGST is Timeout restricted to views whose leader is faulty
// (Byzantine or Silent): the timeouts of LiveNext.
// tla: Pacemaker!TimeoutAfterGST
func TimeoutAfterGST(cfg Config, s State, r int) (State, bool) {
	return newMachine(cfg, Mutations{}, true).timeout(s, r)
}

func (m *machine) timeout(s State, r int) (State, bool) {
	_, rep, ok := m.replica(s, r)
	v := rep.CurView
	if !ok || v < 1 || v > m.cfg.MaxView || !m.timesOut[v] || s.hasComplaint(Complaint{r, v}) ||
		(m.live && !m.isFaulty[m.cfg.Leader(v)]) {
		return s, false
	}
	s.complaints = insert(s.complaints, Complaint{r, v}, cmpComplaint)
	return s, true
}

// FormTC is ONRECEIVECOMPLAIN at the q-th complaint: the leader of v + 1,
// still in a view <= v, forms TC(v), broadcasts NextView, receives it
// itself and moves on to v + 1, where it proposes.
// tla: Pacemaker!FormTC, spec: PM-16, PM-13
func FormTC(cfg Config, s State, r, v int) (State, bool) {
	return newMachine(cfg, Mutations{}, false).formTC(s, r, v)
}

func (m *machine) formTC(s State, r, v int) (State, bool) {
	i, rep, ok := m.replica(s, r)
	if !ok || v < 1 || v > m.cfg.MaxView || r != m.cfg.Leader(v+1) || rep.CurView > v ||
		complainers(s, v, m.nByz) < m.cfg.Quorum {
		return s, false
	}
	s.tcs = insert(s.tcs, v, cmpInt)
	s, rep = m.nextSyncView(s, rep, v+1)
	return s.withReplica(i, rep), true
}

// ReceiveNewView is receiving a message that carries the formed QC of b:
// a NewView (PM-14), handled by the next leader while it is in the view
// before the one it leads (earlier NewViews wait in its buffer until then,
// later ones are stale and dropped, PM-18), or any message (a NewView, a
// proposal's justify) whose QC is of a view >= curView, which is a catch-up
// (PM-17). Both apply UPDATEQCHIGH; a catch-up then enters View(b) + 1,
// where r proposes if it leads that view.
// tla: Pacemaker!ReceiveNewView, spec: PM-14, PM-17, PM-12, PM-13
func ReceiveNewView(cfg Config, s State, r int, b Block) (State, bool) {
	return newMachine(cfg, Mutations{}, false).receiveNewView(s, r, b)
}

func (m *machine) receiveNewView(s State, r int, b Block) (State, bool) {
	i, rep, ok := m.replica(s, r)
	if !ok || !s.hasQC(b) {
		return s, false
	}
	catchUp := b.View() >= rep.CurView
	if !catchUp && (r != m.cfg.Leader(rep.CurView+1) || b.Height() <= rep.QCHigh.Height()) {
		return s, false
	}
	rep.QCHigh = UpdateQCHigh(rep, b)
	if catchUp {
		s, rep = m.nextSyncView(s, rep, b.View()+1)
	}
	return s.withReplica(i, rep), true
}

// ReceiveNextView is ONRECEIVENEXTVIEW: catch-up on TC(v), v >= curView;
// r enters v + 1, where it proposes if it leads that view.
// tla: Pacemaker!ReceiveNextView, spec: PM-17, PM-13
func ReceiveNextView(cfg Config, s State, r, v int) (State, bool) {
	return newMachine(cfg, Mutations{}, false).receiveNextView(s, r, v)
}

func (m *machine) receiveNextView(s State, r, v int) (State, bool) {
	i, rep, ok := m.replica(s, r)
	if !ok || !s.hasTC(v) || v < rep.CurView {
		return s, false
	}
	s, rep = m.nextSyncView(s, rep, v+1)
	return s.withReplica(i, rep), true
}

// ByzantinePropose is an equivocating leader: up to two blocks in a view
// it leads, on any known parent, justified by any formed QC the parent
// extends.
// tla: Pacemaker!ByzantinePropose
func ByzantinePropose(cfg Config, s State, r, v int, parent, justify Block) (State, bool) {
	return newMachine(cfg, Mutations{}, false).byzantinePropose(s, r, v, parent, justify)
}

func (m *machine) byzantinePropose(s State, r, v int, parent, justify Block) (State, bool) {
	if !m.byzantine(r) || v < 1 || v > m.cfg.MaxView || m.cfg.Leader(v) != r ||
		(parent != Genesis && !s.hasBlock(parent)) || parent.View() >= v ||
		!s.hasQC(justify) || !parent.Extends(justify) {
		return s, false
	}
	n := 0
	for _, b := range s.blocks {
		if b.View() == v {
			n++
		}
	}
	nb := parent.Child(v, justify)
	if n >= 2 || s.hasBlock(nb) {
		return s, false
	}
	s.blocks = insert(s.blocks, nb, cmpBlock)
	return s, true
}

// ByzantineFormQC is a Byzantine leader of View(b) + 1, the collector of
// the votes of View(b), combining Quorum of them into a QC, at any time.
// tla: Pacemaker!ByzantineFormQC
func ByzantineFormQC(cfg Config, s State, r int, b Block) (State, bool) {
	return newMachine(cfg, Mutations{}, false).byzantineFormQC(s, r, b)
}

func (m *machine) byzantineFormQC(s State, r int, b Block) (State, bool) {
	if m.mut.AcceptUnverifiedQC {
		// Any Byzantine replica makes a QC for any block, votes or not.
		if !m.byzantine(r) || !s.hasBlock(b) || s.hasQC(b) {
			return s, false
		}
		s.qcs = insert(s.qcs, b, cmpBlock)
		return s, true
	}
	if !m.byzantine(r) || !s.hasBlock(b) || s.hasQC(b) || voters(s, b, m.nByz) < m.cfg.Quorum {
		return s, false
	}
	s.qcs = insert(s.qcs, b, cmpBlock)
	return s, true
}

// ByzantineFormTC is a Byzantine leader of v + 1, the collector of the
// complaints of v, combining Quorum of them into TC(v), at any time.
// tla: Pacemaker!ByzantineFormTC
func ByzantineFormTC(cfg Config, s State, r, v int) (State, bool) {
	return newMachine(cfg, Mutations{}, false).byzantineFormTC(s, r, v)
}

func (m *machine) byzantineFormTC(s State, r, v int) (State, bool) {
	if !m.byzantine(r) || v < 1 || v > m.cfg.MaxView || s.hasTC(v) ||
		complainers(s, v, m.nByz) < m.cfg.Quorum {
		return s, false
	}
	s.tcs = insert(s.tcs, v, cmpInt)
	return s, true
}

// Successor is one enabled, non-stuttering action instance and the state
// it leads to.
type Successor struct {
	// Label names the action instance, e.g. "ReceiveProposal(r=1, b=<<<<1, 0>>>>)".
	Label string
	Next  State
	// Honest is true for the honest replicas' actions, the ones under weak
	// fairness in LiveSpec.
	Honest bool
}

// Successors returns every enabled action of Next in s that changes the
// state, in a fixed order: for each active replica ReceiveProposal, FormQC,
// Timeout, FormTC, ReceiveNewView, ReceiveNextView; then for each Byzantine
// replica ByzantinePropose, ByzantineFormQC and ByzantineFormTC.
// tla: Pacemaker!Next
func Successors(cfg Config, s State) []Successor {
	return newMachine(cfg, Mutations{}, false).successors(s)
}

// LiveSuccessors is Successors for LiveNext (timeouts after GST).
// tla: Pacemaker!LiveNext
func LiveSuccessors(cfg Config, s State) []Successor {
	return newMachine(cfg, Mutations{}, true).successors(s)
}

func (m *machine) successors(s State) []Successor {
	var out []Successor
	// Every action but ReceiveProposal changes the state whenever it is
	// enabled (each adds to a set or moves a view or qcHigh up).
	add := func(honest bool, next State, ok bool, format string, args ...any) {
		if ok {
			out = append(out, Successor{fmt.Sprintf(format, args...), next, honest})
		}
	}
	for _, r := range m.active {
		for _, b := range s.blocks {
			n, ok := m.receiveProposal(s, r, b)
			add(true, n, ok && !receiveStutters(s, n, r), "ReceiveProposal(r=%d, b=%s)", r, b)
		}
		for _, b := range s.blocks {
			n, ok := m.formQC(s, r, b)
			add(true, n, ok, "FormQC(r=%d, b=%s)", r, b)
		}
		n, ok := m.timeout(s, r)
		add(true, n, ok, "Timeout(r=%d)", r)
		for v := 1; v <= m.cfg.MaxView; v++ {
			n, ok := m.formTC(s, r, v)
			add(true, n, ok, "FormTC(r=%d, v=%d)", r, v)
		}
		for _, b := range s.qcs {
			n, ok := m.receiveNewView(s, r, b)
			add(true, n, ok, "ReceiveNewView(r=%d, b=%s)", r, b)
		}
		for _, v := range s.tcs {
			n, ok := m.receiveNextView(s, r, v)
			add(true, n, ok, "ReceiveNextView(r=%d, v=%d)", r, v)
		}
	}
	parents := append([]Block{Genesis}, s.blocks...)
	for _, r := range m.byz {
		for v := 1; v <= m.cfg.MaxView; v++ {
			if m.cfg.Leader(v) != r {
				continue
			}
			for _, p := range parents {
				for _, j := range s.qcs {
					n, ok := m.byzantinePropose(s, r, v, p, j)
					add(false, n, ok, "ByzantinePropose(r=%d, v=%d, parent=%s, justify=%s)", r, v, p, j)
				}
			}
		}
		for _, b := range s.blocks {
			n, ok := m.byzantineFormQC(s, r, b)
			add(false, n, ok, "ByzantineFormQC(r=%d, b=%s)", r, b)
		}
		for v := 1; v <= m.cfg.MaxView; v++ {
			n, ok := m.byzantineFormTC(s, r, v)
			add(false, n, ok, "ByzantineFormTC(r=%d, v=%d)", r, v)
		}
	}
	return out
}

// LegalStep reports whether from -> to is a step of [Next]_vars: it returns
// the label of an action that takes from to to, or "stutter" if the states
// are equal. Refinement tests use it to check each implementation step
// (with every view in TimeoutViews, since an implementation's timer may
// expire in any view).
func LegalStep(cfg Config, from, to State) (label string, ok bool) {
	if from.Equal(to) {
		return "stutter", true
	}
	for _, n := range Successors(cfg, from) {
		if n.Next.Equal(to) {
			return n.Label, true
		}
	}
	return "", false
}

// FairEnabled reports whether an action under weak fairness in LiveSpec
// (an honest replica's action of LiveNext) is enabled and changes s.
// tla: Pacemaker!Fairness
func FairEnabled(cfg Config, s State) bool { return newMachine(cfg, Mutations{}, true).fairEnabled(s) }

func (m *machine) fairEnabled(s State) bool {
	// Computed from the action functions directly rather than from
	// successors' labels, so that the explorer's cross-check of the two
	// means something.
	changes := func(n State, ok bool) bool { return ok && !n.Equal(s) }
	for _, r := range m.active {
		if changes(m.timeout(s, r)) {
			return true
		}
		for _, b := range s.blocks {
			if changes(m.receiveProposal(s, r, b)) || changes(m.formQC(s, r, b)) {
				return true
			}
		}
		for v := 1; v <= m.cfg.MaxView; v++ {
			if changes(m.formTC(s, r, v)) || changes(m.receiveNextView(s, r, v)) {
				return true
			}
		}
		for _, b := range s.qcs {
			if changes(m.receiveNewView(s, r, b)) {
				return true
			}
		}
	}
	return false
}
