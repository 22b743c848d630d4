package pacemaker

import "fmt"

// Reason classifies why the replica dropped an input.
type Reason uint8

const (
	ReasonNotStarted   Reason = iota + 1 // an event before Start
	ReasonMalformed                      // fields inconsistent with the spec (wrong kind, dummy proposal, oversize batch…)
	ReasonTooFarAhead                    // PM-18: view > curView + MaxViewLookahead
	ReasonStale                          // view below what the replica can still use
	ReasonObsolete                       // valid but cannot change anything (e.g. a QC below qcHigh); no crypto spent
	ReasonNotLeader                      // PM-4: proposer is not the view's leader
	ReasonNotCollector                   // PM-9, PM-16: this replica does not lead view+1
	ReasonBadQC                          // PM-3: a QC that does not verify (the whole message is dropped)
	ReasonBadTC                          // PM-3: a TC that does not verify
	ReasonBadVote                        // CERT-4, CERT-6: the collector refused a vote or complaint
	ReasonDuplicate                      // a repeat of an input already handled
	ReasonEquivocation                   // a second, different proposal or vote of one sender in one view
	ReasonAbandoned                      // PM-15: a proposal for a view this replica complained about
	ReasonBadAncestry                    // PM-1: not well-formed (parent ≠ DummyChain(justify.node, view))
	ReasonUnknownBlock                   // PM-19: a fetch request for a block this replica lacks
	ReasonUnsolicited                    // PM-19: a fetch response nobody asked for
	ReasonLimit                          // a bound (buffer, queue, outstanding fetches, orphans) is full
	ReasonWrongDomain                    // CERT-4: another quorum or epoch
	ReasonBadSignature                   // PM-31: a proposal whose leader signature does not verify
)

var reasonNames = map[Reason]string{
	ReasonNotStarted: "not started", ReasonMalformed: "malformed", ReasonTooFarAhead: "too far ahead",
	ReasonStale: "stale", ReasonObsolete: "obsolete", ReasonNotLeader: "not leader",
	ReasonNotCollector: "not collector", ReasonBadQC: "bad qc", ReasonBadTC: "bad tc",
	ReasonBadVote: "bad vote", ReasonDuplicate: "duplicate", ReasonEquivocation: "equivocation",
	ReasonAbandoned: "abandoned view", ReasonBadAncestry: "bad ancestry", ReasonUnknownBlock: "unknown block",
	ReasonUnsolicited: "unsolicited", ReasonLimit: "limit", ReasonWrongDomain: "wrong quorum or epoch",
	ReasonBadSignature: "bad signature",
}

func (r Reason) String() string {
	if s, ok := reasonNames[r]; ok {
		return s
	}
	return fmt.Sprintf("reason(%d)", uint8(r))
}

// Benign reports whether drops for this reason happen in fault-free runs
// (late, repeated or useless messages), as opposed to signs of faults or
// attacks. Simulators may count the two groups separately.
func (r Reason) Benign() bool {
	switch r {
	case ReasonStale, ReasonObsolete, ReasonDuplicate, ReasonNotStarted, ReasonUnsolicited:
		return true
	}
	return false
}

// WireError is the typed error of every decoder: which field was wrong and
// why. Decoders never panic (PM-3, CERT-19).
type WireError struct {
	Field  string
	Detail string
	Err    error // an underlying *certification.RejectError or bls error, if any
}

func (e *WireError) Error() string {
	s := "pacemaker wire: " + e.Field + ": " + e.Detail
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap exposes the underlying error.
func (e *WireError) Unwrap() error { return e.Err }

func wireErr(field, format string, args ...any) error {
	return &WireError{Field: field, Detail: fmt.Sprintf(format, args...)}
}

// ConfigError reports an unusable replica configuration.
type ConfigError struct{ Field, Reason string }

func (e *ConfigError) Error() string { return "pacemaker config: " + e.Field + ": " + e.Reason }
