// Package dag is the DAGConvergence model in Go: the convergence function,
// state space, actions, invariants and liveness property of
// tla/DAGConvergence.tla, under the same names, for the rules of
// spec/dag.md §5 and §8 it models (PB-3..PB-6, ORD-2, CONV-1..CONV-10,
// CONV-12, CONV-14, MINE-1, MINE-3, FIN-1..FIN-6, FIN-8). model/explore checks it
// exhaustively for the constants of the tla/MC_dag_*.cfg models, and the
// tests compare verdicts and state counts with tla/manifest.json, so TLC
// and the Go explorer check one definition.
//
// # Converge
//
// [Converge] is the model's convergence function over abstract transfers,
// usable on its own by a refinement test against impl/dag.Converge:
//
//   - A [Transfer] is a certified transfer reduced to what Converge reads:
//     an integer ID whose order is the digest order (TX-5; a test maps
//     digests to IDs by sorting them), integer accounts, and nonce, amount
//     and fee. Its slot is (From, Nonce).
//   - A [Proposal] is a proposal block (PB-1) reduced to its proposer and
//     its transfers; two proposals are the same block iff they have the same
//     proposer and the same transfer IDs (signatures and hashes are
//     abstracted).
//   - [Input] holds the round r, pos_r of every proposer (ORD-2), the
//     node's ledger after the round r−1 final block (CONV-14: the state,
//     [Ledger] with balances, nonces and the fee sink, and the rejected
//     set, the IDs of transfers final blocks rejected whose slot is still
//     open), that block's deferred list, the input blocks as a sequence
//     (any order, duplicates and two blocks of one proposer allowed),
//     proposers with equivocation evidence given separately, MinRefs and
//     MaxDeferRounds. Transfers in the rejected set are not candidates
//     (CONV-3): they appear in Refs but nowhere else in the block.
//   - The result is a [Block]: CONV-1's content without quorum, epoch,
//     prev, beacon, miner and rank. Refs are the counted blocks sorted by
//     proposer (each with its transfers sorted by ID), Equivocations the
//     excluded proposers sorted, Applied the IDs in application order,
//     Rejected (ID, reason) sorted by ID, Deferred (transfer, first
//     deferred round) sorted by ID, Fees the applied fees and Post the
//     state after Applied (the model's stateRoot).
//
// Converge returns [ErrTooFewRefs] (wrapped) when fewer than MinRefs
// proposers count (CONV-2) and an [*InputError] naming the field for
// malformed input; it never panics.
//
// # The model
//
// [Config] holds the module's constants; the transfer universe is
// [Universe], the TLA+ module's. [State] holds its variables. The actions
// ([Propose], [EquivocatorSend], [WithholderSend], [Certify], [Finalize],
// [NextRound]) and invariants ([TypeOK], [OrderIndependent],
// [ChainsPrefix], [NoDoubleFinalize], [OnePerSlot],
// [FinalizedWereCertified], [Conservation], [Accounting], [Deadline],
// [RejectionsFinal]) and the liveness goal [EventuallyFinal] carry the
// TLA+ names. A node's rejected set is, as in the module, a function of its
// chain of final blocks (RejectedSet), dropped per slot as CONV-14 says.
// [Explore] runs the explorer for a Config.
package dag

import (
	"cmp"
	"errors"
	"fmt"
	"math/bits"
	"slices"
)

// Transfer is an abstract certified transfer (TX-1).
type Transfer struct {
	// ID orders transfers as their digests do (TX-5): distinct transfers
	// have distinct IDs.
	ID     int
	From   int // sending account
	To     int // receiving account, not From (TX-9)
	Nonce  uint64
	Amount uint64
	Fee    uint64
}

// Slot is a transfer's slot (from, nonce): transfers of one slot conflict.
type Slot struct {
	From  int
	Nonce uint64
}

// Slot returns t's slot.
func (t Transfer) Slot() Slot { return Slot{t.From, t.Nonce} }

// Proposal is a proposal block (PB-1): a proposer and its certified
// transfers, with pairwise distinct IDs.
type Proposal struct {
	Proposer int
	Txs      []Transfer
}

// Account is one account's balance and nonce (FARM-11).
type Account struct {
	ID      int
	Balance uint64
	Nonce   uint64
}

// Ledger is a state: accounts sorted by ID without duplicates (an account
// not listed has balance 0 and nonce 0) and the fee sink (FARM-12).
type Ledger struct {
	Accounts []Account
	Sink     uint64
}

// Reason says why a candidate was dropped (CONV-10).
type Reason string

