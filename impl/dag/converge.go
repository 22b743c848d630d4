package dag

import (
	"bytes"
	"cmp"
	"container/heap"
	"fmt"
	"math"
	"math/bits"
	"slices"

	"github.com/fhbft/fhbft/impl/state"
	"github.com/fhbft/fhbft/impl/tx"
)

// mutationKind plants a deliberate bug in Converge so that tests can show
// each property catches one (BRIEF §5). Always mutNone outside this
// package's tests.
type mutationKind uint8

const (
	mutNone             mutationKind = iota
	mutInputOrder                    // CONV-4 by input order instead of key: breaks CONV-5/CONV-12
	mutSkipDedupe                    // no dedupe by digest (CONV-3): a transfer in two blocks is two candidates
	mutBurnFee                       // fees debited but never credited to the sink: breaks CONV-10
	mutCountEquivocator              // ignore evidence (PB-6): the equivocator's first-seen block counts
	mutIgnoreRejected                // ignore Input.Rejected (CONV-14): a rejected transfer can be applied later
)

var mutation mutationKind

// candidate is one deduplicated transfer of CONV-3.
type candidate struct {
	ct      *CertifiedTx
	digest  tx.Digest
	key     Key
	since   Round // round first deferred; the current round for new ones
	carried bool
	seen    int // first position in raw input order (mutInputOrder only)
}

func keyCmp(a, b Key) int {
	if c := cmp.Compare(a.Rank, b.Rank); c != 0 {
		return c
	}
	return bytes.Compare(a.Digest[:], b.Digest[:])
}

// sane refuses a transfer that no FARM-11 application could accept for a
// reason other than nonce and funds (which Converge itself decides): PB-4
// has excluded these, so meeting one means the caller skipped PB-4.
func sane(t *tx.Transfer) error {
	switch {
	case t.From == t.To:
		return fmt.Errorf("%w: from = to", ErrTxMalformed)
	case t.From == state.FeeSink || t.To == state.FeeSink:
		return fmt.Errorf("%w: fee sink as sender or recipient", ErrTxMalformed)
	case t.Nonce == math.MaxUint64:
		return fmt.Errorf("%w: nonce 2^64-1", ErrTxMalformed)
	}
	if _, carry := bits.Add64(t.Amount, t.Fee, 0); carry != 0 {
		return fmt.Errorf("%w: amount + fee overflows", ErrTxMalformed)
	}
	return nil
}

type hashedBlock struct {
	b    *ProposalBlock
	hash Hash
	idx  int // position in Input.Blocks
}

