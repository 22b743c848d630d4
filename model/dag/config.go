package dag

import (
	"fmt"
	"slices"
	"strings"
)

// Config holds the constants of tla/DAGConvergence.tla. Lists encode sets;
// the JSON names are the manifest's.
type Config struct {
	Harvesters   []int `json:"Harvesters"`   // 1..n
	Equivocators []int `json:"Equivocators"` // up to two blocks per round
	Withholders  []int `json:"Withholders"`  // one block, to some miners or none
	MinRefs      int   `json:"MinRefs"`      // CONV-2
	Miners       []int `json:"Miners"`
	MaxRound     int   `json:"MaxRound"`
	// MaxDeferRounds is CONV-9's bound.
	MaxDeferRounds int    `json:"MaxDeferRounds"`
	InitBalance    uint64 `json:"InitBalance"`
	// Certified are IDs of Universe with a transaction certificate; LateTxs
	// (a subset) are certified only from round 2 on.
	Certified []int `json:"Certified"`
	LateTxs   []int `json:"LateTxs"`
	// ByzBlocks are the transfer sets a Byzantine proposal block may carry.
	ByzBlocks [][]int `json:"ByzBlocks"`
	// CertsPerRound is 1 when certificates are unique per slot (CERT-11,
	// b < 2q − n) and 2 when they are not.
	CertsPerRound int `json:"CertsPerRound"`
	// ResolveByInputOrder plants the bug that Converge gives a slot to the
	// candidate met first in its input sequence.
	ResolveByInputOrder bool `json:"ResolveByInputOrder"`
	// IgnoreRejected plants the bug that CONV-14 is off: Converge is given
	// an empty rejected set, so a rejected transfer proposed again can be
	// applied later (dag_n3_rejectagain_bug).
	IgnoreRejected bool `json:"IgnoreRejected"`
	// ByzMiners (a subset of Miners) build from any subset of their inbox
	// with MinRefs counted proposers, which CONV-13 accepts (FIN-6).
	ByzMiners []int `json:"ByzMiners"`
	// SoloTxs (a subset of Certified) are in the pool of the least honest
	// harvester only: honest blocks that differ, as block capacity or
	// certificates not yet spread make them, so omission can censor.
	SoloTxs []int `json:"SoloTxs"`
	// MinersWait: a miner builds only once it holds a block of every
	// honest harvester (MINE-1's wait after GST).
	MinersWait bool `json:"MinersWait"`
}

// Universe is the module's transfer universe, IDs 1..6 in digest order:
// accounts 1 and 2, each sending to the other. 1 and 2 conflict on slot
// (1, 0); 3 follows either and may overdraw; 4, 5, 6 are account 2's
// nonces 0, 1, 2.
func Universe() []Transfer {
	return []Transfer{
		{ID: 1, From: 1, To: 2, Nonce: 0, Amount: 2, Fee: 1},
		{ID: 2, From: 1, To: 2, Nonce: 0, Amount: 1, Fee: 1},
		{ID: 3, From: 1, To: 2, Nonce: 1, Amount: 1, Fee: 1},
		{ID: 4, From: 2, To: 1, Nonce: 0, Amount: 2, Fee: 1},
		{ID: 5, From: 2, To: 1, Nonce: 1, Amount: 1, Fee: 1},
		{ID: 6, From: 2, To: 1, Nonce: 2, Amount: 1, Fee: 1},
	}
}

var universe = Universe()

// accounts are the module's accounts.
var accounts = []int{1, 2}

// txSet is a set of Universe IDs: bit t−1 for ID t (the TLA+ Mask).
type txSet uint64

func (s txSet) has(t int) bool { return t >= 1 && t <= 64 && s&(1<<(t-1)) != 0 }

func (s txSet) ids() []int {
	var out []int
	for t := 1; t <= len(universe); t++ {
		if s.has(t) {
			out = append(out, t)
		}
	}
	return out
}

func setOf(ids []int) txSet {
	var s txSet
	for _, t := range ids {
		s |= 1 << (t - 1)
	}
	return s
}

func (s txSet) String() string {
	parts := make([]string, 0, len(universe))
	for _, t := range s.ids() {
		parts = append(parts, fmt.Sprint(t))
	}
	return "{" + strings.Join(parts, ", ") + "}"
}

// ConfigError says which constant is malformed and why.
type ConfigError struct {
	Field  string
	Reason string
}

func (e *ConfigError) Error() string {
	return fmt.Sprintf("dag model: bad config: %s: %s", e.Field, e.Reason)
}

func duplicate(xs []int) (int, bool) {
	s := slices.Sorted(slices.Values(xs))
	for i := 1; i < len(s); i++ {
		if s[i] == s[i-1] {
			return s[i], true
		}
	}
	return 0, false
}

