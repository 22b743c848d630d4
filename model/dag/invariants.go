package dag

import (
	"slices"
)

// InvariantNames are the module's invariants in the order of the
// MC_dag_*.cfg files.
var InvariantNames = []string{
	"TypeOK", "OrderIndependent", "ChainsPrefix", "NoDoubleFinalize", "OnePerSlot",
	"FinalizedWereCertified", "Conservation", "Accounting", "Deadline", "RejectionsFinal",
}

// Invariant returns the named invariant as a predicate, or false if there
// is none by that name.
func (m *Model) Invariant(name string) (func(State) bool, bool) {
	f, ok := map[string]func(State) bool{
		"TypeOK":                 m.TypeOK,
		"OrderIndependent":       m.OrderIndependent,
		"ChainsPrefix":           m.ChainsPrefix,
		"NoDoubleFinalize":       m.NoDoubleFinalize,
		"OnePerSlot":             m.OnePerSlot,
		"FinalizedWereCertified": m.FinalizedWereCertified,
		"Conservation":           m.Conservation,
		"Accounting":             m.Accounting,
		"Deadline":               m.Deadline,
		"RejectionsFinal":        m.RejectionsFinal,
	}[name]
	return f, ok
}

func (m *Model) isHarvester(h int) bool { return h >= 1 && h <= len(m.cfg.Harvesters) }

func inUniverse(t int) bool { return t >= 1 && t <= len(universe) }

// isBlock is the module's IsBlock(b, r).
func (m *Model) isBlock(b *cblock, r int) bool {
	if b.Round != r {
		return false
	}
	for _, p := range b.Refs {
		if !m.isHarvester(p.Proposer) {
			return false
		}
		for _, t := range p.Txs {
			if !inUniverse(t.ID) || t != universe[t.ID-1] {
				return false
			}
		}
	}
	for _, h := range b.Equivocations {
		if !m.isHarvester(h) {
			return false
		}
	}
	for _, t := range b.Applied {
		if !inUniverse(t) {
			return false
		}
	}
	for _, x := range b.Rejected {
		if !inUniverse(x.ID) || !slices.Contains([]Reason{ReasonConflict, ReasonReplay, ReasonOverdraft, ReasonGapExpired}, x.Reason) {
			return false
		}
	}
	for _, d := range b.Deferred {
		if !inUniverse(d.Tx.ID) || d.Tx != universe[d.Tx.ID-1] || d.Since < 1 || d.Since > r {
			return false
		}
	}
	if len(b.Post.Accounts) != len(accounts) {
		return false
	}
	for i, a := range b.Post.Accounts {
		// Balances are natural numbers: a wrapped subtraction shows up as
		// a balance above the total supply.
		if a.ID != accounts[i] || a.Balance > m.supply() {
			return false
		}
	}
	return true
}

func (m *Model) supply() uint64 { return uint64(len(accounts)) * m.cfg.InitBalance }

// TypeOK checks the types of the variables (balances are natural numbers).
// tla: DAGConvergence!TypeOK
func (m *Model) TypeOK(s State) bool {
	if s.round < 1 || s.round > m.cfg.MaxRound+1 || len(s.final) != len(m.nodes) || len(s.inbox) != len(m.miners) {
		return false
	}
	for _, c := range s.final {
		if len(c) > s.round {
			return false
		}
		for i, b := range c {
			if !m.isBlock(b, i+1) {
				return false
			}
		}
	}
	cb := m.cfg.certifiedBy(s.round)
	for _, in := range s.inbox {
		for _, b := range in {
			if !m.isHarvester(b.proposer) || b.txs&^cb != 0 {
				return false
			}
		}
	}
	if s.built>>len(m.miners) != 0 || len(s.cert) > m.cfg.CertsPerRound {
		return false
	}
	for _, b := range s.cert {
		if !m.isBlock(b, s.round) {
			return false
		}
	}
	return true
}

// OrderIndependent: Converge over each unbuilt miner's inbox in SortBlocks
// order and in the reverse order followed by SortBlocks order (every input
// twice) gives one block.
// spec: CONV-5, CONV-12, tla: DAGConvergence!OrderIndependent
func (m *Model) OrderIndependent(s State) bool {
	if !m.roundOpen(s) {
		return true
	}
	for i, in := range s.inbox {
		if s.isBuilt(i) || counted(in) < m.cfg.MinRefs {
			continue
		}
		rej := m.excluded(s.chain())
		a, okA := m.converge(s.round, m.tip(s), rej, in)
		twice := append(slices.Clone(in), in...)
		slices.Reverse(twice[:len(in)])
		b, okB := m.converge(s.round, m.tip(s), rej, twice)
		if okA != okB || okA && a.enc != b.enc {
			return false
		}
	}
	return true
}

func prefix(a, b []*cblock) bool {
	if len(a) > len(b) {
		return false
	}
	for i := range a {
		if a[i].enc != b[i].enc {
			return false
		}
	}
	return true
}

// ChainsPrefix: honest nodes' final chains are prefixes of one another.
// spec: FIN-4, tla: DAGConvergence!ChainsPrefix
func (m *Model) ChainsPrefix(s State) bool {
	for _, a := range s.final {
		for _, b := range s.final {
			if !prefix(a, b) && !prefix(b, a) {
				return false
			}
		}
	}
	return true
}

// chainApplied lists the applied IDs of a chain in order.
func chainApplied(c []*cblock) []int {
	var out []int
	for _, b := range c {
		out = append(out, b.Applied...)
	}
	return out
}

