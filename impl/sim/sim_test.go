package sim

import (
	"reflect"
	"testing"
)

// protocolView drops the wall-clock fields, which are the only part of a
// report allowed to differ between runs with one seed.
func protocolView(r *Report) Report {
	c := *r
	c.SignTime, c.StepTime, c.CertVerifyTime = 0, 0, 0
	return c
}

func TestDeterministicFromSeed(t *testing.T) {
	cfg := Default()
	cfg.Subjects = 8
	a, err := Run(cfg)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := Run(cfg)
	if !reflect.DeepEqual(protocolView(a), protocolView(b)) {
		t.Fatalf("seed %d: two runs differ", cfg.Seed)
	}
	cfg.Seed++
	c, _ := Run(cfg)
	if reflect.DeepEqual(protocolView(a).Slots, protocolView(c).Slots) {
		t.Fatalf("seeds %d and %d gave identical runs: the seed is not used", cfg.Seed-1, cfg.Seed)
	}
}

func TestDefaultRunCertifiesEverythingSafely(t *testing.T) {
	for seed := uint64(1); seed <= 3; seed++ {
		cfg := Default()
		cfg.Seed, cfg.DropRate, cfg.Subjects = seed, 0, 10
		rep, err := Run(cfg)
		if err != nil {
			t.Fatal(err)
		}
		if len(rep.Violations) > 0 {
			t.Fatalf("seed %d: %v", seed, rep.Violations)
		}
		for _, s := range rep.Slots {
			// No drops and 7 ≥ q honest active members: every collector certifies (CERT-13).
			if s.Certified != cfg.Collectors {
				t.Fatalf("seed %d: slot %d certified by %d/%d collectors", seed, s.Slot, s.Certified, cfg.Collectors)
			}
		}
		for _, reason := range []string{"bad partial", "wrong epoch", "not a member", "duplicate"} {
			found := false
			for r, n := range rep.Rejected {
				found = found || (r.String() == reason && n > 0)
			}
			if !found {
				t.Errorf("seed %d: no %q rejection: the Byzantine behaviours did not run", seed, reason)
			}
		}
		if len(rep.Evidence) != 1 {
			t.Errorf("seed %d: evidence against %v, want the one Byzantine member", seed, rep.Evidence)
		}
	}
}

// TestLivenessNeedsQuorumOfActiveHonest: with q-1 honest active members and
// a silent Byzantine member, nothing is certified after the crash (CERT-13).
func TestLivenessNeedsQuorumOfActiveHonest(t *testing.T) {
	cfg := Default()
	cfg.N, cfg.Byzantine, cfg.Crashed, cfg.CrashAt, cfg.DropRate = 5, 1, 2, 0, 0
	cfg.Behaviours = []Behaviour{Silent}
	rep, err := Run(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range rep.Slots {
		if s.Certified != 0 {
			t.Fatalf("slot %d certified with only 2 honest active of q=3", s.Slot)
		}
	}
}

// TestInvariantCheckCatchesTooManyByzantine shows the simulator's invariant
// check is not vacuous: at b ≥ q equivocators, collectors certify
// conflicting values and the run reports the violation.
func TestInvariantCheckCatchesTooManyByzantine(t *testing.T) {
	cfg := Default()
	cfg.Byzantine, cfg.Crashed, cfg.DropRate = 6, 0, 0
	cfg.Behaviours = []Behaviour{Equivocate}
	rep, err := Run(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Violations) == 0 {
		t.Fatalf("seed %d: 6 equivocators of 10 (q=6) produced no violation", cfg.Seed)
	}
}

func TestConfigValidate(t *testing.T) {
	bad := []Config{{N: 0, Collectors: 1}, {N: 4, Q: 5, Collectors: 1}, {N: 4, Collectors: 0},
		{N: 4, Collectors: 1, Byzantine: 3, Crashed: 2}, {N: 4, Collectors: 1, DropRate: 1}, {N: 4, Collectors: 1, MinDelay: 2, MaxDelay: 1}}
	for _, c := range bad {
		if _, err := Run(c); err == nil {
			t.Errorf("%+v accepted", c)
		}
	}
}
