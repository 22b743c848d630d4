package farmer

import (
	"errors"
	"fmt"
	"time"

	"github.com/fhbft/fhbft/impl/certification"
	"github.com/fhbft/fhbft/impl/crypto/threshold"
	"github.com/fhbft/fhbft/impl/maglev"
	"github.com/fhbft/fhbft/impl/scheduler"
	"github.com/fhbft/fhbft/impl/tx"
	"github.com/fhbft/fhbft/impl/validator"
)

// Member is a member's index in its farmer quorum, 1..n.
type Member = certification.Member

// QuorumID names a farmer quorum.
type QuorumID = certification.QuorumID

// AllocKey says what the allocation's rendezvous hash is keyed on.
type AllocKey uint8

const (
	// AllocDigest keys allocation on the transfer's digest (the issue's
	// rule): each transfer gets its own q members, so load spreads per
	// transfer, but a member assigned a transfer whose predecessor it was not
	// assigned validates the predecessor too (shadow validation, FARM-31).
	AllocDigest AllocKey = iota
	// AllocSigner keys allocation on the signer account: all of a sender's
	// transfers go to the same q members, so no shadow validations are
	// needed; load spreads per sender. spec: FARM-28
	AllocSigner
)

func (k AllocKey) String() string {
	switch k {
	case AllocDigest:
		return "digest"
	case AllocSigner:
		return "signer"
	}
	return fmt.Sprintf("AllocKey(%d)", uint8(k))
}

// Defaults.
const (
	DefaultTimeout      = 100 * time.Millisecond
	DefaultFallbackStep = 1
	DefaultParkTimeout  = 400 * time.Millisecond
	DefaultTaskCost     = 1
	DefaultMaxHeld      = 1 << 18
	DefaultMaxFetch     = 64
	DefaultMaxResends   = 4
)

// Config configures one farmer. Zero fields take the defaults.
type Config struct {
	Self   Member
	Roster certification.Roster // this quorum's roster for the epoch; q = Roster.Q()
	Share  threshold.SecretShare
	Entry  *maglev.Table // the epoch's entry table over every farmer quorum
	// Sched configures the scheduler; New fills in Self and Map.
	Sched scheduler.Config
	Alloc AllocKey
	// Timeout is the takeover step: the member at rank p ≥ q takes over a
	// transfer not yet certified ceil((p−q+1)/FallbackStep)·Timeout after it
	// first held it (FARM-29).
	Timeout      time.Duration
	FallbackStep int
	// ParkTimeout bounds how long a transfer with a nonce gap waits for its
	// predecessor before it is rejected (FARM-32).
	ParkTimeout time.Duration
	TaskCost    uint32 // scheduler cost of one validation (SCHED-1 t)
	MaxHeld     int    // transfers held (this quorum's and forwards) (FARM-37)
	MaxFetch    int    // transfers sent in answer to one FetchRequest (FARM-39)
	// MaxResends bounds how often a member sends its vote again while no
	// certificate is announced (FARM-40); the n-th resend waits
	// 2^(n-1)·lastResort. Negative: never.
	MaxResends int
	// Trace makes Step emit EffectPlaced for every scheduler decision, with
	// the loads it was made on, so that a test can re-check the decision
	// tree in integration. Off in production.
	Trace     bool
	Mutations Mutations // tests only
}

// Mutations plant bugs so that tests can show their checkers catch them
// (BRIEF §5). Production code never sets them.
type Mutations struct {
	// NoPredecessorOrder asks for every wanted validation at once, ignoring
	// nonce order (breaks FARM-31).
	NoPredecessorOrder bool
	// VoteTwice validates again and votes on the new verdict when a
	// transfer is delegated in after this member voted (breaks VOTE-3,
	// CERT-5: the second verdict may differ).
	VoteTwice bool
	// EntryByDigest looks the entry quorum up by the transfer's digest
	// instead of its signer (breaks FARM-24, ENTRY-1).
	EntryByDigest bool
	// AcceptAll votes accept whatever the verdict (breaks VOTE-2).
	AcceptAll bool
}

