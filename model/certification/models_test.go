package certification

import (
	"errors"
	"slices"
	"testing"

	"github.com/fhbft/fhbft/model/explore"
)

func seq(lo, hi int) []int {
	var xs []int
	for i := lo; i <= hi; i++ {
		xs = append(xs, i)
	}
	return xs
}

// definedModels are the models of the shared definition (the MC_*.cfg
// files), with the shortest counterexample lengths derived by hand:
//   - n5_q3_b1_bug: the Byzantine member votes both values (2 steps), two
//     honest members vote each value (4), two FormCertificate (2): 9 states.
//   - n7_q5_b3_bug: three Byzantine members vote both values (6), two
//     honest members each value (4), two FormCertificate (2): 13 states.
//   - live_n5_q3_crash3_bug: both active members vote (2); then nothing fair
//     is enabled and 2 < q: 3 states.
//   - live_n4_q3_b1_split_bug: the three honest members vote, split 2-1 (3);
//     the Byzantine member stays silent: 4 states.
var definedModels = []struct {
	name        string
	cfg         Config
	mode        Mode
	expect      string
	traceStates int
}{
	{"n4_q3_b1", Config{seq(1, 4), []int{4}, seq(1, 3), 3, []int{1, 2}, []int{1, 2}, []int{1, 2}}, Safety, "ok", 0},
	{"n5_q3_b0", Config{seq(1, 5), nil, seq(1, 5), 3, []int{1}, []int{1, 2}, []int{1, 2}}, Safety, "ok", 0},
	{"n7_q5_b2", Config{seq(1, 7), []int{6, 7}, seq(1, 5), 5, []int{1}, []int{1, 2}, []int{1, 2}}, Safety, "ok", 0},
	{"n5_q3_b1_bug", Config{seq(1, 5), []int{5}, seq(1, 4), 3, []int{1}, []int{1, 2}, []int{1, 2}}, Safety, "violates:CertificateUniqueness", 9},
	{"n7_q5_b3_bug", Config{seq(1, 7), []int{5, 6, 7}, seq(1, 4), 5, []int{1}, []int{1, 2}, []int{1, 2}}, Safety, "violates:CertificateUniqueness", 13},
	{"live_n4_q3_b1", Config{seq(1, 4), []int{4}, seq(1, 3), 3, []int{1}, []int{1, 2}, []int{1}}, Liveness, "ok", 0},
	{"live_n5_q3_b0_crash2", Config{seq(1, 5), nil, seq(1, 3), 3, []int{1}, []int{1, 2}, []int{1}}, Liveness, "ok", 0},
	{"live_n5_q3_crash3_bug", Config{seq(1, 5), nil, seq(1, 2), 3, []int{1}, []int{1, 2}, []int{1}}, Liveness, "violates:Termination", 3},
	{"live_n4_q3_b1_split_bug", Config{seq(1, 4), []int{4}, seq(1, 3), 3, []int{1}, []int{1, 2}, []int{1, 2}}, Liveness, "violates:Termination", 4},
}

// closedFormCount counts the reachable states without exploring: a state
// is reachable iff each honest active member has at most one vote per slot,
// for an honest value; Byzantine votes are arbitrary; and every certificate
// <<s, v>> has at least Quorum supporters (cast the votes, then form the
// certificates; supporters only grow). Slots are independent, so the count
// is the per-slot count to the power |Slots|, where the per-slot count sums
// 2^(number of certifiable values) over the per-slot vote sets.
func closedFormCount(cfg Config) int {
	honest := 0
	for _, m := range cfg.Active {
		if !slices.Contains(cfg.Byzantine, m) {
			honest++
		}
	}
	k := len(cfg.Values)
	support := make([]int, k)
	var perSlot func(h, b int) int
	perSlot = func(h, b int) int {
		switch {
		case h > 0: // an honest active member: silent or one honest value
			n := perSlot(h-1, b)
			for i, v := range cfg.Values {
				if slices.Contains(cfg.HonestValues, v) {
					support[i]++
					n += perSlot(h-1, b)
					support[i]--
				}
			}
			return n
		case b > 0: // a Byzantine member: any subset of Values
			n := 0
			for mask := 0; mask < 1<<k; mask++ {
				for i := range k {
					support[i] += mask >> i & 1
				}
				n += perSlot(0, b-1)
				for i := range k {
					support[i] -= mask >> i & 1
				}
			}
			return n
		}
		certifiable := 0
		for _, s := range support {
			if s >= cfg.Quorum {
				certifiable++
			}
		}
		return 1 << certifiable
	}
	total := 1
	for range cfg.Slots {
		total *= perSlot(honest, len(cfg.Byzantine))
	}
	return total
}

// checkTrace verifies that a counterexample is a behaviour of the model:
// it starts in Init and each step is the labelled action.
func checkTrace(t *testing.T, cfg Config, trace []explore.Step[State]) {
	t.Helper()
	if len(trace) == 0 || !trace[0].State.Equal(Init(cfg)) {
		t.Fatalf("trace does not start in Init")
	}
	for k := 1; k < len(trace); k++ {
		label, ok := LegalStep(cfg, trace[k-1].State, trace[k].State)
		if !ok || label != trace[k].Label {
			t.Fatalf("step %d (%s) is not a step of Next (LegalStep: %q, %v)", k+1, trace[k].Label, label, ok)
		}
	}
}

