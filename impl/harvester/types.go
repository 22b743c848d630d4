package harvester

import (
	"fmt"

	"github.com/fhbft/fhbft/impl/certification"
	"github.com/fhbft/fhbft/impl/crypto/threshold"
	"github.com/fhbft/fhbft/impl/dag"
	pm "github.com/fhbft/fhbft/impl/pacemaker"
	"github.com/fhbft/fhbft/impl/state"
	"github.com/fhbft/fhbft/impl/tx"
)

// Defaults for the bounds of Config.
const (
	DefaultMaxAhead       = 4       // future rounds buffered
	DefaultMaxPool        = 1 << 16 // certified transfers held
	DefaultMaxFetchHashes = 256     // hashes served per FetchRequest
	DefaultFetchWidth     = 2       // peers asked at once for a missing block
	DefaultFetchRetries   = 16      // fetch rounds for a stalled committed block
)

// perProposer bounds the unsolicited blocks kept per (round, proposer):
// two are enough to prove equivocation (PB-5); a third changes nothing
// (DAG-3).
const perProposer = 2

// perMiner bounds the convergence blocks kept per (round, builder) before
// they are certified: an honest miner builds one; two let a harvester see
// that a miner built twice (it still votes once per slot, CERT-5).
const perMiner = 2

// Config configures one harvester. Zero bounds take the defaults; a zero
// Params takes dag.DefaultParams(Roster).
type Config struct {
	Roster   certification.Roster // the harvester quorum of the epoch
	Self     certification.Member
	Share    threshold.SecretShare
	Params   dag.Params
	Miners   int // M: miners 1..M are ranked per round (ORD-3)
	Verifier dag.TxVerifier
	Genesis  state.Tree // genesis state; its root is the genesis block's StateRoot

	// MaxAhead bounds how many rounds beyond the current one are buffered
	// (proposal blocks, evidence, convergence blocks, votes, commands).
	MaxAhead dag.Round
	// KeepRounds is how many final rounds the store keeps for fetches
	// (DAG-3: default 4; a harvester that lags by more cannot fetch what
	// it missed and needs state sync, which is out of scope).
	KeepRounds dag.Round
	// MaxPool bounds the pool of certified transfers (MEV-6).
	MaxPool int
	// MaxFetchHashes bounds the hashes answered per FetchRequest (DAG-4).
	MaxFetchHashes int
	// FetchWidth is how many harvesters are asked at once for a missing
	// block: the proposer first, then the others in index order (DAG-4).
	// Two tolerate a silent proposer without a timer.
	FetchWidth int
	// MaxFetchRetries bounds how often the blocks a committed convergence
	// block references are asked for again after every harvester
	// answered without them (DAG-4, FIN-1).
	MaxFetchRetries int

	Mutations Mutations // tests only
}

// Mutations plant bugs so that tests can show their checkers catch them
// (BRIEF §5). Production code never sets them.
type Mutations struct {
	// VoteWithoutRecompute votes for every convergence block of the
	// current round on receipt, without checking the builder's rank or
	// recomputing it (breaks MINE-3, CONV-13). The block is then treated
	// as checked.
	VoteWithoutRecompute bool
	// SkipFirstCommittedRule finalizes the last committed checked
	// certificate of the round in a Committed batch instead of the first
	// (breaks FIN-1, and with it FIN-4).
	SkipFirstCommittedRule bool
	// IgnoreRejectedSet recomputes convergence blocks with an empty
	// rejected set (breaks CONV-14: a transfer rejected earlier and
	// re-proposed by a Byzantine harvester can be applied). The set is
	// still kept.
	IgnoreRejectedSet bool
}

func (c Config) withDefaults() Config {
	if c.Params == (dag.Params{}) {
		c.Params = dag.DefaultParams(c.Roster)
	}
	if c.MaxAhead == 0 {
		c.MaxAhead = DefaultMaxAhead
	}
	if c.KeepRounds == 0 {
		c.KeepRounds = 4
	}
	if c.MaxPool == 0 {
		c.MaxPool = DefaultMaxPool
	}
	if c.MaxFetchHashes == 0 {
		c.MaxFetchHashes = DefaultMaxFetchHashes
	}
	if c.FetchWidth == 0 {
		c.FetchWidth = DefaultFetchWidth
	}
	if c.MaxFetchRetries == 0 {
		c.MaxFetchRetries = DefaultFetchRetries
	}
	return c
}

// ConfigError reports an unusable configuration.
type ConfigError struct{ Field, Detail string }

func (e *ConfigError) Error() string { return "harvester: config " + e.Field + ": " + e.Detail }

// Event is an input to Step.
type Event interface{ isEvent() }

// Start begins round 1: the harvester proposes. spec: DAG-1
type Start struct{}

// TxCertified hands the harvester a transaction certificate it formed or
// received (untrusted: verified with Config.Verifier). spec: MEV-6
type TxCertified struct{ Tx dag.CertifiedTx }

