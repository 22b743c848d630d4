package scheduler

import (
	"fmt"
	"math"
	"time"

	"github.com/fhbft/fhbft/impl/certification"
)

// Digest names a task: the digest of the transaction (spec: TX-5).
type Digest [32]byte

// Account is a transaction's signer account (spec: TX-1).
type Account [32]byte

// NodeID is a member's index in its farmer quorum's roster, 1..n.
type NodeID = certification.Member

// QuorumID names a farmer quorum.
type QuorumID = certification.QuorumID

// Epoch numbers the periods during which quorums and rosters are fixed.
type Epoch = certification.Epoch

// Limits that keep every figure exact and finite. spec: SCHED-1, SCHED-5
const (
	// MaxCost is the largest task cost. Costs are integers ≥ 1 in a unit
	// the driver chooses (e.g. microseconds of validation).
	MaxCost = math.MaxUint32
	// HardMaxQueued bounds Config.MaxQueued and the per-queue counts a
	// peer may report: 2^20 tasks of cost ≤ 2^32 keep every total below
	// 2^52, exact in float64.
	HardMaxQueued = 1 << 20
	// MaxPeers and MaxQuorums bound a quorum map.
	MaxPeers   = 1024
	MaxQuorums = 1 << 16
	// MaxWeight bounds the queue weights.
	MaxWeight = 1e6
)

// DepKind says where a task's dependency (the signer's predecessor
// transaction) is held. spec: SCHED-1, SCHED-8
type DepKind uint8

const (
	DepNone   DepKind = iota // no pending predecessor: the data is the local state
	DepLocal                 // the predecessor is held by this node
	DepPeer                  // the predecessor is held by Dependency.Peer of this quorum
	DepQuorum                // the predecessor is held by farmer quorum Dependency.Quorum
	depKinds
)

func (k DepKind) String() string {
	switch k {
	case DepNone:
		return "none"
	case DepLocal:
		return "local"
	case DepPeer:
		return "peer"
	case DepQuorum:
		return "quorum"
	}
	return fmt.Sprintf("depkind(%d)", uint8(k))
}

// Dependency locates a task's dependency. Peer is set only for DepPeer,
// Quorum only for DepQuorum.
type Dependency struct {
	Kind   DepKind
	Peer   NodeID
	Quorum QuorumID
}

// Task is one transaction to schedule. spec: SCHED-1
type Task struct {
	ID     Digest
	Signer Account
	Cost   uint32 // t: estimated time to complete the task, 1..MaxCost
	Dep    Dependency
}

// QueueStat is one queue's figures: n_q tasks of total cost T_q.
// spec: SCHED-3
type QueueStat struct {
	Count uint64 // n_q
	Total uint64 // T_q = Σ t over the queue's tasks
}

// Avg is avg_q = T_q / n_q, and 0 for an empty queue. spec: SCHED-3, SCHED-5
func (q QueueStat) Avg() float64 {
	if q.Count == 0 {
		return 0
	}
	return float64(q.Total) / float64(q.Count)
}

// Stats are a node's three queues: what it reports to its peers.
type Stats struct {
	Local   QueueStat // l
	Remote  QueueStat // r
	Forward QueueStat // f: the forwarding queues of all destination quorums combined
}

// Aggregate is T_m = T_l + T_r + T_f (reported for completeness; P does not
// use it, see SCHED-3).
func (s Stats) Aggregate() uint64 { return s.Local.Total + s.Remote.Total + s.Forward.Total }

// Weights are the seed's hard-coded per-queue weights W_l, W_r, W_f.
// Each must be finite and in [1, MaxWeight]. spec: SCHED-4
type Weights struct {
	Local, Remote, Forward float64
}

// DefaultWeights: the seed gives no values. Local work is borne by this
// node, delegated work by a peer that this node still answers for until it
// acknowledges, forwarded work only costs transmission; hence l > r > f.
var DefaultWeights = Weights{Local: 4, Remote: 2, Forward: 1}

