package miner

import (
	"fmt"
	"time"

	"github.com/fhbft/fhbft/impl/certification"
	"github.com/fhbft/fhbft/impl/dag"
	"github.com/fhbft/fhbft/impl/state"
)

// Defaults.
const (
	DefaultWait          = 20 * time.Millisecond // MinerWait
	DefaultFallbackDelay = 50 * time.Millisecond
	DefaultMaxAhead      = 4 // future rounds buffered
)

// perProposer bounds the buffered blocks per (round, proposer): two prove
// equivocation (PB-5); a third changes nothing (DAG-3).
const perProposer = 2

// Config configures one miner. Zero durations and bounds take the
// defaults; a zero Params takes dag.DefaultParams(Roster).
type Config struct {
	ID       dag.MinerID
	Miners   int                  // M
	Roster   certification.Roster // the harvester quorum
	Params   dag.Params
	Verifier dag.TxVerifier
	Genesis  state.Tree

	// Wait is MinerWait: the elected miner builds this long after the
	// round began at it; the rank-i miner i·FallbackDelay later. spec: MINE-1
	Wait, FallbackDelay time.Duration
	// MaxAhead bounds the rounds beyond the current one that are buffered.
	MaxAhead dag.Round

	Mutations Mutations // tests and the simulator's Byzantine preset only
}

// Mutations make a miner misbehave, so that tests and simulations can
// show the protocol copes. Production code never sets them.
type Mutations struct {
	// OmitBlocks: build from the counted blocks minus this many, those
	// of the highest conflict-resolution positions, keeping at least
	// MinRefs (a Byzantine miner censoring proposers; its block is still
	// valid, CONV-13 reproduces it from the refs it names).
	OmitBlocks int
	// IgnoreRejectedSet builds and follows with an empty rejected set
	// (breaks CONV-14; harvesters that keep theirs do not reproduce such
	// a block once it would apply a rejected transfer). The set is still
	// kept.
	IgnoreRejectedSet bool
}

func (c Config) withDefaults() Config {
	if c.Params == (dag.Params{}) {
		c.Params = dag.DefaultParams(c.Roster)
	}
	if c.Wait == 0 {
		c.Wait = DefaultWait
	}
	if c.FallbackDelay == 0 {
		c.FallbackDelay = DefaultFallbackDelay
	}
	if c.MaxAhead == 0 {
		c.MaxAhead = DefaultMaxAhead
	}
	return c
}

// ConfigError reports an unusable configuration.
type ConfigError struct{ Field, Detail string }

func (e *ConfigError) Error() string { return "miner: config " + e.Field + ": " + e.Detail }

// Event is an input to Step.
type Event interface{ isEvent() }

// Tick tells the miner the time (simulated, non-decreasing). Drivers
// deliver it before the events that happen at Now.
type Tick struct{ Now time.Duration }

// ProposalReceived delivers a proposal block (untrusted). spec: MINE-1
type ProposalReceived struct{ Block dag.ProposalBlock }

// EvidenceReceived delivers equivocation evidence (untrusted). spec: PB-5
type EvidenceReceived struct{ Evidence dag.Equivocation }

// FinalNotice is harvester From telling the miner that Block, certified by
// Cert, is final for Round (untrusted: the certificate is verified, and
// max(1, 2q−n) distinct harvesters must agree).
type FinalNotice struct {
	From  certification.Member
	Round dag.Round
	Cert  certification.Certificate
	Block dag.ConvergenceBlock
}

// TimerFired reports that the timer set by SetTimer{Round, Rank} expired.
type TimerFired struct {
	Round dag.Round
	Rank  uint32
}

func (Tick) isEvent()             {}
func (ProposalReceived) isEvent() {}
func (EvidenceReceived) isEvent() {}
func (FinalNotice) isEvent()      {}
func (TimerFired) isEvent()       {}

// Effect is an output of Step.
type Effect interface{ isEffect() }

// SetTimer: deliver TimerFired{Round, Rank} at time At. Rank is an
// addition to the contract, so the driver can echo it.
type SetTimer struct {
	Round dag.Round
	Rank  uint32
	At    time.Duration
}

// BroadcastConvergence: send Block to every harvester. spec: MINE-1
type BroadcastConvergence struct{ Block dag.ConvergenceBlock }

