// Package pacemaker is the simulation harness of the harvester pacemaker
// (spec/pacemaker.md, PM-1..PM-32): it runs n impl/pacemaker replicas over
// the deterministic network of impl/sim/network with per-link delays,
// drops, partitions, a global stabilisation time, crashes and recoveries,
// client commands, Byzantine behaviours and Twins (two replicas sharing one
// identity and key, Bano et al.), and checks the safety invariants PM-23..
// PM-28 (plus PM-3, PM-5 and PM-18) over every honest replica after every
// step (see Checker).
//
// Everything the protocol does is a function of Config.Seed: the network
// draws from seeded per-link streams, keys are dealt from (n, q), and no
// result depends on map order or the wall clock. Only the wall-clock
// timings in Report.Crypto vary between runs.
package pacemaker

import (
	"fmt"
	"io"
	"slices"
	"time"

	pm "github.com/fhbft/fhbft/impl/pacemaker"
	"github.com/fhbft/fhbft/impl/pacemaker/timeout"
	"github.com/fhbft/fhbft/impl/sim/network"
)

// Behaviour is what a Byzantine replica does. Every Byzantine replica runs
// an honest pm.Replica inside and the behaviour rewrites what it sends.
type Behaviour string

const (
	Honest Behaviour = ""
	// Silent sends nothing at all (a crash from the start, but counted
	// against the Byzantine bound).
	Silent Behaviour = "silent"
	// SilentLeader withholds its own proposals and otherwise follows the
	// protocol.
	SilentLeader Behaviour = "silent-leader"
	// Equivocate sends, as leader, its block to one half of the replicas and
	// a conflicting block (other commands) to the other half, and votes for
	// both.
	Equivocate Behaviour = "equivocate"
	// EquivocateAll sends, as leader, its block and then a conflicting one to
	// every replica and votes for both: honest replicas handle the first
	// and drop the second (ReasonEquivocation); with Mutations.VoteTwice
	// they vote for both.
	EquivocateAll Behaviour = "equivocate-all"
	// InflateViews sends, on every view it enters, messages with huge views
	// and forged certificates: a proposal 1000 views ahead on a forged QC, a
	// vote and a complaint a million views ahead, a NewView with a forged QC
	// and a NextView with a forged TC. Honest replicas must drop them all
	// (PM-3, PM-18) and never move views because of them.
	InflateViews Behaviour = "inflate"
	// ForgeQC proposes, as leader of view v, to one half of the replicas a
	// block on a fabricated 3-chain x0 ← x1 ← x2 (views v-3..v-1, x0 on its
	// own bExec) certified by forged QCs, and serves those blocks to
	// fetches; the other half gets its honest block. With the PM-3 check
	// the forged proposal is dropped (ReasonBadQC); without it (Mutations.
	// AcceptUnverifiedQC) the first half commits x0, which conflicts with
	// the honest chain the others commit.
	ForgeQC Behaviour = "forge-qc"
	// VoteTwice votes, in every view it votes, also for a fabricated
	// conflicting block: equivocation evidence (CERT-8), and the collector
	// counts only its first vote.
	VoteTwice Behaviour = "vote-twice"
	// StaleLeader sends, as leader of view v, its block to one replica and
	// to the others a block on an old QC (three justify
	// links back: below their lock, above what they executed), and votes
	// for the old one. With the lock rule (PM-5, PM-6) honest replicas
	// refuse it; with Mutations.LockDoesNotMove they vote for it, build on
	// it, and commit a block that conflicts with what the one replica
	// committed on handling the honest block.
	StaleLeader Behaviour = "stale-leader"
)

// Behaviours lists the Byzantine behaviours.
var Behaviours = []Behaviour{Silent, SilentLeader, Equivocate, EquivocateAll, InflateViews, ForgeQC, VoteTwice, StaleLeader}

// Known reports whether b is a behaviour of this package (Honest included).
func Known(b Behaviour) bool {
	if b == Honest {
		return true
	}
	for _, k := range Behaviours {
		if k == b {
			return true
		}
	}
	return false
}

// CrashSpec crashes replica ID (every node of that identity) at At and, if
// RecoverAt > At, recovers it then with its state (PM-19 lets it catch up).
// At = 0 means it never starts until it recovers.
type CrashSpec struct {
	Replica   pm.ReplicaID
	At        time.Duration
	RecoverAt time.Duration
}

// Action changes the network during a run: it cuts the network into
// Groups (if Partition; nil Groups heals) and crashes or recovers nodes.
// Groups name network nodes: node i (1..n) is replica i, twin copies are
// TwinNode(cfg, k); nodes in no group are isolated. An action applies at
// time At, or, if AtView > 0, as soon as an honest replica (or, if Node >
// 0, that node, honest or not) enters view AtView: Twins-style rounds.
// View-triggered actions apply one after the other in the order given.
// Partitions act only before GST (network package). A crashed node keeps
// its state and gets its pending timer on recovery (network package).
type Action struct {
	At        time.Duration
	AtView    pm.View
	Node      network.NodeID
	Partition bool
	Groups    [][]network.NodeID
	Crash     []network.NodeID
	Recover   []network.NodeID
	Final     bool // cancel the view-triggered actions not applied yet
}

// Cut is an Action that changes the partition at view v (when node
// enters it; node 0: any honest replica).
func Cut(v pm.View, node network.NodeID, groups ...[]network.NodeID) Action {
	return Action{AtView: v, Node: node, Partition: true, Groups: groups}
}

