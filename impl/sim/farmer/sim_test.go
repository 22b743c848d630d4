package farmer

import (
	"strings"
	"testing"
	"time"

	"github.com/fhbft/fhbft/impl/tx"
)

func hasViolation(r *Report, sub string) bool {
	for _, v := range r.Violations {
		if strings.Contains(v, sub) {
			return true
		}
	}
	return false
}

// TestSmallRunHolds: the quick configuration (2 quorums of 4, one Byzantine
// farmer each) certifies every transfer, each invalid kind with its reason,
// and breaks no invariant.
func TestSmallRunHolds(t *testing.T) {
	c := Small()
	r, err := Run(c)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Violations) > 0 {
		t.Fatalf("seed %d: violations %v", c.Seed, r.Violations)
	}
	if kr := r.ByKind[Valid]; kr.CertifiedValid != kr.Submitted {
		t.Errorf("valid transfers: %+v", kr)
	}
	for _, k := range []Kind{BadSignature, Overdraft, NonceGap, Replay} {
		if kr := r.ByKind[k]; kr.CertifiedInvalid != kr.Submitted || kr.Submitted == 0 {
			t.Errorf("%v: %+v", k, kr)
		}
	}
	for _, reason := range []tx.Reason{tx.ReasonBadSignature, tx.ReasonInsufficientFunds, tx.ReasonNonceGap, tx.ReasonReplay} {
		if r.InvalidByReason[reason] == 0 {
			t.Errorf("no certified-invalid transfer with reason %v: %v", reason, r.InvalidByReason)
		}
	}
	if r.Conflicts.BothValid != 0 || r.Conflicts.Pairs != c.Invalid.Conflict {
		t.Errorf("conflicts %+v", r.Conflicts)
	}
	forwarded, takeovers := 0, 0
	for _, q := range r.Quorums {
		forwarded += q.Forwarded
		takeovers += q.TakenOver
	}
	if forwarded == 0 || takeovers == 0 || r.Evidence == 0 || r.RefusedByFarmers["farmer: transfer already held or voted"] == 0 {
		t.Errorf("run did not exercise forwarding (%d), takeovers (%d), equivocation evidence (%d) or duplicates (%v)", forwarded, takeovers, r.Evidence, r.RefusedByFarmers)
	}
}

// TestDeterministic: a run is a function of its seed (wall-clock figures
// aside).
func TestDeterministic(t *testing.T) {
	c := Small()
	c.Seed = 7
	c.Drop = 0.02
	a, err := Run(c)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Run(c)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range []*Report{a, b} {
		r.ValidateWall, r.CollectTime, r.VerifyTime = 0, 0, 0
	}
	if a.Messages != b.Messages || a.SimulatedTime != b.SimulatedTime || a.Votes != b.Votes || a.CertifiedValid != b.CertifiedValid ||
		a.LatencyMean != b.LatencyMean || len(a.Violations) != len(b.Violations) || a.ValidationsPerCert != b.ValidationsPerCert {
		t.Fatalf("two runs of seed %d differ:\n%+v\n%+v", c.Seed, a, b)
	}
}

// TestCheckerCatchesInvalidCertifiedValid: with q Byzantine farmers that
// vote the opposite of their verdict (at the bound of CERT-12, not below
// it), invalid transfers get certified valid and the validity check says so
// (BRIEF §5: the checker is shown to catch it). spec: VOTE-6
func TestCheckerCatchesInvalidCertifiedValid(t *testing.T) {
	c := Small()
	c.Byzantine, c.Behaviours = c.q(), []Behaviour{Flip}
	r, err := Run(c)
	if err != nil {
		t.Fatal(err)
	}
	if !hasViolation(r, "invalid transfer certified valid") {
		t.Fatalf("seed %d: q = %d flipping farmers, yet no invalid transfer certified valid: %v", c.Seed, c.Byzantine, r.Violations)
	}
}

// TestCheckerCatchesLoss: with only q−1 honest active members per quorum
// nothing can be certified (CERT-13) and the loss check reports it.
func TestCheckerCatchesLoss(t *testing.T) {
	c := Small()
	c.Byzantine, c.Behaviours = c.N-c.q()+1, []Behaviour{Silent}
	c.MaxTime = 2 * time.Second
	r, err := Run(c)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Lost) == 0 || !hasViolation(r, "lost:") {
		t.Fatalf("seed %d: no loss reported with %d silent of %d: %v", c.Seed, c.Byzantine, c.N, r.Violations)
	}
}

func TestConfigValidate(t *testing.T) {
	bad := []func(*Config){
		func(c *Config) { c.Quorums = 0 },
		func(c *Config) { c.N = 0 },
		func(c *Config) { c.Q = 2; c.N = 4 },
		func(c *Config) { c.Harvesters = 0 },
		func(c *Config) { c.Byzantine = 99 },
		func(c *Config) { c.Drop = 1 },
		func(c *Config) { c.MaxDelay = 0 },
		func(c *Config) { c.SimCores = 0 },
		func(c *Config) { c.Behaviours = []Behaviour{"sneaky"} },
		func(c *Config) { c.Invalid.Replay = -1 },
	}
	for i, m := range bad {
		c := Small()
		m(&c)
		if _, err := Run(c); err == nil {
			t.Errorf("case %d accepted", i)
		}
	}
}
