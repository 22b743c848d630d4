package dag

import (
	"slices"
	"testing"

	"github.com/fhbft/fhbft/model/explore"
)

// Each planted bug is caught by the invariant it is for, on a model where
// the real spec holds (BRIEF §5: a checker must be shown to catch bugs).
func TestPlantedBugs(t *testing.T) {
	noTypeOK := slices.DeleteFunc(slices.Clone(InvariantNames), func(n string) bool { return n == "TypeOK" })
	for _, tc := range []struct {
		name       string
		cfg        Config
		mut        Mutations
		invariants []string
		want       string
	}{
		// Byzantine transfer 2 after 1 (one slot), or transfer 1 again.
		{"ApplyStale", n3eq1, Mutations{ApplyStale: true}, nil, "OnePerSlot"},
		{"ApplyStale, replaying 1", with(n3eq1, func(c *Config) { c.ByzBlocks = [][]int{{}, {1}} }),
			Mutations{ApplyStale: true}, nil, "NoDoubleFinalize"},
		{"BurnFees", n3eq1, Mutations{BurnFees: true}, nil, "Conservation"},
		{"NoGapExpiry", n4wh1, Mutations{NoGapExpiry: true}, nil, "Deadline"},
		{"DropConflicts", n3eq1, Mutations{DropConflicts: true}, nil, "Accounting"},
		{"IgnoreLateCertification", n3eq1, Mutations{IgnoreLateCertification: true}, nil, "TypeOK"},
		{"IgnoreLateCertification without TypeOK", n3eq1, Mutations{IgnoreLateCertification: true}, noTypeOK, "FinalizedWereCertified"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := Explore(tc.cfg, Options{Mutations: tc.mut, Invariants: tc.invariants})
			if err != nil {
				t.Fatal(err)
			}
			v := res.Violation
			if v == nil || v.Name != tc.want {
				t.Fatalf("want a violation of %s, got %v", tc.want, v)
			}
			checkTrace(t, tc.cfg, tc.mut, v.Trace)
			t.Logf("%s violates %s after %d states (trace %d states)", tc.name, v.Name, res.Distinct, len(v.Trace))
		})
	}
}

