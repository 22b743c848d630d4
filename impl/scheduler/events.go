package scheduler

import (
	"fmt"
	"time"
)

// Event is an input to Step.
type Event interface{ isEvent() }

// TaskArrived: a transaction for this node to place (from a client or, for
// the destination quorum, forwarded by another quorum). spec: SCHED-8
type TaskArrived struct{ Task Task }

// TaskDelegatedIn: a peer of this quorum delegated a task to this node; it
// is executed here, never delegated again. spec: SCHED-9
type TaskDelegatedIn struct {
	From NodeID
	Task Task
}

// TaskCompleted: the local execution of a task finished. spec: SCHED-10
type TaskCompleted struct{ ID Digest }

// HandoffAcked: the peer or quorum a task was delegated or forwarded to
// accepted it. spec: SCHED-10
type HandoffAcked struct{ ID Digest }

// HandoffFailed: the peer or quorum a task was delegated or forwarded to
// refused it or could not be reached. spec: SCHED-10
type HandoffFailed struct{ ID Digest }

// PeerLoad is a peer's load report: its queue figures at its report Seq.
// spec: SCHED-7
type PeerLoad struct {
	Peer  NodeID
	Epoch Epoch
	Seq   uint64
	Load  Stats
}

// QuorumMapChanged installs a new epoch's quorum map. spec: SCHED-11
type QuorumMapChanged struct{ Map QuorumMap }

// Tick tells the scheduler the driver's current time. spec: SCHED-12
type Tick struct{ Now time.Duration }

func (TaskArrived) isEvent()      {}
func (TaskDelegatedIn) isEvent()  {}
func (TaskCompleted) isEvent()    {}
func (HandoffAcked) isEvent()     {}
func (HandoffFailed) isEvent()    {}
func (PeerLoad) isEvent()         {}
func (QuorumMapChanged) isEvent() {}
func (Tick) isEvent()             {}

// EffectKind says what the driver must do.
type EffectKind uint8

const (
	// EffectExecute: the task entered the local queue; hand it to the
	// local mempool and validator.
	EffectExecute EffectKind = iota + 1
	// EffectDelegate: the task entered the remote queue; send it to Peer.
	EffectDelegate
	// EffectForward: the task entered the forwarding queue; send it to Quorum.
	EffectForward
	// EffectDone: the task left the scheduler (completed or acknowledged).
	EffectDone
	// EffectReport: broadcast Report to this node's peers.
	EffectReport
)

func (k EffectKind) String() string {
	switch k {
	case EffectExecute:
		return "execute"
	case EffectDelegate:
		return "delegate"
	case EffectForward:
		return "forward"
	case EffectDone:
		return "done"
	case EffectReport:
		return "report"
	}
	return fmt.Sprintf("effect(%d)", uint8(k))
}

// Cause says which rule produced an effect.
type Cause uint8

const (
	CauseDepQuorum    Cause = iota + 1 // SCHED-8 D1: dependency held by another quorum
	CauseDepPeer                       // SCHED-8 D2: dependency held by a peer
	CauseBackpressure                  // SCHED-8 D3: LN_b ≥ θ, delegated to the least loaded peer
	CauseLocal                         // SCHED-8 D4: executed locally
	CauseDelegatedIn                   // SCHED-9: a peer delegated it here
	CauseFallback                      // SCHED-10: delegation failed, executed locally
	CauseRetry                         // SCHED-10: forwarding failed, forwarded again
	CauseCompleted                     // SCHED-10: local execution finished
	CauseAcked                         // SCHED-10: recipient acknowledged
	CausePeriodic                      // SCHED-12: periodic load report
)

var causeNames = [...]string{"", "dependency at quorum", "dependency at peer", "backpressure", "local",
	"delegated in", "fallback", "retry", "completed", "acked", "periodic"}

func (c Cause) String() string {
	if int(c) < len(causeNames) && c != 0 {
		return causeNames[c]
	}
	return fmt.Sprintf("cause(%d)", uint8(c))
}

// Effect is one output of Step. Task is set for all kinds but
// EffectReport; Peer for EffectDelegate; Quorum for EffectForward; Report
// for EffectReport.
type Effect struct {
	Kind   EffectKind
	Cause  Cause
	Task   Task
	Peer   NodeID
	Quorum QuorumID
	Report PeerLoad
}

func (e Effect) String() string {
	switch e.Kind {
	case EffectDelegate:
		return fmt.Sprintf("%v %x→peer %d (%v)", e.Kind, e.Task.ID[:4], e.Peer, e.Cause)
	case EffectForward:
		return fmt.Sprintf("%v %x→quorum %d (%v)", e.Kind, e.Task.ID[:4], e.Quorum, e.Cause)
	case EffectReport:
		return fmt.Sprintf("%v seq %d %+v", e.Kind, e.Report.Seq, e.Report.Load)
	}
	return fmt.Sprintf("%v %x (%v)", e.Kind, e.Task.ID[:4], e.Cause)
}