// NoDoubleFinalize: no transfer is applied twice in a node's chain.
// spec: FIN-5, tla: DAGConvergence!NoDoubleFinalize
func (m *Model) NoDoubleFinalize(s State) bool {
	for _, c := range s.final {
		ids := chainApplied(c)
		slices.Sort(ids)
		if len(slices.Compact(ids)) != len(chainApplied(c)) {
			return false
		}
	}
	return true
}

// OnePerSlot: the applied transfers of one slot are one transfer.
// spec: FIN-5, CONV-4, tla: DAGConvergence!OnePerSlot
func (m *Model) OnePerSlot(s State) bool {
	for _, c := range s.final {
		bySlot := map[Slot]int{} // lookups only
		for _, t := range chainApplied(c) {
			if !inUniverse(t) {
				continue // TypeOK's business
			}
			sl := universe[t-1].Slot()
			if u, ok := bySlot[sl]; ok && u != t {
				return false
			}
			bySlot[sl] = t
		}
	}
	return true
}

// FinalizedWereCertified: every transfer finalized in round i was certified
// by round i.
// spec: PB-4, FIN-2, tla: DAGConvergence!FinalizedWereCertified
func (m *Model) FinalizedWereCertified(s State) bool {
	for _, c := range s.final {
		for i, b := range c {
			if setOf(b.Applied)&^m.cfg.certifiedBy(i+1) != 0 {
				return false
			}
		}
	}
	return true
}

func sumFees(ids []int) uint64 {
	var f uint64
	for _, t := range ids {
		if inUniverse(t) {
			f += universe[t-1].Fee
		}
	}
	return f
}

// Conservation: the supply (fee sink included) is constant and the sink
// holds the fees of the finalized transfers.
// spec: FIN-8, CONV-10, tla: DAGConvergence!Conservation
func (m *Model) Conservation(s State) bool {
	for _, c := range s.final {
		st := m.tipOf(c)
		var sum uint64
		for _, a := range st.Accounts {
			sum += a.Balance
		}
		if sum+st.Sink != m.supply() || st.Sink != sumFees(chainApplied(c)) {
			return false
		}
	}
	return true
}

// replay is the module's Replay: apply ids to st as FARM-11 does, each
// ready and paid for.
func replay(st Ledger, ids []int) (Ledger, bool) {
	l := ledger{Ledger{Accounts: slices.Clone(st.Accounts), Sink: st.Sink}}
	for _, id := range ids {
		if !inUniverse(id) {
			return st, false
		}
		t := universe[id-1]
		a := l.get(t.From)
		if t.Nonce != a.Nonce || a.Balance < t.Amount+t.Fee {
			return st, false
		}
		l.apply(t, false)
	}
	return l.Ledger, true
}

func ledgerEqual(a, b Ledger) bool { return a.Sink == b.Sink && slices.Equal(a.Accounts, b.Accounts) }

// Accounting: applied, rejected and deferred partition the candidates
// (less what Converge excludes) with one reason each; fees are the applied
// fees; post is the replay of applied on the previous state. With
// IgnoreRejected nothing is excluded, so only RejectionsFinal sees that bug.
// spec: CONV-10, CONV-3, FIN-2, tla: DAGConvergence!Accounting
func (m *Model) Accounting(s State) bool {
	for _, c := range s.final {
		for i, b := range c {
			p := m.genesis
			if i > 0 {
				p = c[i-1]
			}
			cands := deferredIDs(p)
			for _, x := range b.Refs {
				for _, t := range x.Txs {
					cands |= 1 << (t.ID - 1)
				}
			}
			cands &^= m.excluded(c[:i])
			A, R, D := appliedIDs(b), rejectedIDs(b), deferredIDs(b)
			st, ok := replay(p.Post, b.Applied)
			if A|R|D != cands || A&R != 0 || A&D != 0 || R&D != 0 ||
				len(b.Applied) != len(A.ids()) || len(b.Rejected) != len(R.ids()) || len(b.Deferred) != len(D.ids()) ||
				b.Fees != sumFees(b.Applied) || !ok || !ledgerEqual(st, b.Post) {
				return false
			}
		}
	}
	return true
}

// Deadline: a transfer in an honest counted block of round i is applied
// or rejected once round i + MaxDeferRounds is final.
// spec: CONV-9, FIN-6, tla: DAGConvergence!Deadline
func (m *Model) Deadline(s State) bool {
	for _, c := range s.final {
		done := resolved(c)
		for i, b := range c {
			if len(c) < i+1+m.cfg.MaxDeferRounds {
				continue
			}
			for _, x := range b.Refs {
				if _, honest := m.nodeIndex(x.Proposer); !honest {
					continue
				}
				for _, t := range x.Txs {
					if !done.has(t.ID) {
						return false
					}
				}
			}
		}
	}
	return true
}

// RejectionsFinal: a transfer a final block rejected is never applied by a
// later final block of the same node.
// spec: CONV-14, FIN-2, tla: DAGConvergence!RejectionsFinal
func (m *Model) RejectionsFinal(s State) bool {
	for _, c := range s.final {
		for i, b := range c {
			for _, later := range c[i+1:] {
				if rejectedIDs(b)&appliedIDs(later) != 0 {
					return false
				}
			}
		}
	}
	return true
}

// EventuallyFinal is the goal of the property EventuallyFinal: every
// certified transfer is applied or rejected at every node. It is stable
// (chains only grow), so EventuallyFinal holds under LiveSpec iff it holds
// in every reachable state where FairEnabled is false.
// spec: FIN-6, tla: DAGConvergence!EventuallyFinal
func (m *Model) EventuallyFinal(s State) bool {
	want := setOf(m.cfg.Certified)
	for _, c := range s.final {
		if want&^resolved(c) != 0 {
			return false
		}
	}
	return true
}
