package certification

import (
	"bytes"
	"cmp"
	"slices"

	"github.com/fhbft/fhbft/impl/crypto/threshold"
)

// Event is an input to Collector.Step.
type Event interface{ isEvent() }

// VoteReceived delivers a vote from the network (untrusted).
type VoteReceived struct{ Vote Vote }

func (VoteReceived) isEvent() {}

// Effects is what one step produced. Exactly one of Counted, Pending and
// Rejected describes the step's own vote (Pending only in optimistic mode);
// Certificate and Evidence accompany them when a step made one.
type Effects struct {
	Counted     bool
	Rejected    error // a *RejectError; nil when the vote was counted or is pending
	Certificate *Certificate
	Evidence    *Evidence
	// Pending: optimistic mode held the vote unverified (CERT-20); a later
	// step counts it or drops it.
	Pending bool
	// Dropped lists earlier pending votes that this step found invalid
	// (each a *RejectError with ReasonBadPartial naming the member), in the
	// order found. Always empty in eager mode, where a bad partial is
	// rejected in its own step.
	Dropped []error
}

// Mutations plant bugs so that tests can show the checkers catch them
// (BRIEF §5: every checker is shown to catch a planted bug). Production
// code never sets them.
type Mutations struct {
	ThresholdDelta int  // form certificates at q+ThresholdDelta counted votes
	NoDedupe       bool // count a member again in a slot (breaks CERT-7)
}

// Options configure a collector.
type Options struct {
	// Optimistic defers partial verification (spec: CERT-20): votes are held
	// unverified until q distinct members support one value, their partials
	// are combined and the group signature is verified once; only when that
	// fails are the bad partials located (threshold.CombineVerified, which
	// searches with threshold's batch check). The zero value is the eager
	// collector, which verifies every partial as it arrives (CERT-6).
	Optimistic bool
	Mutations  Mutations // tests only; eager mode only
}

// Stats counts the crypto a collector did, for the simulator's report.
type Stats struct {
	PartialVerifies int // pairing checks on single partials (CERT-6)
	Combines        int // Lagrange combinations (CERT-9)
	// Optimistic mode (CERT-20): CombineChecks is combinations verified
	// against the group key (one pairing check each); Searches is those
	// that failed and were followed by a search for the bad partials (about
	// 2k·log2(q) batch pairing checks for k bad partials); BadFound is the
	// partials those searches found invalid.
	CombineChecks, Searches, BadFound int
}

// CountedVote is the abstraction of a counted vote: what the model's
// `votes` variable holds (tla: HarvesterCertification!votes).
type CountedVote struct {
	Member Member
	Slot   Slot
	Value  Value
}

type slotState struct {
	counted    map[Member]Vote
	supporters map[Value][]Member // counted members per value, arrival order
	accused    map[Member]bool    // evidence already recorded (once per member and slot)
	cert       *Certificate
	opt        *optSlot // optimistic mode only
}

func newSlotState() *slotState {
	return &slotState{counted: map[Member]Vote{}, supporters: map[Value][]Member{}, accused: map[Member]bool{}}
}

// Collector gathers votes for one roster (quorum and epoch) and forms
// certificates. It is a pure step function: no I/O, clocks, goroutines or
// randomness; its outputs never depend on map iteration order.
type Collector struct {
	roster Roster
	opts   Options
	slots  map[Slot]*slotState
	stats  Stats
	// singleMax is singleCheckMax; tests lower it to run the batch search.
	singleMax int
}

// NewCollector returns a collector for a valid roster. spec: CERT-1
func NewCollector(r Roster, opts Options) (*Collector, error) {
	if err := r.Validate(); err != nil {
		return nil, err
	}
	if opts.Optimistic && opts.Mutations != (Mutations{}) {
		// The planted bugs target the eager path that tests/ refines
		// against the model; optimistic mode is checked against eager mode.
		return nil, &ConfigError{Field: "options", Reason: "mutations apply to the eager collector only"}
	}
	return &Collector{roster: r, opts: opts, slots: make(map[Slot]*slotState), singleMax: singleCheckMax}, nil
}

// Roster returns the collector's roster.
func (c *Collector) Roster() Roster { return c.roster }

// Stats returns the crypto work done so far.
func (c *Collector) Stats() Stats { return c.stats }

// Step applies one event. A rejected vote removes nothing counted or
// certified; in eager mode it leaves the state unchanged, in optimistic
// mode it may settle an earlier pending vote of its member (CERT-20).
func (c *Collector) Step(ev Event) Effects {
	switch ev := ev.(type) {
	case VoteReceived:
		if c.opts.Optimistic {
			return c.onVoteOptimistic(ev.Vote)
		}
		return c.onVote(ev.Vote)
	}
	return Effects{Rejected: &RejectError{Reason: ReasonMalformed, Detail: "unknown event"}}
}