// Validate checks the module's ASSUME ConstantsOK and, because lists stand
// for sets, that no list repeats an element. Like the ASSUME it allows
// unsafe settings (MinRefs ≤ b, too many withholders, CertsPerRound 2):
// the models break assumptions on purpose.
func (c Config) Validate() error {
	for _, f := range []struct {
		name string
		xs   []int
	}{{"Harvesters", c.Harvesters}, {"Equivocators", c.Equivocators}, {"Withholders", c.Withholders},
		{"Miners", c.Miners}, {"Certified", c.Certified}, {"LateTxs", c.LateTxs},
		{"ByzMiners", c.ByzMiners}, {"SoloTxs", c.SoloTxs}} {
		if d, ok := duplicate(f.xs); ok {
			return &ConfigError{f.name, fmt.Sprintf("%d listed twice", d)}
		}
	}
	n := len(c.Harvesters)
	for i, h := range slices.Sorted(slices.Values(c.Harvesters)) {
		if h != i+1 {
			return &ConfigError{"Harvesters", fmt.Sprintf("must be 1..%d", n)}
		}
	}
	for _, h := range c.Equivocators {
		if h < 1 || h > n {
			return &ConfigError{"Equivocators", fmt.Sprintf("%d is not a harvester", h)}
		}
	}
	for _, h := range c.Withholders {
		if h < 1 || h > n || slices.Contains(c.Equivocators, h) {
			return &ConfigError{"Withholders", fmt.Sprintf("%d is not a harvester outside Equivocators", h)}
		}
	}
	if len(c.Equivocators)+len(c.Withholders) >= n {
		return &ConfigError{"Harvesters", "no honest harvester"}
	}
	if c.MinRefs < 1 || c.MinRefs > n {
		return &ConfigError{"MinRefs", fmt.Sprintf("%d is not in 1..%d", c.MinRefs, n)}
	}
	if len(c.Miners) == 0 || len(c.Miners) > 64 {
		return &ConfigError{"Miners", "need 1..64 miners"}
	}
	if c.MaxRound < 0 || c.MaxDeferRounds < 0 {
		return &ConfigError{"MaxRound/MaxDeferRounds", "negative"}
	}
	if c.InitBalance > 1<<40 {
		return &ConfigError{"InitBalance", "too large for the model"}
	}
	inUniverse := func(field string, ids []int) error {
		for _, t := range ids {
			if t < 1 || t > len(universe) {
				return &ConfigError{field, fmt.Sprintf("%d is not a transfer of Universe (1..%d)", t, len(universe))}
			}
		}
		return nil
	}
	if err := inUniverse("Certified", c.Certified); err != nil {
		return err
	}
	for _, t := range c.LateTxs {
		if !slices.Contains(c.Certified, t) {
			return &ConfigError{"LateTxs", fmt.Sprintf("%d is not in Certified", t)}
		}
	}
	for _, m := range c.ByzMiners {
		if !slices.Contains(c.Miners, m) {
			return &ConfigError{"ByzMiners", fmt.Sprintf("%d is not in Miners", m)}
		}
	}
	for _, t := range c.SoloTxs {
		if !slices.Contains(c.Certified, t) {
			return &ConfigError{"SoloTxs", fmt.Sprintf("%d is not in Certified", t)}
		}
	}
	for _, b := range c.ByzBlocks {
		if err := inUniverse("ByzBlocks", b); err != nil {
			return err
		}
		if d, ok := duplicate(b); ok {
			return &ConfigError{"ByzBlocks", fmt.Sprintf("%d listed twice in a block", d)}
		}
	}
	if c.CertsPerRound != 1 && c.CertsPerRound != 2 {
		return &ConfigError{"CertsPerRound", fmt.Sprintf("%d is not 1 or 2", c.CertsPerRound)}
	}
	return nil
}

// Honest returns Harvesters \ (Equivocators ∪ Withholders), sorted: the
// nodes that finalize (Nodes in the module).
func (c Config) Honest() []int {
	var h []int
	for _, x := range slices.Sorted(slices.Values(c.Harvesters)) {
		if !slices.Contains(c.Equivocators, x) && !slices.Contains(c.Withholders, x) {
			h = append(h, x)
		}
	}
	return h
}

// Pos is pos_r(h), the module's fixed rotation standing for ORD-2's
// beacon-drawn order.
// spec: ORD-2, tla: DAGConvergence!Pos
func (c Config) Pos(r, h int) int { return (h+r-2)%len(c.Harvesters) + 1 }

// certifiedBy is the set of transfers with a certificate in round r.
// tla: DAGConvergence!CertifiedBy
func (c Config) certifiedBy(r int) txSet {
	s := setOf(c.Certified)
	if r == 1 {
		s &^= setOf(c.LateTxs)
	}
	return s
}

// byzBlocks returns ByzBlocks as sets, deduplicated and sorted.
func (c Config) byzBlocks() []txSet {
	var out []txSet
	for _, b := range c.ByzBlocks {
		out = append(out, setOf(b))
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// String prints a config like the CONSTANTS section of an MC_dag_*.cfg file.
func (c Config) String() string {
	set := func(xs []int) string {
		var parts []string
		for _, x := range slices.Sorted(slices.Values(xs)) {
			parts = append(parts, fmt.Sprint(x))
		}
		return "{" + strings.Join(parts, ", ") + "}"
	}
	var byz []string
	for _, b := range c.ByzBlocks {
		byz = append(byz, set(b))
	}
	slices.Sort(byz)
	return fmt.Sprintf("Harvesters = %s, Equivocators = %s, Withholders = %s, MinRefs = %d, Miners = %s, "+
		"MaxRound = %d, MaxDeferRounds = %d, InitBalance = %d, Certified = %s, LateTxs = %s, ByzBlocks = {%s}, "+
		"CertsPerRound = %d, ResolveByInputOrder = %v, IgnoreRejected = %v, ByzMiners = %s, SoloTxs = %s, MinersWait = %v",
		set(c.Harvesters), set(c.Equivocators), set(c.Withholders), c.MinRefs, set(c.Miners),
		c.MaxRound, c.MaxDeferRounds, c.InitBalance, set(c.Certified), set(c.LateTxs), strings.Join(byz, ", "),
		c.CertsPerRound, strings.ToUpper(fmt.Sprint(c.ResolveByInputOrder)), strings.ToUpper(fmt.Sprint(c.IgnoreRejected)),
		set(c.ByzMiners), set(c.SoloTxs), strings.ToUpper(fmt.Sprint(c.MinersWait)))
}