// Converge builds the round prev.Round+1 convergence block from the
// multiset of round inputs, against st, the state after prev. It is a pure
// function of (p, prev, beacon, st, the *set* of inputs) and of miner and
// rank, which it only copies into the block (CONV-5, CONV-12). Inputs are
// assumed PB-4/PB-5-valid (signatures are not checked here); Converge
// still refuses, with an *InputError, inputs of another quorum, epoch,
// round or prev, proposers outside 1..nH, duplicate digests inside a
// block, unordered evidence, and transfers FARM-11 could never apply.
//
// in.Rejected is the node's rejected set after prev (CONV-14): its
// members are no candidates, so they are neither applied nor reported
// again. An entry whose slot has closed in st (nonce below the sender's)
// counts as absent, as CONV-14 drops it: the block does not depend on
// whether the caller pruned the set, and a re-proposal is a replay.
//
// Steps (spec/dag.md §5): counted blocks (CONV-2, PB-6); candidates and
// keys, less the rejected set (CONV-3, CONV-14); one winner per slot (CONV-4); stale winners (CONV-6);
// application in ready order with a heap keyed by (rank, digest) (CONV-7),
// overdrafts (CONV-8); deferral or gap expiry for the rest (CONV-9); fees,
// state changes and the root by the FARM-11/12 transition (CONV-10).
// Every loop is bounded by the input size: O(c log c) for c candidates plus
// the tree update (CONV-11).
//
// spec: CONV-1..CONV-12, CONV-14, tla: DAGConvergence!Converge
func Converge(p Params, prev *ConvergenceBlock, beacon Hash, st state.Tree, miner MinerID, rank uint32, in Input) (Outcome, error) {
	if err := p.Validate(); err != nil {
		return Outcome{}, err
	}
	if prev == nil {
		return Outcome{}, ErrNilPrev
	}
	round := prev.Round + 1
	prevHash := prev.Hash()
	n := p.Harvesters

	// --- CONV-2: check and deduplicate blocks, find equivocators.
	blocks := make([]hashedBlock, 0, len(in.Blocks))
	for i := range in.Blocks {
		b := &in.Blocks[i]
		bad := func(err error) (Outcome, error) {
			return Outcome{}, &InputError{Check: "block", Index: i, Proposer: b.Proposer, Err: err}
		}
		switch {
		case b.Quorum != prev.Quorum || b.Epoch != prev.Epoch:
			return bad(fmt.Errorf("%w: %d/%d, prev is %d/%d", ErrWrongQuorum, b.Quorum, b.Epoch, prev.Quorum, prev.Epoch))
		case b.Round != round:
			return bad(fmt.Errorf("%w: round %d, converging %d", ErrWrongRound, b.Round, round))
		case b.Prev != prevHash:
			return bad(ErrWrongPrev)
		case b.Proposer < 1 || int(b.Proposer) > n:
			return bad(fmt.Errorf("%w: %d, nH = %d", ErrBadProposer, b.Proposer, n))
		}
		blocks = append(blocks, hashedBlock{b: b, hash: b.Hash(), idx: i})
	}
	slices.SortFunc(blocks, func(a, b hashedBlock) int {
		if c := cmp.Compare(a.b.Proposer, b.b.Proposer); c != 0 {
			return c
		}
		if c := bytes.Compare(a.hash[:], b.hash[:]); c != 0 {
			return c
		}
		return cmp.Compare(a.idx, b.idx)
	})
	blocks = slices.CompactFunc(blocks, func(a, b hashedBlock) bool { return a.hash == b.hash })

	evidence := make([]Equivocation, 0, len(in.Evidence))
	for i := range in.Evidence {
		e := in.Evidence[i]
		bad := func(err error) (Outcome, error) {
			return Outcome{}, &InputError{Check: "evidence", Index: i, Proposer: e.Proposer, Err: err}
		}
		switch {
		case e.Round != round:
			return bad(fmt.Errorf("%w: round %d, converging %d", ErrWrongRound, e.Round, round))
		case e.Proposer < 1 || int(e.Proposer) > n:
			return bad(fmt.Errorf("%w: %d, nH = %d", ErrBadProposer, e.Proposer, n))
		case bytes.Compare(e.Hash1[:], e.Hash2[:]) >= 0:
			return bad(ErrBadEvidence)
		}
		evidence = append(evidence, e)
	}
	// Two distinct blocks of one proposer are evidence too (CONV-2): the
	// two least hashes, so the choice depends only on the set.
	for i := 1; i < len(blocks); i++ {
		if blocks[i].b.Proposer == blocks[i-1].b.Proposer && (i < 2 || blocks[i-2].b.Proposer != blocks[i].b.Proposer) {
			if e, err := NewEquivocation(blocks[i-1].b, blocks[i].b); err == nil {
				evidence = append(evidence, e)
			}
		}
	}
	// One piece of evidence per proposer: the least by (hash1, hash2, sig1, sig2).
	slices.SortFunc(evidence, evidenceCmp)
	evidence = slices.CompactFunc(evidence, func(a, b Equivocation) bool { return a.Proposer == b.Proposer })
	if mutation == mutCountEquivocator {
		evidence = evidence[:0]
	}

	var counted []hashedBlock
	{
		ev := 0
		for i := 0; i < len(blocks); {
			j := i
			for j < len(blocks) && blocks[j].b.Proposer == blocks[i].b.Proposer {
				j++
			}
			m := blocks[i].b.Proposer
			for ev < len(evidence) && evidence[ev].Proposer < m {
				ev++
			}
			hasEv := ev < len(evidence) && evidence[ev].Proposer == m
			switch {
			case mutation == mutCountEquivocator:
				// The planted bug counts whichever block came first in input order.
				first := blocks[i]
				for k := i + 1; k < j; k++ {
					if blocks[k].idx < first.idx {
						first = blocks[k]
					}
				}
				counted = append(counted, first)
			case j-i == 1 && !hasEv:
				counted = append(counted, blocks[i])
			}
			i = j
		}
	}
	if len(counted) < p.MinRefs {
		return Outcome{}, fmt.Errorf("%w: %d counted, MinRefs %d", ErrTooFewRefs, len(counted), p.MinRefs)
	}
	refs := make([]Ref, len(counted))
	for i, hb := range counted {
		refs[i] = Ref{Proposer: hb.b.Proposer, Hash: hb.hash}
	}

	// --- CONV-3: candidates, deduplicated by digest, with keys, less the
	// rejected set (CONV-14).
	excluded := func(dg tx.Digest) bool {
		return mutation != mutIgnoreRejected && in.Rejected.open(dg, st)
	}
	pos := positions(Order(beacon, n))
	byPos := slices.Clone(counted)
	slices.SortFunc(byPos, func(a, b hashedBlock) int { return cmp.Compare(pos[a.b.Proposer], pos[b.b.Proposer]) })

	total := len(prev.Deferred)
	for _, hb := range counted {
		total += len(hb.b.Txs)
	}
	cands := make([]candidate, 0, total)
	index := make(map[tx.Digest]int, total) // lookups only, never iterated
	for i := range prev.Deferred {
		d := &prev.Deferred[i]
		bad := func(err error) (Outcome, error) {
			return Outcome{}, &InputError{Check: "deferred", Index: i, Err: err}
		}
		if err := sane(&d.Tx.Transfer); err != nil {
			return bad(err)
		}
		if d.Since > prev.Round {
			return bad(fmt.Errorf("%w: deferred since round %d, prev is round %d", ErrWrongRound, d.Since, prev.Round))
		}
		dg := d.Tx.Digest()
		if _, dup := index[dg]; dup {
			return bad(fmt.Errorf("%w: %x… carried twice", ErrDuplicateDigest, dg[:4]))
		}
		if excluded(dg) {
			continue // spec: CONV-14
		}
		index[dg] = len(cands)
		cands = append(cands, candidate{ct: &d.Tx, digest: dg, key: Key{Rank: 0, Digest: dg}, since: d.Since, carried: true, seen: -1})
	}
	for _, hb := range byPos {
		b := hb.b
		ds := digestsOf(b.Txs)
		if i, j, dup := duplicateIn(ds); dup {
			return Outcome{}, &InputError{Check: "block", Index: hb.idx, Proposer: b.Proposer,
				Err: fmt.Errorf("%w: txs[%d] and txs[%d]", ErrDuplicateDigest, i, j)}
		}
		for k := range b.Txs {
			ct := &b.Txs[k]
			dg := ds[k]
			if err := sane(&ct.Transfer); err != nil {
				return Outcome{}, &InputError{Check: "block", Index: hb.idx, Proposer: b.Proposer,
					Err: &TxError{Index: k, Digest: dg, Err: err}}
			}
			if _, ok := index[dg]; ok && mutation != mutSkipDedupe {
				continue // an earlier position (or the carry) already has it
			}
			if excluded(dg) {
				continue // spec: CONV-14: rejected by a final block, slot still open
			}
			index[dg] = len(cands)
			cands = append(cands, candidate{ct: ct, digest: dg, key: Key{Rank: pos[b.Proposer], Digest: dg}, since: round, seen: -1})
		}
	}
	if mutation == mutInputOrder {
		// Record where each candidate first appears in the raw input.
		seq := 0
		for _, hb := range slices.SortedFunc(slices.Values(counted), func(a, b hashedBlock) int { return cmp.Compare(a.idx, b.idx) }) {
			for k := range hb.b.Txs {
				if i, ok := index[hb.b.Txs[k].Digest()]; ok && cands[i].seen < 0 { // excluded ones (CONV-14) have no index
					cands[i].seen = seq
				}
				seq++
			}
		}
	}

	// --- CONV-4: one winner per slot (from, nonce), the least key.
	slices.SortFunc(cands, func(a, b candidate) int {
		if c := bytes.Compare(a.ct.Transfer.From[:], b.ct.Transfer.From[:]); c != 0 {
			return c
		}
		if c := cmp.Compare(a.ct.Transfer.Nonce, b.ct.Transfer.Nonce); c != 0 {
			return c
		}
		if mutation == mutInputOrder {
			return cmp.Compare(a.seen, b.seen)
		}
		return keyCmp(a.key, b.key)
	})
	var rejected []RejectedTx
	drop := func(c *candidate, why Reason) {
		rejected = append(rejected, RejectedTx{Transfer: c.ct.Transfer, Digest: c.digest, Reason: why})
	}
	winners := make([]*candidate, 0, len(cands))
	for i := range cands {
		c := &cands[i]
		if i > 0 && cands[i-1].ct.Transfer.From == c.ct.Transfer.From && cands[i-1].ct.Transfer.Nonce == c.ct.Transfer.Nonce {
			drop(c, ReasonConflict)
			continue
		}
		winners = append(winners, c)
	}

	// --- CONV-6..CONV-8: apply in ready order. Winners are sorted by
	// (from, nonce); each sender's run is a queue of strictly increasing
	// nonces, and only its head can be ready.
	w := newWorkState(st)
	type senderRun struct{ next, end int }
	runs := make([]senderRun, 0)
	done := make([]bool, len(winners))
	ready := &readyHeap{}
	for i := 0; i < len(winners); {
		j := i
		from := winners[i].ct.Transfer.From
		for j < len(winners) && winners[j].ct.Transfer.From == from {
			j++
		}
		nonce := w.get(from).Nonce
		k := i
		for ; k < j && winners[k].ct.Transfer.Nonce < nonce; k++ {
			drop(winners[k], ReasonReplay) // CONV-6
			done[k] = true
		}
		run := len(runs)
		runs = append(runs, senderRun{next: k, end: j})
		if k < j && winners[k].ct.Transfer.Nonce == nonce {
			heap.Push(ready, readyItem{key: winners[k].key, idx: k, run: run})
		}
		i = j
	}
	var (
		applied []tx.Transfer
		keys    []Key
		digests []tx.Digest
		fees    uint64
	)
	for ready.Len() > 0 {
		it := heap.Pop(ready).(readyItem)
		c := winners[it.idx]
		t := &c.ct.Transfer
		done[it.idx] = true
		ok, err := w.apply(t)
		if err != nil {
			return Outcome{}, err
		}
		if !ok {
			// CONV-8: the nonce does not advance, so the sender's later
			// winners never become ready (CONV-9).
			drop(c, ReasonOverdraft)
			continue
		}
		var carry uint64
		if fees, carry = bits.Add64(fees, t.Fee, 0); carry != 0 {
			return Outcome{}, fmt.Errorf("%w: fee total", ErrOverflow)
		}
		applied = append(applied, *t)
		keys = append(keys, c.key)
		digests = append(digests, c.digest)
		r := &runs[it.run]
		r.next = it.idx + 1
		if r.next < r.end && winners[r.next].ct.Transfer.Nonce == t.Nonce+1 {
			heap.Push(ready, readyItem{key: winners[r.next].key, idx: r.next, run: it.run})
		}
	}

	// --- CONV-9: the rest waits for a gap, at most MaxDeferRounds times.
	var waiting []*candidate
	for i, c := range winners {
		if done[i] {
			continue
		}
		if round-c.since < p.MaxDeferRounds {
			waiting = append(waiting, c)
		} else {
			drop(c, ReasonGapExpired)
		}
	}
	slices.SortFunc(rejected, func(a, b RejectedTx) int { return bytes.Compare(a.Digest[:], b.Digest[:]) })
	var drops []Drop
	if len(rejected) > 0 {
		drops = make([]Drop, len(rejected))
		for i, r := range rejected {
			drops[i] = Drop{Digest: r.Digest, Reason: r.Reason}
		}
	}
	slices.SortFunc(waiting, func(a, b *candidate) int { return bytes.Compare(a.digest[:], b.digest[:]) })
	var deferred []Deferred
	if len(waiting) > 0 {
		deferred = make([]Deferred, len(waiting))
		for i, c := range waiting {
			deferred[i] = Deferred{Tx: *c.ct, Since: c.since}
		}
	}

	// --- CONV-10: state after, by the FARM-11/12 transition.
	changes := w.changes()
	tree := st.With(changes)
	if len(evidence) == 0 {
		evidence = nil
	}
	return Outcome{
		Block: ConvergenceBlock{
			Quorum: prev.Quorum, Epoch: prev.Epoch, Round: round, Prev: prevHash, Beacon: beacon,
			Miner: miner, Rank: rank,
			Refs: refs, Equivocations: evidence,
			Applied: digests, Rejected: drops, Deferred: deferred,
			Fees: fees, StateRoot: tree.Root(),
		},
		Applied:  applied,
		Keys:     keys,
		Changes:  changes,
		Tree:     tree,
		Rejected: rejected,
	}, nil
}

