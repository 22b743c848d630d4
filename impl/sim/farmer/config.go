// Package farmer is the simulation of the farmer pipeline (spec/farmer.md,
// rules FARM-24 … FARM-40, VOTE-1 … VOTE-6): clients submit transfers — some
// invalid, some duplicated, some conflicting — to farmers of K farmer quorums
// over the deterministic network of impl/sim/network; every farmer runs the
// impl/farmer role with a real validator unit (impl/validator, worker
// goroutines, left-right state store and mempool); harvesters run one
// certification.Collector per farmer quorum and form transaction
// certificates. Some farmers are Byzantine: they vote the wrong verdict,
// equivocate or stay silent.
//
// At the end Run checks, across every harvester: no transfer lost (every
// transfer of an honest client certified); at most one verdict certified per
// transfer; every certificate verifies; no invalid transfer certified valid
// (the certified-valid set replays on the genesis state); every certificate
// made by the signer's entry quorum; honest farmers vote at most once per
// transfer (CERT-5); every honest scheduler drained. A violation is a line in
// Report.Violations.
//
// Everything the protocol does is a function of Config.Seed; only the
// wall-clock timings in Report (validation, crypto) vary between runs.
//
// Config.Layer (layer.go) is the extension point for what runs above
// certification on the same network: impl/sim/ledger hooks in there to see
// every certificate, send its own messages, set its own alarms and timers,
// and apply final blocks to every farmer's state store and mempool
// (FIN-7). Without a layer nothing changes.
package farmer

import (
	"errors"
	"fmt"
	"time"

	farm "github.com/fhbft/fhbft/impl/farmer"
	"github.com/fhbft/fhbft/impl/scheduler"
)

// Behaviour is what a Byzantine farmer does.
type Behaviour string

const (
	// Flip votes the opposite of its own verdict, on every transfer of its
	// quorum at once (it does not wait for its turn).
	Flip Behaviour = "flip"
	// Equivocate signs both verdicts on every transfer it votes on: accept to
	// even-numbered harvesters, reject to odd ones (both to a lone harvester).
	Equivocate Behaviour = "equivocate"
	// Silent receives everything and sends nothing: no acknowledgement,
	// relay, forward or vote.
	Silent Behaviour = "silent"
)

// AllBehaviours is the default rotation, one behaviour per quorum.
var AllBehaviours = []Behaviour{Flip, Equivocate, Silent}

// Mix is how many invalid or hostile submissions of each kind a run makes,
// each from its own sender so that its reason is known.
type Mix struct {
	BadSignature int // a flipped signature byte (TX-7)
	Overdraft    int // a second transfer that overdraws (TX-18)
	NonceGap     int // a nonce beyond the next one (TX-17)
	Replay       int // a nonce below the account's finalised one (TX-16)
	Duplicate    int // an honest transfer submitted again to another farmer
	Conflict     int // pairs: two transfers with one nonce, to different farmers at once
}

// Config describes one simulation.
type Config struct {
	Seed       uint64
	Quorums    int // K farmer quorums
	N, Q       int // members per quorum and threshold tF (0: ceil(0.6·N))
	Harvesters int // each runs one collector per farmer quorum
	Clients    int // honest clients, each sending a chain of Transfers
	Transfers  int
	// MaxFee > 1 draws each honest transfer's fee uniformly from
	// 1..MaxFee (fee-per-byte selection, MEV-1, then has something to
	// sort); 0 or 1: every fee is 1.
	MaxFee  uint64
	Invalid Mix
	// Byzantine members per quorum (the last members of each roster), with
	// behaviours rotated over quorums and members.
	Byzantine  int
	Behaviours []Behaviour
	// Farmer role parameters (zero: impl/farmer defaults). Sched is every
	// farmer's scheduler configuration (Self and Map are filled in).
	Sched        scheduler.Config
	Alloc        farm.AllocKey
	Timeout      time.Duration
	FallbackStep int
	ParkTimeout  time.Duration
	// Network.
	MinDelay, MaxDelay time.Duration
	Drop               float64
	// Clients submit one transfer every SubmitInterval (each client its own
	// stream) and resubmit to another farmer when no certificate has formed
	// ClientTimeout after a submission, up to MaxAttempts times.
	SubmitInterval time.Duration
	ClientTimeout  time.Duration
	MaxAttempts    int
	// Validation: requests are batched for BatchWindow, run on a real
	// validator unit with Workers goroutines (0: GOMAXPROCS), and the verdicts
	// are delivered ValidationCost per transfer per SimCores later in
	// simulated time.
	BatchWindow    time.Duration
	Workers        int
	ValidationCost time.Duration
	SimCores       int
	// Periodic ticks (scheduler load reports) and handoff timeouts.
	TickInterval   time.Duration
	HandoffTimeout time.Duration
	MaxTime        time.Duration // stop submitting retries and ticking after this
	// Trace records every honest farmer's validation requests, verdicts and
	// scheduler decisions in Report.Trace.
	Trace bool
	// Mutations are planted in every honest farmer (tests).
	Mutations farm.Mutations
	// Layer, if set, runs a protocol above certification on the same
	// network (impl/sim/ledger); nil: certification only.
	Layer Layer
	// OptimisticCollect makes every harvester collector optimistic
	// (certification.Options.Optimistic, CERT-20): votes are verified as one
	// combination per certificate instead of one by one. The protocol run
	// is the same (certificates form at the same step); only crypto time
	// differs.
	OptimisticCollect bool
}