// WithDefaults fills zero fields.
func (c Config) WithDefaults() Config {
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if c.FallbackStep == 0 {
		c.FallbackStep = DefaultFallbackStep
	}
	if c.ParkTimeout == 0 {
		c.ParkTimeout = DefaultParkTimeout
	}
	if c.TaskCost == 0 {
		c.TaskCost = DefaultTaskCost
	}
	if c.MaxHeld == 0 {
		c.MaxHeld = DefaultMaxHeld
	}
	if c.MaxFetch == 0 {
		c.MaxFetch = DefaultMaxFetch
	}
	if c.MaxResends == 0 {
		c.MaxResends = DefaultMaxResends
	}
	return c
}

// SourceKind says where a transfer came from.
type SourceKind uint8

const (
	FromClient SourceKind = iota + 1 // a client submitted it to this member
	FromPeer                         // a member of this quorum relayed it
	FromQuorum                       // another farmer quorum forwarded it
)

func (k SourceKind) String() string {
	switch k {
	case FromClient:
		return "client"
	case FromPeer:
		return "peer"
	case FromQuorum:
		return "quorum"
	}
	return fmt.Sprintf("SourceKind(%d)", uint8(k))
}

// Source is the authenticated origin of a message, as the driver knows it.
type Source struct {
	Kind   SourceKind
	Member Member   // FromPeer
	Quorum QuorumID // FromQuorum
}

// Event is an input to Step.
type Event interface{ isEvent() }

// TransferReceived: a transfer from a client, a peer's relay, or another
// quorum's forward (untrusted). spec: FARM-24, FARM-26
type TransferReceived struct {
	Tx   tx.Transfer
	From Source
}

// DelegatedIn: a peer's scheduler delegated a transfer to this member, to
// validate and vote in its place (untrusted). spec: FARM-30
type DelegatedIn struct {
	From Member
	Tx   tx.Transfer
}

// Validated: the validator unit's verdict on a transfer this role asked for
// with EffectValidate. spec: FARM-31
type Validated struct{ Verdict validator.Verdict }

// HandoffResult: a delegation or forward this role asked for was
// acknowledged (OK) or refused or lost (driver's timeout). spec: FARM-25
type HandoffResult struct {
	Digest tx.Digest
	OK     bool
}

// LoadReport: a peer's scheduler load (SCHED-7).
type LoadReport struct{ Load scheduler.PeerLoad }

// FetchRequest: a peer with a parked transfer of Sender asks for the
// sender's transfers below nonce Below that this member holds (untrusted).
// spec: FARM-39
type FetchRequest struct {
	From   Member
	Sender tx.AccountID
	Below  uint64
}

// Certified: a harvester announces a transaction certificate of this
// quorum. It is a hint, not verified here: it only stops takeovers and
// unstarted work, never changes a vote or a verdict. spec: FARM-33
type Certified struct{ Statement certification.Statement }

// Tick: the driver's clock. spec: FARM-36
type Tick struct{ Now time.Duration }

func (TransferReceived) isEvent() {}
func (DelegatedIn) isEvent()      {}
func (Validated) isEvent()        {}
func (HandoffResult) isEvent()    {}
func (LoadReport) isEvent()       {}
func (Certified) isEvent()        {}
func (FetchRequest) isEvent()     {}
func (Tick) isEvent()             {}

// EffectKind says what the driver must do.
type EffectKind uint8

const (
	// EffectForward: send Tx to farmer quorum Quorum; report the outcome with
	// HandoffResult. spec: FARM-24, FARM-25
	EffectForward EffectKind = iota + 1
	// EffectRelay: send Tx to every peer of this quorum. spec: FARM-26
	EffectRelay
	// EffectDelegate: send Tx to peer Peer (DelegatedIn); report the outcome
	// with HandoffResult. spec: FARM-30
	EffectDelegate
	// EffectValidate: hand Tx to the validator unit; answer with Validated.
	// Shadow: no vote will follow, the verdict is needed for a successor.
	// spec: FARM-31
	EffectValidate
	// EffectVote: send Vote to the harvesters. spec: VOTE-1, VOTE-5
	EffectVote
	// EffectReport: broadcast Report to the peers (SCHED-12).
	EffectReport
	// EffectWake: call Step(Tick) at time At or later. spec: FARM-36
	EffectWake
	// EffectPlaced: diagnostic (Config.Trace): a scheduler decision and its
	// inputs. Drivers ignore it.
	EffectPlaced
	// EffectFetch: send FetchRequest{self, Sender, Below: Tx.Nonce} for
	// Tx's sender to every peer. spec: FARM-39
	EffectFetch
	// EffectSend: send Tx to peer Peer as a relay (TransferReceived from a
	// peer), in answer to its FetchRequest. spec: FARM-39
	EffectSend
)