// Config describes one simulation. Zero fields take the defaults of
// Default() where noted.
type Config struct {
	Seed uint64
	N, Q int // Q = 0: ceil(0.6·N)

	Byzantine map[pm.ReplicaID]Behaviour // Byzantine replicas and what they do
	Twins     []pm.ReplicaID             // identities that run twice (Twins); counted Byzantine
	Mutations pm.Mutations               // planted bugs in every honest replica (tests)

	Timeout        timeout.Config
	Leader         pm.LeaderMode
	Beacon         pm.Hash // epoch beacon for pm.LeaderBeacon
	ViewsPerLeader int     // R (PM-34); 0: 1

	// Network (before GST; after GST no drops, no partitions, delays ≤ Delta).
	MinDelay, MaxDelay time.Duration
	Drop               float64
	GST                time.Duration // 0: synchronous from the start; network.Never: never
	Delta              time.Duration // delay bound after GST (0: MaxDelay)
	Actions            []Action

	Crashes       []CrashSpec
	CrashLeaderAt time.Duration // > 0: crash the leader of the highest honest view at this time
	RecoverAfter  time.Duration // > 0: recover that leader this long after the crash

	CommandInterval time.Duration // > 0: submit a client command to every replica at this rate
	Commands        int           // at most this many commands (0: no limit)
	MaxBatch        int           // pm.Config.MaxBatch (0: the replica default)

	MaxViews pm.View       // stop once an honest replica reaches this view (0: no limit)
	MaxTime  time.Duration // stop at this simulated time (0: no limit)
	MaxSteps int           // stop after this many events (0: 1e6)

	Wire            bool // send every message through its wire encoding (catches encoding bugs; costs decoding)
	StopOnViolation bool
	// StopWhen, if set, is asked after every event whether to stop.
	StopWhen func(*Sim) bool
	// Trace, if set, gets one line per proposal, certificate, view entry,
	// commit and partition change (for debugging scenarios).
	Trace io.Writer
}

// Default is the configuration `fhbft pacemaker` starts from: five
// replicas, 5-15 ms links, adaptive timeouts, a client command every 10 ms,
// and a leader crash at 1.5 s.
func Default() Config {
	return Config{
		Seed: 1, N: 5,
		Timeout:  timeout.Config{Mode: timeout.Adaptive, Base: time.Second, Min: 10 * time.Millisecond, Max: 10 * time.Second, Window: 16},
		MinDelay: 5 * time.Millisecond, MaxDelay: 15 * time.Millisecond,
		CrashLeaderAt: 1500 * time.Millisecond, CommandInterval: 10 * time.Millisecond,
		MaxViews: 150, MaxTime: time.Minute, Wire: true,
	}
}

// QOf is the threshold the config uses: Q, or ceil(0.6·N).
func (c Config) QOf() int {
	if c.Q > 0 {
		return c.Q
	}
	return (3*c.N + 4) / 5
}

// Faulty counts Byzantine identities (Twins included, once each).
func (c Config) Faulty() int {
	seen := map[pm.ReplicaID]bool{}
	for id, b := range c.Byzantine {
		if b != Honest {
			seen[id] = true
		}
	}
	for _, id := range c.Twins {
		seen[id] = true
	}
	return len(seen)
}

// WithinSafetyBound reports b < 2q − n (CERT-11, PM-30).
func (c Config) WithinSafetyBound() bool { return c.Faulty() < 2*c.QOf()-c.N }

// TwinNode is the network node of the twin copy of identity id (0 if id
// has no twin). Copies are numbered n+1, n+2, … in the order of Twins.
func TwinNode(c Config, id pm.ReplicaID) network.NodeID {
	for i, t := range c.Twins {
		if t == id {
			return network.NodeID(c.N + 1 + i)
		}
	}
	return 0
}

func (c Config) validate() error {
	q := c.QOf()
	switch {
	case c.N < 1:
		return fmt.Errorf("pacemaker sim: n = %d", c.N)
	case q < 1 || q > c.N || 2*q <= c.N:
		return fmt.Errorf("pacemaker sim: q = %d unusable for n = %d (need n/2 < q ≤ n)", q, c.N)
	case c.MinDelay < 0 || c.MaxDelay < c.MinDelay:
		return fmt.Errorf("pacemaker sim: delays %v..%v", c.MinDelay, c.MaxDelay)
	}
	for id, b := range c.Byzantine {
		if id < 1 || int(id) > c.N {
			return fmt.Errorf("pacemaker sim: Byzantine replica %d outside 1..%d", id, c.N)
		}
		if !Known(b) {
			return fmt.Errorf("pacemaker sim: unknown behaviour %q", b)
		}
	}
	seen := map[pm.ReplicaID]bool{}
	for _, id := range c.Twins {
		if id < 1 || int(id) > c.N || seen[id] {
			return fmt.Errorf("pacemaker sim: twin %d outside 1..%d or repeated", id, c.N)
		}
		seen[id] = true
	}
	nodes := network.NodeID(c.N + len(c.Twins))
	for _, a := range c.Actions {
		in := map[network.NodeID]bool{}
		for _, g := range a.Groups {
			for _, id := range g {
				if id < 1 || id > nodes || in[id] {
					return fmt.Errorf("pacemaker sim: partition node %d outside 1..%d or in two groups", id, nodes)
				}
				in[id] = true
			}
		}
		for _, id := range append(slices.Clone(a.Crash), a.Recover...) {
			if id < 1 || id > nodes {
				return fmt.Errorf("pacemaker sim: action on node %d outside 1..%d", id, nodes)
			}
		}
		if a.Node < 0 || a.Node > nodes {
			return fmt.Errorf("pacemaker sim: action trigger node %d outside 1..%d", a.Node, nodes)
		}
	}
	for _, cr := range c.Crashes {
		if cr.Replica < 1 || int(cr.Replica) > c.N {
			return fmt.Errorf("pacemaker sim: crash of replica %d outside 1..%d", cr.Replica, c.N)
		}
	}
	return nil
}