// Default is the configuration `fhbft farm` starts from: 3 quorums of 7
// (q = 5, so safety tolerates b < 2q−n = 3), one Byzantine farmer per quorum
// (flip, equivocate, silent), two harvesters with optimistic collectors
// (CERT-20: the same run as eager collectors at a fraction of the pairings).
func Default() Config {
	return Config{
		Seed: 1, Quorums: 3, N: 7, Harvesters: 2, Clients: 24, Transfers: 4,
		Invalid:   Mix{BadSignature: 2, Overdraft: 2, NonceGap: 2, Replay: 2, Duplicate: 3, Conflict: 2},
		Byzantine: 1,
		MinDelay:  1 * time.Millisecond, MaxDelay: 8 * time.Millisecond,
		SubmitInterval: 5 * time.Millisecond, ClientTimeout: 300 * time.Millisecond, MaxAttempts: 6,
		Timeout: 50 * time.Millisecond, ParkTimeout: time.Second,
		BatchWindow: 1 * time.Millisecond, ValidationCost: 40 * time.Microsecond, SimCores: 2,
		TickInterval: 10 * time.Millisecond, HandoffTimeout: 40 * time.Millisecond,
		MaxTime:           10 * time.Second,
		OptimisticCollect: true,
	}
}

// Small is a quick configuration for tests: 2 quorums of 4 (q = 3, b < 2),
// one harvester, a few transfers of each kind.
func Small() Config {
	c := Default()
	c.Quorums, c.N, c.Harvesters, c.Clients, c.Transfers = 2, 4, 1, 4, 2
	c.Invalid = Mix{BadSignature: 1, Overdraft: 1, NonceGap: 1, Replay: 1, Duplicate: 1, Conflict: 1}
	return c
}

// q is the threshold in force.
func (c Config) q() int {
	if c.Q > 0 {
		return c.Q
	}
	return (3*c.N + 4) / 5
}

// Validate rejects configurations the simulator cannot run.
func (c Config) Validate() error {
	q := c.q()
	switch {
	case c.Quorums < 1 || c.Quorums > 64:
		return fmt.Errorf("farm sim: quorums %d outside 1..64", c.Quorums)
	case c.N < 1 || c.N > 64:
		return fmt.Errorf("farm sim: n %d outside 1..64", c.N)
	case q < 1 || q > c.N || 2*q <= c.N:
		return fmt.Errorf("farm sim: threshold %d of %d (need 2q > n, CERT-1)", q, c.N)
	case c.Harvesters < 1 || c.Harvesters > 16:
		return fmt.Errorf("farm sim: harvesters %d outside 1..16", c.Harvesters)
	case c.Clients < 0 || c.Transfers < 0 || c.Clients*c.Transfers > 100000:
		return errors.New("farm sim: clients × transfers outside 0..100000")
	case c.Invalid.BadSignature < 0 || c.Invalid.Overdraft < 0 || c.Invalid.NonceGap < 0 || c.Invalid.Replay < 0 || c.Invalid.Duplicate < 0 || c.Invalid.Conflict < 0:
		return errors.New("farm sim: negative invalid mix")
	case c.Byzantine < 0 || c.Byzantine > c.N:
		return fmt.Errorf("farm sim: byzantine %d outside 0..%d", c.Byzantine, c.N)
	case c.MinDelay < 0 || c.MaxDelay < c.MinDelay:
		return errors.New("farm sim: delays")
	case c.Drop < 0 || c.Drop >= 1:
		return errors.New("farm sim: drop outside [0, 1)")
	case c.SubmitInterval <= 0 || c.ClientTimeout <= 0 || c.MaxAttempts < 1 || c.TickInterval <= 0 || c.HandoffTimeout <= 0:
		return errors.New("farm sim: intervals and timeouts must be positive")
	case c.BatchWindow < 0 || c.ValidationCost < 0 || c.SimCores < 1 || c.Workers < 0:
		return errors.New("farm sim: validation parameters")
	case c.Timeout < 0 || c.ParkTimeout < 0 || c.FallbackStep < 0 || c.MaxTime <= 0:
		return errors.New("farm sim: farmer timeouts")
	}
	for _, b := range c.Behaviours {
		if b != Flip && b != Equivocate && b != Silent {
			return fmt.Errorf("farm sim: unknown behaviour %q", b)
		}
	}
	return nil
}

// SafetyBound is 2q − n: conflicting certificates need at least this many
// Byzantine members in a quorum (CERT-11).
func (c Config) SafetyBound() int { return 2*c.q() - c.N }
