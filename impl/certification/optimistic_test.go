package certification

import (
	"cmp"
	"fmt"
	"math/big"
	"slices"
	"testing"

	bls12381 "github.com/consensys/gnark-crypto/ecc/bls12-381"
	"pgregory.net/rapid"

	"github.com/fhbft/fhbft/impl/crypto/bls"
	"github.com/fhbft/fhbft/impl/crypto/threshold"
)

var optimistic = Options{Optimistic: true}

// forge returns v under another member's name with that member's index but
// v's partial: a vote whose partial does not verify (CERT-6).
func forge(v Vote, as Member) Vote {
	v.Member = as
	return v
}

// pendingVotes lists a collector's pending votes as CountedVotes.
func pendingVotes(c *Collector, onlyValid bool) []CountedVote {
	var out []CountedVote
	for slot, s := range c.slots {
		if s.opt == nil {
			continue
		}
		for m, v := range s.opt.pending {
			if !onlyValid || checkVote(c.roster, v) == nil {
				out = append(out, CountedVote{Member: m, Slot: slot, Value: v.Value})
			}
		}
	}
	sortCounted(out)
	return out
}

func sortCounted(vs []CountedVote) {
	slices.SortFunc(vs, func(a, b CountedVote) int {
		return cmp.Or(compareSlot(a.Slot, b.Slot), cmp.Compare(a.Member, b.Member), compareValue(a.Value, b.Value))
	})
}

// TestOptimisticInvalidMixedIn: bad partials among the first q candidates
// delay the certificate until q valid votes are there, are dropped with
// their reason, and make their members suspects whose later votes are
// verified on arrival. spec: CERT-6, CERT-13, CERT-20
func TestOptimisticInvalidMixedIn(t *testing.T) {
	f := newFixture(t, 7, 5)
	st := stmt(f.roster, 1, "block", Accept)
	c := mustCollector(t, f.roster, optimistic)
	valid := func(m int) Vote { return SignVote(f.shares[m-1], st) }
	// Members 1 and 2 are impersonated with member 7's partial; 3, 4, 5 vote.
	seq := []Vote{forge(valid(7), 1), valid(3), forge(valid(7), 2), valid(4), valid(5)}
	var dropped []Member
	for i, v := range seq {
		eff := c.Step(VoteReceived{v})
		for _, err := range eff.Dropped {
			if ReasonOf(err) != ReasonBadPartial {
				t.Fatalf("step %d: dropped with %v", i, err)
			}
			dropped = append(dropped, err.(*RejectError).Member)
		}
		if eff.Certificate != nil {
			t.Fatalf("step %d: certificate with only 3 valid partials", i)
		}
	}
	if !slices.Equal(dropped, []Member{1, 2}) {
		t.Fatalf("dropped %v, want [1 2]", dropped)
	}
	// One failed combination; its five pending partials checked one by one.
	if st := c.Stats(); st.CombineChecks != 1 || st.Searches != 1 || st.BadFound != 2 || st.PartialVerifies != 5 {
		t.Fatalf("stats %+v", st)
	}
	// The suspects' own votes are verified at once and count; with member
	// 6 that makes five.
	before := c.Stats().PartialVerifies
	if eff := c.Step(VoteReceived{forge(valid(7), 1)}); ReasonOf(eff.Rejected) != ReasonBadPartial {
		t.Fatalf("suspect's second bad partial: %+v", eff)
	}
	if eff := c.Step(VoteReceived{valid(1)}); !eff.Counted || eff.Certificate != nil {
		t.Fatalf("suspect's valid vote: %+v", eff)
	}
	if got := c.Stats().PartialVerifies - before; got != 2 {
		t.Fatalf("%d partial verifications for the suspect's two votes, want 2", got)
	}
	eff := c.Step(VoteReceived{valid(6)})
	if eff.Certificate == nil || !eff.Counted {
		t.Fatalf("no certificate with five valid votes: %+v", eff)
	}
	if err := eff.Certificate.Verify(f.roster); err != nil {
		t.Fatal(err)
	}
	if got := eff.Certificate.Signers.Members(); !slices.Equal(got, []Member{1, 3, 4, 5, 6}) {
		t.Fatalf("signers %v", got)
	}
}

