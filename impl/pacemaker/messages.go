package pacemaker

import (
	"time"

	"github.com/fhbft/fhbft/impl/certification"
	"github.com/fhbft/fhbft/impl/crypto/bls"
)

// Message is anything a replica sends to another. Every message has a
// canonical encoding (MarshalBinary) and DecodeMessage reads it back.
type Message interface {
	Type() MsgType
	MarshalBinary() ([]byte, error)
}

// MsgType tags messages on the wire and names the input a Rejected is about.
type MsgType uint8

const (
	TypeProposal      MsgType = 1
	TypeVote          MsgType = 2
	TypeNewView       MsgType = 3
	TypeComplain      MsgType = 4
	TypeNextView      MsgType = 5
	TypeFetchRequest  MsgType = 6
	TypeFetchResponse MsgType = 7
	// Inputs that are not messages, for Rejected.
	TypeTimer  MsgType = 100
	TypeClient MsgType = 101
	TypeStart  MsgType = 102
	TypeTick   MsgType = 103
	TypeEvent  MsgType = 104 // an event the replica does not know
)

var typeNames = map[MsgType]string{
	TypeProposal: "proposal", TypeVote: "vote", TypeNewView: "new-view", TypeComplain: "complain",
	TypeNextView: "next-view", TypeFetchRequest: "fetch-request", TypeFetchResponse: "fetch-response",
	TypeTimer: "timer", TypeClient: "client", TypeStart: "start", TypeTick: "tick", TypeEvent: "event",
}

func (t MsgType) String() string {
	if s, ok := typeNames[t]; ok {
		return s
	}
	return "type(" + itoa(uint64(t)) + ")"
}

// Proposal carries the leader's new block for its view, signed by the
// leader's key share (SignProposal). spec: PM-4, PM-10, PM-31
type Proposal struct {
	Block   Block
	Partial bls.Signature
}

// Vote is a replica's vote for a block in a view, sent to the leader of the
// next view: a certification.Vote of kind KindQC. spec: PM-5, PM-9
type Vote struct{ certification.Vote }

// NewView carries the sender's qcHigh to the next leader. spec: PM-8, PM-14
type NewView struct{ QC QC }

// Complain is a replica's complaint about view Vote.Slot's view, sent to the
// leader of the next view: a certification.Vote of kind KindComplaint.
// It also carries the sender's qcHigh (not signed), so that the leader who
// forms the TC proposes on the highest QC a quorum knows. spec: PM-15, PM-16
type Complain struct {
	certification.Vote
	QCHigh QC
}

// NextView broadcasts a TC. spec: PM-16, PM-17
type NextView struct{ TC TC }

// FetchRequest asks a peer for a real block by hash. spec: PM-19
type FetchRequest struct {
	Quorum certification.QuorumID
	Epoch  certification.Epoch
	Hash   Hash
}

// FetchResponse answers a FetchRequest. spec: PM-19
type FetchResponse struct{ Block Block }

func (Proposal) Type() MsgType      { return TypeProposal }
func (Vote) Type() MsgType          { return TypeVote }
func (NewView) Type() MsgType       { return TypeNewView }
func (Complain) Type() MsgType      { return TypeComplain }
func (NextView) Type() MsgType      { return TypeNextView }
func (FetchRequest) Type() MsgType  { return TypeFetchRequest }
func (FetchResponse) Type() MsgType { return TypeFetchResponse }

// Event is an input to Replica.Step.
type Event interface{ isEvent() }

// Start makes the replica enter view 1: set its timer and, if it leads
// view 1, propose (PM-2, PM-13). Events before Start are rejected.
type Start struct{}

// Tick tells the replica the current time, as a duration since an origin
// the driver chooses (simulated time). Drivers deliver a Tick whenever time
// has advanced, before the events that happen at Now; the replica uses it
// only to measure view durations for adaptive timeouts (PM-22). Time never
// goes backwards: an earlier Now is rejected.
type Tick struct{ Now time.Duration }

// TimerFired reports that the timer the replica set for View expired.
// A SetTimer replaces the replica's previous timer, so drivers keep one
// timer per replica; firings of replaced timers are rejected as stale.
type TimerFired struct{ View View }

// ClientCommand submits a client command to this replica. spec: PM-20
type ClientCommand struct{ Cmd Command }

// ProposalReceived delivers a Proposal from replica From. Every message is
// self-authenticating (proposals and votes are signed, certificates are
// verified), so From is used only to address replies and fetches.
type ProposalReceived struct {
	From ReplicaID
	Proposal
}

// VoteReceived delivers a Vote.
type VoteReceived struct {
	From ReplicaID
	Vote
}

// NewViewReceived delivers a NewView.
type NewViewReceived struct {
	From ReplicaID
	NewView
}

// ComplainReceived delivers a Complain.
type ComplainReceived struct {
	From ReplicaID
	Complain
}

// NextViewReceived delivers a NextView.
type NextViewReceived struct {
	From ReplicaID
	NextView
}

// FetchRequestReceived delivers a FetchRequest.
type FetchRequestReceived struct {
	From ReplicaID
	FetchRequest
}

