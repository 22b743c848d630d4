package certification

import (
	"slices"

	"github.com/fhbft/fhbft/impl/crypto/bls"
	"github.com/fhbft/fhbft/impl/crypto/threshold"
)

// Optimistic collection (spec: CERT-20, CERT-17).
//
// The eager collector pays one pairing per vote. In optimistic mode a vote
// that passes the header checks (CERT-4) is held *pending*, unverified, at
// most one per member and slot. When q distinct members are pending or
// counted for one value, the q partials are combined and the group
// signature is verified once (threshold.CombineN, then one pairing check:
// the fast path of threshold.CombineVerified). If it verifies, the
// certificate forms. If not, the bad partials are among the pending ones
// (counted ones were checked): they are located by single checks, or by
// threshold.FindInvalid when there are more than singleCheckMax, dropped
// with ReasonBadPartial, the others count as checked, and the collector
// waits for more votes. (CombineVerified itself would search all q
// partials, counted ones included, with batch checks that cost more than
// single checks for the few partials a failure usually leaves.)
//
// Why this is the eager collector's behaviour at lower cost:
//
//   - Every member's first valid vote is a candidate (pending or counted)
//     from its arrival on, so a value's candidates include its eager
//     supporters. After a failed combination only checked partials remain,
//     fewer than q; so in an undecided slot every value has fewer than q
//     candidates, a combination is tried exactly when a value's candidates
//     reach q, and it succeeds at the step where eager mode's q-th valid
//     vote arrives: same step, same q signers, same signature (CERT-9).
//   - A member's second, different vote settles its pending vote first
//     (both partials are checked alone), so equivocation evidence is only
//     ever made of checked partials (CERT-8) and the member keeps its first
//     valid vote, as in eager mode. A repeat of a pending vote is a
//     duplicate and costs nothing (CERT-7).
//   - A member whose partial was found invalid in a slot is a suspect
//     there: its later votes in that slot are verified on arrival. So a bad
//     partial cannot block a slot (it is dropped at the first combination
//     that includes it), and every failed combination drops at least one
//     pending partial of a member not yet suspect: per slot at most n
//     failed combinations and one successful one. Every partial is checked
//     alone at most once, as eager mode checks it, so the extra work over
//     eager mode is one pairing per combination (at most 1 + the number of
//     bad partials per slot); above singleCheckMax unverified partials the
//     search costs O(k·log u) batch checks for k bad among u instead.
//     Pending state is bounded by n votes per slot.
//   - A combination can verify although some of its partials do not: a
//     Byzantine pair (or anyone who already holds the group signature) can
//     choose partials whose Lagrange-weighted errors cancel. The
//     certificate is still the group signature on the message (CERT-10);
//     only its bitmap, which is not authenticated anyway, may name members
//     whose partial is not theirs. Such partials are marked as checked only
//     in combination; before one serves as evidence or to judge a later
//     vote of its member, it is checked alone (once). One that fails is
//     never evidence, and a valid same-value vote of the member replaces it.
//
// Pending votes for values that never reach q are never verified: that is
// the saving, and the one difference from eager mode's counted votes.

// partialCheck says how a counted vote's partial was checked.
type partialCheck uint8

const (
	checkedAlone         partialCheck = iota // verified alone or by the batch search (CERT-6)
	checkedInCombination                     // only inside a combination that verified (CERT-20)
	failsAlone                               // in a verified combination, but invalid alone
)

// optSlot is a slot's optimistic-mode state.
type optSlot struct {
	pending  map[Member]Vote         // at most one unverified vote per member
	nPending map[Value]int           // pending votes per value
	combined map[Member]partialCheck // counted members not checked alone
	suspect  map[Member]bool         // sent a bad partial in this slot: verified on arrival
}

func newOptSlotState() *slotState {
	s := newSlotState()
	s.opt = &optSlot{pending: map[Member]Vote{}, nPending: map[Value]int{}, combined: map[Member]partialCheck{}, suspect: map[Member]bool{}}
	return s
}

