package tests

// The abstraction from impl/dag values to model/dag's abstract ones, shared
// by the refinement tests of this directory (dag_converge_refinement_test.go,
// dag_harvester_refinement_test.go):
//
//   - A transfer becomes a model.Transfer whose ID is its rank in digest
//     order among every transfer the test ever made (TX-5: the model's
//     IDs order as digests do, which is what CONV-3's tie-break needs);
//     accounts become their fixture index + 1.
//   - A state.Tree becomes a model.Ledger: the fee sink's balance is Sink
//     (FARM-12); accounts with balance 0 and nonce 0 are left out on both
//     sides (the model reads an unlisted account as exactly that).
//   - A proposal block becomes (proposer, transfer set): hashes and
//     signatures are abstracted, so two impl blocks that differ only in the
//     order of their transfers are one model block; the tests then give
//     the model the proposer as evidence (PB-5 says they equivocate).
//   - A convergence block with the state after it becomes a model.Block;
//     quorum, epoch, prev, beacon, miner, rank and the state root have no
//     model counterpart and are checked separately by the tests.

import (
	"bytes"
	"cmp"
	"fmt"
	"slices"

	"github.com/google/go-cmp/cmp/cmpopts"

	gocmp "github.com/google/go-cmp/cmp"

	"github.com/fhbft/fhbft/impl/certification"
	"github.com/fhbft/fhbft/impl/dag"
	"github.com/fhbft/fhbft/impl/state"
	"github.com/fhbft/fhbft/impl/tx"
	model "github.com/fhbft/fhbft/model/dag"
)

// dagChooser is where a generator's choices come from: rapid in property
// tests, a seeded PCG in the planted-bug searches.
type dagChooser interface {
	pick(n int, label string) int // in [0, n); n ≥ 1
}

// dagAbs is the abstraction map of one test case or run.
type dagAbs struct {
	ids   map[tx.Digest]int // looked up only
	txs   []tx.Transfer     // txs[id-1]
	accts map[tx.AccountID]int
}

// newDagAbs numbers accounts[i] as i+1 and the distinct transfers by
// digest order from 1.
func newDagAbs(accounts []tx.AccountID, transfers []tx.Transfer) *dagAbs {
	a := &dagAbs{ids: map[tx.Digest]int{}, accts: map[tx.AccountID]int{}}
	for i, id := range accounts {
		a.accts[id] = i + 1
	}
	type dt struct {
		d tx.Digest
		t tx.Transfer
	}
	var all []dt
	for _, t := range transfers {
		all = append(all, dt{t.Digest(), t})
	}
	slices.SortFunc(all, func(x, y dt) int { return bytes.Compare(x.d[:], y.d[:]) })
	all = slices.CompactFunc(all, func(x, y dt) bool { return x.d == y.d })
	for i, x := range all {
		a.ids[x.d] = i + 1
		a.txs = append(a.txs, x.t)
	}
	return a
}

func (a *dagAbs) id(d tx.Digest) (int, error) {
	if id, ok := a.ids[d]; ok {
		return id, nil
	}
	return 0, fmt.Errorf("abstraction: digest %x… is no transfer of the test", d[:4])
}

func (a *dagAbs) account(id tx.AccountID) (int, error) {
	if n, ok := a.accts[id]; ok {
		return n, nil
	}
	return 0, fmt.Errorf("abstraction: account %x… is not a fixture account", id[:4])
}

func (a *dagAbs) transfer(t *tx.Transfer) (model.Transfer, error) {
	id, err := a.id(t.Digest())
	if err != nil {
		return model.Transfer{}, err
	}
	from, err := a.account(t.From)
	if err != nil {
		return model.Transfer{}, err
	}
	to, err := a.account(t.To)
	if err != nil {
		return model.Transfer{}, err
	}
	return model.Transfer{ID: id, From: from, To: to, Nonce: t.Nonce, Amount: t.Amount, Fee: t.Fee}, nil
}

// byID is the abstract transfer with ID id.
func (a *dagAbs) byID(id int) model.Transfer {
	t, err := a.transfer(&a.txs[id-1])
	if err != nil {
		panic(err) // the map is built from these very transfers
	}
	return t
}

// ledger abstracts a state tree.
func (a *dagAbs) ledger(st state.Tree) (model.Ledger, error) {
	var l model.Ledger
	var err error
	st.Each(func(id tx.AccountID, acc tx.Account) {
		if id == state.FeeSink {
			l.Sink = acc.Balance
			return
		}
		if acc == (tx.Account{}) || err != nil {
			return
		}
		n, e := a.account(id)
		if e != nil {
			err = e
			return
		}
		l.Accounts = append(l.Accounts, model.Account{ID: n, Balance: acc.Balance, Nonce: acc.Nonce})
	})
	slices.SortFunc(l.Accounts, func(x, y model.Account) int { return cmp.Compare(x.ID, y.ID) })
	return l, err
}

// dagNormLedger drops zero accounts, which the model lists once touched.
func dagNormLedger(l model.Ledger) model.Ledger {
	out := model.Ledger{Sink: l.Sink}
	for _, x := range l.Accounts {
		if x.Balance != 0 || x.Nonce != 0 {
			out.Accounts = append(out.Accounts, x)
		}
	}
	return out
}