// TestOptimisticEquivocation: evidence from pending votes is found and
// self-verifying (CERT-8); an invalid pending vote is never half of it.
func TestOptimisticEquivocation(t *testing.T) {
	f := newFixture(t, 5, 3)
	accept, reject := stmt(f.roster, 1, "x", Accept), stmt(f.roster, 1, "x", Reject)
	a, b := SignVote(f.shares[0], accept), SignVote(f.shares[0], reject)

	c := mustCollector(t, f.roster, optimistic)
	if eff := c.Step(VoteReceived{a}); !eff.Pending {
		t.Fatalf("first vote: %+v", eff)
	}
	eff := c.Step(VoteReceived{b})
	if ReasonOf(eff.Rejected) != ReasonEquivocation || eff.Evidence == nil || eff.Evidence.First != a || eff.Evidence.Second != b {
		t.Fatalf("equivocation of a pending vote: %+v", eff)
	}
	if err := eff.Evidence.Verify(f.roster); err != nil {
		t.Fatal(err)
	}
	// The first vote now counts: two more accept votes certify accept.
	c.Step(VoteReceived{SignVote(f.shares[1], accept)})
	if eff := c.Step(VoteReceived{SignVote(f.shares[2], accept)}); eff.Certificate == nil || eff.Certificate.Value != accept.Value {
		t.Fatalf("no accept certificate: %+v", eff)
	}

	// An invalid pending vote (member 2's partial under member 1's name)
	// followed by member 1's valid vote for the other value: the invalid one
	// is dropped, the valid one counts, no evidence.
	c = mustCollector(t, f.roster, optimistic)
	c.Step(VoteReceived{forge(SignVote(f.shares[1], accept), 1)})
	eff = c.Step(VoteReceived{b})
	if !eff.Counted || eff.Evidence != nil || len(eff.Dropped) != 1 || ReasonOf(eff.Dropped[0]) != ReasonBadPartial {
		t.Fatalf("invalid pending then valid vote: %+v", eff)
	}
	if got := c.Counted(); len(got) != 1 || got[0].Value != b.Value {
		t.Fatalf("counted %v", got)
	}
}

