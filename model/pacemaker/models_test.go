package pacemaker

import (
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

// definedModels are the models of the shared definition (the MC_pm_*.cfg
// files). Leaders are round robin, leader(v) = v mod n + 1. The shortest
// counterexample lengths, derived by hand (states, initial included):
//   - pm_n5_q3_b1_bug: the four honest replicas receive the view-1 block and
//     move to view 2 (4 steps); the Byzantine leader of view 2 (replica 3)
//     proposes two conflicting blocks (2); two honest replicas vote for each
//     (4); the Byzantine replica, whose vote counts for both, combines two
//     QCs of view 2 (2): 13 states.
//   - pm_live_n4_q3_silent1_bug: the silent replica 1 leads views 4 and 8.
//     Per rotation: views 1 and 2 get a QC (3 receipts and FormQC each),
//     view 3 does not (its votes go to the silent leader of view 4: 3
//     receipts), view 4 times out (3 complaints, FormTC, 2 catch-ups): 17
//     steps; two rotations reach view 9 with nothing committed: 35 states.
//   - pm_live_n5_q3_silent2_bug: silent replicas 2 and 4 lead views 1, 3, 6
//     and 8. Silent views cost 6 steps, views 2, 5, 7 (next leader silent)
//     3, view 4 (next leader active) 4: 4·6 + 3·3 + 4 = 37 steps, 38 states.
var definedModels = []struct {
	name        string
	cfg         Config
	mode        Mode
	expect      string
	traceStates int
}{
	{"pm_n4_q3_b0", Config{seq(1, 4), nil, nil, 3, 5, []int{2}}, Safety, "ok", 0},
	{"pm_n4_q3_b1", Config{seq(1, 4), []int{3}, nil, 3, 4, []int{2}}, Safety, "ok", 0},
	{"pm_n5_q3_b1_bug", Config{seq(1, 5), []int{3}, nil, 3, 2, nil}, Safety, "violates:UniqueQCPerView", 13},
	{"pm_live_n4_q3_b0", Config{seq(1, 4), nil, nil, 3, 4, seq(1, 4)}, Liveness, "ok", 0},
	{"pm_live_n5_q3_silent1", Config{seq(1, 5), nil, []int{2}, 3, 5, seq(1, 5)}, Liveness, "ok", 0},
	{"pm_live_n4_q3_silent1_bug", Config{seq(1, 4), nil, []int{1}, 3, 8, seq(1, 8)}, Liveness, "violates:Progress", 35},
	{"pm_live_n5_q3_silent2_bug", Config{seq(1, 5), nil, []int{2, 4}, 3, 8, seq(1, 8)}, Liveness, "violates:Progress", 38},
}

// checkTrace verifies that a counterexample is a behaviour of the model
// (with mut planted): it starts in Init and each step is the labelled
// action. The explorer's action-property marks are not part of the model
// state and are cleared first.
func checkTrace(t *testing.T, cfg Config, mut Mutations, trace []explore.Step[State]) {
	t.Helper()
	clean := func(s State) State { s.violated = 0; return s }
	if len(trace) == 0 || !clean(trace[0].State).Equal(Init(cfg)) {
		t.Fatalf("trace does not start in Init")
	}
	m := newMachine(cfg, mut, false)
	for k := 1; k < len(trace); k++ {
		from, to := clean(trace[k-1].State), clean(trace[k].State)
		found := false
		for _, n := range m.successors(from) {
			if n.Label == trace[k].Label && n.Next.Equal(to) {
				found = true
				break
			}
		}
		if !found {
			t.Fatalf("step %d (%s) is not a step of Next", k+1, trace[k].Label)
		}
	}
}

const manifestPath = "../../tla/manifest.json"

// TestManifestVerdicts explores every Pacemaker model of tla/manifest.json
// with the invariants and properties its cfg lists and requires TLC's
// verdicts: the same state count for "ok" models, the same violated
// property and trace length otherwise.
func TestManifestVerdicts(t *testing.T) {
	defined := map[string]Config{}
	for _, d := range definedModels {
		defined[d.name] = d.cfg
	}
	explore.CheckManifest(t, manifestPath, "Pacemaker", defined,
		func(t *testing.T, m explore.ManifestModel[Config], liveness bool) (explore.Result[State], error) {
			mode := Safety
			if liveness {
				mode = Liveness
			}
			if m.Invariants == nil || m.Properties == nil {
				t.Fatal(`Pacemaker models must list "invariants" and "properties" (the cfg's, checked by tlcrun)`)
			}
			return Explore(m.Constants, Options{Mode: mode, Invariants: m.Invariants, Properties: m.Properties})
		},
		func(t *testing.T, m explore.ManifestModel[Config], trace []explore.Step[State]) {
			checkTrace(t, m.Constants, Mutations{}, trace)
		})
}

// TestDefinedModels checks the shared definition's verdicts and the
// hand-derived trace lengths on their own (short violation models only;
// TestManifestVerdicts explores the large ones).
func TestDefinedModels(t *testing.T) {
	for _, m := range definedModels {
		if m.expect == "ok" {
			continue
		}
		t.Run(m.name, func(t *testing.T) {
			res, err := Explore(m.cfg, Options{Mode: m.mode})
			if err != nil {
				t.Fatal(err)
			}
			if got := explore.Verdict(res); got != m.expect {
				t.Fatalf("verdict %s, want %s; %v", got, m.expect, res.Violation)
			}
			checkTrace(t, m.cfg, Mutations{}, res.Violation.Trace)
			if len(res.Violation.Trace) != m.traceStates {
				t.Errorf("trace has %d states, want %d:\n%s", len(res.Violation.Trace), m.traceStates, res.Violation)
			}
		})
	}
}

// The planted bugs of issue 4, each explored on a safe model of the
// manifest until the first violation. Shortest traces (states):
//   - NoConsecutiveCheck on pm_n4_q3_b0: view 1's block gets its QC (3
//     receipts, FormQC); view 2 times out (3 complaints) after its next
//     leader learned that QC from a NewView, so its TC's leader proposes in
//     view 3 on view 1's block (FormTC); two catch-ups, 3 receipts and
//     FormQC in view 3; 3 receipts and FormQC in view 4; one receipt of
//     view 5's block commits view 1's block on the 3-chain 4 <- 3 <- 1,
//     which has a gap: 21 states, CommitOnConsecutive3Chain.
//   - AcceptUnverifiedQC on pm_n4_q3_b1: the Byzantine replica forges a QC
//     for view 1's block with no votes: 2 states, QCNeedsVoteQuorum; with
//     only the agreement invariants, two view-2 blocks and two forged QCs:
//     5 states, UniqueQCPerView.
//   - LockDoesNotMove on pm_n4_q3_b0: views 1 and 2 get QCs (4 steps each),
//     a replica votes for view 3's block, whose 2-chain head is view 1's
//     block, and keeps genesis as its lock: 10 states, LockCoversVotes; on
//     pm_n4_q3_b1 view 2 is the Byzantine leader's, whose vote counts
//     without a step: 9 states.
//   - VoteTwice on pm_n4_q3_b1: the Byzantine leader of view 2 proposes two
//     blocks (2), the next leader (replica 4) reaches view 2 (1) and votes
//     for both (2): 6 states, VoteOncePerView. With only the agreement
//     invariants it takes 12 states to combine the second QC
//     (UniqueQCPerView): the double vote matters only because Byzantine
//     replicas see all traffic; the next leader's own collector forms one
//     QC per view and moves on.
var plantedBugs = []struct {
	name        string
	model       int // index in definedModels
	mut         Mutations
	invariants  []string
	want        string
	traceStates int
}{
	{"NoConsecutiveCheck", 0, Mutations{NoConsecutiveCheck: true}, nil, "CommitOnConsecutive3Chain", 21},
	{"AcceptUnverifiedQC", 1, Mutations{AcceptUnverifiedQC: true}, nil, "QCNeedsVoteQuorum", 2},
	{"AcceptUnverifiedQC/agreement", 1, Mutations{AcceptUnverifiedQC: true}, agreement, "UniqueQCPerView", 5},
	{"LockDoesNotMove/b0", 0, Mutations{LockDoesNotMove: true}, nil, "LockCoversVotes", 10},
	{"LockDoesNotMove/b1", 1, Mutations{LockDoesNotMove: true}, nil, "LockCoversVotes", 9},
	{"VoteTwice", 1, Mutations{VoteTwice: true}, nil, "VoteOncePerView", 6},
	{"VoteTwice/agreement", 1, Mutations{VoteTwice: true}, agreement, "UniqueQCPerView", 12},
}

var agreement = []string{"NoConflictingCommits", "UniqueQCPerView"}

func TestPlantedBugs(t *testing.T) {
	for _, pb := range plantedBugs {
		t.Run(pb.name, func(t *testing.T) {
			m := definedModels[pb.model]
			opts := Options{Mutations: pb.mut, Invariants: pb.invariants}
			if pb.invariants != nil {
				opts.Properties = []string{}
			}
			res, err := Explore(m.cfg, opts)
			if err != nil {
				t.Fatal(err)
			}
			v := res.Violation
			if v == nil {
				t.Fatalf("%s on %s: no violation in %d states", pb.name, m.name, res.Distinct)
			}
			checkTrace(t, m.cfg, pb.mut, v.Trace)
			t.Logf("%s on %s violates %s: trace of %d states (%d states explored)", pb.name, m.name, v.Name, len(v.Trace), res.Distinct)
			if v.Name != pb.want || len(v.Trace) != pb.traceStates {
				t.Errorf("want %s in %d states, got %s in %d:\n%s", pb.want, pb.traceStates, v.Name, len(v.Trace), v)
			}
		})
	}
}

// TestSuccessorsNeverStutter: Successors promises non-stuttering steps, and
// the fast stutter test of ReceiveProposal agrees with state equality.
func TestSuccessorsNeverStutter(t *testing.T) {
	cfg := Config{seq(1, 4), []int{3}, nil, 3, 3, nil}
	sp, err := NewSpec(cfg, Mutations{}, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	inv := explore.Invariant[State]{Name: "NoStutter", Holds: func(s State) bool {
		checked++
		for _, n := range Successors(cfg, s) {
			if n.Next.Equal(s) {
				t.Errorf("%s stutters in\n%v", n.Label, s)
				return false
			}
		}
		for _, r := range cfg.Active() {
			for _, b := range s.Blocks() {
				n, ok := ReceiveProposal(cfg, s, r, b)
				if ok && receiveStutters(s, n, r) != n.Equal(s) {
					t.Errorf("receiveStutters disagrees with Equal for r=%d, b=%s in\n%v", r, b, s)
					return false
				}
			}
		}
		return true
	}}
	res, err := explore.Check[State](sp, explore.Options[State]{Invariants: []explore.Invariant[State]{inv}})
	if err != nil || res.Violation != nil {
		t.Fatal(err, res.Violation)
	}
	if checked != res.Distinct || checked < 1000 {
		t.Fatalf("checked %d of %d states", checked, res.Distinct)
	}
}

// TestLiveSuccessorsAreNext: LiveNext only removes timeouts from Next.
func TestLiveSuccessorsAreNext(t *testing.T) {
	cfg := definedModels[4].cfg // pm_live_n5_q3_silent1
	s := Init(cfg)
	for range 12 {
		live, all := LiveSuccessors(cfg, s), Successors(cfg, s)
		for _, n := range live {
			if !slices.ContainsFunc(all, func(a Successor) bool { return a.Label == n.Label && a.Next.Equal(n.Next) }) {
				t.Fatalf("%s is a LiveNext step but not a Next step", n.Label)
			}
		}
		if len(live) == 0 {
			break
		}
		s = live[len(live)-1].Next
	}
}
