package farmer

import "testing"

// TestOptimisticCollectSameRun: optimistic harvester collectors (CERT-20)
// certify at the same steps as eager ones, so a run is the same whichever
// the harvesters use; only crypto time differs. With q Byzantine farmers
// that flip (invalid transfers certified valid) and message loss, the runs
// still agree, violations included.
func TestOptimisticCollectSameRun(t *testing.T) {
	flip := Small()
	flip.Byzantine, flip.Behaviours = flip.q(), []Behaviour{Flip}
	lossy := Small()
	lossy.Seed, lossy.Drop = 7, 0.02
	for name, c := range map[string]Config{"small": Small(), "flip": flip, "lossy": lossy} {
		t.Run(name, func(t *testing.T) {
			var reps [2]*Report
			for i, opt := range []bool{false, true} {
				c.OptimisticCollect = opt
				r, err := Run(c)
				if err != nil {
					t.Fatal(err)
				}
				reps[i] = r
			}
			a, b := reps[0], reps[1]
			same := a.Messages == b.Messages && a.SimulatedTime == b.SimulatedTime && a.Votes == b.Votes &&
				a.CertifiedValid == b.CertifiedValid && a.Evidence == b.Evidence && a.LatencyMean == b.LatencyMean &&
				len(a.Violations) == len(b.Violations) && len(a.RejectedVotes) == len(b.RejectedVotes)
			for reason, n := range a.RejectedVotes {
				same = same && b.RejectedVotes[reason] == n
			}
			if !same {
				t.Fatalf("seed %d: eager and optimistic collectors differ:\n%+v\n%+v", c.Seed, a, b)
			}
			if name == "flip" && len(a.Violations) == 0 || name == "small" && a.Evidence == 0 {
				t.Fatalf("premise: the %s run shows no violation or evidence: %+v", name, a)
			}
		})
	}
}