// onVoteOptimistic is onVote for Options.Optimistic.
// spec: CERT-4..CERT-9, CERT-20; tla: HarvesterCertification!CastVote,
// HarvesterCertification!ByzantineVote, HarvesterCertification!FormCertificate
func (c *Collector) onVoteOptimistic(v Vote) Effects {
	if err := checkHeader(c.roster, v); err != nil { // CERT-4 before any pairing
		return Effects{Rejected: err}
	}
	var eff Effects
	s := c.slots[v.Slot]
	if s != nil {
		if p, ok := s.opt.pending[v.Member]; ok {
			if p.Value == v.Value && p.Partial.Equal(v.Partial) {
				return Effects{Rejected: &RejectError{Reason: ReasonDuplicate, Member: v.Member, Detail: "repeat of a pending vote"}} // CERT-7
			}
			// Settle the pending vote before judging a different one, so
			// that evidence is made of checked partials only. CERT-8
			if err := c.verify(p); err != nil {
				c.dropPending(s, p.Member)
				eff.Dropped = append(eff.Dropped, err)
			} else {
				c.promote(s, p, checkedAlone)
			}
		}
		if prev, ok := s.counted[v.Member]; ok {
			out := c.againstCounted(s, prev, v)
			out.Dropped = eff.Dropped
			return out
		}
		if s.cert != nil {
			eff.Rejected = &RejectError{Reason: ReasonSlotDecided, Member: v.Member}
			return eff
		}
	} else {
		s = newOptSlotState()
		c.slots[v.Slot] = s
	}
	if s.opt.suspect[v.Member] {
		if err := c.verify(v); err != nil { // CERT-6, at once for a suspect
			eff.Rejected = err
			return eff
		}
		c.count(s, v, checkedAlone)
		eff.Counted = true
	} else {
		s.opt.pending[v.Member] = v
		s.opt.nPending[v.Value]++
		eff.Pending = true
	}
	c.tryCombine(s, v, &eff)
	return eff
}

// againstCounted judges a vote of a member already counted in the slot, as
// eager mode does, after checking alone a counted partial that was only
// checked in combination. spec: CERT-7, CERT-8, CERT-20
func (c *Collector) againstCounted(s *slotState, prev, v Vote) Effects {
	m := v.Member
	if prev.Value == v.Value && prev.Partial.Equal(v.Partial) {
		return Effects{Rejected: &RejectError{Reason: ReasonDuplicate, Member: m}} // CERT-7
	}
	o := s.opt
	if o.combined[m] == checkedInCombination {
		if c.verify(prev) == nil {
			delete(o.combined, m)
		} else {
			o.combined[m] = failsAlone
		}
	}
	if o.combined[m] == failsAlone {
		if err := c.verify(v); err != nil {
			return Effects{Rejected: err}
		}
		if v.Value == prev.Value {
			// The member's own partial replaces the one that passed only
			// in combination; what is counted does not change.
			s.counted[m] = v
			delete(o.combined, m)
			return Effects{Rejected: &RejectError{Reason: ReasonDuplicate, Member: m, Detail: "replaces a counted partial that verified only in combination"}}
		}
		// Not evidence: the counted partial is not the member's signature
		// (CERT-8). Combination-only votes exist only in decided slots.
		return Effects{Rejected: &RejectError{Reason: ReasonSlotDecided, Member: m, Detail: "counted partial verified only in combination: no evidence"}}
	}
	if prev.Value == v.Value {
		// BLS signatures are unique (CERT-7), as in eager mode.
		return Effects{Rejected: &RejectError{Reason: ReasonBadPartial, Member: m, Detail: "differs from the member's counted partial"}}
	}
	return c.onConflict(s, prev, v) // CERT-8
}

// singleCheckMax is the largest number of unverified partials that a
// failed combination checks one by one rather than by threshold.FindInvalid:
// each of FindInvalid's weighted checks costs a G1 and a G2
// multi-exponentiation and a two-pairing check, so for a few partials single
// checks (one pairing each, the message hashed once) are cheaper. Measured
// with one bad partial (BenchmarkSearch, 2 cores): single checks win up to
// 16 to 20 partials, the search beyond.
const singleCheckMax = 16

