package tests

// Integration properties of the farmer pipeline (spec/farmer.md FARM-24 …
// FARM-37, VOTE-1 … VOTE-6): random small simulations of impl/sim/farmer —
// clients, K farmer quorums with real validator units and schedulers,
// harvesters with collectors, Byzantine farmers below the bound, lossy
// links — checked end to end and through every honest farmer's trace.

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/fhbft/fhbft/impl/certification"
	farm "github.com/fhbft/fhbft/impl/farmer"
	"github.com/fhbft/fhbft/impl/maglev"
	farmsim "github.com/fhbft/fhbft/impl/sim/farmer"
	"github.com/fhbft/fhbft/impl/tx"
	"pgregory.net/rapid"
)

// drawFarmConfig draws a small run with Byzantine farmers strictly below
// the safety bound 2q − n and at most n − q of them (liveness).
func drawFarmConfig(t *rapid.T) farmsim.Config {
	c := farmsim.Small()
	c.Seed = rapid.Uint64().Draw(t, "seed")
	c.N = rapid.SampledFrom([]int{4, 5, 7}).Draw(t, "n")
	c.Quorums = rapid.IntRange(1, 3).Draw(t, "quorums")
	if c.N == 7 {
		c.Quorums = min(c.Quorums, 2)
	}
	q := certification.DefaultThreshold(c.N)
	c.Byzantine = rapid.IntRange(0, min(2*q-c.N-1, c.N-q)).Draw(t, "byzantine")
	c.Behaviours = []farmsim.Behaviour{rapid.SampledFrom([]farmsim.Behaviour{farmsim.Flip, farmsim.Equivocate, farmsim.Silent}).Draw(t, "behaviour")}
	c.Harvesters = rapid.IntRange(1, 2).Draw(t, "harvesters")
	c.Clients = rapid.IntRange(1, 3).Draw(t, "clients")
	c.Transfers = rapid.IntRange(1, 3).Draw(t, "transfers")
	one := func(label string) int { return rapid.IntRange(0, 1).Draw(t, label) }
	c.Invalid = farmsim.Mix{BadSignature: one("badsig"), Overdraft: one("overdraft"), NonceGap: one("gap"), Replay: one("replay"), Duplicate: one("dup"), Conflict: one("conflict")}
	c.Alloc = farm.AllocKey(one("alloc"))
	c.FallbackStep = rapid.IntRange(1, c.N-q).Draw(t, "step")
	c.Drop = rapid.SampledFrom([]float64{0, 0, 0.03, 0.1}).Draw(t, "drop")
	c.MaxDelay = time.Duration(rapid.IntRange(2, 15).Draw(t, "maxDelay")) * time.Millisecond
	// Well above the clients' 300 ms resubmission timeout (FARM-32).
	c.ParkTimeout = time.Duration(rapid.IntRange(900, 1500).Draw(t, "park")) * time.Millisecond
	c.Trace = true
	return c
}

// checkFarmTrace checks what the end-of-run invariants cannot see, on every
// honest farmer's trace:
//   - FARM-31: no validation asked for while a held lower-nonce transfer of
//     the same sender had no final verdict;
//   - no transfer held twice by one farmer (no duplication across relays,
//     forwards and delegations);
//   - ENTRY-1/FARM-24 in integration: a farmer holds only transfers whose
//     signer's entry quorum is its own quorum (every farmer computed the same
//     entry quorum);
//   - SCHED-8 in integration: every scheduler decision follows the tree.
func checkFarmTrace(rep *farmsim.Report, table *maglev.Table) error {
	for _, n := range rep.Trace.Nodes {
		held := map[tx.Digest]bool{}
		for _, e := range n.Log {
			switch e.Kind {
			case farmsim.LogRequest:
				if len(e.Unfinal) > 0 {
					return fmt.Errorf("FARM-31: farmer %d/%d asked for nonce %d at %v while %d held predecessors had no final verdict", n.Quorum, n.Member, e.Nonce, e.At, len(e.Unfinal))
				}
			case farmsim.LogHeld:
				if held[e.Digest] {
					return fmt.Errorf("farmer %d/%d holds %x twice", n.Quorum, n.Member, e.Digest[:4])
				}
				held[e.Digest] = true
				if q := table.Lookup(e.From); int(q) != n.Quorum {
					return fmt.Errorf("ENTRY-1: farmer %d/%d holds %x whose entry quorum is %d", n.Quorum, n.Member, e.Digest[:4], q)
				}
			}
		}
		for _, p := range n.Placements {
			if err := checkPlacement(p, certification.QuorumID(n.Quorum)); err != nil {
				return fmt.Errorf("farmer %d/%d: %v", n.Quorum, n.Member, err)
			}
		}
		if n.Remaining != 0 {
			return fmt.Errorf("farmer %d/%d: %d scheduler tasks left", n.Quorum, n.Member, n.Remaining)
		}
	}
	return nil
}