// Built reports the outcome behind a broadcast block (for reports and
// checkers: MEV-5 revenue from Keys, conservation from Changes).
type Built struct{ Outcome dag.Outcome }

// RoundBegun: the first valid block of Round arrived at time At; the
// miner's rank for the round is Rank (Fallbacks or more: it will not build).
type RoundBegun struct {
	Round dag.Round
	Rank  uint32
	At    time.Duration
}

// Followed: the miner took Block (hash Hash) as final for Round and moved
// to the next round, whose beacon is Beacon.
type Followed struct {
	Round  dag.Round
	Hash   dag.Hash
	Beacon dag.Hash
}

// Rejected: an input was dropped; Err is an *Error. Nothing changed.
type Rejected struct {
	What string
	Err  error
}

// Violation: an invariant failed (a block certified and named final by
// enough harvesters that this miner cannot reproduce or whose root
// differs). The miner halts.
type Violation struct {
	Round dag.Round
	Err   error
}

func (SetTimer) isEffect()             {}
func (BroadcastConvergence) isEffect() {}
func (Built) isEffect()                {}
func (RoundBegun) isEffect()           {}
func (Followed) isEffect()             {}
func (Rejected) isEffect()             {}
func (Violation) isEffect()            {}

// Benign reports whether the rejection is expected in fault-free runs.
func (r Rejected) Benign() bool { return Benign(r.Err) }

// Reason classifies why an input was dropped.
type Reason uint8

const (
	ReasonUnknownEvent   Reason = iota + 1
	ReasonStale                 // for a round already final here, or a replaced timer
	ReasonDuplicate             // already held or counted
	ReasonTooFarAhead           // beyond MaxAhead rounds ahead
	ReasonLimit                 // a buffer bound is full
	ReasonInvalid               // fails PB-4/PB-2/PB-5
	ReasonBadCert               // CERT-10, or a statement not the block's
	ReasonUnknownPeer           // a notice from outside the harvester roster
	ReasonClockBackwards        // a Tick earlier than the current time
	ReasonBuildFailed           // Converge refused the inputs (other than too few refs)
	ReasonHalted                // after a Violation
	ReasonNotElected            // ORD-3: this miner's rank is F or more this round
)

var reasonNames = map[Reason]string{
	ReasonUnknownEvent: "unknown event", ReasonStale: "stale", ReasonDuplicate: "duplicate",
	ReasonTooFarAhead: "too far ahead", ReasonLimit: "limit", ReasonInvalid: "invalid",
	ReasonBadCert: "bad certificate", ReasonUnknownPeer: "unknown peer", ReasonClockBackwards: "clock backwards",
	ReasonBuildFailed: "build failed", ReasonHalted: "halted", ReasonNotElected: "not elected",
}

func (r Reason) String() string {
	if s, ok := reasonNames[r]; ok {
		return s
	}
	return fmt.Sprintf("reason(%d)", uint8(r))
}

// Benign reports whether drops for this reason happen in fault-free runs.
func (r Reason) Benign() bool { return r == ReasonStale || r == ReasonDuplicate }

// Error is the typed error of every Rejected effect.
type Error struct {
	Reason Reason
	Detail string
	Err    error
}

func (e *Error) Error() string {
	s := "miner: " + e.Reason.String()
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap exposes the underlying error.
func (e *Error) Unwrap() error { return e.Err }

// ReasonOf is the Reason of an *Error, or 0.
func ReasonOf(err error) Reason {
	if e, ok := err.(*Error); ok {
		return e.Reason
	}
	return 0
}

// Benign reports whether err is an *Error with a benign reason.
func Benign(err error) bool { return ReasonOf(err).Benign() }

// Stats counts a miner's work.
type Stats struct {
	BlocksAccepted int
	Buffered       int
	Built          int
	TooFewRefs     int // builds postponed for too few counted blocks (CONV-2)
	Omitted        int // blocks left out under Mutations.OmitBlocks
	Followed       int
	CertVerifies   int
	RejectedPruned int // rejected-set entries dropped: their slot closed (CONV-14)
	Rejected       [16]int
}

func errf(r Reason, err error, format string, args ...any) *Error {
	return &Error{Reason: r, Detail: fmt.Sprintf(format, args...), Err: err}
}
