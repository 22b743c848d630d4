package dag

import (
	"fmt"

	"github.com/fhbft/fhbft/model/explore"
)

// Mode selects what a model run checks, like a TLC model's SPECIFICATION.
type Mode int

const (
	// Safety checks Spec against the invariants.
	Safety Mode = iota
	// Liveness checks LiveSpec: the invariants and EventuallyFinal.
	Liveness
)

// Options configures Explore.
type Options struct {
	Mode Mode
	// Invariants names the invariants to check, in order; nil means
	// InvariantNames.
	Invariants []string
	// MaxStates bounds the search (0: unbounded); see explore.Options.
	MaxStates int
	// Mutations plant bugs; tests only (see Mutations).
	Mutations Mutations
}

// Spec adapts a Model to explore.Spec.
type Spec struct{ m *Model }

var _ explore.Spec[State] = Spec{}

// NewSpec returns the explorer adapter for cfg with mut planted (the zero
// Mutations for the model of the TLA+ module).
func NewSpec(cfg Config, mut Mutations) (Spec, error) {
	m, err := newModel(cfg, mut)
	if err != nil {
		return Spec{}, err
	}
	return Spec{m}, nil
}

// Model returns the adapted model.
func (sp Spec) Model() *Model { return sp.m }

// Init implements explore.Spec.
func (sp Spec) Init() []State { return []State{sp.m.Init()} }

// Actions implements explore.Spec: Next, as enumerated by Successors.
func (sp Spec) Actions(s State) []explore.Transition[State] {
	succ := sp.m.Successors(s)
	ts := make([]explore.Transition[State], len(succ))
	for i, n := range succ {
		ts[i] = explore.Transition[State]{Label: n.Label, Next: n.Next}
	}
	return ts
}

// Encode implements explore.Spec.
func (Spec) Encode(dst []byte, s State) []byte { return s.encode(dst) }

// Format implements explore.Spec.
func (sp Spec) Format(s State) string { return sp.m.Format(s) }

// Invariants returns the named invariants for the explorer (nil names:
// InvariantNames).
func (m *Model) Invariants(names []string) ([]explore.Invariant[State], error) {
	if names == nil {
		names = InvariantNames
	}
	var out []explore.Invariant[State]
	for _, n := range names {
		f, ok := m.Invariant(n)
		if !ok {
			return nil, fmt.Errorf("dag model: no invariant %q", n)
		}
		out = append(out, explore.Invariant[State]{Name: n, Holds: f})
	}
	return out, nil
}

// EventuallyFinalProperty returns EventuallyFinal under LiveSpec for the
// explorer. Fairness is given twice, by action label and by FairEnabled,
// so that the explorer cross-checks the two in every state.
func (m *Model) EventuallyFinalProperty() *explore.Liveness[State] {
	return &explore.Liveness[State]{
		Name:        "EventuallyFinal",
		Goal:        m.EventuallyFinal,
		FairLabel:   fairLabel,
		FairEnabled: m.FairEnabled,
	}
}

// Explore checks the model for cfg exhaustively. A violation is reported in
// the Result; an error means no verdict (bad config, state limit, or a
// premise of the liveness check failed).
func Explore(cfg Config, opts Options) (explore.Result[State], error) {
	sp, err := NewSpec(cfg, opts.Mutations)
	if err != nil {
		return explore.Result[State]{}, err
	}
	invs, err := sp.m.Invariants(opts.Invariants)
	if err != nil {
		return explore.Result[State]{}, err
	}
	eo := explore.Options[State]{Invariants: invs, MaxStates: opts.MaxStates}
	if opts.Mode == Liveness {
		eo.Liveness = sp.m.EventuallyFinalProperty()
	}
	return explore.Check[State](sp, eo)
}
