package dag

import (
	"strings"
	"testing"

	"github.com/fhbft/fhbft/model/explore"
)

// Constants shared by several models (see the MC_dag_*.cfg headers).
var (
	n3eq1 = Config{Harvesters: []int{1, 2, 3}, Equivocators: []int{1}, MinRefs: 2, Miners: []int{1},
		MaxRound: 3, MaxDeferRounds: 1, InitBalance: 4, Certified: []int{1, 2, 3, 4, 5}, LateTxs: []int{4},
		ByzBlocks: [][]int{{}, {2}, {3}}, CertsPerRound: 1}
	n4wh1 = Config{Harvesters: []int{1, 2, 3, 4}, Withholders: []int{1}, MinRefs: 3, Miners: []int{1, 2},
		MaxRound: 3, MaxDeferRounds: 2, InitBalance: 4, Certified: []int{1, 2, 3, 5, 6},
		ByzBlocks: [][]int{{}, {2}}, CertsPerRound: 1}
	// byzMinerBug: n = 3 honest harvesters, transfer 4 held by harvester 1
	// only, one miner, Byzantine, that waits for every honest block.
	byzMinerBug = Config{Harvesters: []int{1, 2, 3}, MinRefs: 2, Miners: []int{1}, MaxRound: 2, MaxDeferRounds: 1,
		InitBalance: 4, Certified: []int{1, 4}, ByzBlocks: [][]int{{}}, CertsPerRound: 1,
		ByzMiners: []int{1}, SoloTxs: []int{4}, MinersWait: true}
	liveN3eq1 = Config{Harvesters: []int{1, 2, 3}, Equivocators: []int{1}, MinRefs: 2, Miners: []int{1, 2},
		MaxRound: 3, MaxDeferRounds: 1, InitBalance: 4, Certified: []int{1, 2, 3, 4, 5}, LateTxs: []int{4},
		ByzBlocks: [][]int{{}, {2}}, CertsPerRound: 1}
)

func with(c Config, f func(*Config)) Config {
	f(&c)
	return c
}