// witness explores cfg and returns a shortest trace to a state where found
// holds, or nil if none is reachable.
func witness(t *testing.T, cfg Config, found func(*Model, State) bool) []explore.Step[State] {
	t.Helper()
	sp, err := NewSpec(cfg, Mutations{})
	if err != nil {
		t.Fatal(err)
	}
	res, err := explore.Check[State](sp, explore.Options[State]{Invariants: []explore.Invariant[State]{
		{Name: "NotFound", Holds: func(s State) bool { return !found(sp.Model(), s) }},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Violation == nil {
		return nil
	}
	return res.Violation.Trace
}

func anyFinal(s State, f func(c []*cblock) bool) bool {
	return slices.ContainsFunc(s.final, f)
}

func hasReason(r Reason) func(*Model, State) bool {
	return func(_ *Model, s State) bool {
		return anyFinal(s, func(c []*cblock) bool {
			return slices.ContainsFunc(c, func(b *cblock) bool {
				return slices.ContainsFunc(b.Rejected, func(x Rejection) bool { return x.Reason == r })
			})
		})
	}
}

// laterApplied finds a transfer that earlier(b) lists in an earlier final
// block and a later final block applies.
func laterApplied(earlier func(b *cblock) txSet) func(*Model, State) bool {
	return func(_ *Model, s State) bool {
		return anyFinal(s, func(c []*cblock) bool {
			for i := range c {
				for j := i + 1; j < len(c); j++ {
					if earlier(c[i])&appliedIDs(c[j]) != 0 {
						return true
					}
				}
			}
			return false
		})
	}
}

// The ok models are not vacuous: every CONV-10 reason, equivocation
// evidence, a deferral resolved by a later round, and two miners building
// different blocks all occur in them.
func TestModelsReachTheInterestingCases(t *testing.T) {
	for _, tc := range []struct {
		what  string
		cfg   Config
		found func(*Model, State) bool
	}{
		{"conflict", n3eq1, hasReason(ReasonConflict)},
		{"replay", n3eq1, hasReason(ReasonReplay)},
		{"overdraft", n3eq1, hasReason(ReasonOverdraft)},
		{"gap-expired", n4wh1, hasReason(ReasonGapExpired)},
		{"deferred then applied", n3eq1, laterApplied(deferredIDs)},
		{"deferred twice", n4wh1, func(_ *Model, s State) bool {
			return anyFinal(s, func(c []*cblock) bool {
				return len(c) >= 2 && deferredIDs(c[0])&deferredIDs(c[1]) != 0
			})
		}},
		{"equivocator excluded", liveN3eq1, func(_ *Model, s State) bool {
			return anyFinal(s, func(c []*cblock) bool {
				return slices.ContainsFunc(c, func(b *cblock) bool { return len(b.Equivocations) > 0 })
			})
		}},
		{"Byzantine position wins a conflict (transfer 2 applied)", n3eq1, func(_ *Model, s State) bool {
			return anyFinal(s, func(c []*cblock) bool { return slices.Contains(chainApplied(c), 2) })
		}},
		// CONV-14 is exercised: a counted block carries transfer 3 (which
		// overdrew earlier) while it is in the rejected set, so it is in no
		// list of the block.
		{"rejected transfer 3 proposed again and excluded", n3eq1, func(m *Model, s State) bool {
			return anyFinal(s, func(c []*cblock) bool {
				for i, b := range c {
					if !m.rejectedSet(c[:i]).has(3) {
						continue
					}
					for _, x := range b.Refs {
						if setOf(txIDs(x.Txs)).has(3) {
							return !(appliedIDs(b) | rejectedIDs(b) | deferredIDs(b)).has(3)
						}
					}
				}
				return false
			})
		}},
		// The rejected set is dropped once the slot closes: transfer 2 loses
		// slot (1, 0) to 1, which is applied; proposed again it is a replay.
		{"rejected again as replay once its slot closed", n3eq1, func(_ *Model, s State) bool {
			return anyFinal(s, func(c []*cblock) bool {
				for i := range c {
					for j := i + 1; j < len(c); j++ {
						for _, x := range c[j].Rejected {
							if x.Reason == ReasonReplay && rejectedIDs(c[i]).has(x.ID) {
								return true
							}
						}
					}
				}
				return false
			})
		}},
		{"two miners hold different inboxes", n4wh1, func(_ *Model, s State) bool {
			return len(s.inbox) == 2 && counted(s.inbox[0]) >= 3 && counted(s.inbox[1]) >= 3 &&
				!slices.Equal(s.inbox[0], s.inbox[1])
		}},
	} {
		t.Run(tc.what, func(t *testing.T) {
			tr := witness(t, tc.cfg, tc.found)
			if tr == nil {
				t.Fatalf("no reachable state shows %s", tc.what)
			}
			t.Logf("%s reached in %d states", tc.what, len(tr))
		})
	}
}

// CONV-14 closes what this test found before the rule existed:
// a transfer rejected by a final block (overdraft or conflict) was applied
// by a later one, because a Byzantine harvester may propose it again with
// its certificate. With the rejected set no reachable state of dag_n3_eq1
// shows it; with IgnoreRejected (the mutation that turns CONV-14 off, and
// dag_n3_rejectagain_bug) the scenario is reached again and RejectionsFinal
// reports it. The witness is printed.
func TestRejectedThenApplied(t *testing.T) {
	if tr := witness(t, n3eq1, laterApplied(rejectedIDs)); tr != nil {
		sp, _ := NewSpec(n3eq1, Mutations{})
		t.Fatalf("CONV-14: a rejected transfer is applied later (%d states):\n%s", len(tr), sp.Format(tr[len(tr)-1].State))
	}
	bug := with(n3eq1, func(c *Config) { c.IgnoreRejected = true })
	tr := witness(t, bug, laterApplied(rejectedIDs))
	if tr == nil {
		t.Fatal("with IgnoreRejected no rejected transfer is applied later: the mutation no longer shows the bug")
	}
	sp, _ := NewSpec(bug, Mutations{})
	last := tr[len(tr)-1].State
	t.Logf("IgnoreRejected: rejected, then applied (%d states); final state:\n%s", len(tr), sp.Format(last))
	// The invariant, checked alone, is what catches it.
	res, err := Explore(bug, Options{Invariants: []string{"RejectionsFinal"}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Violation == nil || res.Violation.Name != "RejectionsFinal" || len(res.Violation.Trace) != len(tr) {
		t.Fatalf("want RejectionsFinal violated after %d states, got %v", len(tr), res.Violation)
	}
	checkTrace(t, bug, Mutations{}, res.Violation.Trace)
}