// onVote is the collector's vote handler.
// spec: CERT-4..CERT-9; tla: HarvesterCertification!CastVote,
// HarvesterCertification!ByzantineVote, HarvesterCertification!FormCertificate
func (c *Collector) onVote(v Vote) Effects {
	r := c.roster
	if err := checkHeader(r, v); err != nil { // CERT-4 before any pairing
		return Effects{Rejected: err}
	}
	s := c.slots[v.Slot]
	if s != nil {
		if prev, ok := s.counted[v.Member]; ok && !c.opts.Mutations.NoDedupe {
			if prev.Value == v.Value {
				if !prev.Partial.Equal(v.Partial) {
					// BLS signatures are unique: a member has exactly one valid
					// partial per message, so other bytes cannot verify. CERT-6
					return Effects{Rejected: &RejectError{Reason: ReasonBadPartial, Member: v.Member, Detail: "differs from the member's counted partial"}}
				}
				return Effects{Rejected: &RejectError{Reason: ReasonDuplicate, Member: v.Member}} // CERT-7
			}
			return c.onConflict(s, prev, v) // CERT-8
		}
		if s.cert != nil {
			return Effects{Rejected: &RejectError{Reason: ReasonSlotDecided, Member: v.Member}}
		}
	}
	if err := c.verify(v); err != nil { // CERT-6
		return Effects{Rejected: err}
	}
	if s == nil {
		s = newSlotState()
		c.slots[v.Slot] = s
	}
	if _, ok := s.counted[v.Member]; !ok {
		s.counted[v.Member] = v
	}
	s.supporters[v.Value] = append(s.supporters[v.Value], v.Member)
	eff := Effects{Counted: true}
	if q := r.Q() + c.opts.Mutations.ThresholdDelta; s.cert == nil && len(s.supporters[v.Value]) >= q {
		eff.Certificate = c.form(s, v.Statement, q) // CERT-9
	}
	return eff
}

// onConflict handles a second vote of a counted member with another value:
// evidence if its partial is valid (CERT-8), else a bad partial (CERT-6).
func (c *Collector) onConflict(s *slotState, prev, v Vote) Effects {
	if err := c.verify(v); err != nil {
		return Effects{Rejected: err}
	}
	eff := Effects{Rejected: &RejectError{Reason: ReasonEquivocation, Member: v.Member}}
	if !s.accused[v.Member] {
		s.accused[v.Member] = true
		eff.Evidence = &Evidence{First: prev, Second: v}
	}
	return eff
}

func (c *Collector) verify(v Vote) error {
	c.stats.PartialVerifies++
	return checkVote(c.roster, v)
}

// form combines the partials of the q lowest-indexed supporters into the
// group signature. spec: CERT-9, CERT-17
func (c *Collector) form(s *slotState, st Statement, q int) *Certificate {
	members := slices.Clone(s.supporters[st.Value])
	slices.Sort(members)
	if q < 1 {
		q = 1
	}
	members = members[:q]
	partials := make([]threshold.Partial, len(members))
	signers := NewBitmap(c.roster.N())
	for i, m := range members {
		partials[i] = threshold.Partial{Index: m, Sig: s.counted[m].Partial}
		signers.Set(m)
	}
	c.stats.Combines++
	sig, err := threshold.Combine(len(partials), partials)
	if err != nil {
		// Unreachable while CERT-7 holds: counted members are distinct and in
		// range. Under the NoDedupe mutation it is how the bug shows.
		return nil
	}
	cert := &Certificate{Statement: st, Signers: signers, Signature: sig}
	s.cert = cert
	return cert
}

// Counted lists the counted votes in a canonical order (slot, member, value);
// tests map it to the model's `votes`.
func (c *Collector) Counted() []CountedVote {
	var out []CountedVote
	for slot, s := range c.slots {
		for _, val := range sortedValues(s.supporters) {
			for _, m := range s.supporters[val] {
				out = append(out, CountedVote{Member: m, Slot: slot, Value: val})
			}
		}
	}
	slices.SortFunc(out, func(a, b CountedVote) int {
		return cmp.Or(compareSlot(a.Slot, b.Slot), cmp.Compare(a.Member, b.Member), compareValue(a.Value, b.Value))
	})
	return out
}

// Certificates lists the certificates formed, ordered by slot.
func (c *Collector) Certificates() []Certificate {
	var out []Certificate
	for _, s := range c.slots {
		if s.cert != nil {
			out = append(out, *s.cert)
		}
	}
	slices.SortFunc(out, func(a, b Certificate) int { return compareSlot(a.Slot, b.Slot) })
	return out
}

// Certificate returns the slot's certificate, if formed.
func (c *Collector) Certificate(slot Slot) (Certificate, bool) {
	if s := c.slots[slot]; s != nil && s.cert != nil {
		return *s.cert, true
	}
	return Certificate{}, false
}

func sortedValues(m map[Value][]Member) []Value {
	vals := make([]Value, 0, len(m))
	for v := range m {
		vals = append(vals, v)
	}
	slices.SortFunc(vals, compareValue)
	return vals
}

func compareSlot(a, b Slot) int {
	return cmp.Or(cmp.Compare(a.Kind, b.Kind), bytes.Compare(a.ID[:], b.ID[:]))
}

func compareValue(a, b Value) int {
	return cmp.Or(bytes.Compare(a.Subject[:], b.Subject[:]), cmp.Compare(a.Verdict, b.Verdict))
}