// tamper adds d·k to a partial: the result is a valid point that does not
// verify.
func tamper(t *testing.T, sig bls.Signature, d bls12381.G1Affine, k *big.Int) bls.Signature {
	t.Helper()
	var add bls12381.G1Affine
	add.ScalarMultiplication(&d, k)
	p := sig.Point()
	p.Add(&p, &add)
	b := p.Bytes()
	out, err := bls.SignatureFromBytes(b[:])
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestOptimisticCancellingPair: two partials tampered by +D and -D cancel
// in a plain sum (threshold.TestCancellingPair) but not in the Lagrange
// combination: the combination fails, the search finds both, and the
// certificate forms once q valid votes are there. spec: CERT-17, CERT-20
func TestOptimisticCancellingPair(t *testing.T) {
	f := newFixture(t, 7, 5)
	st := stmt(f.roster, 1, "block", Accept)
	_, _, g1, _ := bls12381.Generators()
	one, minusOne := big.NewInt(1), big.NewInt(-1)
	votes := make([]Vote, 7)
	for i := range votes {
		votes[i] = SignVote(f.shares[i], st)
	}
	votes[1].Partial = tamper(t, votes[1].Partial, g1, one)
	votes[3].Partial = tamper(t, votes[3].Partial, g1, minusOne)
	c := mustCollector(t, f.roster, optimistic)
	var dropped []Member
	for i, v := range votes {
		eff := c.Step(VoteReceived{v})
		if eff.Rejected != nil {
			dropped = append(dropped, v.Member)
		}
		for _, err := range eff.Dropped {
			dropped = append(dropped, err.(*RejectError).Member)
		}
		if (eff.Certificate != nil) != (i == 6) {
			t.Fatalf("vote %d: certificate %v", i+1, eff.Certificate != nil)
		}
		if eff.Certificate != nil {
			if err := eff.Certificate.Verify(f.roster); err != nil {
				t.Fatal(err)
			}
			if got := eff.Certificate.Signers.Members(); !slices.Equal(got, []Member{1, 3, 5, 6, 7}) {
				t.Fatalf("signers %v", got)
			}
		}
	}
	slices.Sort(dropped)
	if !slices.Equal(dropped, []Member{2, 4}) {
		t.Fatalf("dropped %v, want [2 4]", dropped)
	}
}

// TestOptimisticLagrangeCancellingPair: partials tampered so that their
// errors cancel in the Lagrange combination itself pass the one check of
// the combination. The certificate is still the group signature (CERT-10);
// the two partials are marked as checked only in combination, so neither
// becomes evidence, and a valid vote of the member replaces its partial.
// spec: CERT-8, CERT-20
func TestOptimisticLagrangeCancellingPair(t *testing.T) {
	f := newFixture(t, 5, 3)
	accept, reject := stmt(f.roster, 1, "x", Accept), stmt(f.roster, 1, "x", Reject)
	votes := []Vote{SignVote(f.shares[0], accept), SignVote(f.shares[1], accept), SignVote(f.shares[2], accept)}
	lambda, err := threshold.LagrangeAtZero([]Member{1, 2, 3})
	if err != nil {
		t.Fatal(err)
	}
	var l1, l2 big.Int
	lambda[0].BigInt(&l1)
	lambda[1].BigInt(&l2)
	_, _, g1, _ := bls12381.Generators()
	// σ1 + λ2·D and σ2 − λ1·D: λ1·λ2·D − λ2·λ1·D = 0 in the combination.
	valid1, valid2 := votes[0], votes[1]
	votes[0].Partial = tamper(t, votes[0].Partial, g1, &l2)
	votes[1].Partial = tamper(t, votes[1].Partial, g1, new(big.Int).Neg(&l1))
	for _, v := range votes[:2] {
		if checkVote(f.roster, v) == nil {
			t.Fatal("premise: tampered partial verifies")
		}
	}
	c := mustCollector(t, f.roster, optimistic)
	var cert *Certificate
	for _, v := range votes {
		cert = c.Step(VoteReceived{v}).Certificate
	}
	if cert == nil {
		t.Fatal("premise: the cancelling set did not pass the combination check")
	}
	if err := cert.Verify(f.roster); err != nil {
		t.Fatalf("certificate does not verify: %v", err)
	}
	// Member 1's valid reject vote: its counted partial is checked alone,
	// fails, so there is no evidence.
	eff := c.Step(VoteReceived{SignVote(f.shares[0], reject)})
	if eff.Evidence != nil || ReasonOf(eff.Rejected) != ReasonSlotDecided {
		t.Fatalf("conflict with a combination-only partial: %+v", eff)
	}
	// Member 1's valid accept vote replaces its counted partial; its
	// reject vote is then evidence that verifies.
	if eff := c.Step(VoteReceived{valid1}); ReasonOf(eff.Rejected) != ReasonDuplicate {
		t.Fatalf("repair: %+v", eff)
	}
	if c.slots[accept.Slot].counted[1] != valid1 {
		t.Fatal("counted partial not replaced")
	}
	eff = c.Step(VoteReceived{SignVote(f.shares[0], reject)})
	if eff.Evidence == nil || eff.Evidence.Verify(f.roster) != nil {
		t.Fatalf("evidence after repair: %+v", eff)
	}
	// Member 2's tampered partial is not replaced by a different invalid one.
	if eff := c.Step(VoteReceived{forge(valid1, 2)}); ReasonOf(eff.Rejected) != ReasonBadPartial {
		t.Fatalf("second bad partial of member 2: %+v", eff)
	}
	if c.slots[accept.Slot].counted[2] == valid2 || c.slots[accept.Slot].opt.combined[2] != failsAlone {
		t.Fatal("member 2's partial state")
	}
	// Member 3's partial was valid: checked alone on its conflict, it is
	// evidence at once.
	eff = c.Step(VoteReceived{SignVote(f.shares[2], reject)})
	if eff.Evidence == nil || eff.Evidence.Verify(f.roster) != nil {
		t.Fatalf("evidence for a valid combination-only partial: %+v", eff)
	}
	if got := c.Counted(); len(got) != 3 {
		t.Fatalf("counted %v: nothing counted may be lost", got)
	}
}

// TestOptimisticBatchSearch: with more than singleCheckMax unverified
// partials a failed combination locates the bad ones with
// threshold.FindInvalid, and they are dropped as with single checks.
func TestOptimisticBatchSearch(t *testing.T) {
	f := newFixture(t, 30, DefaultThreshold(30)) // q = 18
	q := f.roster.Q()
	st := stmt(f.roster, 1, "b", Accept)
	c := mustCollector(t, f.roster, optimistic)
	var dropped []Member
	for m := 1; m <= q+2; m++ {
		v := SignVote(f.shares[m-1], st)
		if m == 4 || m == 11 {
			v = forge(SignVote(f.shares[29], st), Member(m))
		}
		eff := c.Step(VoteReceived{v})
		for _, d := range eff.Dropped {
			dropped = append(dropped, d.(*RejectError).Member)
		}
		if eff.Rejected != nil {
			dropped = append(dropped, Member(m))
		}
		if (eff.Certificate != nil) != (m == q+2) {
			t.Fatalf("vote %d: certificate %v", m, eff.Certificate != nil)
		}
	}
	if !slices.Equal(dropped, []Member{4, 11}) {
		t.Fatalf("dropped %v, want [4 11]", dropped)
	}
	if s := c.Stats(); s.PartialVerifies != 0 || s.Searches != 1 || s.BadFound != 2 || s.CombineChecks != 2 {
		t.Fatalf("stats %+v: want one batch search, no single checks", s)
	}
}

// TestOptimisticIdentityPartial: a vote built in memory with the identity
// as its partial (decoding refuses it, CERT-14) fails the combination and
// is dropped like any bad partial, in both search paths. spec: CERT-19
func TestOptimisticIdentityPartial(t *testing.T) {
	f := newFixture(t, 5, 3)
	st := stmt(f.roster, 1, "x", Accept)
	for _, singleMax := range []int{singleCheckMax, 0} {
		c := mustCollector(t, f.roster, optimistic)
		c.singleMax = singleMax
		zero := SignVote(f.shares[0], st)
		zero.Partial = bls.Signature{}
		c.Step(VoteReceived{zero})
		c.Step(VoteReceived{SignVote(f.shares[1], st)})
		eff := c.Step(VoteReceived{SignVote(f.shares[2], st)})
		if len(eff.Dropped) != 1 || ReasonOf(eff.Dropped[0]) != ReasonBadPartial || eff.Certificate != nil {
			t.Fatalf("singleMax %d: %+v", singleMax, eff)
		}
		if eff := c.Step(VoteReceived{SignVote(f.shares[3], st)}); eff.Certificate == nil || eff.Certificate.Verify(f.roster) != nil {
			t.Fatalf("singleMax %d: no valid certificate: %+v", singleMax, eff)
		}
	}
}

// TestOptimisticPairingBudget: an attacker who fills every member's pending
// place with bad partials costs one failed combination per round of bad
// partials, whose pending partials are then checked once each; afterwards
// every impersonated member is a suspect and costs one pairing per vote, as
// in eager mode. spec: CERT-20
func TestOptimisticPairingBudget(t *testing.T) {
	f := newFixture(t, 10, 6)
	st := stmt(f.roster, 1, "b", Accept)
	other := stmt(f.roster, 2, "b", Accept)
	c := mustCollector(t, f.roster, optimistic)
	// Every member impersonated with its own partial for another slot.
	for m := 1; m <= 10; m++ {
		v := SignVote(f.shares[m-1], other)
		v.Statement = st
		c.Step(VoteReceived{v})
	}
	s := c.Stats()
	if s.CombineChecks != 1 || s.Searches != 1 || s.BadFound != 6 {
		t.Fatalf("stats after 10 bad partials: %+v", s)
	}
	// Members 1..6 are suspects: their valid votes are verified at once.
	// Members 7..10 are still pending: once members 1 and 2 count, their
	// value has q candidates again, and a second failed combination drops
	// them. Members 1..6 then certify with one more combination check.
	for m := 1; m <= 10; m++ {
		c.Step(VoteReceived{SignVote(f.shares[m-1], st)})
	}
	s = c.Stats()
	if _, ok := c.Certificate(st.Slot); !ok {
		t.Fatal("no certificate after 10 valid votes")
	}
	// Eager mode: 10 + 6 single verifications. Optimistic: 6 + 4 in the
	// two searches, 6 for the suspects, and 3 combination checks.
	if s.CombineChecks != 3 || s.Searches != 2 || s.BadFound != 10 || s.PartialVerifies != 16 {
		t.Fatalf("stats %+v", s)
	}
}

// optScenario is a fixed roster with every valid vote pre-signed, for the
// property test below.
type optScenario struct {
	f          fixture
	byz        int
	votes      map[[3]int]Vote // (member, slot, value) -> valid vote
	otherEpoch map[[3]int]Vote
}

func optValue(v int) Value { return Value{Subject: digest("subject"), Verdict: Verdict(v)} }

func newOptScenario(t *testing.T, n, byz int) *optScenario {
	f := newFixture(t, n, DefaultThreshold(n))
	s := &optScenario{f: f, byz: byz, votes: map[[3]int]Vote{}, otherEpoch: map[[3]int]Vote{}}
	for m := 1; m <= n; m++ {
		for slot := 1; slot <= 2; slot++ {
			for v := 1; v <= 2; v++ {
				st := Statement{Quorum: f.roster.Quorum, Epoch: f.roster.Epoch, Slot: RoundSlot(uint64(slot)), Value: optValue(v)}
				s.votes[[3]int{m, slot, v}] = SignVote(f.shares[m-1], st)
				st.Epoch++
				s.otherEpoch[[3]int{m, slot, v}] = SignVote(f.shares[m-1], st)
			}
		}
	}
	return s
}

// optOp kinds: honest members vote once per slot (and re-send that vote),
// Byzantine members sign anything, and anyone may send a partial that does
// not verify (another member's, or the member's own for the other slot), a
// vote for another epoch or a non-member index.
const (
	opHonest = iota
	opByzantine
	opForged
	opStale
	opWrongEpoch
	opNonMember
)

type optOp struct{ kind, member, slot, value, other int }

func (s *optScenario) input(o optOp, honestVoted map[[2]int]int) Vote {
	n := s.f.roster.N()
	switch o.kind {
	case opHonest:
		m := 1 + o.member%(n-s.byz)
		if prev, ok := honestVoted[[2]int{m, o.slot}]; ok {
			o.value = prev
		}
		honestVoted[[2]int{m, o.slot}] = o.value
		return s.votes[[3]int{m, o.slot, o.value}]
	case opByzantine:
		return s.votes[[3]int{n - s.byz + 1 + o.member%s.byz, o.slot, o.value}]
	case opForged:
		m := 1 + o.member%n
		other := 1 + (o.member+1+o.other%(n-1))%n
		return forge(s.votes[[3]int{other, o.slot, o.value}], Member(m))
	case opStale:
		m := 1 + o.member%n
		v := s.votes[[3]int{m, 3 - o.slot, o.value}]
		v.Slot = RoundSlot(uint64(o.slot))
		return v
	case opWrongEpoch:
		return s.otherEpoch[[3]int{1 + o.member%n, o.slot, o.value}]
	default:
		return forge(s.votes[[3]int{1, o.slot, o.value}], Member(n+1+o.member%3))
	}
}

// TestOptimisticMatchesEager is the property that makes optimistic mode a
// refinement of eager mode (which tests/ refines against the model), for
// inputs without a cancelling set (TestOptimisticLagrangeCancellingPair
// covers those). For the same input sequence, at every step:
//
//   - both form the same certificate (statement, signers, signature) or
//     none, and the same evidence or none;
//   - a vote eager mode counts is counted or pending in optimistic mode, a
//     vote optimistic mode counts eager mode counts too, and a refusal has
//     the same reason, except that a bad partial may wait pending and a
//     repeat of a pending bad partial is a duplicate;
//
// and once all inputs are delivered:
//
//   - the certificates are equal;
//   - eager's counted votes are optimistic's counted votes plus its pending
//     votes that verify (pending votes are what optimistic mode saves);
//   - every vote optimistic mode counts verifies alone (CERT-6);
//   - optimistic mode verified no more single partials than eager mode,
//     made at most one combination check per certificate plus one per bad
//     partial found, and its searches found each member bad at most once
//     per slot (suspects are verified on arrival);
//   - optimistic mode is deterministic: a second collector fed the same
//     inputs, which locates bad partials by threshold.FindInvalid instead
//     of single checks, gives the same effects, Dropped order included.
func TestOptimisticMatchesEager(t *testing.T) {
	scenarios := map[[2]int]*optScenario{}
	for _, nb := range [][2]int{{4, 0}, {4, 1}, {5, 1}, {7, 2}, {7, 3}} {
		scenarios[nb] = newOptScenario(t, nb[0], nb[1])
	}
	rapid.Check(t, func(t *rapid.T) {
		nb := rapid.SampledFrom([][2]int{{4, 0}, {4, 1}, {5, 1}, {7, 2}, {7, 3}}).Draw(t, "n,byzantine")
		s := scenarios[nb]
		n := nb[0]
		kinds := []int{opHonest, opHonest, opHonest, opForged, opForged, opStale, opStale, opWrongEpoch, opNonMember}
		if s.byz > 0 {
			kinds = append(kinds, opByzantine, opByzantine, opByzantine)
		}
		ops := rapid.SliceOfN(rapid.Custom(func(t *rapid.T) optOp {
			return optOp{
				kind:   rapid.SampledFrom(kinds).Draw(t, "kind"),
				member: rapid.IntRange(0, n-1).Draw(t, "member"),
				// Biased to slot 1 and value 1, so that runs certify.
				slot:  rapid.SampledFrom([]int{1, 1, 1, 2}).Draw(t, "slot"),
				value: rapid.SampledFrom([]int{1, 1, 2}).Draw(t, "value"),
				other: rapid.IntRange(0, n-2).Draw(t, "other"),
			}
		}), 8, 40).Draw(t, "ops")
		if err := compareModes(s, ops); err != nil {
			t.Fatal(err)
		}
	})
}

func compareModes(s *optScenario, ops []optOp) error {
	r := s.f.roster
	eager, _ := NewCollector(r, Options{})
	opt, _ := NewCollector(r, optimistic)
	// Determinism (no map order in results), and the batch search finds what
	// single checks find: a second optimistic collector that always searches
	// with threshold.FindInvalid must give the same effects.
	again, _ := NewCollector(r, optimistic)
	again.singleMax = 0
	honestVoted := map[[2]int]int{}
	var certs int
	badAt := map[Slot]map[Member]bool{} // optimistic: who sent a bad partial where
	for i, o := range ops {
		v := s.input(o, honestVoted)
		e, p := eager.Step(VoteReceived{v}), opt.Step(VoteReceived{v})
		at := fmt.Sprintf("step %d %+v (member %d)", i, o, v.Member)
		if p2 := again.Step(VoteReceived{v}); describe(p2) != describe(p) {
			return fmt.Errorf("%s: optimistic mode not deterministic:\n%+v\n%+v", at, p, p2)
		}
		if badAt[v.Slot] == nil {
			badAt[v.Slot] = map[Member]bool{}
		}
		if ReasonOf(p.Rejected) == ReasonBadPartial {
			badAt[v.Slot][v.Member] = true
		}
		if err := sameCertificate(e.Certificate, p.Certificate); err != nil {
			return fmt.Errorf("%s: %v", at, err)
		}
		if e.Certificate != nil {
			certs++
			if err := e.Certificate.Verify(r); err != nil {
				return fmt.Errorf("%s: certificate does not verify: %v", at, err)
			}
		}
		if (e.Evidence == nil) != (p.Evidence == nil) || e.Evidence != nil && *e.Evidence != *p.Evidence {
			return fmt.Errorf("%s: evidence eager %v optimistic %v", at, e.Evidence, p.Evidence)
		}
		if p.Evidence != nil && p.Evidence.Verify(r) != nil {
			return fmt.Errorf("%s: evidence does not verify", at)
		}
		er, pr := ReasonOf(e.Rejected), ReasonOf(p.Rejected)
		outcomes := 0
		for _, b := range []bool{p.Counted, p.Pending, p.Rejected != nil} {
			if b {
				outcomes++
			}
		}
		switch {
		case outcomes != 1:
			return fmt.Errorf("%s: optimistic effects %+v: want exactly one of counted, pending, rejected", at, p)
		case e.Counted && p.Rejected != nil:
			return fmt.Errorf("%s: eager counted, optimistic refused: %v", at, p.Rejected)
		case p.Counted && !e.Counted:
			return fmt.Errorf("%s: optimistic counted, eager did not: %v", at, e.Rejected)
		case e.Rejected != nil && p.Rejected != nil && er != pr &&
			!(pr == ReasonDuplicate && (er == ReasonBadPartial || er == ReasonSlotDecided)):
			return fmt.Errorf("%s: eager %v, optimistic %v", at, e.Rejected, p.Rejected)
		case e.Rejected != nil && p.Pending && er != ReasonBadPartial:
			return fmt.Errorf("%s: eager refused (%v) a vote optimistic mode holds", at, e.Rejected)
		}
		for _, d := range p.Dropped {
			if ReasonOf(d) != ReasonBadPartial {
				return fmt.Errorf("%s: dropped with %v", at, d)
			}
			badAt[v.Slot][d.(*RejectError).Member] = true
		}
	}
	ec, pc := eager.Certificates(), opt.Certificates()
	if len(ec) != len(pc) {
		return fmt.Errorf("certificates: eager %d, optimistic %d", len(ec), len(pc))
	}
	for i := range ec {
		if err := sameCertificate(&ec[i], &pc[i]); err != nil {
			return fmt.Errorf("final certificates: %v", err)
		}
	}
	want := eager.Counted()
	got := append(opt.Counted(), pendingVotes(opt, true)...)
	sortCounted(got)
	if !slices.Equal(want, got) {
		return fmt.Errorf("eager counted %v\noptimistic counted+valid pending %v", want, got)
	}
	for _, st := range opt.slots {
		for _, v := range st.counted {
			if checkVote(r, v) != nil {
				return fmt.Errorf("optimistic counted an invalid partial of member %d", v.Member)
			}
		}
	}
	// Suspects are verified on arrival, so a search finds each member bad
	// at most once per slot: failed combinations are bounded by n per slot.
	suspects := 0
	for _, ms := range badAt {
		suspects += len(ms)
	}
	es, ps := eager.Stats(), opt.Stats()
	if ps.PartialVerifies > es.PartialVerifies || ps.CombineChecks > certs+ps.BadFound || ps.Searches > ps.BadFound || ps.BadFound > suspects {
		return fmt.Errorf("crypto: eager %+v, optimistic %+v, %d certificates, %d members found bad", es, ps, certs, suspects)
	}
	return nil
}

// describe renders effects by value (no pointers), for comparisons.
func describe(e Effects) string {
	out := fmt.Sprintf("counted=%v pending=%v rejected=%v dropped=%v", e.Counted, e.Pending, e.Rejected, e.Dropped)
	if c := e.Certificate; c != nil {
		b, _ := c.MarshalBinary()
		out += fmt.Sprintf(" certificate=%x", b)
	}
	if ev := e.Evidence; ev != nil {
		b, _ := ev.MarshalBinary()
		out += fmt.Sprintf(" evidence=%x", b)
	}
	return out
}

func sameCertificate(a, b *Certificate) error {
	switch {
	case a == nil && b == nil:
		return nil
	case a == nil || b == nil:
		return fmt.Errorf("certificate: eager %v, optimistic %v", a != nil, b != nil)
	case a.Statement != b.Statement || !a.Signers.Equal(b.Signers) || !a.Signature.Equal(b.Signature):
		return fmt.Errorf("certificates differ: eager %v %v, optimistic %v %v", a.Statement, a.Signers.Members(), b.Statement, b.Signers.Members())
	}
	return nil
}

// TestOptimisticCatchesPlantedDivergence shows the comparison can fail: an
// eager collector with its threshold lowered by one certifies a step early.
func TestOptimisticCatchesPlantedDivergence(t *testing.T) {
	s := newOptScenario(t, 5, 0)
	r := s.f.roster
	eager, _ := NewCollector(r, Options{Mutations: Mutations{ThresholdDelta: -1}})
	opt, _ := NewCollector(r, optimistic)
	var diverged bool
	for m := 1; m <= 3 && !diverged; m++ {
		v := s.votes[[3]int{m, 1, 1}]
		diverged = sameCertificate(eager.Step(VoteReceived{v}).Certificate, opt.Step(VoteReceived{v}).Certificate) != nil
	}
	if !diverged {
		t.Fatal("sameCertificate did not notice an early certificate")
	}
}

// BenchmarkCollect measures what a collector spends per certificate, eager
// (the baseline: one pairing per vote) beside optimistic (CERT-20: one
// combination check per certificate), with all partials valid and with one
// invalid partial among the first q:
//
//	go test -run xxx -bench Collect ./impl/certification
func BenchmarkCollect(b *testing.B) {
	for _, n := range []int{7, 25, 100} {
		q := DefaultThreshold(n)
		f := newFixture(b, n, q)
		st := stmt(f.roster, 1, "bench", Accept)
		votes := make([]Vote, q+1)
		for i := range votes {
			votes[i] = SignVote(f.shares[i], st)
		}
		inputs := map[string][]Vote{
			"all-valid": votes[:q],
			// Member 1 impersonated with member q+1's partial, then q valid
			// votes of members 2..q+1.
			"one-invalid": append([]Vote{forge(votes[q], 1)}, votes[1:]...),
		}
		for _, input := range []string{"all-valid", "one-invalid"} {
			for _, mode := range modes {
				b.Run(fmt.Sprintf("n=%d/%s/%s", n, input, mode.name), func(b *testing.B) {
					var st Stats
					for b.Loop() {
						c := mustCollector(b, f.roster, mode.opts)
						for _, v := range inputs[input] {
							c.Step(VoteReceived{v})
						}
						if _, ok := c.Certificate(votes[0].Slot); !ok {
							b.Fatal("no certificate")
						}
						st = c.Stats()
					}
					b.ReportMetric(float64(b.Elapsed().Microseconds())/1e3/float64(b.N), "ms/cert")
					b.ReportMetric(float64(st.PartialVerifies), "verifies/cert")
					b.ReportMetric(float64(st.CombineChecks), "combine-checks/cert")
				})
			}
		}
	}
}

// BenchmarkSearch picks singleCheckMax: locating one bad partial among u
// unverified ones by single checks (the message hashed once) beside
// threshold.FindInvalid's weighted batch checks and bisection.
func BenchmarkSearch(b *testing.B) {
	f := newFixture(b, 100, DefaultThreshold(100))
	st := stmt(f.roster, 1, "bench", Accept)
	dst, msg := DST(st.Slot.Kind), st.Message()
	all := make([]threshold.Partial, 60)
	for i := range all {
		all[i] = threshold.Partial{Index: Member(i + 1), Sig: SignVote(f.shares[i], st).Partial}
	}
	all[0].Sig = all[1].Sig
	for _, u := range []int{4, 8, 12, 16, 24, 32, 60} {
		ps := all[:u]
		b.Run(fmt.Sprintf("u=%d/single", u), func(b *testing.B) {
			for b.Loop() {
				h, _ := bls.HashMessage(dst, msg)
				bad := 0
				for _, p := range ps {
					if bls.VerifyHashed(f.roster.Key.Shares[p.Index-1], h, p.Sig) != nil {
						bad++
					}
				}
				if bad != 1 {
					b.Fatal(bad)
				}
			}
		})
		b.Run(fmt.Sprintf("u=%d/find-invalid", u), func(b *testing.B) {
			for b.Loop() {
				if len(threshold.FindInvalid(f.roster.Key, dst, msg, ps)) != 1 {
					b.Fatal("not found")
				}
			}
		})
	}
}