func tableOf(c farmsim.Config) *maglev.Table {
	ids := make([]certification.QuorumID, c.Quorums)
	for k := range ids {
		ids[k] = certification.QuorumID(k + 1)
	}
	size, err := maglev.SizeFor(c.Quorums)
	if err != nil {
		panic(err)
	}
	t, err := maglev.New(ids, size)
	if err != nil {
		panic(err)
	}
	return t
}

// TestFarmPipelineProperties: in random small runs with Byzantine farmers
// below the bound, no transfer is lost or certified twice with different
// verdicts, no invalid transfer is certified valid, honest farmers vote once
// per transfer, every scheduler drains, and the traces satisfy
// checkFarmTrace.
func TestFarmPipelineProperties(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		c := drawFarmConfig(t)
		rep, err := farmsim.Run(c)
		if err != nil {
			t.Fatal(err)
		}
		if len(rep.Violations) > 0 {
			t.Fatalf("config %s: %s", describe(c), strings.Join(rep.Violations, "; "))
		}
		if err := checkFarmTrace(rep, tableOf(c)); err != nil {
			t.Fatalf("config %s: %v", describe(c), err)
		}
	})
}

// TestFarmCheckersCatchPlantedBugs: each checker fails on the bug it is
// meant to catch (BRIEF §5), for a seed it prints.
func TestFarmCheckersCatchPlantedBugs(t *testing.T) {
	cases := []struct {
		name  string
		setup func(*farmsim.Config)
		// caught reports whether the run shows the bug.
		caught func(*farmsim.Report, *maglev.Table) bool
	}{
		{
			// VOTE-6 / CERT-12: at q Byzantine farmers (not below the bound)
			// an invalid transfer is certified valid, and the check sees it.
			name:  "byzantine reach q",
			setup: func(c *farmsim.Config) { c.Byzantine, c.Behaviours = 3, []farmsim.Behaviour{farmsim.Flip} },
			caught: func(r *farmsim.Report, _ *maglev.Table) bool {
				return anyViolation(r, "invalid transfer certified valid")
			},
		},
		{
			name:  "honest farmers accept everything",
			setup: func(c *farmsim.Config) { c.Byzantine, c.Mutations.AcceptAll = 0, true },
			caught: func(r *farmsim.Report, _ *maglev.Table) bool {
				return anyViolation(r, "invalid transfer certified valid")
			},
		},
		{
			name:  "validation before the predecessor",
			setup: func(c *farmsim.Config) { c.Mutations.NoPredecessorOrder = true; c.Transfers = 4 },
			caught: func(r *farmsim.Report, tb *maglev.Table) bool {
				err := checkFarmTrace(r, tb)
				return err != nil && strings.Contains(err.Error(), "FARM-31")
			},
		},
		{
			name:   "vote twice",
			setup:  func(c *farmsim.Config) { c.Mutations.VoteTwice = true },
			caught: func(r *farmsim.Report, _ *maglev.Table) bool { return anyViolation(r, "CERT-5") },
		},
		{
			name:  "entry keyed on the digest",
			setup: func(c *farmsim.Config) { c.Mutations.EntryByDigest = true; c.Quorums = 3 },
			caught: func(r *farmsim.Report, tb *maglev.Table) bool {
				err := checkFarmTrace(r, tb)
				return (err != nil && strings.Contains(err.Error(), "ENTRY-1")) || anyViolation(r, "entry quorum")
			},
		},
		{
			name:  "backpressure computed and not used",
			setup: func(c *farmsim.Config) { c.Sched.Mutations.IgnoreBackpressure = true },
			caught: func(r *farmsim.Report, tb *maglev.Table) bool {
				err := checkFarmTrace(r, tb)
				return err != nil && strings.Contains(err.Error(), "SCHED-8")
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for seed := uint64(1); seed <= 10; seed++ {
				c := farmsim.Small()
				c.Seed, c.Trace = seed, true
				tc.setup(&c)
				rep, err := farmsim.Run(c)
				if err != nil {
					t.Fatal(err)
				}
				if tc.caught(rep, tableOf(c)) {
					t.Logf("caught with seed %d", seed)
					return
				}
			}
			t.Fatalf("planted bug %q not caught in 10 seeds", tc.name)
		})
	}
}

func anyViolation(r *farmsim.Report, sub string) bool {
	for _, v := range r.Violations {
		if strings.Contains(v, sub) {
			return true
		}
	}
	return false
}

func describe(c farmsim.Config) string {
	return fmt.Sprintf("seed=%d quorums=%d n=%d byz=%d %v harvesters=%d clients=%d×%d invalid=%+v alloc=%v step=%d drop=%.2f maxDelay=%v park=%v",
		c.Seed, c.Quorums, c.N, c.Byzantine, c.Behaviours, c.Harvesters, c.Clients, c.Transfers, c.Invalid, c.Alloc, c.FallbackStep, c.Drop, c.MaxDelay, c.ParkTimeout)
}
