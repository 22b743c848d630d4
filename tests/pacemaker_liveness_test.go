package tests

// Liveness after GST (PM-29): before GST the network drops 20% of the
// messages and delays them up to 60 ms; from GST on nothing is lost and
// delays are at most Delta = 10 ms. With faults under the bound (one
// crashed replica; one silent Byzantine replica) commits must continue.
// The test measures, over seeds, the views from GST to the first block
// newly committed by an honest replica and checks them against the bound
// derived from spec/pacemaker.md §8 (PM-29, PM-32, PM-34):
//
//	views ≤ A + R·(n−q) + 1 + n·R + 3
//
// where A is how far ahead of its view an honest replica had complained at
// GST (PM-32: those views are abandoned and must be passed by TCs), the
// next R·(n−q) + 1 views bring every good replica into one view behind a
// good next leader, and within n·R + 3 views more the schedule has four
// consecutive good leaders, which commit. Nothing here is timed.

import (
	"fmt"
	"slices"
	"testing"
	"time"

	pm "github.com/fhbft/fhbft/impl/pacemaker"
	"github.com/fhbft/fhbft/impl/pacemaker/timeout"
	pmsim "github.com/fhbft/fhbft/impl/sim/pacemaker"
)

type livenessCase struct {
	name    string
	n, q, r int
	fault   func(c *pmsim.Config)
}

var livenessCases = []livenessCase{
	{"crash n=5 q=3", 5, 3, 1, func(c *pmsim.Config) { c.Crashes = []pmsim.CrashSpec{{Replica: 3}} }},
	{"silent n=6 q=4", 6, 4, 1, func(c *pmsim.Config) { c.Byzantine = map[pm.ReplicaID]pmsim.Behaviour{6: pmsim.Silent} }},
	// R = 2 (PM-34) keeps n = 4 live with one crash, which R = 1 is not.
	{"crash n=4 q=3 R=2", 4, 3, 2, func(c *pmsim.Config) { c.Crashes = []pmsim.CrashSpec{{Replica: 2}} }},
}

const livenessGST = 600 * time.Millisecond

func livenessConfig(lc livenessCase, seed uint64) pmsim.Config {
	c := pmsim.Config{
		Seed: seed, N: lc.n, Q: lc.q, ViewsPerLeader: lc.r,
		Timeout:  timeout.Config{Mode: timeout.Adaptive, Base: 100 * time.Millisecond, Min: 10 * time.Millisecond, Max: time.Second, Window: 8},
		MinDelay: time.Millisecond, MaxDelay: 60 * time.Millisecond, Drop: 0.2,
		GST: livenessGST, Delta: 10 * time.Millisecond,
		CommandInterval: 25 * time.Millisecond, MaxTime: 300 * time.Second, MaxViews: 300, Wire: true,
	}
	lc.fault(&c)
	c.StopWhen = func(s *pmsim.Sim) bool {
		g := s.GST()
		return g != nil && g.FirstCommit >= 0 && s.Now() > g.FirstCommit+50*time.Millisecond
	}
	return c
}

func TestLivenessAfterGST(t *testing.T) {
	t.Parallel()
	seeds := 5
	if testing.Short() {
		seeds = 2
	}
	for _, lc := range livenessCases {
		var dist []int
		for seed := uint64(1); seed <= uint64(seeds); seed++ {
			cfg := livenessConfig(lc, seed)
			sim, err := pmsim.New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			r := sim.Run()
			if !r.Safe() {
				t.Fatalf("%s seed %d: %v", lc.name, seed, r.Violations[0])
			}
			g := r.GST
			if g == nil || g.FirstCommit < 0 {
				t.Fatalf("%s seed %d: no commit after GST (ran to view %d, %v)", lc.name, seed, r.MaxView, r.SimTime)
			}
			bound := int(g.Ahead) + lc.r*(lc.n-lc.q) + 1 + lc.n*lc.r + 3
			t.Logf("%s seed %d: GST at view %d (complained ahead ≤ %d), first new commit %d views and %v later (bound %d)",
				lc.name, seed, g.View, g.Ahead, g.Views(), (g.FirstCommit - g.At).Round(time.Millisecond), bound)
			if g.Views() > bound {
				t.Errorf("%s seed %d: %d views from GST to a commit, bound %d", lc.name, seed, g.Views(), bound)
			}
			dist = append(dist, g.Views())
		}
		slices.Sort(dist)
		t.Logf("%s: views from GST to the next commit over %d seeds: %v (min %d, median %d, max %d)",
			lc.name, len(dist), dist, dist[0], dist[len(dist)/2], dist[len(dist)-1])
	}
}