func (k EffectKind) String() string {
	switch k {
	case EffectForward:
		return "forward"
	case EffectRelay:
		return "relay"
	case EffectDelegate:
		return "delegate"
	case EffectValidate:
		return "validate"
	case EffectVote:
		return "vote"
	case EffectReport:
		return "report"
	case EffectWake:
		return "wake"
	case EffectPlaced:
		return "placed"
	case EffectFetch:
		return "fetch"
	case EffectSend:
		return "send"
	}
	return fmt.Sprintf("EffectKind(%d)", uint8(k))
}

// Effect is one output of Step. Tx and Digest are set for forward, relay,
// delegate, validate, send and fetch (the parked transfer); Quorum for
// forward; Peer for delegate and send; Vote for vote; Report for report; At
// for wake; Placed for placed.
type Effect struct {
	Kind   EffectKind
	Tx     tx.Transfer
	Digest tx.Digest
	Quorum QuorumID
	Peer   Member
	Shadow bool
	Vote   certification.Vote
	Report scheduler.PeerLoad
	At     time.Duration
	Placed *Placement
}

// Placement is one scheduler decision with what it was decided on.
type Placement struct {
	Task      scheduler.Task
	Effect    scheduler.Effect
	Loads     []scheduler.NodeLoad // L before the decision, this node first
	Threshold float64
}

// Sentinel errors. Every error Step returns is an *InputError wrapping
// exactly one of them; a Step that returns an error changed nothing and
// returned no effects. spec: FARM-34
var (
	ErrNilEvent          = errors.New("farmer: nil or unknown event")
	ErrDuplicate         = errors.New("farmer: transfer already held or voted")
	ErrNotOurs           = errors.New("farmer: transfer's entry quorum is another quorum")
	ErrUnknownPeer       = errors.New("farmer: not a peer of this member")
	ErrFull              = errors.New("farmer: too many transfers held")
	ErrUnexpectedVerdict = errors.New("farmer: verdict for a transfer not in validation")
	ErrMalformedVerdict  = errors.New("farmer: malformed verdict")
	ErrRefused           = errors.New("farmer: delegation refused: this member already votes or voted on it")
	ErrUnknownTransfer   = errors.New("farmer: transfer not held")
	ErrWrongStatement    = errors.New("farmer: certificate notice for another quorum, epoch or kind")
	ErrClockBackwards    = errors.New("farmer: tick earlier than the current time")
	ErrScheduler         = errors.New("farmer: scheduler refused the event")
)

// InputError says which event was refused and why.
type InputError struct {
	Err    error // one of the sentinels above
	Event  string
	Detail string
	Cause  error // the scheduler's *InputError for ErrScheduler
}

func (e *InputError) Error() string {
	s := fmt.Sprintf("farmer: %s refused: %v", e.Event, e.Err)
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	if e.Cause != nil {
		s += " (" + e.Cause.Error() + ")"
	}
	return s
}

// Unwrap exposes the sentinel and the scheduler's error.
func (e *InputError) Unwrap() []error {
	if e.Cause != nil {
		return []error{e.Err, e.Cause}
	}
	return []error{e.Err}
}

// Benign reports whether an error is expected in fault-free runs: a
// duplicate transfer (resubmission, relay racing a client copy), a
// certificate notice for a transfer not held, a
// refused delegation, or a stale load report.
func Benign(err error) bool {
	return errors.Is(err, ErrDuplicate) || errors.Is(err, ErrUnknownTransfer) || errors.Is(err, ErrRefused) ||
		(errors.Is(err, ErrScheduler) && scheduler.Benign(err))
}

// ConfigError reports an unusable configuration.
type ConfigError struct{ Field, Detail string }

func (e *ConfigError) Error() string { return "farmer: config " + e.Field + ": " + e.Detail }

// Stats counts what a role did.
type Stats struct {
	Received                         int
	Forwarded, ForwardRetries        int
	Relayed, Rerelayed               int
	Assigned, TakenOver, DelegatedIn int
	DelegatedOut, DelegationsFailed  int
	Validations, Shadow, Parked      int
	Votes, Resent                    int
	Certified                        int
	Fetches, Fetched                 int
}