// ProposalReceived delivers a proposal block from harvester From
// (untrusted; From is not trusted for anything). spec: PB-4
type ProposalReceived struct {
	From  certification.Member
	Block dag.ProposalBlock
}

// EvidenceReceived delivers equivocation evidence (untrusted). spec: PB-5
type EvidenceReceived struct{ Evidence dag.Equivocation }

// ConvergenceReceived delivers a convergence block from miner From
// (untrusted; miners are stakeless, MINE-2). spec: MINE-3
type ConvergenceReceived struct {
	From  dag.MinerID
	Block dag.ConvergenceBlock
}

// FetchRequest is harvester From asking for proposal blocks by hash.
// It is always answered with SendBlocks, empty if none is held, so that
// the asker moves on to the next harvester. spec: DAG-4
type FetchRequest struct {
	From   certification.Member
	Hashes []dag.Hash
}

// FetchResponse delivers blocks harvester From sent in answer to this
// harvester's SendFetch. Blocks nobody asked for are dropped. spec: DAG-4
type FetchResponse struct {
	Blocks []dag.ProposalBlock
	From   certification.Member // addition to the contract: who answered, to ask the next one
}

// VoteReceived delivers another harvester's convergence vote.
type VoteReceived struct{ Vote certification.Vote }

// CertificateReceived delivers a convergence certificate formed elsewhere
// with its block (untrusted: verified, CERT-10).
type CertificateReceived struct {
	Cert  certification.Certificate
	Block dag.ConvergenceBlock
}

// Committed is this harvester's own pacemaker replica's Commit effect:
// the executed commands in commit order. spec: FIN-1
type Committed struct{ Cmds []pm.Command }

func (Start) isEvent()               {}
func (TxCertified) isEvent()         {}
func (ProposalReceived) isEvent()    {}
func (EvidenceReceived) isEvent()    {}
func (ConvergenceReceived) isEvent() {}
func (FetchRequest) isEvent()        {}
func (FetchResponse) isEvent()       {}
func (VoteReceived) isEvent()        {}
func (CertificateReceived) isEvent() {}
func (Committed) isEvent()           {}

// Effect is an output of Step.
type Effect interface{ isEffect() }

// BroadcastProposal: send Block to every other harvester and to every
// miner (this harvester has stored its own copy). spec: PB-3
type BroadcastProposal struct{ Block dag.ProposalBlock }

// BroadcastEvidence: send Evidence to every other harvester and every
// miner. Emitted once per (round, proposer). spec: PB-5
type BroadcastEvidence struct{ Evidence dag.Equivocation }

// SendFetch: send FetchRequest{From: self, Hashes} to harvester To. spec: DAG-4
type SendFetch struct {
	To     certification.Member
	Hashes []dag.Hash
}

// SendBlocks: send FetchResponse{From: self, Blocks} to harvester To. spec: DAG-4
type SendBlocks struct {
	To     certification.Member
	Blocks []dag.ProposalBlock
}

// BroadcastVote: send Vote to every other harvester (this harvester has
// counted its own vote). spec: MINE-3
type BroadcastVote struct{ Vote certification.Vote }

// Submit: give Cmd to this harvester's pacemaker replica as a
// ClientCommand. spec: FIN-1
type Submit struct{ Cmd pm.Command }

// Finalized: Round is final with Block, certified by Cert (FIN-1). Applied
// is what the driver gives its state.Store (FIN-2); Beacon is beacon_{r+1},
// the beacon of the round this finality starts (FIN-3, ORD-1). Rejected
// is the block's rejected transfers (Block.Rejected's order) with their
// slots: a driver that recomputes blocks itself keeps its own
// dag.RejectedSet with them (Add, then Prune with the state after the
// block). spec: CONV-14
type Finalized struct {
	Round    dag.Round
	Block    dag.ConvergenceBlock
	Cert     certification.Certificate
	Applied  []tx.Transfer
	Beacon   dag.Hash
	Rejected []dag.RejectedTx
}

// NotifyMiners: send FinalNotice{From: self, Round, Cert, Block} to every
// miner, so that miners follow finality (MINE-1: a miner that learns the
// round is final does not build).
type NotifyMiners struct {
	Round dag.Round
	Cert  certification.Certificate
	Block dag.ConvergenceBlock
}

// RoundStarted: the harvester entered Round with Beacon, at conflict
// resolution Position (ORD-2). spec: DAG-1, FIN-3
type RoundStarted struct {
	Round    dag.Round
	Beacon   dag.Hash
	Position int
}

// Rejected: an input was dropped; Err is an *Error. Nothing changed.
type Rejected struct {
	What string
	Err  error
}

// Violation: an invariant failed (FIN-2: a final block whose state root
// this harvester does not reproduce). The harvester halts: every later
// event is rejected with ReasonHalted. Never happens without a bug.
type Violation struct {
	Round dag.Round
	Err   error
}

