// Package tests holds cross-cutting tests (BRIEF §5): refinement of the
// implementation against the executable model, and Byzantine scenarios.
//
// This file checks that impl/certification's Collector refines
// model/certification (the Go twin of tla/HarvesterCertification.tla):
// after every step, the abstraction of the collector state (its counted
// votes and certificates) equals the model state reached by the model
// actions the step corresponds to, or the previous model state when the
// step was a stutter; and the model invariants hold.
package tests

import (
	"crypto/sha256"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"pgregory.net/rapid"

	"github.com/fhbft/fhbft/impl/certification"
	"github.com/fhbft/fhbft/impl/crypto/threshold"
	mc "github.com/fhbft/fhbft/model/certification"
)

// opKind is one kind of network input to the collector.
type opKind int

const (
	opHonest      opKind = iota // an honest member's vote (re-sent unchanged if it already voted in the slot)
	opByzantine                 // a Byzantine member's validly signed vote for any value
	opForged                    // a partial that does not verify under the claimed member's share
	opWrongEpoch                // a valid signature for another epoch
	opWrongQuorum               // a valid signature for another quorum
	opNonMember                 // an index outside 1..n
	numOps
)

var opNames = [...]string{"honest", "byzantine", "forged", "wrong-epoch", "wrong-quorum", "non-member"}

type op struct {
	kind        opKind
	member      int // index into the honest or Byzantine list, or any member
	slot, value int // model slot and value, 1-based
}

func (o op) String() string {
	return fmt.Sprintf("%s(m#%d, s=%d, v=%d)", opNames[o.kind], o.member, o.slot, o.value)
}

// scenario is the fixed part of a run: quorum size, Byzantine members, keys.
type scenario struct {
	n, q      int
	byzantine []int
	honest    []int
	roster    certification.Roster
	shares    []threshold.SecretShare
	votes     map[[3]int]certification.Vote // (member, slot, value) -> valid vote, signed once
	model     mc.Config
}

var (
	scenariosMu sync.Mutex
	scenarios   = map[[2]int]*scenario{}
)

const (
	numSlots  = 2
	numValues = 2
)

func modelSlot(s int) certification.Slot { return certification.RoundSlot(uint64(s)) }

func modelValue(v int) certification.Value {
	// Values 1 and 2 share a subject and differ in the verdict: the vote that
	// most tempts an equivocator (accept vs reject of one block).
	return certification.Value{Subject: sha256.Sum256([]byte("subject")), Verdict: certification.Verdict(v)}
}

// getScenario deals keys and signs every valid vote once per (n, b); the
// votes are deterministic, so caching them does not hide a failure.
func getScenario(t interface{ Fatal(...any) }, n, b int) *scenario {
	scenariosMu.Lock()
	defer scenariosMu.Unlock()
	if s, ok := scenarios[[2]int{n, b}]; ok {
		return s
	}
	q := certification.DefaultThreshold(n)
	gk, shares, err := threshold.TrustedDealerForTesting(n, q, rand.NewChaCha8([32]byte{byte(n), byte(b), 42}))
	if err != nil {
		t.Fatal(err)
	}
	s := &scenario{n: n, q: q, roster: certification.Roster{Quorum: 11, Epoch: 5, Key: gk}, shares: shares,
		votes: map[[3]int]certification.Vote{}}
	var members, active []int
	for m := 1; m <= n; m++ {
		members = append(members, m)
		if m > n-b {
			s.byzantine = append(s.byzantine, m)
		} else {
			s.honest = append(s.honest, m)
			active = append(active, m)
		}
		for slot := 1; slot <= numSlots; slot++ {
			for v := 1; v <= numValues; v++ {
				s.votes[[3]int{m, slot, v}] = certification.SignVote(shares[m-1], s.statement(slot, v))
			}
		}
	}
	s.model = mc.Config{Members: members, Byzantine: s.byzantine, Active: active, Quorum: q,
		Slots: []int{1, 2}, Values: []int{1, 2}, HonestValues: []int{1, 2}}
	if err := s.model.Validate(); err != nil {
		t.Fatal(err)
	}
	scenarios[[2]int{n, b}] = s
	return s
}

func (s *scenario) statement(slot, v int) certification.Statement {
	return certification.Statement{Quorum: s.roster.Quorum, Epoch: s.roster.Epoch, Slot: modelSlot(slot), Value: modelValue(v)}
}

// abstraction maps the collector state to a model state, keeping counted
// votes as a list so that a member counted twice (a broken CERT-7) shows.
func (s *scenario) abstraction(c *certification.Collector) (mc.State, int, error) {
	counted := c.Counted()
	votes := make([]mc.Vote, 0, len(counted))
	for _, cv := range counted {
		slot, v, err := s.modelIDs(cv.Slot, cv.Value)
		if err != nil {
			return mc.State{}, 0, err
		}
		votes = append(votes, mc.Vote{Member: int(cv.Member), Slot: slot, Value: v})
	}
	var certs []mc.Cert
	for _, ct := range c.Certificates() {
		slot, v, err := s.modelIDs(ct.Slot, ct.Value)
		if err != nil {
			return mc.State{}, 0, err
		}
		certs = append(certs, mc.Cert{Slot: slot, Value: v})
	}
	return mc.FromSets(s.model, votes, certs), len(votes), nil
}

