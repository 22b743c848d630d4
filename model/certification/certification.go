// Package certification is the HarvesterCertification model in Go: the
// state space, actions, invariants and liveness property of
// tla/HarvesterCertification.tla, under the same names, for the rules of
// spec/certification.md it models (CERT-5, CERT-9, CERT-11, CERT-12,
// CERT-13). model/explore checks it exhaustively for the constants of the
// tla/MC_*.cfg models, and the test compares the verdicts and state counts
// with tla/manifest.json, so TLC and the Go explorer check one definition.
//
// Votes and certificates are abstract: a Vote is a vote that exists and
// verifies against its member's share (CERT-3, CERT-4, CERT-6); the vote set
// deduplicates members per (slot, value) as CERT-7 requires. Refinement
// tests map implementation states to State with FromSets and check each
// implementation step with LegalStep.
package certification

import (
	"fmt"
	"slices"
	"strings"
)

// Config holds the constants of the TLA+ module. Lists encode sets.
type Config struct {
	Members   []int
	Byzantine []int
	// Active are the honest members that are up and vote; the other honest
	// members are crashed or silent.
	Active []int
	Quorum int
	Slots  []int
	Values []int
	// HonestValues are the values honest members may vote for.
	HonestValues []int
}

// ConfigError says which constant is malformed and why.
type ConfigError struct {
	Field  string
	Reason string
}

func (e *ConfigError) Error() string {
	return fmt.Sprintf("certification: bad config: %s: %s", e.Field, e.Reason)
}

// Validate checks the module's ASSUME ConstantsOK (Byzantine ⊆ Members,
// Active ⊆ Members \ Byzantine, HonestValues ⊆ Values, Quorum ∈
// 1..|Members|) and, because lists stand for sets, that no list repeats an
// element. Like the ASSUME it does not require 2q > n (CERT-1 does, for
// rosters): the models explore unsafe configurations on purpose.
func (c Config) Validate() error {
	for _, f := range []struct {
		name string
		xs   []int
	}{{"Members", c.Members}, {"Byzantine", c.Byzantine}, {"Active", c.Active}, {"Slots", c.Slots}, {"Values", c.Values}, {"HonestValues", c.HonestValues}} {
		if d, ok := duplicate(f.xs); ok {
			return &ConfigError{f.name, fmt.Sprintf("%d listed twice", d)}
		}
	}
	for _, b := range c.Byzantine {
		if !slices.Contains(c.Members, b) {
			return &ConfigError{"Byzantine", fmt.Sprintf("%d is not a member", b)}
		}
	}
	for _, a := range c.Active {
		if !slices.Contains(c.Members, a) {
			return &ConfigError{"Active", fmt.Sprintf("%d is not a member", a)}
		}
		if slices.Contains(c.Byzantine, a) {
			return &ConfigError{"Active", fmt.Sprintf("%d is Byzantine; Active lists honest members only", a)}
		}
	}
	for _, v := range c.HonestValues {
		if !slices.Contains(c.Values, v) {
			return &ConfigError{"HonestValues", fmt.Sprintf("%d is not in Values", v)}
		}
	}
	if c.Quorum < 1 || c.Quorum > len(c.Members) {
		return &ConfigError{"Quorum", fmt.Sprintf("%d is not in 1..%d", c.Quorum, len(c.Members))}
	}
	return nil
}

func duplicate(xs []int) (int, bool) {
	s := slices.Sorted(slices.Values(xs))
	for i := 1; i < len(s); i++ {
		if s[i] == s[i-1] {
			return s[i], true
		}
	}
	return 0, false
}

// Honest returns Members \ Byzantine, sorted.
func (c Config) Honest() []int {
	var h []int
	for _, m := range sorted(c.Members) {
		if !slices.Contains(c.Byzantine, m) {
			h = append(h, m)
		}
	}
	return h
}

func sorted(xs []int) []int { return slices.Sorted(slices.Values(xs)) }

// Vote is the tuple <<m, s, v>>: member Member voted Value in Slot.
type Vote struct{ Member, Slot, Value int }

// Cert is the tuple <<s, v>>: a certificate for Value in Slot.
type Cert struct{ Slot, Value int }

func (v Vote) String() string { return fmt.Sprintf("<<%d, %d, %d>>", v.Member, v.Slot, v.Value) }
func (c Cert) String() string { return fmt.Sprintf("<<%d, %d>>", c.Slot, c.Value) }

