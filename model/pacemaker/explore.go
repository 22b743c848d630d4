package pacemaker

import (
	"fmt"

	"github.com/fhbft/fhbft/model/explore"
)

// Mode selects what a model run checks, like a TLC model's SPECIFICATION.
type Mode int

const (
	// Safety checks Spec (timeouts at any moment) against invariants and
	// action properties.
	Safety Mode = iota
	// Liveness checks LiveSpec (timeouts only in views with a faulty
	// leader, weak fairness for honest replicas) against Progress, plus
	// the invariants asked for.
	Liveness
)

// InvariantNames are the state invariants, in the order of the
// MC_pm_*.cfg safety models.
var InvariantNames = []string{
	"TypeOK", "NoConflictingCommits", "UniqueQCPerView", "CommitOnConsecutive3Chain",
	"NextViewNeedsComplaintQuorum", "QCNeedsVoteQuorum", "VoteOncePerView", "LockCoversVotes",
}

// ActionPropertyNames are the action properties ([][A]_vars).
var ActionPropertyNames = []string{"LockMonotonic", "ViewMonotonic"}

var invariantFuncs = map[string]func(Config, State) bool{
	"TypeOK":                       TypeOK,
	"NoConflictingCommits":         NoConflictingCommits,
	"UniqueQCPerView":              UniqueQCPerView,
	"CommitOnConsecutive3Chain":    CommitOnConsecutive3Chain,
	"NextViewNeedsComplaintQuorum": NextViewNeedsComplaintQuorum,
	"QCNeedsVoteQuorum":            QCNeedsVoteQuorum,
	"VoteOncePerView":              VoteOncePerView,
	"LockCoversVotes":              LockCoversVotes,
}

var actionFlags = map[string]uint8{"LockMonotonic": violLock, "ViewMonotonic": violView}

// Options configures Explore, like a TLC model configuration.
type Options struct {
	Mode Mode
	// Invariants names the state invariants to check, in order; nil means
	// InvariantNames.
	Invariants []string
	// Properties names the properties to check: action properties (see
	// ActionPropertyNames) and, in Liveness mode, "Progress". nil means
	// both action properties in Safety mode and Progress in Liveness mode.
	Properties []string
	// MaxStates bounds the search (0: unbounded); see explore.Options.
	MaxStates int
	// Mutations plant bugs; tests only (see Mutations).
	Mutations Mutations
}

// Spec adapts the model, for one Config, to explore.Spec. Action
// properties are checked by marking each successor whose step violates
// one (State.violated), so that the explorer checks them as invariants on
// the successor: the trace then ends with the violating step, as TLC's
// does.
type Spec struct {
	m     *machine
	flags uint8 // action properties to check
}

var _ explore.Spec[State] = Spec{}

// NewSpec returns the explorer adapter for cfg: Next (or LiveNext when
// live), with mut planted, checking the named action properties.
func NewSpec(cfg Config, mut Mutations, live bool, actionProperties []string) (Spec, error) {
	if err := cfg.Validate(); err != nil {
		return Spec{}, err
	}
	sp := Spec{m: newMachine(cfg, mut, live)}
	for _, p := range actionProperties {
		f, ok := actionFlags[p]
		if !ok {
			return Spec{}, fmt.Errorf("pacemaker: unknown action property %q", p)
		}
		sp.flags |= f
	}
	return sp, nil
}

// Init implements explore.Spec.
func (sp Spec) Init() []State { return []State{Init(sp.m.cfg)} }

// Actions implements explore.Spec.
func (sp Spec) Actions(s State) []explore.Transition[State] {
	succ := sp.m.successors(s)
	ts := make([]explore.Transition[State], len(succ))
	for i, n := range succ {
		next := n.Next
		if sp.flags&violLock != 0 && !LockMonotonic(sp.m.cfg, s, next) {
			next.violated |= violLock
		}
		if sp.flags&violView != 0 && !ViewMonotonic(sp.m.cfg, s, next) {
			next.violated |= violView
		}
		ts[i] = explore.Transition[State]{Label: n.Label, Next: next}
	}
	return ts
}

// Encode implements explore.Spec.
func (Spec) Encode(dst []byte, s State) []byte { return s.encode(dst) }

// Format implements explore.Spec.
func (Spec) Format(s State) string { return s.String() }

// ProgressProperty returns Progress under LiveSpec for the explorer.
// Fairness is given twice, by action label and by FairEnabled, so that the
// explorer cross-checks the two in every state.
func ProgressProperty(cfg Config, mut Mutations) *explore.Liveness[State] {
	m := newMachine(cfg, mut, true)
	return &explore.Liveness[State]{
		Name:        "Progress",
		Goal:        func(s State) bool { return Progress(cfg, s) },
		FairLabel:   func(label string) bool { return !isByzantineLabel(label) },
		FairEnabled: m.fairEnabled,
	}
}

// Explore checks the model for cfg exhaustively. A violation is reported in
// the Result; an error means no verdict (bad config or options, state
// limit, or a premise of the liveness check failed).
func Explore(cfg Config, opts Options) (explore.Result[State], error) {
	invs := opts.Invariants
	if invs == nil {
		invs = InvariantNames
	}
	props := opts.Properties
	if props == nil {
		props = ActionPropertyNames
		if opts.Mode == Liveness {
			props = []string{"Progress"}
		}
	}
	var actionProps []string
	progress := false
	for _, p := range props {
		switch {
		case p == "Progress" && opts.Mode == Liveness:
			progress = true
		case actionFlags[p] != 0:
			actionProps = append(actionProps, p)
		default:
			return explore.Result[State]{}, fmt.Errorf("pacemaker: property %q cannot be checked in this mode", p)
		}
	}
	sp, err := NewSpec(cfg, opts.Mutations, opts.Mode == Liveness, actionProps)
	if err != nil {
		return explore.Result[State]{}, err
	}
	eo := explore.Options[State]{MaxStates: opts.MaxStates}
	for _, name := range invs {
		f, ok := invariantFuncs[name]
		if !ok {
			return explore.Result[State]{}, fmt.Errorf("pacemaker: unknown invariant %q", name)
		}
		eo.Invariants = append(eo.Invariants, explore.Invariant[State]{Name: name, Holds: func(s State) bool { return f(cfg, s) }})
	}
	for _, p := range actionProps {
		flag := actionFlags[p]
		eo.Invariants = append(eo.Invariants, explore.Invariant[State]{Name: p, Holds: func(s State) bool { return s.violated&flag == 0 }})
	}
	if progress {
		eo.Liveness = ProgressProperty(cfg, opts.Mutations)
	}
	return explore.Check[State](sp, eo)
}