// definedModels are the models of the shared definition (the MC_dag_*.cfg
// files), with the shortest counterexample lengths derived by hand (states,
// initial included):
//   - dag_n3_eq1_input_order_bug: Propose(2) and the equivocator (position
//     1) sending {2} give miner 1 two counted blocks; in SortBlocks order
//     transfer 2 is met first, in the reverse order transfer 1: 3 states.
//   - dag_n3_eq1_two_certs_bug: the two miners need different inboxes with
//     two counted blocks each: two Propose and one equivocator send (3),
//     two Certify (2), two nodes finalizing different blocks (2): 8 states.
//   - dag_live_n3_wh2_bug: Propose(1); the withholders stay silent and one
//     counted block is below MinRefs = 2, so nothing fair is enabled: 2
//     states.
//   - dag_live_n4_b2_minrefs2_bug: the two Byzantine harvesters send empty
//     blocks (2), Certify (1), both nodes finalize (2), NextRound (1); the
//     only fair-quiescent states are after the last round: 7 states.
//   - dag_n3_rejectagain_bug: round 1 (two blocks with 1 and 3, Certify,
//     two Finalize, NextRound: 6 steps) applies 1, so 3 overdraws account
//     1; in round 2 the equivocator sends {3} and an honest block carries
//     4 (2 steps), which with the carried 5 credits account 1 before 3 is
//     ready, so Certify applies 3, and one Finalize shows it (2 steps):
//     11 states.
//   - dag_live_byzminer_bug: each of the two rounds is three Propose (the
//     miner waits for every honest block), Certify from harvesters 2 and 3
//     only, three Finalize and NextRound (8 steps); transfer 4, held by
//     harvester 1 only, is never resolved, and after the last round no
//     fair action is enabled: 17 states.
var definedModels = []struct {
	name        string
	cfg         Config
	mode        Mode
	expect      string
	traceStates int
}{
	{"dag_n3_eq1", n3eq1, Safety, "ok", 0},
	{"dag_n4_wh1_m2", n4wh1, Safety, "ok", 0},
	{"dag_live_n3_eq1", liveN3eq1, Liveness, "ok", 0},
	{"dag_n3_eq1_input_order_bug", with(n3eq1, func(c *Config) { c.ResolveByInputOrder = true }),
		Safety, "violates:OrderIndependent", 3},
	{"dag_n3_eq1_two_certs_bug", with(n3eq1, func(c *Config) { c.Miners = []int{1, 2}; c.CertsPerRound = 2 }),
		Safety, "violates:ChainsPrefix", 8},
	{"dag_live_n3_wh2_bug", Config{Harvesters: []int{1, 2, 3}, Withholders: []int{2, 3}, MinRefs: 2, Miners: []int{1},
		MaxRound: 1, MaxDeferRounds: 1, InitBalance: 4, Certified: []int{1, 2, 3}, ByzBlocks: [][]int{{}}, CertsPerRound: 1},
		Liveness, "violates:EventuallyFinal", 2},
	{"dag_live_n4_b2_minrefs2_bug", Config{Harvesters: []int{1, 2, 3, 4}, Equivocators: []int{3}, Withholders: []int{4},
		MinRefs: 2, Miners: []int{1}, MaxRound: 1, MaxDeferRounds: 1, InitBalance: 4, Certified: []int{1, 2, 3},
		ByzBlocks: [][]int{{}}, CertsPerRound: 1},
		Liveness, "violates:EventuallyFinal", 7},
	{"dag_n3_rejectagain_bug", with(n3eq1, func(c *Config) { c.IgnoreRejected = true }),
		Safety, "violates:RejectionsFinal", 11},
	{"dag_n3_eq1_byzminer", with(n3eq1, func(c *Config) {
		c.Miners = []int{1, 2}
		c.ByzMiners = []int{2}
		c.SoloTxs = []int{3}
	}), Safety, "ok", 0},
	{"dag_live_n3_eq1_byzminers", with(liveN3eq1, func(c *Config) { c.ByzMiners = []int{1, 2} }), Liveness, "ok", 0},
	{"dag_live_n3_solo_wait", with(byzMinerBug, func(c *Config) { c.ByzMiners = nil }), Liveness, "ok", 0},
	{"dag_live_byzminer_bug", byzMinerBug, Liveness, "violates:EventuallyFinal", 17},
}

// checkTrace verifies that a counterexample is a behaviour of the model:
// it starts in Init and each step is the labelled action.
func checkTrace(t *testing.T, cfg Config, mut Mutations, trace []explore.Step[State]) {
	t.Helper()
	m, err := newModel(cfg, mut)
	if err != nil {
		t.Fatal(err)
	}
	if len(trace) == 0 || !trace[0].State.Equal(m.Init()) {
		t.Fatalf("trace does not start in Init")
	}
	for k := 1; k < len(trace); k++ {
		found := false
		for _, n := range m.Successors(trace[k-1].State) {
			if n.Label == trace[k].Label && n.Next.Equal(trace[k].State) {
				found = true
				break
			}
		}
		if !found {
			t.Fatalf("step %d (%s) is not a step of Next", k+1, trace[k].Label)
		}
	}
}

// TestDefinedModels checks the shared definition's configs on their own:
// the verdicts and the hand-derived trace lengths.
func TestDefinedModels(t *testing.T) {
	for _, d := range definedModels {
		t.Run(d.name, func(t *testing.T) {
			res, err := Explore(d.cfg, Options{Mode: d.mode})
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%s: %s, %d distinct states, depth %d, %v", d.name, explore.Verdict(res), res.Distinct, res.Depth, res.Duration)
			if got := explore.Verdict(res); got != d.expect {
				t.Fatalf("verdict %s, want %s; %v", got, d.expect, res.Violation)
			}
			if res.Violation != nil {
				checkTrace(t, d.cfg, Mutations{}, res.Violation.Trace)
				if len(res.Violation.Trace) != d.traceStates {
					t.Errorf("trace has %d states, want %d:\n%s", len(res.Violation.Trace), d.traceStates, res.Violation)
				}
				t.Logf("counterexample:\n%s", res.Violation)
			}
		})
	}
}

