package ledger

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/fhbft/fhbft/impl/dag"
	"github.com/fhbft/fhbft/impl/harvester"
	"github.com/fhbft/fhbft/impl/miner"
	"github.com/fhbft/fhbft/impl/pacemaker/timeout"
	farmsim "github.com/fhbft/fhbft/impl/sim/farmer"
)

// Faults names a fault preset (Config.Faults).
type Faults string

const (
	// FaultsNone: every harvester and miner honest (the farmer layer keeps
	// its own Byzantine farmers, Config.Farm.Byzantine).
	FaultsNone Faults = "none"
	// FaultsEquivocate: the last harvester signs two proposal blocks per
	// round (PB-3 broken), one to each half of the harvesters and both to
	// every miner, so that the miners hold the evidence (PB-5, PB-6).
	FaultsEquivocate Faults = "equivocate"
	// FaultsOmit: the miner elected for round 1 (rank 0, ORD-3) leaves out
	// the proposal blocks of the highest positions whenever it builds
	// (miner.Mutations.OmitBlocks = nH − qH).
	FaultsOmit Faults = "omit"
	// FaultsSilentMiner: the miner elected for round 1 never builds; a
	// fallback rank does (MINE-1, MINE-3).
	FaultsSilentMiner Faults = "silent-miner"
	// FaultsConflicts: many pairs of conflicting transfers (one sender, one
	// nonce) submitted to different farmers at once (farmer Mix.Conflict).
	FaultsConflicts Faults = "conflicts"
	// FaultsAll: all of the above at once (the omitting miner is round 1's
	// rank 0, the silent one its rank 1).
	FaultsAll Faults = "all"
)

// AllFaults lists the presets.
func AllFaults() []Faults {
	return []Faults{FaultsNone, FaultsEquivocate, FaultsOmit, FaultsSilentMiner, FaultsConflicts, FaultsAll}
}

// ParseFaults checks a preset name.
func ParseFaults(s string) (Faults, error) {
	for _, f := range AllFaults() {
		if string(f) == s {
			return f, nil
		}
	}
	var names []string
	for _, f := range AllFaults() {
		names = append(names, string(f))
	}
	return "", fmt.Errorf("ledger sim: unknown fault preset %q (known: %s)", s, strings.Join(names, ", "))
}

func (f Faults) has(x Faults) bool { return f == x || f == FaultsAll && x != FaultsNone }

// Config describes one whole-protocol run.
type Config struct {
	// Seed drives everything: keys, workload, network delays.
	Seed uint64
	// Farm is the farmer layer: K = Farm.Quorums quorums of Farm.N farmers,
	// clients and their transfers (Farm.Seed and Farm.Harvesters are set
	// from Seed and Harvesters).
	Farm farmsim.Config
	// Harvesters is nH, the harvester quorum (also the pacemaker roster);
	// HQ its threshold qH (0: ceil(0.6·nH)).
	Harvesters, HQ int
	// Miners is M.
	Miners int
	// Rounds is the round budget: the run stops when an honest harvester
	// finalizes this round, whatever is still pending (and reported lost).
	Rounds int
	// Faults is the fault preset.
	Faults Faults
	// Block and round constants (zero: dag.DefaultParams).
	MaxBlockTxs    int
	MaxBlockBytes  int
	MaxDeferRounds int
	Fallbacks      int
	// Miner timing (MINE-1; zero: impl/miner defaults).
	MinerWait, FallbackDelay time.Duration
	// PMTimeout is every pacemaker replica's view timeout (PM-21, PM-22).
	PMTimeout timeout.Config
	// HarvesterMutations are planted in every honest harvester and
	// MinerMutations in every miner not made faulty by the preset (tests:
	// the checker must catch them). CorruptBlocks makes the miner elected
	// for round 1 send blocks that claim a wrong state root: honest
	// harvesters refuse them (CONV-13) and a fallback is certified; a
	// harvester that votes without recomputing certifies them (MINE-3).
	HarvesterMutations harvester.Mutations
	MinerMutations     miner.Mutations
	CorruptBlocks      bool
	// MutatedHarvesters limits HarvesterMutations to the first this many
	// honest harvesters (0: all of them), so that mutated and correct
	// harvesters can disagree.
	MutatedHarvesters int
	// StallTime ends the run with a liveness violation when no round
	// becomes final for this long in simulated time (0: 2s).
	StallTime time.Duration
	// Trace receives the NDJSON trace (nil: none). DOT receives the DAG as
	// Graphviz DOT at the end (nil: none).
	Trace, DOT io.Writer
	// Progress receives a line every ProgressEvery rounds (nil: none).
	Progress      io.Writer
	ProgressEvery int
	// History, when set, records the clients' transfers and balance reads
	// for a linearizability check (Report.History, history.go). Recording
	// adds no events and changes nothing the protocol does.
	History *HistoryConfig
}