// The four reasons of CONV-10.
const (
	ReasonConflict   Reason = "conflict"    // CONV-4: lost its slot
	ReasonReplay     Reason = "replay"      // CONV-6: slot finalized earlier
	ReasonOverdraft  Reason = "overdraft"   // CONV-8
	ReasonGapExpired Reason = "gap-expired" // CONV-9
)

// Rejection is a dropped candidate and its reason.
type Rejection struct {
	ID     int
	Reason Reason
}

// Deferral is a winner waiting for a gap (CONV-9) and the round it was
// first deferred in.
type Deferral struct {
	Tx    Transfer
	Since int
}

// Key is a candidate's key (CONV-3): Rank 0 for a transfer carried in
// prev.deferred, else the least position of a proposer that included it;
// ties by ID (digest).
type Key struct{ Rank, ID int }

// Less reports whether k orders before l.
func (k Key) Less(l Key) bool { return k.Rank < l.Rank || k.Rank == l.Rank && k.ID < l.ID }

// Block is a convergence block's content (CONV-1) without quorum, epoch,
// prev, beacon, miner and rank; see the package doc.
type Block struct {
	Round         int
	Refs          []Proposal
	Equivocations []int
	Applied       []int
	Rejected      []Rejection
	Deferred      []Deferral
	Fees          uint64
	Post          Ledger
}

// Input is Converge's input; see the package doc.
type Input struct {
	Round int
	// Positions maps every proposer of Blocks to pos_r (ORD-2), 1-based.
	// It is only looked up, never iterated.
	Positions map[int]int
	// Prev is the state after the round Round−1 final block.
	Prev Ledger
	// Deferred is that block's deferred list (since < Round).
	Deferred []Deferral
	// Rejected is the ledger's rejected set (CONV-14): the IDs of the
	// transfers that final blocks rejected and whose slot is still open
	// (nonce ≥ the sender's nonce in Prev). None of them is a candidate
	// (CONV-3), whether carried in Deferred or in Blocks. It is a set:
	// order and repetition do not matter. The caller keeps it (Converge
	// does not check that the slots are open); nil is the empty set.
	Rejected []int
	// Blocks are the valid proposal blocks of the round, as a sequence.
	Blocks []Proposal
	// Evidence lists proposers with equivocation evidence among the inputs
	// (PB-5) besides two blocks of theirs in Blocks.
	Evidence       []int
	MinRefs        int
	MaxDeferRounds int
}

// ErrTooFewRefs is wrapped by Converge's error when fewer than MinRefs
// proposers count (CONV-2: the block is invalid).
var ErrTooFewRefs = errors.New("dag model: fewer than MinRefs counted proposers")

// InputError reports malformed Converge input.
type InputError struct {
	Field  string // e.g. "Blocks[2].Txs[0]"
	Detail string
}

func (e *InputError) Error() string { return "dag model: bad input: " + e.Field + ": " + e.Detail }

// mutations plant bugs in converge; the zero value is CONV-1..CONV-10.
// Only Config.ResolveByInputOrder (a TLA+ constant) and the tests' Options
// set them.
type mutations struct {
	byInputOrder  bool // CONV-4: a slot goes to the candidate met first
	applyStale    bool // CONV-6 dropped: stale winners are applied anyway
	burnFees      bool // FARM-12 broken: fees leave the sink
	noGapExpiry   bool // CONV-9: deferred for ever
	dropConflicts bool // CONV-10: conflict losers get no reason
}

// Converge is tla/DAGConvergence.tla's Converge: the convergence block for
// in, a function of the set of input blocks (CONV-5).
// spec: CONV-1..CONV-10, CONV-14, tla: DAGConvergence!Converge
func Converge(in Input) (Block, error) { return converge(in, mutations{}) }

func sortTxs(txs []Transfer) []Transfer {
	out := slices.Clone(txs)
	slices.SortFunc(out, func(a, b Transfer) int { return cmp.Compare(a.ID, b.ID) })
	return out
}

func txIDs(txs []Transfer) []int {
	ids := make([]int, len(txs))
	for i, t := range txs {
		ids[i] = t.ID
	}
	return ids
}

// cmpProposal orders canonical proposals by proposer, then ID list.
func cmpProposal(a, b Proposal) int {
	return cmp.Or(cmp.Compare(a.Proposer, b.Proposer), slices.Compare(txIDs(a.Txs), txIDs(b.Txs)))
}