func (a *dagAbs) proposal(b *dag.ProposalBlock) (model.Proposal, error) {
	p := model.Proposal{Proposer: int(b.Proposer)}
	for i := range b.Txs {
		t, err := a.transfer(&b.Txs[i].Transfer)
		if err != nil {
			return model.Proposal{}, err
		}
		p.Txs = append(p.Txs, t)
	}
	slices.SortFunc(p.Txs, func(x, y model.Transfer) int { return cmp.Compare(x.ID, y.ID) })
	return p, nil
}

func dagModelReason(r dag.Reason) (model.Reason, error) {
	switch r {
	case dag.ReasonConflict:
		return model.ReasonConflict, nil
	case dag.ReasonReplay:
		return model.ReasonReplay, nil
	case dag.ReasonOverdraft:
		return model.ReasonOverdraft, nil
	case dag.ReasonGapExpired:
		return model.ReasonGapExpired, nil
	}
	return "", fmt.Errorf("abstraction: unknown reason %d", r)
}

// block abstracts cb with post, the state after it; get returns a
// referenced proposal block by hash. List orders are kept as they are, so
// that an impl list out of CONV-1 order shows up as a difference.
func (a *dagAbs) block(cb *dag.ConvergenceBlock, get func(dag.Hash) (*dag.ProposalBlock, bool), post state.Tree) (model.Block, error) {
	mb := model.Block{Round: int(cb.Round), Fees: cb.Fees}
	for _, ref := range cb.Refs {
		b, ok := get(ref.Hash)
		if !ok {
			return model.Block{}, fmt.Errorf("abstraction: referenced block %x… of proposer %d unknown", ref.Hash[:4], ref.Proposer)
		}
		if h := b.Hash(); b.Proposer != ref.Proposer || h != ref.Hash {
			return model.Block{}, fmt.Errorf("abstraction: ref (%d, %x…) names proposer %d's block %x…", ref.Proposer, ref.Hash[:4], b.Proposer, h[:4])
		}
		p, err := a.proposal(b)
		if err != nil {
			return model.Block{}, err
		}
		mb.Refs = append(mb.Refs, p)
	}
	for _, e := range cb.Equivocations {
		mb.Equivocations = append(mb.Equivocations, int(e.Proposer))
	}
	for _, d := range cb.Applied {
		id, err := a.id(d)
		if err != nil {
			return model.Block{}, err
		}
		mb.Applied = append(mb.Applied, id)
	}
	for _, r := range cb.Rejected {
		id, err := a.id(r.Digest)
		if err != nil {
			return model.Block{}, err
		}
		why, err := dagModelReason(r.Reason)
		if err != nil {
			return model.Block{}, err
		}
		mb.Rejected = append(mb.Rejected, model.Rejection{ID: id, Reason: why})
	}
	for i := range cb.Deferred {
		t, err := a.transfer(&cb.Deferred[i].Tx.Transfer)
		if err != nil {
			return model.Block{}, err
		}
		mb.Deferred = append(mb.Deferred, model.Deferral{Tx: t, Since: int(cb.Deferred[i].Since)})
	}
	l, err := a.ledger(post)
	if err != nil {
		return model.Block{}, err
	}
	mb.Post = l
	return mb, nil
}

// dagPositions is pos_r of members 1..n (ORD-2) as the model's Positions.
func dagPositions(beacon dag.Hash, n int) map[int]int {
	pos := map[int]int{}
	for i, m := range dag.Order(beacon, n) {
		pos[int(m)] = i + 1
	}
	return pos
}

// dagBlockDiff is empty iff the blocks are equal (nil and empty lists are
// the same; zero accounts are not compared).
func dagBlockDiff(want, got model.Block) string {
	want.Post, got.Post = dagNormLedger(want.Post), dagNormLedger(got.Post)
	return gocmp.Diff(want, got, cmpopts.EquateEmpty())
}

// dagModelInputBlocks abstracts a multiset of impl blocks for model
// Converge and returns, besides, the proposers with two blocks of distinct
// hashes whose abstractions coincide: PB-5 makes them equivocators, which
// the model only learns from its Evidence list.
func (a *dagAbs) modelInputBlocks(blocks []dag.ProposalBlock) ([]model.Proposal, []int, error) {
	var out []model.Proposal
	type seen struct {
		hash dag.Hash
		p    model.Proposal
	}
	by := map[certification.Member][]seen{} // looked up only
	var same []int
	for i := range blocks {
		b := &blocks[i]
		p, err := a.proposal(b)
		if err != nil {
			return nil, nil, err
		}
		out = append(out, p)
		h := b.Hash()
		for _, s := range by[b.Proposer] {
			if s.hash != h && gocmp.Equal(s.p, p, cmpopts.EquateEmpty()) {
				same = append(same, int(b.Proposer))
			}
		}
		by[b.Proposer] = append(by[b.Proposer], seen{h, p})
	}
	slices.Sort(same)
	return out, slices.Compact(same), nil
}