// TestLivelockAbandonedViews is the regression test for a livelock the
// simulator found in impl/pacemaker: with n = 5, q = 4 and one crashed
// replica (n − c = q, within PM-29's bound), after a lossy start no block
// was ever committed again. Mechanism: a failed view left replicas split
// between view v (the next leader, and replicas that missed the proposal)
// and v+1 (those that handled it, PM-8); their repeated expiries (PM-32)
// complained about v, v+1, v+2, … one view apart, and each complaint also
// abandoned the future view it named (PM-15 as first written), so v+2's
// proposal got too few votes and the split repeated forever. Now only the
// current view is abandoned. n = 7, q = 5 with one crash took up to 44
// views or never before the fix.
func TestLivelockAbandonedViews(t *testing.T) {
	cases := []struct {
		lc    livenessCase
		seeds uint64
	}{
		{livenessCase{"crash n=5 q=4", 5, 4, 1, func(c *pmsim.Config) { c.Crashes = []pmsim.CrashSpec{{Replica: 3}} }}, 3},
		{livenessCase{"crash n=7 q=5", 7, 5, 1, func(c *pmsim.Config) { c.Crashes = []pmsim.CrashSpec{{Replica: 3}} }}, 5},
	}
	for _, c := range cases {
		lc := c.lc
		for seed := uint64(1); seed <= c.seeds; seed++ {
			cfg := livenessConfig(lc, seed)
			cfg.MaxViews = 100
			sim, err := pmsim.New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			r := sim.Run()
			if !r.Safe() {
				t.Fatalf("%s seed %d: %v", lc.name, seed, r.Violations[0])
			}
			g := r.GST
			if g == nil || g.Views() < 0 || g.Views() > int(g.Ahead)+(lc.n-lc.q)+1+lc.n+3 {
				t.Errorf("%s seed %d: no commit within the PM-29 bound after GST (ran to view %d, %d TCs, %d proposals dropped as abandoned)",
					lc.name, seed, r.MaxView, r.TCs, r.Rejected[pm.ReasonAbandoned])
				continue
			}
			t.Logf("%s seed %d: first commit %d views after GST", lc.name, seed, g.Views())
		}
	}
}

// TestNoLivenessN4OneCrashR1 documents the other side of PM-34: with R = 1
// and n = 4, one crashed replica leaves no four consecutive good leaders,
// so nothing commits after GST while views keep advancing (safety holds).
func TestNoLivenessN4OneCrashR1(t *testing.T) {
	t.Parallel()
	lc := livenessCase{"crash n=4 q=3 R=1", 4, 3, 1, func(c *pmsim.Config) { c.Crashes = []pmsim.CrashSpec{{Replica: 2}} }}
	cfg := livenessConfig(lc, 1)
	cfg.MaxViews = 40
	sim, err := pmsim.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	r := sim.Run()
	if !r.Safe() {
		t.Fatal(r.Violations[0])
	}
	if r.MaxView < 40 || r.DistinctCommits != 0 {
		t.Fatalf("expected 40 views and no commit, got view %d and %d commits", r.MaxView, r.DistinctCommits)
	}
	t.Log(fmt.Sprintf("%s: %d views, %d TCs, no commit (as PM-34 predicts)", lc.name, r.MaxView, r.TCs))
}