func (BroadcastProposal) isEffect() {}
func (BroadcastEvidence) isEffect() {}
func (SendFetch) isEffect()         {}
func (SendBlocks) isEffect()        {}
func (BroadcastVote) isEffect()     {}
func (Submit) isEffect()            {}
func (Finalized) isEffect()         {}
func (NotifyMiners) isEffect()      {}
func (RoundStarted) isEffect()      {}
func (Rejected) isEffect()          {}
func (Violation) isEffect()         {}

// Benign reports whether the rejection is expected in fault-free runs
// (late, repeated or unsolicited input).
func (r Rejected) Benign() bool { return Benign(r.Err) }

// Reason classifies why an input was dropped.
type Reason uint8

const (
	ReasonUnknownEvent Reason = iota + 1 // nil or foreign event type
	ReasonNotStarted                     // Start not yet received (for events that need it)
	ReasonDuplicate                      // already held, counted or handled
	ReasonStale                          // for a round already final here
	ReasonTooFarAhead                    // beyond MaxAhead rounds ahead
	ReasonLimit                          // a bound (pool, buffer) is full
	ReasonInvalid                        // fails PB-4/PB-2/PB-5 or a transaction certificate check
	ReasonNotElected                     // MINE-3: builder is not the rank's miner, or rank ≥ F
	ReasonMismatch                       // CONV-13: recomputation differs, or Converge refuses the inputs
	ReasonUnavailable                    // DAG-4: every harvester answered without a referenced block
	ReasonBadVote                        // CERT-4, CERT-6: the collector refused a vote
	ReasonSlotDecided                    // CERT-9: vote for a slot that already has a certificate
	ReasonBadCert                        // CERT-10 or a statement that does not match the block
	ReasonGarbage                        // a command that does not decode
	ReasonWrongPrev                      // FIN-1: a committed block not on this harvester's final prev
	ReasonLate                           // FIN-1: a later committed command for a final round
	ReasonUnsolicited                    // DAG-4: a fetched block nobody asked for
	ReasonUnknownPeer                    // From outside the roster or self
	ReasonHalted                         // after a Violation
)

var reasonNames = map[Reason]string{
	ReasonUnknownEvent: "unknown event", ReasonNotStarted: "not started", ReasonDuplicate: "duplicate",
	ReasonStale: "stale", ReasonTooFarAhead: "too far ahead", ReasonLimit: "limit",
	ReasonInvalid: "invalid", ReasonNotElected: "not elected", ReasonMismatch: "mismatch",
	ReasonUnavailable: "unavailable", ReasonBadVote: "bad vote", ReasonSlotDecided: "slot decided",
	ReasonBadCert: "bad certificate", ReasonGarbage: "garbage command", ReasonWrongPrev: "wrong prev",
	ReasonLate: "late command", ReasonUnsolicited: "unsolicited", ReasonUnknownPeer: "unknown peer",
	ReasonHalted: "halted",
}

func (r Reason) String() string {
	if s, ok := reasonNames[r]; ok {
		return s
	}
	return fmt.Sprintf("reason(%d)", uint8(r))
}

// Benign reports whether drops for this reason happen in fault-free runs.
func (r Reason) Benign() bool {
	switch r {
	case ReasonDuplicate, ReasonStale, ReasonSlotDecided, ReasonLate, ReasonUnsolicited:
		return true
	}
	return false
}

// Error is the typed error of every Rejected effect.
type Error struct {
	Reason Reason
	Detail string
	Err    error // the underlying dag, certification or decoding error, if any
}

func (e *Error) Error() string {
	s := "harvester: " + e.Reason.String()
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

// Stats counts a harvester's work, for simulator reports.
type Stats struct {
	Proposed           int // proposal blocks signed (PB-3: one per round)
	ProposalsAccepted  int // valid blocks of others stored (PB-4)
	Buffered           int // early blocks, evidence, convergence blocks, votes buffered
	EvidenceSent       int
	ConvergenceChecked int // convergence blocks recomputed equal (CONV-13)
	RecomputeFailed    int
	VotesCast          int
	CertsFormed        int
	Submitted          int
	Finalized          int
	LateCommands       int // later committed commands for final rounds (FIN-1)
	FetchesSent        int
	FetchStalls        int // committed blocks whose references no harvester had
	FetchRetries       int // fetch rounds started again for them
	BlocksFetched      int
	BlocksServed       int
	CertVerifies       int // pairing checks of certificates (CERT-10)
	PartialVerifies    int // of convergence votes (collectors)
	RejectedPruned     int // rejected-set entries dropped: their slot closed (CONV-14)
	Rejected           [32]int
}

func errf(r Reason, err error, format string, args ...any) *Error {
	return &Error{Reason: r, Detail: fmt.Sprintf(format, args...), Err: err}
}