// Default is `fhbft simulate`'s network: 4 farmer quorums of 7 (one
// Byzantine farmer each), 7 harvesters with qH = 5, 3 miners, 32 clients ×
// 4 transfers plus invalid, duplicate and conflicting ones.
func Default() Config {
	f := farmsim.Default()
	f.Quorums, f.N, f.Clients, f.Transfers = 4, 7, 32, 4
	f.MaxFee = 20
	f.Invalid = farmsim.Mix{BadSignature: 2, Overdraft: 3, NonceGap: 2, Replay: 2, Duplicate: 4, Conflict: 3}
	// The run lasts until every transfer is settled, and every round,
	// empty or not, costs the harvesters their signatures and pairings: the
	// nonce-gap transfers are refused after a short park timeout, and
	// clients resubmit after 150 ms (a silent home farmer) and give up after
	// three sends (a conflicting pair can stay uncertified for good when its
	// farmers split, CERT-13).
	f.ParkTimeout = 200 * time.Millisecond
	f.ClientTimeout, f.MaxAttempts = 150*time.Millisecond, 3
	return Config{
		Seed: 1, Farm: f, Harvesters: 7, Miners: 3, Rounds: 100, Faults: FaultsNone,
		// Blocks smaller than the pool, so that positions matter (MEV-3).
		MaxBlockTxs: 24,
		PMTimeout:   timeout.Config{Mode: timeout.Adaptive, Base: 500 * time.Millisecond, Min: 20 * time.Millisecond, Max: 5 * time.Second, Window: 16},
	}
}

// Small is a quick configuration for tests: 2 farmer quorums of 4, 4
// harvesters (qH = 3, so one may be Byzantine), 3 miners, a few transfers
// of each kind.
func Small() Config {
	c := Default()
	c.Farm.Quorums, c.Farm.N, c.Farm.Clients, c.Farm.Transfers = 2, 4, 8, 3
	c.Farm.Invalid = farmsim.Mix{BadSignature: 1, Overdraft: 1, NonceGap: 1, Replay: 1, Duplicate: 1, Conflict: 2}
	c.Harvesters, c.Miners = 4, 3
	c.MaxBlockTxs = 8
	return c
}

// hq is the harvester threshold in force.
func (c Config) hq() int {
	if c.HQ > 0 {
		return c.HQ
	}
	return (3*c.Harvesters + 4) / 5
}

// byzantineHarvesters is how many harvesters the preset makes Byzantine.
func (c Config) byzantineHarvesters() int {
	if c.Faults.has(FaultsEquivocate) {
		return 1
	}
	return 0
}

// Validate rejects configurations the simulator cannot run.
func (c Config) Validate() error {
	q := c.hq()
	switch {
	case c.Harvesters < 1 || c.Harvesters > 16:
		return fmt.Errorf("ledger sim: harvesters %d outside 1..16", c.Harvesters)
	case q < 1 || q > c.Harvesters || 2*q <= c.Harvesters:
		return fmt.Errorf("ledger sim: harvester threshold %d of %d (need 2q > n, CERT-1)", q, c.Harvesters)
	case c.Miners < 1 || c.Miners > 64:
		return fmt.Errorf("ledger sim: miners %d outside 1..64", c.Miners)
	case c.Rounds < 1:
		return fmt.Errorf("ledger sim: round budget %d < 1", c.Rounds)
	case c.MaxBlockTxs < 0 || c.MaxBlockBytes < 0 || c.MaxDeferRounds < 0 || c.Fallbacks < 0:
		return fmt.Errorf("ledger sim: negative block parameters")
	case c.MinerWait < 0 || c.FallbackDelay < 0:
		return fmt.Errorf("ledger sim: negative miner timing")
	case c.ProgressEvery < 0 || c.StallTime < 0:
		return fmt.Errorf("ledger sim: negative progress interval or stall time")
	}
	if _, err := ParseFaults(string(c.Faults)); err != nil {
		return err
	}
	if c.History != nil {
		if err := c.History.validate(); err != nil {
			return err
		}
	}
	if b := c.byzantineHarvesters(); b > 0 && b >= 2*q-c.Harvesters {
		return fmt.Errorf("ledger sim: %d Byzantine harvesters, the bound is < 2qH − nH = %d (FIN-4, CERT-11)", b, 2*q-c.Harvesters)
	}
	silent, omit := c.Faults.has(FaultsSilentMiner), c.Faults.has(FaultsOmit)
	if c.CorruptBlocks && (silent || omit) {
		return fmt.Errorf("ledger sim: CorruptBlocks and preset %q both pick round 1's elected miner", c.Faults)
	}
	if c.CorruptBlocks && c.Miners < 2 {
		return fmt.Errorf("ledger sim: CorruptBlocks needs an honest fallback miner")
	}
	if silent && omit && c.Miners < 3 || (silent || omit) && c.Miners < 2 {
		return fmt.Errorf("ledger sim: preset %q needs an honest miner besides the faulty ones (FIN-6), have %d miners", c.Faults, c.Miners)
	}
	return c.Farm.Validate()
}

func (c Config) stallTime() time.Duration {
	if c.StallTime > 0 {
		return c.StallTime
	}
	return 2 * time.Second
}

// params is the dag.Params of the run.
func (c Config) params(p dag.Params) dag.Params {
	if c.MaxBlockTxs > 0 {
		p.MaxBlockTxs = c.MaxBlockTxs
	}
	if c.MaxBlockBytes > 0 {
		p.MaxBlockBytes = c.MaxBlockBytes
	}
	if c.MaxDeferRounds > 0 {
		p.MaxDeferRounds = dag.Round(c.MaxDeferRounds)
	}
	if c.Fallbacks > 0 {
		p.Fallbacks = c.Fallbacks
	}
	return p
}
