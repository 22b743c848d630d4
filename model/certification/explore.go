package certification

import (
	"strings"

	"github.com/fhbft/fhbft/model/explore"
)

// Mode selects what a model run checks, like a TLC model's SPECIFICATION.
type Mode int

const (
	// Safety checks Spec with the invariants TypeOK, CertificateUniqueness
	// and CertificateValidity.
	Safety Mode = iota
	// Liveness checks FairSpec: the invariants and the property Termination.
	Liveness
)

// Options configures Explore.
type Options struct {
	Mode Mode
	// MaxStates bounds the search (0: unbounded); see explore.Options.
	MaxStates int
	// Mutations plant bugs; tests only (see Mutations).
	Mutations Mutations
}

// Spec adapts the model, for one Config, to explore.Spec.
type Spec struct {
	cfg Config
	mut Mutations
}

var _ explore.Spec[State] = Spec{}

// NewSpec returns the explorer adapter for cfg, with mut planted (the zero
// Mutations for the real model).
func NewSpec(cfg Config, mut Mutations) (Spec, error) {
	if err := cfg.Validate(); err != nil {
		return Spec{}, err
	}
	return Spec{cfg: cfg, mut: mut}, nil
}

// Init implements explore.Spec.
func (sp Spec) Init() []State { return []State{Init(sp.cfg)} }

// Actions implements explore.Spec: Next, as enumerated by Successors.
func (sp Spec) Actions(s State) []explore.Transition[State] {
	succ := successors(sp.cfg, sp.mut, s)
	ts := make([]explore.Transition[State], len(succ))
	for i, n := range succ {
		ts[i] = explore.Transition[State]{Label: n.Label, Next: n.Next}
	}
	return ts
}

// Encode implements explore.Spec.
func (Spec) Encode(dst []byte, s State) []byte { return s.encode(dst) }

// Format implements explore.Spec.
func (Spec) Format(s State) string { return s.String() }

// Invariants returns the model's invariants, in the order of the MC_*.cfg files.
func Invariants(cfg Config) []explore.Invariant[State] {
	return []explore.Invariant[State]{
		{Name: "TypeOK", Holds: func(s State) bool { return TypeOK(cfg, s) }},
		{Name: "CertificateUniqueness", Holds: func(s State) bool { return CertificateUniqueness(cfg, s) }},
		{Name: "CertificateValidity", Holds: func(s State) bool { return CertificateValidity(cfg, s) }},
	}
}

// TerminationProperty returns Termination under FairSpec for the explorer.
// Fairness is given twice, by action label and by FairEnabled, so that the
// explorer cross-checks the two in every state.
func TerminationProperty(cfg Config, mut Mutations) *explore.Liveness[State] {
	return &explore.Liveness[State]{
		Name: "Termination",
		Goal: func(s State) bool { return Termination(cfg, s) },
		FairLabel: func(label string) bool {
			// Only honest behaviour is fair; Successors emits CastVote only
			// for Honest ∩ Active and HonestValues.
			return strings.HasPrefix(label, "CastVote(") || strings.HasPrefix(label, "FormCertificate(")
		},
		FairEnabled: func(s State) bool { return fairEnabled(cfg, mut, s) },
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
	eo := explore.Options[State]{Invariants: Invariants(cfg), MaxStates: opts.MaxStates}
	if opts.Mode == Liveness {
		eo.Liveness = TerminationProperty(cfg, opts.Mutations)
	}
	return explore.Check[State](sp, eo)
}
