package tests

// Planted bugs (pm.Mutations) must be caught by the simulator's safety
// checker in a seeded scenario built for each: the scenario is searched
// over seeds 1..maxSeed until the checker reports the expected invariant,
// and the catching seed is printed. For that seed the same scenario
// without the mutation must be safe, so the catch is the mutation's doing.

import (
	"slices"
	"testing"
	"time"

	pm "github.com/fhbft/fhbft/impl/pacemaker"
	"github.com/fhbft/fhbft/impl/pacemaker/timeout"
	pmsim "github.com/fhbft/fhbft/impl/sim/pacemaker"
)

type mutationCase struct {
	name string
	mut  pm.Mutations
	// scenario makes the configuration for a seed.
	scenario func(seed uint64) pmsim.Config
	// want lists invariants any of which counts as the catch; conflict
	// says whether an actual conflicting commit (PM-23) is expected too.
	want     []string
	conflict bool
	why      string
}

func baseMutationConfig(seed uint64) pmsim.Config {
	return pmsim.Config{
		Seed: seed, N: 4, Q: 3,
		Timeout:  timeout.Config{Mode: timeout.Fixed, Base: 60 * time.Millisecond},
		MinDelay: 2 * time.Millisecond, MaxDelay: 10 * time.Millisecond,
		CommandInterval: 20 * time.Millisecond, MaxViews: 40, MaxTime: 10 * time.Second, Wire: true,
	}
}

var mutationCases = []mutationCase{
	{
		name: "NoConsecutiveCheck",
		mut:  pm.Mutations{NoConsecutiveCheck: true},
		scenario: func(seed uint64) pmsim.Config {
			// Replica 2 is down from the start: every fourth view fails, so
			// 3-chains have gaps and the correct rule never commits (n = 4).
			c := baseMutationConfig(seed)
			c.Crashes = []pmsim.CrashSpec{{Replica: 2}}
			return c
		},
		want: []string{pmsim.InvCommitOnConsecutive3},
		why:  "commits on a 3-chain with a view gap (PM-26)",
	},
	{
		name: "AcceptUnverifiedQC",
		mut:  pm.Mutations{AcceptUnverifiedQC: true},
		scenario: func(seed uint64) pmsim.Config {
			// Replica 4, as leader, proposes on a 3-chain certified by forged
			// QCs and rooted at genesis to half of the replicas.
			c := baseMutationConfig(seed)
			c.Byzantine = map[pm.ReplicaID]pmsim.Behaviour{4: pmsim.ForgeQC}
			return c
		},
		want:     []string{pmsim.InvNoConflictingCommits, pmsim.InvQCVerified},
		conflict: true,
		why:      "uses forged QCs and commits a forged fork (PM-3, PM-23)",
	},
	{
		name: "LockDoesNotMove",
		mut:  pm.Mutations{LockDoesNotMove: true},
		scenario: func(seed uint64) pmsim.Config {
			// Replica 4, as leader, proposes on the genesis QC: below every
			// honest lock, so only replicas whose lock never moved vote.
			c := baseMutationConfig(seed)
			c.Byzantine = map[pm.ReplicaID]pmsim.Behaviour{4: pmsim.StaleLeader}
			return c
		},
		want:     []string{pmsim.InvNoConflictingCommits, pmsim.InvConflictRefused},
		conflict: true,
		why:      "votes for a fork below its (unmoved) lock, certifies a conflicting 3-chain (PM-5, PM-23)",
	},
	{
		name: "VoteTwice",
		mut:  pm.Mutations{VoteTwice: true},
		scenario: func(seed uint64) pmsim.Config {
			// Replica 4, as leader, sends two conflicting proposals to all.
			c := baseMutationConfig(seed)
			c.Byzantine = map[pm.ReplicaID]pmsim.Behaviour{4: pmsim.EquivocateAll}
			return c
		},
		want: []string{pmsim.InvVoteOncePerView},
		why:  "signs votes for two blocks of one view (PM-5)",
	},
}

func TestPlantedBugsCaught(t *testing.T) {
	t.Parallel()
	maxSeed := uint64(5)
	if testing.Short() {
		maxSeed = 3
	}
	for _, mc := range mutationCases {
		caught := uint64(0)
		var found []pmsim.Violation
		for seed := uint64(1); seed <= maxSeed && caught == 0; seed++ {
			cfg := mc.scenario(seed)
			cfg.Mutations = mc.mut
			cfg.StopOnViolation = true
			sim, err := pmsim.New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			r := sim.Run()
			for _, v := range r.Violations {
				if slices.Contains(mc.want, v.Invariant) {
					caught, found = seed, r.Violations
					break
				}
			}
		}
		if caught == 0 {
			t.Errorf("%s: not caught in seeds 1..%d (expected %v: %s)", mc.name, maxSeed, mc.want, mc.why)
			continue
		}
		t.Logf("%s caught with seed %d (%s): %v", mc.name, caught, mc.why, found[0])
		if mc.conflict && !hasInvariant(found, pmsim.InvNoConflictingCommits) && !hasInvariant(found, pmsim.InvConflictRefused) && !hasInvariant(found, pmsim.InvQCVerified) {
			t.Errorf("%s seed %d: expected a conflicting commit, got %v", mc.name, caught, found)
		}
		// Control: the same scenario and seed without the planted bug.
		cfg := mc.scenario(caught)
		sim, err := pmsim.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		if r := sim.Run(); !r.Safe() {
			t.Errorf("%s seed %d: the scenario is unsafe even without the mutation: %v", mc.name, caught, r.Violations[0])
		}
	}
}

// TestAcceptUnverifiedQCForksCommits runs the forged-QC attack past the
// first violation to show the fork itself: honest replicas that took the
// forged chain committed a block that conflicts with another honest
// replica's commits (not only a QCVerified report).
func TestAcceptUnverifiedQCForksCommits(t *testing.T) {
	t.Parallel()
	for seed := uint64(1); seed <= 5; seed++ {
		cfg := mutationCases[1].scenario(seed)
		cfg.Mutations = pm.Mutations{AcceptUnverifiedQC: true}
		cfg.StopWhen = func(s *pmsim.Sim) bool {
			return hasInvariant(s.Checker().Violations(), pmsim.InvNoConflictingCommits)
		}
		sim, err := pmsim.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		r := sim.Run()
		for _, v := range r.Violations {
			if v.Invariant == pmsim.InvNoConflictingCommits {
				t.Logf("seed %d: %v", seed, v)
				return
			}
		}
	}
	t.Fatal("no conflicting commit from forged QCs in seeds 1..5")
}

func hasInvariant(vs []pmsim.Violation, inv string) bool {
	for _, v := range vs {
		if v.Invariant == inv {
			return true
		}
	}
	return false
}