// FetchResponseReceived delivers a FetchResponse.
type FetchResponseReceived struct {
	From ReplicaID
	FetchResponse
}

func (Start) isEvent()                 {}
func (Tick) isEvent()                  {}
func (TimerFired) isEvent()            {}
func (ClientCommand) isEvent()         {}
func (ProposalReceived) isEvent()      {}
func (VoteReceived) isEvent()          {}
func (NewViewReceived) isEvent()       {}
func (ComplainReceived) isEvent()      {}
func (NextViewReceived) isEvent()      {}
func (FetchRequestReceived) isEvent()  {}
func (FetchResponseReceived) isEvent() {}

// Deliver wraps a message received from replica from into its Event; nil
// for a message type this package does not define.
func Deliver(from ReplicaID, m Message) Event {
	switch m := m.(type) {
	case Proposal:
		return ProposalReceived{From: from, Proposal: m}
	case Vote:
		return VoteReceived{From: from, Vote: m}
	case NewView:
		return NewViewReceived{From: from, NewView: m}
	case Complain:
		return ComplainReceived{From: from, Complain: m}
	case NextView:
		return NextViewReceived{From: from, NextView: m}
	case FetchRequest:
		return FetchRequestReceived{From: from, FetchRequest: m}
	case FetchResponse:
		return FetchResponseReceived{From: from, FetchResponse: m}
	}
	return nil
}

// Effect is an output of Replica.Step. Effects come in the order they
// happened; drivers perform them in that order.
type Effect interface{ isEffect() }

// Send asks the driver to deliver Msg to replica To (never the sender
// itself: the replica handles its own messages inside Step).
type Send struct {
	To  ReplicaID
	Msg Message
}

// Broadcast asks the driver to deliver Msg to every other replica; the
// sender has already handled its own copy.
type Broadcast struct{ Msg Message }

// SetTimer asks the driver to deliver TimerFired{View} after Duration,
// replacing the replica's previous timer.
type SetTimer struct {
	View     View
	Duration time.Duration
}

// Commit reports blocks committed by this step, in chain order, dummies
// omitted, and the commands they executed: each command ID at most once
// over the replica's life, in commit order. spec: PM-7, PM-20
type Commit struct {
	Blocks []Block
	Cmds   []Command
}

// QCFormed reports a QC this replica formed from q votes. spec: PM-9
type QCFormed struct{ QC QC }

// TCFormed reports a TC this replica formed from q complaints. spec: PM-16
type TCFormed struct{ TC TC }

// ViewEntered reports that the replica moved to View. spec: PM-13
type ViewEntered struct {
	View  View
	Cause Cause
}

// Cause is why a replica entered a view.
type Cause uint8

const (
	CauseStart    Cause = iota + 1 // Start: view 1
	CauseProposal                  // accepted the previous view's proposal (PM-8): progress
	CauseQC                        // formed (PM-9) or received (PM-17) a QC of the previous or a later view
	CauseTC                        // formed (PM-16) or received (PM-17) a TC
)

func (c Cause) String() string {
	switch c {
	case CauseStart:
		return "start"
	case CauseProposal:
		return "proposal"
	case CauseQC:
		return "qc"
	case CauseTC:
		return "tc"
	}
	return "cause(" + itoa(uint64(c)) + ")"
}

// EvidenceFound reports equivocation evidence the collector recorded: a
// replica signed two different votes or complaints in one view. spec: PM-9, CERT-8
type EvidenceFound struct{ Evidence certification.Evidence }

// ProposalEquivocation reports two validly signed, different proposals of
// one leader in one view; the replica kept the first. spec: PM-4, PM-31
type ProposalEquivocation struct{ Evidence ProposalEvidence }

// ConflictingCommit reports that UPDATE asked to commit a block that does
// not extend bExec: a safety violation, impossible while b < 2q − n. The
// replica commits nothing and keeps its state. spec: PM-7, PM-23
type ConflictingCommit struct {
	Block BlockRef // the block UPDATE wanted to commit
	Exec  BlockRef // bExec, which it does not extend
}

// Rejected reports an input the replica dropped, with a typed reason, so
// drivers and tests can count drops. A rejected input changes no state
// (except buffering decisions named by the reason).
type Rejected struct {
	From   ReplicaID // 0 for inputs that are not messages
	Type   MsgType
	View   View // the view the input is about, when it has one
	Reason Reason
	Err    error // detail; for votes and certificates a *certification.RejectError
}

func (Send) isEffect()                 {}
func (Broadcast) isEffect()            {}
func (SetTimer) isEffect()             {}
func (Commit) isEffect()               {}
func (QCFormed) isEffect()             {}
func (TCFormed) isEffect()             {}
func (ViewEntered) isEffect()          {}
func (EvidenceFound) isEffect()        {}
func (ProposalEquivocation) isEffect() {}
func (ConflictingCommit) isEffect()    {}
func (Rejected) isEffect()             {}

func itoa(x uint64) string {
	if x == 0 {
		return "0"
	}
	var b [20]byte
	i := len(b)
	for x > 0 {
		i--
		b[i] = byte('0' + x%10)
		x /= 10
	}
	return string(b[i:])
}