// checkInput validates in and returns the blocks with sorted transfers.
func checkInput(in Input) ([]Proposal, error) {
	bad := func(field, format string, args ...any) ([]Proposal, error) {
		return nil, &InputError{Field: field, Detail: fmt.Sprintf(format, args...)}
	}
	if in.Round < 1 {
		return bad("Round", "%d < 1", in.Round)
	}
	if in.MinRefs < 0 || in.MaxDeferRounds < 0 {
		return bad("MinRefs/MaxDeferRounds", "negative (%d, %d)", in.MinRefs, in.MaxDeferRounds)
	}
	for i := 1; i < len(in.Prev.Accounts); i++ {
		if in.Prev.Accounts[i-1].ID >= in.Prev.Accounts[i].ID {
			return bad(fmt.Sprintf("Prev.Accounts[%d]", i), "accounts not sorted by ID or repeated")
		}
	}
	seen := map[int]Transfer{} // lookups only
	checkTx := func(field string, t Transfer) error {
		if t.To == t.From {
			return &InputError{field, fmt.Sprintf("transfer %d sends to its sender (TX-9)", t.ID)}
		}
		if _, carry := bits.Add64(t.Amount, t.Fee, 0); carry != 0 {
			return &InputError{field, fmt.Sprintf("transfer %d: amount + fee overflows (TX-12)", t.ID)}
		}
		if u, ok := seen[t.ID]; ok && u != t {
			return &InputError{field, fmt.Sprintf("ID %d names two different transfers", t.ID)}
		}
		seen[t.ID] = t
		return nil
	}
	defIDs := map[int]bool{}
	for i, d := range in.Deferred {
		f := fmt.Sprintf("Deferred[%d]", i)
		if err := checkTx(f, d.Tx); err != nil {
			return nil, err
		}
		if defIDs[d.Tx.ID] {
			return bad(f, "transfer %d carried twice", d.Tx.ID)
		}
		defIDs[d.Tx.ID] = true
		if d.Since < 1 || d.Since >= in.Round {
			return bad(f, "deferred since round %d, not in 1..%d", d.Since, in.Round-1)
		}
	}
	blocks := make([]Proposal, len(in.Blocks))
	for i, b := range in.Blocks {
		if _, ok := in.Positions[b.Proposer]; !ok {
			return bad(fmt.Sprintf("Blocks[%d].Proposer", i), "no position for proposer %d", b.Proposer)
		}
		txs := sortTxs(b.Txs)
		for k, t := range txs {
			if k > 0 && txs[k-1].ID == t.ID {
				return bad(fmt.Sprintf("Blocks[%d].Txs", i), "transfer %d twice (PB-1)", t.ID)
			}
			if err := checkTx(fmt.Sprintf("Blocks[%d].Txs", i), t); err != nil {
				return nil, err
			}
		}
		blocks[i] = Proposal{Proposer: b.Proposer, Txs: txs}
	}
	return blocks, nil
}

// ledger is a mutable working copy of a Ledger.
type ledger struct{ Ledger }

func (l *ledger) find(id int) (int, bool) {
	return slices.BinarySearchFunc(l.Accounts, id, func(a Account, id int) int { return cmp.Compare(a.ID, id) })
}

func (l *ledger) get(id int) Account {
	if i, ok := l.find(id); ok {
		return l.Accounts[i]
	}
	return Account{ID: id}
}

func (l *ledger) set(a Account) {
	i, ok := l.find(a.ID)
	if ok {
		l.Accounts[i] = a
		return
	}
	l.Accounts = slices.Insert(l.Accounts, i, a)
}

// apply is FARM-11 for a transfer whose nonce and funds were checked: the
// TLA+ ApplyTx. The supply bound (FARM-12) keeps credits from overflowing.
func (l *ledger) apply(t Transfer, burnFees bool) {
	from := l.get(t.From)
	from.Balance -= t.Amount + t.Fee
	from.Nonce++
	l.set(from)
	to := l.get(t.To)
	to.Balance += t.Amount
	l.set(to)
	if !burnFees {
		l.Sink += t.Fee
	}
}