func (s *scenario) modelIDs(slot certification.Slot, val certification.Value) (int, int, error) {
	for i := 1; i <= numSlots; i++ {
		if modelSlot(i) == slot {
			for j := 1; j <= numValues; j++ {
				if modelValue(j) == val {
					return i, j, nil
				}
			}
		}
	}
	return 0, 0, fmt.Errorf("collector holds a slot/value outside the model: %v %v", slot, val)
}

// input turns an op into the vote sent, the member it is attributed to in
// the model, and whether that member is Byzantine.
func (s *scenario) input(o op, honestVoted map[[2]int]int) (v certification.Vote, member int, byz bool) {
	switch o.kind {
	case opHonest:
		member = s.honest[o.member%len(s.honest)]
		key := [2]int{member, o.slot}
		if prev, ok := honestVoted[key]; ok {
			o.value = prev // CERT-5: an honest member only ever re-sends its one vote
		}
		honestVoted[key] = o.value
		return s.votes[[3]int{member, o.slot, o.value}], member, false
	case opByzantine:
		member = s.byzantine[o.member%len(s.byzantine)]
		return s.votes[[3]int{member, o.slot, o.value}], member, true
	case opForged:
		member = 1 + o.member%s.n
		v = s.votes[[3]int{member, o.slot, o.value}]
		other := 1 + (o.member+1)%s.n
		v.Partial = s.votes[[3]int{other, o.slot, o.value}].Partial // someone else's partial
		return v, member, true
	case opWrongEpoch, opWrongQuorum:
		member = 1 + o.member%s.n
		st := s.statement(o.slot, o.value)
		if o.kind == opWrongEpoch {
			st.Epoch++
		} else {
			st.Quorum++
		}
		return certification.SignVote(s.shares[member-1], st), member, true
	default: // opNonMember
		v = s.votes[[3]int{1, o.slot, o.value}]
		v.Member = certification.Member(s.n + 1 + o.member%3)
		return v, int(v.Member), true
	}
}

// refine runs ops through a collector and checks each step against the
// model. It returns the first discrepancy; nil means the run refined.
func refine(s *scenario, muts certification.Mutations, ops []op) error {
	coll, err := certification.NewCollector(s.roster, certification.Options{Mutations: muts})
	if err != nil {
		return err
	}
	cfg := s.model
	model := mc.Init(cfg)
	honestVoted := map[[2]int]int{}
	for i, o := range ops {
		vote, member, byz := s.input(o, honestVoted)
		eff := coll.Step(certification.VoteReceived{Vote: vote})
		want := model
		if eff.Counted {
			slot, val, err := s.modelIDs(vote.Slot, vote.Value)
			if err != nil {
				return err
			}
			var ok bool
			if byz {
				want, ok = mc.ByzantineVote(cfg, model, member, slot, val)
			} else {
				want, ok = mc.CastVote(cfg, model, member, slot, val)
			}
			if !ok {
				return fmt.Errorf("step %d %v: collector counted a vote the model forbids (member %d slot %d value %d)", i, o, member, slot, val)
			}
			if eff.Certificate != nil {
				if want, ok = mc.FormCertificate(cfg, want, slot, val); !ok {
					return fmt.Errorf("step %d %v: collector formed a certificate the model forbids (slot %d value %d, %d supporters, q=%d)",
						i, o, slot, val, len(mc.Supporters(cfg, want, slot, val)), cfg.Quorum)
				}
				if err := eff.Certificate.Verify(s.roster); err != nil {
					return fmt.Errorf("step %d %v: certificate does not verify: %v", i, o, err)
				}
			}
		} else if eff.Certificate != nil {
			return fmt.Errorf("step %d %v: certificate without a counted vote", i, o)
		}
		if err := expectReason(o, eff); err != nil {
			return fmt.Errorf("step %d %v: %v", i, o, err)
		}
		got, nCounted, err := s.abstraction(coll)
		if err != nil {
			return err
		}
		if nCounted != len(got.Votes()) {
			return fmt.Errorf("step %d %v: collector counts %d votes but only %d are distinct (CERT-7)", i, o, nCounted, len(got.Votes()))
		}
		if !got.Equal(want) {
			return fmt.Errorf("step %d %v: abstraction differs from model (-model +impl):\n%s", i, o,
				cmp.Diff(want.String(), got.String()))
		}
		if !mc.CertificateUniqueness(cfg, got) || !mc.CertificateValidity(cfg, got) {
			return fmt.Errorf("step %d %v: invariant violated in %v", i, o, got)
		}
		model = want
	}
	return checkLiveness(s, model)
}