// tryCombine combines v's value once q distinct members are pending or
// counted for it, verifies the group signature once, and on failure finds
// and drops the bad pending partials (CERT-17's search, restricted to the
// partials not yet checked). It sets v's outcome in eff if this counted or
// dropped v. spec: CERT-9, CERT-17, CERT-20
func (c *Collector) tryCombine(s *slotState, v Vote, eff *Effects) {
	q, o, val, gk := c.roster.Q(), s.opt, v.Value, c.roster.Key
	if s.cert != nil || len(s.supporters[val])+o.nPending[val] < q {
		return
	}
	cands := slices.Clone(s.supporters[val])
	for m, p := range o.pending {
		if p.Value == val {
			cands = append(cands, m)
		}
	}
	slices.Sort(cands) // CERT-9: the q lowest indices; no map order
	partials := make([]threshold.Partial, len(cands))
	var unchecked []threshold.Partial
	for i, m := range cands {
		vote, ok := s.counted[m]
		if !ok {
			vote = o.pending[m]
		}
		partials[i] = threshold.Partial{Index: m, Sig: vote.Partial}
		if !ok {
			unchecked = append(unchecked, partials[i])
		}
	}
	st := v.Statement
	dst, msg := DST(st.Slot.Kind), st.Message()
	h, err := bls.HashMessage(dst, msg)
	if err != nil { // unreachable: the kind was checked (CERT-4)
		return
	}
	c.stats.Combines++
	c.stats.CombineChecks++
	sig, err := threshold.CombineN(gk.N, q, partials) // the first q: the q lowest
	if err == nil && bls.VerifyHashed(gk.Public, h, sig) == nil {
		used := cands[:q]
		signers := NewBitmap(c.roster.N())
		for _, m := range used {
			signers.Set(m)
			if p, ok := o.pending[m]; ok {
				c.promote(s, p, checkedInCombination)
			}
		}
		// Candidates beyond the q used (none while candidates reach q one
		// at a time) stay pending: never needed.
		cert := &Certificate{Statement: st, Signers: signers, Signature: sig}
		s.cert = cert
		eff.Certificate = cert
		c.settleOwn(s, v, eff)
		return
	}
	// Some partial is bad; counted ones were checked, so it is pending.
	c.stats.Searches++
	var bad []Member
	if len(unchecked) <= c.singleMax {
		for _, p := range unchecked {
			c.stats.PartialVerifies++
			pk, err := gk.ShareOf(p.Index)
			if err != nil || bls.VerifyHashed(pk, h, p.Sig) != nil {
				bad = append(bad, p.Index)
			}
		}
	} else {
		bad = threshold.FindInvalid(gk, dst, msg, unchecked)
	}
	c.stats.BadFound += len(bad)
	for _, p := range unchecked {
		if slices.Contains(bad, p.Index) {
			c.dropBad(s, p.Index, v, eff, "invalid, found after a failed combination")
		} else {
			c.promote(s, o.pending[p.Index], checkedAlone) // checked by the search
		}
	}
	if len(s.supporters[val]) >= q {
		// q checked partials that do not combine: a roster whose shares do
		// not match its group key (threshold.GroupKey.Validate fails), not
		// reachable with a consistent roster. Form as eager mode does, so
		// that no combination is retried without progress.
		eff.Certificate = c.form(s, st, q)
	}
	c.settleOwn(s, v, eff)
}

// settleOwn turns v's Pending into Counted if this step counted it.
func (c *Collector) settleOwn(s *slotState, v Vote, eff *Effects) {
	if !eff.Pending {
		return
	}
	if _, still := s.opt.pending[v.Member]; !still && eff.Rejected == nil {
		eff.Pending, eff.Counted = false, true
	}
}

// count adds v to the counted votes.
func (c *Collector) count(s *slotState, v Vote, how partialCheck) {
	s.counted[v.Member] = v
	s.supporters[v.Value] = append(s.supporters[v.Value], v.Member)
	if how != checkedAlone {
		s.opt.combined[v.Member] = how
	}
}

// promote counts a pending vote.
func (c *Collector) promote(s *slotState, p Vote, how partialCheck) {
	c.unpend(s, p.Member)
	c.count(s, p, how)
}

// dropPending forgets an invalid pending vote and makes its member a
// suspect in the slot.
func (c *Collector) dropPending(s *slotState, m Member) {
	c.unpend(s, m)
	s.opt.suspect[m] = true
}

func (c *Collector) unpend(s *slotState, m Member) {
	o := s.opt
	p := o.pending[m]
	delete(o.pending, m)
	if o.nPending[p.Value]--; o.nPending[p.Value] <= 0 {
		delete(o.nPending, p.Value)
	}
}

// dropBad drops member m's invalid pending vote, reporting it as the
// step's own rejection if it is v, else in Dropped.
func (c *Collector) dropBad(s *slotState, m Member, v Vote, eff *Effects, detail string) {
	c.dropPending(s, m)
	rej := &RejectError{Reason: ReasonBadPartial, Member: m, Detail: detail}
	if m == v.Member {
		eff.Pending, eff.Rejected = false, rej
		return
	}
	eff.Dropped = append(eff.Dropped, rej)
}