const manifestPath = "../../tla/manifest.json"

// TestManifestVerdicts explores every DAGConvergence model of
// tla/manifest.json with the invariants its cfg lists and requires TLC's
// verdicts: the same state count for "ok" models, the same violated
// property and trace length otherwise.
func TestManifestVerdicts(t *testing.T) {
	defined := map[string]Config{}
	for _, d := range definedModels {
		defined[d.name] = d.cfg
	}
	explore.CheckManifest(t, manifestPath, "DAGConvergence", defined,
		func(t *testing.T, m explore.ManifestModel[Config], liveness bool) (explore.Result[State], error) {
			mode := Safety
			if liveness {
				mode = Liveness
				if len(m.Properties) != 1 || m.Properties[0] != "EventuallyFinal" {
					t.Fatalf("liveness models check EventuallyFinal, manifest lists %v", m.Properties)
				}
			}
			if m.Invariants == nil {
				t.Fatal(`DAGConvergence models must list "invariants" (the cfg's, checked by tlcrun)`)
			}
			return Explore(m.Constants, Options{Mode: mode, Invariants: m.Invariants})
		},
		func(t *testing.T, m explore.ManifestModel[Config], trace []explore.Step[State]) {
			checkTrace(t, m.Constants, Mutations{}, trace)
		})
}

func TestExploreRejectsBadConfig(t *testing.T) {
	for field, c := range map[string]Config{
		"Harvesters":    with(n3eq1, func(c *Config) { c.Harvesters = []int{1, 3} }),
		"Withholders":   with(n3eq1, func(c *Config) { c.Withholders = []int{1} }),
		"MinRefs":       with(n3eq1, func(c *Config) { c.MinRefs = 4 }),
		"Certified":     with(n3eq1, func(c *Config) { c.Certified = []int{7} }),
		"LateTxs":       with(n3eq1, func(c *Config) { c.LateTxs = []int{6} }),
		"ByzBlocks":     with(n3eq1, func(c *Config) { c.ByzBlocks = [][]int{{0}} }),
		"CertsPerRound": with(n3eq1, func(c *Config) { c.CertsPerRound = 3 }),
		"Miners":        with(n3eq1, func(c *Config) { c.Miners = nil }),
		"ByzMiners":     with(n3eq1, func(c *Config) { c.ByzMiners = []int{2} }),
		"SoloTxs":       with(n3eq1, func(c *Config) { c.SoloTxs = []int{6} }),
	} {
		_, err := Explore(c, Options{})
		ce, ok := err.(*ConfigError)
		if !ok || ce.Field != field {
			t.Errorf("%s: want a ConfigError for %s, got %v", field, field, err)
		}
	}
	if _, err := Explore(n3eq1, Options{Invariants: []string{"NoSuchThing"}}); err == nil {
		t.Error("unknown invariant name accepted")
	}
}

// CONV-2: a model that breaks MinRefs > b or the floor MinRefs ≥ 2q − n
// (q the CERT-1 default ⌈0.6 n⌉, as the cfg headers state) must be labelled
// as assumption-broken (_bug), never presented as a model where the spec
// holds.
func TestMinRefsAssumptionsLabelled(t *testing.T) {
	man, err := explore.ReadManifest[Config](manifestPath, "DAGConvergence")
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range man.Models {
		c := m.Constants
		n, b := len(c.Harvesters), len(c.Equivocators)+len(c.Withholders)
		q := (6*n + 9) / 10 // ⌈0.6 n⌉
		ok := c.MinRefs > b && c.MinRefs >= 2*q-n
		if !ok && !strings.HasSuffix(m.Name, "_bug") {
			t.Errorf("%s: MinRefs %d with n %d, q %d, b %d breaks CONV-2 but is not a _bug model", m.Name, c.MinRefs, n, q, b)
		}
		t.Logf("%s: n %d, q %d, b %d, MinRefs %d: CONV-2 %v", m.Name, n, q, b, c.MinRefs, ok)
	}
}