// expectReason checks the collector gave the typed reason the input calls for.
func expectReason(o op, eff certification.Effects) error {
	want := map[opKind]certification.Reason{
		opForged: certification.ReasonBadPartial, opWrongEpoch: certification.ReasonWrongEpoch,
		opWrongQuorum: certification.ReasonWrongQuorum, opNonMember: certification.ReasonNotMember,
	}[o.kind]
	got := certification.ReasonOf(eff.Rejected)
	if eff.Rejected != nil && got == 0 {
		return fmt.Errorf("untyped rejection %v", eff.Rejected)
	}
	if want != 0 && got != want && got != certification.ReasonSlotDecided {
		return fmt.Errorf("reason %v, want %v", got, want)
	}
	return nil
}

// checkLiveness is CERT-13 at the end of a run: a slot in which q honest
// members voted one value has a certificate.
func checkLiveness(s *scenario, m mc.State) error {
	for slot := 1; slot <= numSlots; slot++ {
		for v := 1; v <= numValues; v++ {
			honest := 0
			for _, sup := range mc.Supporters(s.model, m, slot, v) {
				if sup <= s.n-len(s.byzantine) {
					honest++
				}
			}
			certified := false
			for _, c := range m.Certificates() {
				certified = certified || c.Slot == slot
			}
			if honest >= s.q && !certified {
				return fmt.Errorf("slot %d: %d honest votes for value %d but no certificate (CERT-13)", slot, honest, v)
			}
		}
	}
	return nil
}

// drawScenario picks n and a Byzantine count below the bound b < 2q − n.
func drawScenario(t *rapid.T) *scenario {
	n := rapid.SampledFrom([]int{4, 5, 7, 10}).Draw(t, "n")
	q := certification.DefaultThreshold(n)
	b := rapid.IntRange(0, 2*q-n-1).Draw(t, "byzantine")
	return getScenario(t, n, b)
}

func drawOps(t *rapid.T, s *scenario) []op {
	kinds := []opKind{opHonest, opHonest, opHonest, opForged, opWrongEpoch, opWrongQuorum, opNonMember}
	if len(s.byzantine) > 0 {
		kinds = append(kinds, opByzantine, opByzantine, opByzantine)
	}
	return rapid.SliceOfN(rapid.Custom(func(t *rapid.T) op {
		return op{
			kind:   rapid.SampledFrom(kinds).Draw(t, "kind"),
			member: rapid.IntRange(0, s.n-1).Draw(t, "member"),
			slot:   rapid.IntRange(1, numSlots).Draw(t, "slot"),
			value:  rapid.IntRange(1, numValues).Draw(t, "value"),
		}
	}), 1, 40).Draw(t, "ops")
}

// TestCollectorRefinesModel is the rapid state-machine refinement test of
// spec/certification.md CERT-4..CERT-13.
func TestCollectorRefinesModel(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		s := drawScenario(t)
		if err := refine(s, certification.Mutations{}, drawOps(t, s)); err != nil {
			t.Fatal(err)
		}
	})
}

// randomOps is a seeded, rapid-free generator used to hunt planted bugs:
// the planted-bug test must find a failure, and print the seed that did.
func randomOps(rng *rand.Rand, s *scenario, count int) []op {
	ops := make([]op, count)
	for i := range ops {
		k := opKind(rng.IntN(int(numOps)))
		if k == opByzantine && len(s.byzantine) == 0 {
			k = opHonest
		}
		ops[i] = op{kind: k, member: rng.IntN(s.n), slot: 1 + rng.IntN(numSlots), value: 1 + rng.IntN(numValues)}
	}
	return ops
}

// TestRefinementCatchesPlantedBugs shows the refinement checker fails on
// the planted bugs the issue names: threshold lowered by one, dedupe removed.
func TestRefinementCatchesPlantedBugs(t *testing.T) {
	mutants := map[string]certification.Mutations{
		"threshold-1": {ThresholdDelta: -1},
		"no-dedupe":   {NoDedupe: true},
	}
	for name, muts := range mutants {
		t.Run(name, func(t *testing.T) {
			for seed := uint64(1); seed <= 200; seed++ {
				rng := rand.New(rand.NewPCG(seed, 7))
				s := getScenario(t, 5, 0)
				if err := refine(s, muts, randomOps(rng, s, 30)); err != nil {
					t.Logf("caught with seed %d: %v", seed, err)
					return
				}
			}
			t.Fatalf("the refinement check missed the planted bug %q in 200 seeds", name)
		})
	}
	// The unmutated collector passes the same seeds, so the catches above
	// are the bugs and not the checker.
	for seed := uint64(1); seed <= 20; seed++ {
		s := getScenario(t, 5, 0)
		if err := refine(s, certification.Mutations{}, randomOps(rand.New(rand.NewPCG(seed, 7)), s, 30)); err != nil {
			t.Fatalf("seed %d: correct collector failed: %v", seed, err)
		}
	}
}