func evidenceCmp(a, b Equivocation) int {
	if c := cmp.Compare(a.Proposer, b.Proposer); c != 0 {
		return c
	}
	if c := bytes.Compare(a.Hash1[:], b.Hash1[:]); c != 0 {
		return c
	}
	if c := bytes.Compare(a.Hash2[:], b.Hash2[:]); c != 0 {
		return c
	}
	s1, t1 := a.Sig1.Bytes(), b.Sig1.Bytes()
	if c := bytes.Compare(s1[:], t1[:]); c != 0 {
		return c
	}
	s2, t2 := a.Sig2.Bytes(), b.Sig2.Bytes()
	return bytes.Compare(s2[:], t2[:])
}

// readyHeap is a min-heap of ready winners by key (CONV-7).
type readyItem struct {
	key Key
	idx int // into winners
	run int
}

type readyHeap []readyItem

func (h readyHeap) Len() int           { return len(h) }
func (h readyHeap) Less(i, j int) bool { return keyCmp(h[i].key, h[j].key) < 0 }
func (h readyHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *readyHeap) Push(x any)        { *h = append(*h, x.(readyItem)) }
func (h *readyHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// workState is the state during application: the accounts touched so far
// over the tree before the block. The map is only looked up; changes()
// sorts its contents by ID.
type workState struct {
	base    state.Tree
	touched map[tx.AccountID]tx.Account
}

func newWorkState(st state.Tree) *workState {
	return &workState{base: st, touched: make(map[tx.AccountID]tx.Account)}
}

func (w *workState) get(id tx.AccountID) tx.Account {
	if a, ok := w.touched[id]; ok {
		return a
	}
	a, _ := w.base.Get(id)
	return a
}

// apply is FARM-11 for one ready transfer (t.Nonce equals the sender's
// nonce and sane(t) holds): debit amount + fee and bump the nonce, credit
// the amount, credit the fee to the sink (FARM-12). It reports false,
// changing nothing, when the balance is below amount + fee (CONV-8).
func (w *workState) apply(t *tx.Transfer) (bool, error) {
	from := w.get(t.From)
	cost := t.Amount + t.Fee // sane: no overflow
	if from.Balance < cost {
		return false, nil
	}
	from.Balance -= cost
	from.Nonce++
	w.touched[t.From] = from
	to := w.get(t.To)
	var carry uint64
	if to.Balance, carry = bits.Add64(to.Balance, t.Amount, 0); carry != 0 {
		return false, fmt.Errorf("%w: credit to %x…", ErrOverflow, t.To[:4])
	}
	w.touched[t.To] = to
	if mutation == mutBurnFee {
		return true, nil
	}
	sink := w.get(state.FeeSink)
	if sink.Balance, carry = bits.Add64(sink.Balance, t.Fee, 0); carry != 0 {
		return false, fmt.Errorf("%w: fee sink", ErrOverflow)
	}
	w.touched[state.FeeSink] = sink
	return true, nil
}

func (w *workState) changes() []state.Change {
	out := make([]state.Change, 0, len(w.touched))
	for id, a := range w.touched {
		out = append(out, state.Change{ID: id, Account: a})
	}
	slices.SortFunc(out, func(a, b state.Change) int { return bytes.Compare(a.ID[:], b.ID[:]) })
	return out
}