// Mutations plant bugs in the actions. They exist ONLY so that tests can
// show the checks catch a lowered threshold or a dropped once-per-slot rule
// (BRIEF §5: each checker must be shown to catch a planted bug); the zero
// value is the model of the TLA+ module, and every exported action function
// uses it.
type Mutations struct {
	// QuorumDelta is added to Quorum in FormCertificate's guard (-1 lowers
	// the threshold by one). The invariants keep the real Quorum.
	QuorumDelta int
	// HonestMayVoteTwice drops CastVote's once-per-slot guard (CERT-5): an
	// honest member may then vote each honest value once in a slot.
	HonestMayVoteTwice bool
}

// Init returns the initial state: no votes, no certificates.
// tla: HarvesterCertification!Init
func Init(cfg Config) State { return State{} }

// CastVote is an honest, active member m voting v in slot, at most once per
// slot. The arguments range over Members, Slots and Values as in Next.
// tla: HarvesterCertification!CastVote, spec: CERT-5, CERT-13
func CastVote(cfg Config, s State, m, slot, v int) (State, bool) {
	return castVote(cfg, Mutations{}, s, m, slot, v)
}

// inRange is the range of Next's quantifier: m ∈ Members, s ∈ Slots, v ∈ Values.
func inRange(cfg Config, m, slot, v int) bool {
	return slices.Contains(cfg.Members, m) && slices.Contains(cfg.Slots, slot) && slices.Contains(cfg.Values, v)
}

func castVote(cfg Config, mut Mutations, s State, m, slot, v int) (State, bool) {
	if !inRange(cfg, m, slot, v) || !slices.Contains(cfg.Active, m) ||
		slices.Contains(cfg.Byzantine, m) || !slices.Contains(cfg.HonestValues, v) {
		return s, false
	}
	if mut.HonestMayVoteTwice {
		if s.hasVote(Vote{m, slot, v}) {
			return s, false
		}
	} else if s.votedIn(m, slot) {
		return s, false
	}
	return s.withVote(Vote{m, slot, v}), true
}

// ByzantineVote is a Byzantine member m signing v in slot; it may sign any
// number of values per slot.
// tla: HarvesterCertification!ByzantineVote, spec: CERT-11
func ByzantineVote(cfg Config, s State, m, slot, v int) (State, bool) {
	if !inRange(cfg, m, slot, v) || !slices.Contains(cfg.Byzantine, m) || s.hasVote(Vote{m, slot, v}) {
		return s, false
	}
	return s.withVote(Vote{m, slot, v}), true
}

// FormCertificate is anyone combining Quorum matching votes for v in slot.
// tla: HarvesterCertification!FormCertificate, spec: CERT-9
func FormCertificate(cfg Config, s State, slot, v int) (State, bool) {
	return formCertificate(cfg, Mutations{}, s, slot, v)
}

func formCertificate(cfg Config, mut Mutations, s State, slot, v int) (State, bool) {
	if !slices.Contains(cfg.Slots, slot) || !slices.Contains(cfg.Values, v) ||
		len(Supporters(cfg, s, slot, v)) < cfg.Quorum+mut.QuorumDelta || s.hasCert(Cert{slot, v}) {
		return s, false
	}
	return s.withCert(Cert{slot, v}), true
}

// Supporters returns the members that voted v in slot, sorted.
// tla: HarvesterCertification!Supporters
func Supporters(cfg Config, s State, slot, v int) []int {
	var ms []int
	s.eachVote(func(x Vote) {
		if x.Slot == slot && x.Value == v && slices.Contains(cfg.Members, x.Member) {
			ms = append(ms, x.Member)
		}
	})
	return ms
}

// TypeOK: votes ⊆ Members × Slots × Values and certificates ⊆ Slots × Values.
// tla: HarvesterCertification!TypeOK
func TypeOK(cfg Config, s State) bool {
	ok := true
	s.eachVote(func(x Vote) {
		ok = ok && slices.Contains(cfg.Members, x.Member) && slices.Contains(cfg.Slots, x.Slot) && slices.Contains(cfg.Values, x.Value)
	})
	s.eachCert(func(c Cert) {
		ok = ok && slices.Contains(cfg.Slots, c.Slot) && slices.Contains(cfg.Values, c.Value)
	})
	return ok
}

// CertificateUniqueness: at most one certified value per slot.
// tla: HarvesterCertification!CertificateUniqueness, spec: CERT-11
func CertificateUniqueness(cfg Config, s State) bool {
	ok := true
	prev, first := Cert{}, true
	s.eachCert(func(c Cert) { // sorted by slot, so conflicts are adjacent
		if !first && c.Slot == prev.Slot && c.Value != prev.Value {
			ok = false
		}
		prev, first = c, false
	})
	return ok
}