// Validate checks the range that SCHED-5's lemma (x = 0 or x ≥ 1) needs.
func (w Weights) Validate() error {
	for _, c := range []struct {
		name string
		v    float64
	}{{"weights.local", w.Local}, {"weights.remote", w.Remote}, {"weights.forward", w.Forward}} {
		if !(c.v >= 1 && c.v <= MaxWeight) { // also rejects NaN
			return &ConfigError{Field: c.name, Detail: fmt.Sprintf("%v not in [1, %v]", c.v, MaxWeight)}
		}
	}
	return nil
}

// QuorumMap is what the scheduler knows of the epoch: this node's quorum,
// every farmer quorum (this one included) and this node's peers (the other
// members of its quorum). spec: SCHED-11
type QuorumMap struct {
	Epoch   Epoch
	Quorum  QuorumID
	Quorums []QuorumID
	Peers   []NodeID
}

// Config configures a scheduler. Zero fields take the defaults below.
type Config struct {
	Self NodeID    // this node's index in its quorum, ≥ 1
	Map  QuorumMap // the initial epoch
	// Weights of the backpressure formula (default DefaultWeights).
	Weights Weights
	// Threshold θ on this node's LN_b above which data-local tasks are
	// delegated, in (0, 1] (default 0.5). spec: SCHED-8
	Threshold float64
	// MaxQueued bounds the tasks held in all three queues together
	// (default 1<<16, at most HardMaxQueued). spec: SCHED-2
	MaxQueued int
	// MaxReportAge: a peer's report older than this (by this node's clock,
	// from when it was received) leaves L (default 50ms). spec: SCHED-7
	MaxReportAge time.Duration
	// ReportInterval between this node's own load reports (default 10ms).
	// spec: SCHED-12
	ReportInterval time.Duration
	Mutations      Mutations // tests only
}

// Defaults.
const (
	DefaultThreshold      = 0.5
	DefaultMaxQueued      = 1 << 16
	DefaultMaxReportAge   = 50 * time.Millisecond
	DefaultReportInterval = 10 * time.Millisecond
)

// WithDefaults fills zero fields.
func (c Config) WithDefaults() Config {
	if c.Weights == (Weights{}) {
		c.Weights = DefaultWeights
	}
	if c.Threshold == 0 {
		c.Threshold = DefaultThreshold
	}
	if c.MaxQueued == 0 {
		c.MaxQueued = DefaultMaxQueued
	}
	if c.MaxReportAge == 0 {
		c.MaxReportAge = DefaultMaxReportAge
	}
	if c.ReportInterval == 0 {
		c.ReportInterval = DefaultReportInterval
	}
	return c
}

// Mutations plant bugs so that tests can show the checkers catch them
// (BRIEF §5). Production code never sets them.
type Mutations struct {
	// IgnoreBackpressure executes every data-local task locally: the
	// backpressure is computed and never used (BRIEF §7; breaks SCHED-8).
	IgnoreBackpressure bool
	// LoseFailedHandoff forgets a task whose delegation failed instead of
	// executing it locally (breaks SCHED-10, SCHED-13).
	LoseFailedHandoff bool
	// PickHighestPeer delegates to the most loaded fresh peer instead of
	// the least loaded one (breaks SCHED-8).
	PickHighestPeer bool
}

// Place is where a held task is. spec: SCHED-2
type Place uint8

const (
	PlaceLocal   Place = iota + 1 // local execution queue
	PlaceRemote                   // intra-quorum remote queue: delegated, not yet acknowledged
	PlaceForward                  // inter-quorum forwarding queue: forwarded, not yet acknowledged
)

func (p Place) String() string {
	switch p {
	case PlaceLocal:
		return "local"
	case PlaceRemote:
		return "remote"
	case PlaceForward:
		return "forward"
	}
	return fmt.Sprintf("place(%d)", uint8(p))
}