// TestDefinedModels checks the shared definition's configs on their own: the
// verdicts, the hand-derived trace lengths, and the explorer's full state
// counts against closedFormCount.
func TestDefinedModels(t *testing.T) {
	for _, m := range definedModels {
		t.Run(m.name, func(t *testing.T) {
			res, err := Explore(m.cfg, Options{Mode: m.mode})
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%s: %s, %d distinct states, depth %d, %v", m.name, explore.Verdict(res), res.Distinct, res.Depth, res.Duration)
			if got := explore.Verdict(res); got != m.expect {
				t.Fatalf("verdict %s, want %s; %v", got, m.expect, res.Violation)
			}
			if res.Violation != nil {
				checkTrace(t, m.cfg, res.Violation.Trace)
				if len(res.Violation.Trace) != m.traceStates {
					t.Errorf("trace has %d states, want %d:\n%s", len(res.Violation.Trace), m.traceStates, res.Violation)
				}
			}
			// The complete graph, without invariants, against the closed form.
			sp, err := NewSpec(m.cfg, Mutations{})
			if err != nil {
				t.Fatal(err)
			}
			full, err := explore.Check[State](sp, explore.Options[State]{})
			if err != nil {
				t.Fatal(err)
			}
			if want := closedFormCount(m.cfg); full.Distinct != want {
				t.Errorf("explorer found %d states, closed form says %d", full.Distinct, want)
			}
			if res.Violation == nil && res.Distinct != full.Distinct {
				t.Errorf("checked run found %d states, full run %d", res.Distinct, full.Distinct)
			}
		})
	}
}

const manifestPath = "../../tla/manifest.json"

// TestManifestVerdicts explores every HarvesterCertification model of
// tla/manifest.json and requires TLC's verdicts: the same state count for
// "ok" models, the same violated property and trace length otherwise.
func TestManifestVerdicts(t *testing.T) {
	defined := map[string]Config{}
	for _, d := range definedModels {
		defined[d.name] = d.cfg
	}
	explore.CheckManifest(t, manifestPath, "HarvesterCertification", defined,
		func(t *testing.T, m explore.ManifestModel[Config], liveness bool) (explore.Result[State], error) {
			mode := Safety
			if liveness {
				mode = Liveness
			}
			return Explore(m.Constants, Options{Mode: mode})
		},
		func(t *testing.T, m explore.ManifestModel[Config], trace []explore.Step[State]) {
			checkTrace(t, m.Constants, trace)
		})
}

func TestPlantedQuorumDelta(t *testing.T) {
	cfg := definedModels[0].cfg // n4_q3_b1, safe as modelled
	res, err := Explore(cfg, Options{Mutations: Mutations{QuorumDelta: -1}})
	if err != nil {
		t.Fatal(err)
	}
	v := res.Violation
	if v == nil {
		t.Fatal("threshold lowered by one, yet no invariant violated")
	}
	// Shortest: the Byzantine member and one honest member vote a value, and
	// a certificate forms with one honest supporter < q - b = 2.
	if v.Name != "CertificateValidity" || len(v.Trace) != 4 {
		t.Fatalf("want CertificateValidity with a 4-state trace, got %s with %d:\n%s", v.Name, len(v.Trace), v)
	}
	t.Logf("QuorumDelta=-1 on n4_q3_b1 violates %s after %d states:\n%s", v.Name, res.Distinct, v)
}

func TestPlantedHonestMayVoteTwice(t *testing.T) {
	for _, tc := range []struct {
		idx, traceStates int
	}{
		// n4: 3 supporters per value from 4 members voting both: 6 votes, 2 certificates.
		{0, 9},
		// n7: 5 supporters per value: 10 votes, 2 certificates.
		{2, 13},
	} {
		m := definedModels[tc.idx]
		res, err := Explore(m.cfg, Options{Mutations: Mutations{HonestMayVoteTwice: true}})
		if err != nil {
			t.Fatal(err)
		}
		v := res.Violation
		if v == nil || v.Name != "CertificateUniqueness" || len(v.Trace) != tc.traceStates {
			t.Fatalf("%s with HonestMayVoteTwice: want CertificateUniqueness in %d states, got %+v", m.name, tc.traceStates, v)
		}
		t.Logf("HonestMayVoteTwice on %s violates %s (trace %d states, %d states explored)", m.name, v.Name, len(v.Trace), res.Distinct)
	}
}

func TestExploreRejectsBadConfig(t *testing.T) {
	_, err := Explore(Config{Members: []int{1}, Quorum: 2}, Options{})
	var ce *ConfigError
	if !errors.As(err, &ce) || ce.Field != "Quorum" {
		t.Fatalf("want a Quorum ConfigError, got %v", err)
	}
}