// CertificateValidity: every certificate has at least Quorum - |Byzantine|
// honest supporters.
// tla: HarvesterCertification!CertificateValidity, spec: CERT-12
func CertificateValidity(cfg Config, s State) bool {
	ok := true
	s.eachCert(func(c Cert) {
		honest := 0
		for _, m := range Supporters(cfg, s, c.Slot, c.Value) {
			if !slices.Contains(cfg.Byzantine, m) {
				honest++
			}
		}
		ok = ok && honest >= cfg.Quorum-len(cfg.Byzantine)
	})
	return ok
}

// Termination is the goal of the Termination property: every slot has a
// certificate. It is stable (certificates are never removed), so
// Termination (every slot eventually certified) holds under FairSpec iff
// it holds in every reachable state where FairEnabled is false.
// tla: HarvesterCertification!Termination, spec: CERT-13
func Termination(cfg Config, s State) bool {
	for _, slot := range cfg.Slots {
		found := false
		s.eachCert(func(c Cert) { found = found || c.Slot == slot })
		if !found {
			return false
		}
	}
	return true
}

// FairEnabled reports whether an action under weak fairness in FairSpec is
// enabled: CastVote(m, s, v) for m ∈ Honest ∩ Active, v ∈ HonestValues, or
// FormCertificate(s, v).
// tla: HarvesterCertification!Fairness
func FairEnabled(cfg Config, s State) bool { return fairEnabled(cfg, Mutations{}, s) }

func fairEnabled(cfg Config, mut Mutations, s State) bool {
	for _, slot := range cfg.Slots {
		for _, v := range cfg.Values {
			if _, ok := formCertificate(cfg, mut, s, slot, v); ok {
				return true
			}
			for _, m := range cfg.Active {
				if _, ok := castVote(cfg, mut, s, m, slot, v); ok {
					return true
				}
			}
		}
	}
	return false
}

// Successor is one enabled action instance and the state it leads to.
type Successor struct {
	// Label names the action instance, e.g. "CastVote(m=1, s=1, v=2)".
	Label string
	Next  State
}

// Successors returns every enabled action of Next in s, in a fixed order:
// CastVote, ByzantineVote, then FormCertificate, each over sorted Members,
// Slots and Values.
// tla: HarvesterCertification!Next
func Successors(cfg Config, s State) []Successor {
	return successors(cfg, Mutations{}, s)
}

func successors(cfg Config, mut Mutations, s State) []Successor {
	var out []Successor
	members, slots, values := sorted(cfg.Members), sorted(cfg.Slots), sorted(cfg.Values)
	for _, m := range members {
		for _, slot := range slots {
			for _, v := range values {
				if n, ok := castVote(cfg, mut, s, m, slot, v); ok {
					out = append(out, Successor{fmt.Sprintf("CastVote(m=%d, s=%d, v=%d)", m, slot, v), n})
				}
			}
		}
	}
	for _, m := range members {
		for _, slot := range slots {
			for _, v := range values {
				if n, ok := ByzantineVote(cfg, s, m, slot, v); ok {
					out = append(out, Successor{fmt.Sprintf("ByzantineVote(m=%d, s=%d, v=%d)", m, slot, v), n})
				}
			}
		}
	}
	for _, slot := range slots {
		for _, v := range values {
			if n, ok := formCertificate(cfg, mut, s, slot, v); ok {
				out = append(out, Successor{fmt.Sprintf("FormCertificate(s=%d, v=%d)", slot, v), n})
			}
		}
	}
	return out
}

// LegalStep reports whether from -> to is a step of [Next]_vars: it returns
// the label of an action that takes from to to, or "stutter" if the states
// are equal. Refinement tests use it to check each implementation step.
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

// String prints a config like the CONSTANTS section of an MC_*.cfg file.
func (c Config) String() string {
	set := func(xs []int) string {
		var parts []string
		for _, x := range sorted(xs) {
			parts = append(parts, fmt.Sprint(x))
		}
		return "{" + strings.Join(parts, ", ") + "}"
	}
	return fmt.Sprintf("Members = %s, Byzantine = %s, Active = %s, Quorum = %d, Slots = %s, Values = %s, HonestValues = %s",
		set(c.Members), set(c.Byzantine), set(c.Active), c.Quorum, set(c.Slots), set(c.Values), set(c.HonestValues))
}