func converge(in Input, mut mutations) (Block, error) {
	blocks, err := checkInput(in)
	if err != nil {
		return Block{}, err
	}
	r := in.Round

	// CONV-2: distinct blocks, equivocators, counted blocks.
	distinct := slices.Clone(blocks)
	slices.SortFunc(distinct, cmpProposal)
	distinct = slices.CompactFunc(distinct, func(a, b Proposal) bool { return cmpProposal(a, b) == 0 })
	eq := slices.Clone(in.Evidence)
	for i := 1; i < len(distinct); i++ {
		if distinct[i].Proposer == distinct[i-1].Proposer {
			eq = append(eq, distinct[i].Proposer)
		}
	}
	slices.Sort(eq)
	eq = slices.Compact(eq)
	isEq := func(h int) bool { _, ok := slices.BinarySearch(eq, h); return ok }
	var counted []Proposal
	for _, b := range distinct {
		if !isEq(b.Proposer) {
			counted = append(counted, b)
		}
	}
	if len(counted) < in.MinRefs {
		return Block{}, fmt.Errorf("%w: %d counted, MinRefs %d", ErrTooFewRefs, len(counted), in.MinRefs)
	}

	// CONV-3: candidates and keys, less the rejected set (CONV-14). Maps
	// are looked up, never iterated.
	excluded := map[int]bool{}
	for _, id := range in.Rejected {
		excluded[id] = true
	}
	tx := map[int]Transfer{}
	key := map[int]Key{}
	since := map[int]int{}
	var defIDs []int
	for _, d := range in.Deferred {
		if excluded[d.Tx.ID] {
			continue
		}
		tx[d.Tx.ID], key[d.Tx.ID], since[d.Tx.ID] = d.Tx, Key{0, d.Tx.ID}, d.Since
		defIDs = append(defIDs, d.Tx.ID)
	}
	slices.Sort(defIDs)
	var cands []int
	cands = append(cands, defIDs...)
	for _, b := range counted {
		p := in.Positions[b.Proposer]
		for _, t := range b.Txs {
			k, ok := key[t.ID]
			switch {
			case excluded[t.ID]:
			case !ok:
				tx[t.ID], key[t.ID], since[t.ID] = t, Key{p, t.ID}, r
				cands = append(cands, t.ID)
			case p < k.Rank:
				key[t.ID] = Key{p, t.ID}
			}
		}
	}
	slices.Sort(cands)

	// CONV-4, CONV-5: fold over the candidate stream (carried transfers by
	// ID, then each counted input in sequence order, its transfers by ID),
	// keeping per slot the least key (the first met, with the planted bug).
	stream := slices.Clone(defIDs)
	for _, b := range blocks {
		if !isEq(b.Proposer) {
			for _, t := range b.Txs {
				if !excluded[t.ID] {
					stream = append(stream, t.ID)
				}
			}
		}
	}
	winnerOf := map[Slot]int{}
	for _, id := range stream {
		s := tx[id].Slot()
		u, ok := winnerOf[s]
		if !ok || !mut.byInputOrder && key[id].Less(key[u]) {
			winnerOf[s] = id
		}
	}
	var rejected []Rejection
	var winners []int
	for _, id := range cands {
		if winnerOf[tx[id].Slot()] == id {
			winners = append(winners, id)
		} else if !mut.dropConflicts {
			rejected = append(rejected, Rejection{id, ReasonConflict})
		}
	}

	// CONV-6: stale winners.
	st := ledger{Ledger{Accounts: slices.Clone(in.Prev.Accounts), Sink: in.Prev.Sink}}
	var rest []int
	for _, id := range winners {
		t := tx[id]
		if t.Nonce < st.get(t.From).Nonce && !mut.applyStale {
			rejected = append(rejected, Rejection{id, ReasonReplay})
		} else {
			rest = append(rest, id)
		}
	}

	// CONV-7, CONV-8: apply the ready winner with the least key, one at a
	// time (the TLA+ ApplyReady).
	var applied []int
	for {
		best := -1
		for i, id := range rest {
			t := tx[id]
			n := st.get(t.From).Nonce
			ready := t.Nonce == n || mut.applyStale && t.Nonce < n
			if ready && (best < 0 || key[id].Less(key[rest[best]])) {
				best = i
			}
		}
		if best < 0 {
			break
		}
		id := rest[best]
		rest = slices.Delete(rest, best, best+1)
		t := tx[id]
		if st.get(t.From).Balance < t.Amount+t.Fee {
			rejected = append(rejected, Rejection{id, ReasonOverdraft})
			continue
		}
		st.apply(t, mut.burnFees)
		applied = append(applied, id)
	}

	// CONV-9: never ready: deferred, or expired after MaxDeferRounds.
	var deferred []Deferral
	for _, id := range rest { // rest keeps cands' ID order
		if r-since[id] >= in.MaxDeferRounds && !mut.noGapExpiry {
			rejected = append(rejected, Rejection{id, ReasonGapExpired})
		} else {
			deferred = append(deferred, Deferral{tx[id], since[id]})
		}
	}
	slices.SortFunc(rejected, func(a, b Rejection) int { return cmp.Compare(a.ID, b.ID) })

	return Block{
		Round:         r,
		Refs:          counted,
		Equivocations: eq,
		Applied:       applied,
		Rejected:      rejected,
		Deferred:      deferred,
		Fees:          st.Sink - in.Prev.Sink,
		Post:          st.Ledger,
	}, nil
}
