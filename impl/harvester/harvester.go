package harvester

import (
	"bytes"
	"cmp"
	"fmt"
	"slices"

	"github.com/fhbft/fhbft/impl/certification"
	"github.com/fhbft/fhbft/impl/dag"
	"github.com/fhbft/fhbft/impl/mev"
	pm "github.com/fhbft/fhbft/impl/pacemaker"
	"github.com/fhbft/fhbft/impl/state"
	"github.com/fhbft/fhbft/impl/tx"
)

type timing uint8

const (
	tStale timing = iota
	tCurrent
	tFuture
	tTooFar
)

type convStatus uint8

const (
	cPending convStatus = iota + 1 // waiting for referenced blocks (DAG-4)
	cChecked                       // recomputed equal (CONV-13)
	cFailed                        // not admissible, not reproduced, or unavailable
	cStalled                       // committed, but no harvester had a referenced block: fetched again later
)

// convState is a convergence block of the current round this harvester
// knows (received, certified or committed) and how far its check got.
type convState struct {
	block   dag.ConvergenceBlock
	hash    dag.Hash
	status  convStatus
	out     dag.Outcome
	err     *Error
	missing []dag.Hash
	counted bool // counts against perMiner (received uncertified)
	retries int  // fetch rounds after a stall
}

// fetchState tracks one missing proposal block: the harvesters to ask in
// order (its proposer first), how many were asked, and who has not
// answered yet. spec: DAG-4
type fetchState struct {
	rotation    []certification.Member
	next        int
	outstanding []certification.Member
}

type propEntry struct {
	block dag.ProposalBlock
	hash  dag.Hash
}

// future holds valid-looking input for a round this harvester has not
// reached (the sender finalized earlier). Bounded: perProposer blocks and
// one evidence per proposer, perMiner convergence blocks per miner, and
// certified blocks (at most one per rank: certificates are unique per slot).
type future struct {
	props     map[certification.Member][]propEntry
	evidence  map[certification.Member]dag.Equivocation
	conv      map[dag.MinerID][]dag.ConvergenceBlock
	certified []dag.ConvergenceBlock
}

type certEntry struct {
	cert      certification.Certificate
	round     dag.Round
	block     *dag.ConvergenceBlock // known when received with its block
	received  bool                  // came as CertificateReceived: submit without our own check
	submitted bool
}

type committed struct {
	cert    certification.Certificate
	block   dag.ConvergenceBlock
	hash    dag.Hash
	dropped bool
}

type slotKey struct {
	round dag.Round
	rank  uint32
}

// Harvester is one harvester's ledger state: a pure step function (see the
// package comment). Not safe for concurrent use.
type Harvester struct {
	cfg      Config
	n        int
	overhead int // encoding bytes of a proposal block besides its transfers

	started bool
	halted  bool
	round   dag.Round // current round; 0 before Start

	final     dag.ConvergenceBlock // the last final block (genesis at first)
	finalHash dag.Hash
	beacon    dag.Hash // beacon of the current round (ORD-1)
	tree      state.Tree
	rejected  *dag.RejectedSet // CONV-14: with tree, this harvester's ledger
	chain     []dag.Hash       // chain[r] = hash of the final block of round r
	order     []certification.Member
	position  int
	ranking   []dag.MinerID

	pool    map[tx.Digest]dag.CertifiedTx
	done    map[tx.Digest]struct{} // finalized or rejected by a final block
	carried map[tx.Digest]struct{} // deferred in the final block: candidates of this round

	store    *dag.Store
	extra    map[dag.Hash]*dag.ProposalBlock // fetched blocks the store does not keep (a third block)
	evKnown  map[certification.Member]bool   // evidence known for this round
	conv     map[dag.Hash]*convState
	perMiner map[dag.MinerID]int
	fetches  map[dag.Hash]*fetchState
	fut      map[dag.Round]*future

	collectors map[dag.Round]*certification.Collector
	voted      map[slotKey]bool
	certs      map[dag.Hash]*certEntry
	queue      []committed

	out   []Effect
	stats Stats
}

// New returns a harvester before Start, at the genesis block.
func New(cfg Config) (*Harvester, error) {
	cfg = cfg.withDefaults()
	r := cfg.Roster
	if err := r.Validate(); err != nil {
		return nil, &ConfigError{"Roster", err.Error()}
	}
	n := r.N()
	switch {
	case cfg.Self < 1 || int(cfg.Self) > n:
		return nil, &ConfigError{"Self", fmt.Sprintf("%d outside 1..%d", cfg.Self, n)}
	case cfg.Share.Index != cfg.Self:
		return nil, &ConfigError{"Share", fmt.Sprintf("share index %d is not member %d", cfg.Share.Index, cfg.Self)}
	case !cfg.Share.Key.PublicKey().Equal(r.Key.Shares[cfg.Self-1]):
		return nil, &ConfigError{"Share", "does not match the roster's public share"}
	case cfg.Miners < 1:
		return nil, &ConfigError{"Miners", fmt.Sprintf("%d, need ≥ 1", cfg.Miners)}
	case cfg.Verifier == nil:
		return nil, &ConfigError{"Verifier", "nil"}
	case cfg.MaxPool < 1 || cfg.MaxFetchHashes < 1 || cfg.FetchWidth < 1 || cfg.MaxFetchRetries < 1 || cfg.MaxAhead < 1 || cfg.KeepRounds < 1:
		return nil, &ConfigError{"limits", "MaxAhead, KeepRounds, MaxPool, MaxFetchHashes, FetchWidth and MaxFetchRetries must be ≥ 1"}
	}
	if err := cfg.Params.Validate(); err != nil {
		return nil, &ConfigError{"Params", err.Error()}
	}
	if cfg.Params.Harvesters != n {
		return nil, &ConfigError{"Params", fmt.Sprintf("Harvesters = %d, roster has %d", cfg.Params.Harvesters, n)}
	}
	if err := cfg.Params.ValidateRoster(r); err != nil { // CONV-2: MinRefs ≥ 2qH − nH
		return nil, &ConfigError{"Params", err.Error()}
	}
	g := dag.Genesis(r.Quorum, r.Epoch, cfg.Genesis.Root())
	h := &Harvester{
		cfg: cfg, n: n,
		final: g, finalHash: g.Hash(), beacon: g.Beacon, tree: cfg.Genesis, rejected: dag.NewRejectedSet(),
		pool: map[tx.Digest]dag.CertifiedTx{}, done: map[tx.Digest]struct{}{}, carried: map[tx.Digest]struct{}{},
		store: dag.NewStore(), fut: map[dag.Round]*future{},
		collectors: map[dag.Round]*certification.Collector{}, voted: map[slotKey]bool{},
		certs: map[dag.Hash]*certEntry{},
	}
	h.chain = []dag.Hash{h.finalHash}
	h.store.AddConvergence(&g, true)
	h.resetRound()
	// The block header's size, so that selection fills MaxBlockBytes
	// exactly (PB-4).
	h.overhead = (&dag.ProposalBlock{}).EncodedSize()
	if h.overhead > cfg.Params.MaxBlockBytes {
		return nil, &ConfigError{"Params", fmt.Sprintf("MaxBlockBytes %d leaves no room after a %d-byte header", cfg.Params.MaxBlockBytes, h.overhead)}
	}
	return h, nil
}

// resetRound clears the per-round state (DAG-3: the store is bounded by the
// rounds not yet final plus one).
func (h *Harvester) resetRound() {
	h.extra = map[dag.Hash]*dag.ProposalBlock{}
	h.evKnown = map[certification.Member]bool{}
	h.conv = map[dag.Hash]*convState{}
	h.perMiner = map[dag.MinerID]int{}
	h.fetches = map[dag.Hash]*fetchState{}
}

// Accessors for drivers and tests.

func (h *Harvester) Config() Config              { return h.cfg }
func (h *Harvester) Round() dag.Round            { return h.round }
func (h *Harvester) Started() bool               { return h.started }
func (h *Harvester) Halted() bool                { return h.halted }
func (h *Harvester) Beacon() dag.Hash            { return h.beacon }
func (h *Harvester) Position() int               { return h.position }
func (h *Harvester) Final() dag.ConvergenceBlock { return h.final }
func (h *Harvester) Tree() state.Tree            { return h.tree }
func (h *Harvester) Pool() int                   { return len(h.pool) }
func (h *Harvester) Store() *dag.Store           { return h.store }
func (h *Harvester) Stats() Stats                { return h.stats }

// RejectedSet is a copy of this harvester's rejected set after its last
// final block (CONV-14): the rejected transfers whose slot is still open.
func (h *Harvester) RejectedSet() *dag.RejectedSet { return h.rejected.Clone() }

// FinalChain is the hashes of the final blocks by round: index 0 is the
// genesis block, index r round r's final block.
func (h *Harvester) FinalChain() []dag.Hash { return slices.Clone(h.chain) }

// InPool reports whether the pool holds a transfer.
func (h *Harvester) InPool(d tx.Digest) bool { _, ok := h.pool[d]; return ok }

// Voted reports whether this harvester voted in the convergence slot
// (round, rank). Only slots of the current round are remembered.
func (h *Harvester) Voted(round dag.Round, rank uint32) bool { return h.voted[slotKey{round, rank}] }

// Step applies one event and returns the effects it caused, in order.
func (h *Harvester) Step(ev Event) []Effect {
	h.out = nil
	if h.halted {
		h.reject(fmt.Sprintf("%T", ev), errf(ReasonHalted, nil, "after an invariant violation"))
		return h.flush()
	}
	switch ev := ev.(type) {
	case Start:
		h.onStart()
	case TxCertified:
		h.onTx(ev.Tx)
	case ProposalReceived:
		h.onProposal(ev.Block)
	case EvidenceReceived:
		h.onEvidence(ev.Evidence)
	case ConvergenceReceived:
		h.onConvergence(ev.Block)
	case FetchRequest:
		h.onFetchRequest(ev)
	case FetchResponse:
		h.onFetchResponse(ev)
	case VoteReceived:
		h.onVote(ev.Vote)
	case CertificateReceived:
		h.onCertificate(ev.Cert, ev.Block)
	case Committed:
		h.onCommitted(ev.Cmds)
	default:
		h.reject(fmt.Sprintf("%T", ev), errf(ReasonUnknownEvent, nil, ""))
	}
	switch ev.(type) {
	case FetchRequest, FetchResponse:
	default:
		h.retryStalled()
	}
	h.advance()
	return h.flush()
}

func (h *Harvester) flush() []Effect {
	out := h.out
	h.out = nil
	return out
}

func (h *Harvester) emit(e Effect) { h.out = append(h.out, e) }

func (h *Harvester) reject(what string, err *Error) {
	if int(err.Reason) < len(h.stats.Rejected) {
		h.stats.Rejected[err.Reason]++
	}
	h.emit(Rejected{What: what, Err: err})
}

// when places a round relative to this harvester's.
func (h *Harvester) when(r dag.Round) timing {
	switch {
	case r <= h.final.Round:
		return tStale
	case h.started && r == h.round:
		return tCurrent
	case r > h.final.Round+1+h.cfg.MaxAhead:
		return tTooFar
	}
	return tFuture
}

func (h *Harvester) timingErr(t timing, r dag.Round) *Error {
	if t == tStale {
		return errf(ReasonStale, nil, "round %d, final round is %d", r, h.final.Round)
	}
	return errf(ReasonTooFarAhead, nil, "round %d, final round is %d, lookahead %d", r, h.final.Round, h.cfg.MaxAhead)
}

func (h *Harvester) futureOf(r dag.Round) *future {
	f := h.fut[r]
	if f == nil {
		f = &future{props: map[certification.Member][]propEntry{}, evidence: map[certification.Member]dag.Equivocation{}, conv: map[dag.MinerID][]dag.ConvergenceBlock{}}
		h.fut[r] = f
	}
	return f
}

// onStart begins round 1 from the genesis block. spec: DAG-1
func (h *Harvester) onStart() {
	if h.started {
		h.reject("Start", errf(ReasonDuplicate, nil, "already started"))
		return
	}
	h.started = true
	h.round = h.final.Round + 1
	h.startRound()
}

// startRound computes the round's orders, proposes, and takes up what was
// buffered for the round. spec: ORD-2, ORD-3, PB-3, MEV-2, MEV-3
func (h *Harvester) startRound() {
	h.order = dag.Order(h.beacon, h.n)
	h.position = dag.Position(h.order, h.cfg.Self)
	h.ranking = dag.MinerRanking(h.beacon, h.round, h.cfg.Miners)
	h.emit(RoundStarted{Round: h.round, Beacon: h.beacon, Position: h.position})
	h.propose()
	h.drainFuture()
}

// propose signs and broadcasts this round's one proposal block (PB-3),
// filled by MEV-3 from the pool.
func (h *Harvester) propose() {
	items := make([]mev.Item, 0, len(h.pool))
	for d, ct := range h.pool {
		items = append(items, mev.Item{Digest: d, Fee: ct.Transfer.Fee, Size: ct.Size()})
	}
	slices.SortFunc(items, func(a, b mev.Item) int { return bytes.Compare(a.Digest[:], b.Digest[:]) })
	p := h.cfg.Params
	sel := mev.Select(items, h.position, p.MaxBlockBytes-h.overhead, p.MaxBlockTxs)
	txs := make([]dag.CertifiedTx, 0, len(sel))
	seen := map[tx.Digest]bool{}
	for _, it := range sel {
		if ct, ok := h.pool[it.Digest]; ok && !seen[it.Digest] {
			seen[it.Digest] = true
			txs = append(txs, ct)
		}
	}
	r := h.cfg.Roster
	b := dag.ProposalBlock{Quorum: r.Quorum, Epoch: r.Epoch, Round: h.round, Proposer: h.cfg.Self, Prev: h.finalHash, Txs: txs}
	// Selection respects the capacity; this guards PB-4 all the same.
	for b.EncodedSize() > p.MaxBlockBytes || len(b.Txs) > p.MaxBlockTxs {
		b.Txs = b.Txs[:len(b.Txs)-1]
	}
	b = dag.SignProposal(h.cfg.Share, b)
	h.stats.Proposed++
	h.store.AddProposal(&b)
	h.emit(BroadcastProposal{Block: b})
}

// drainFuture takes up the input buffered for the round just started, in
// a canonical order.
func (h *Harvester) drainFuture() {
	for r := range h.fut {
		if r < h.round {
			delete(h.fut, r)
		}
	}
	f := h.fut[h.round]
	if f == nil {
		return
	}
	delete(h.fut, h.round)
	for _, m := range sortedKeys(f.evidence) {
		e := f.evidence[m]
		h.acceptEvidence(&e)
	}
	for _, m := range sortedKeys(f.props) {
		for _, e := range f.props[m] {
			h.acceptProposal("ProposalReceived", e.block, e.hash, false)
		}
	}
	for _, m := range sortedKeys(f.conv) {
		for _, cb := range f.conv[m] {
			h.receiveConv("ConvergenceReceived", cb, false)
		}
	}
	for _, cb := range f.certified {
		h.receiveConv("CertificateReceived", cb, true)
	}
}

func sortedKeys[K cmp.Ordered, V any](m map[K]V) []K {
	ks := make([]K, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

// onTx adds a certified transfer to the pool. spec: MEV-6
func (h *Harvester) onTx(ct dag.CertifiedTx) {
	const what = "TxCertified"
	d := ct.Digest()
	if _, ok := h.done[d]; ok {
		h.reject(what, errf(ReasonDuplicate, nil, "%x already finalized or rejected", d[:4]))
		return
	}
	if _, ok := h.carried[d]; ok {
		h.reject(what, errf(ReasonDuplicate, nil, "%x is deferred in the final block", d[:4]))
		return
	}
	if _, ok := h.pool[d]; ok {
		h.reject(what, errf(ReasonDuplicate, nil, "%x already in the pool", d[:4]))
		return
	}
	if len(h.pool) >= h.cfg.MaxPool {
		h.reject(what, errf(ReasonLimit, nil, "pool holds %d", len(h.pool)))
		return
	}
	if err := h.cfg.Verifier.VerifyTx(&ct.Transfer, &ct.Cert); err != nil {
		h.reject(what, errf(ReasonInvalid, err, "%x", d[:4]))
		return
	}
	h.pool[d] = ct
}

// onProposal takes a proposal block: now if it is for the current round,
// buffered if for a later one. spec: PB-4, DAG-3
func (h *Harvester) onProposal(b dag.ProposalBlock) {
	const what = "ProposalReceived"
	switch t := h.when(b.Round); t {
	case tStale, tTooFar:
		h.reject(what, h.timingErr(t, b.Round))
	case tCurrent:
		h.acceptProposal(what, b, b.Hash(), false)
	case tFuture:
		// Only the signature can be checked before the round's prev is
		// known; it stops anyone but the proposer from filling its slots.
		hash := b.Hash()
		f := h.futureOf(b.Round)
		for _, e := range f.props[b.Proposer] {
			if e.hash == hash {
				h.reject(what, errf(ReasonDuplicate, nil, "round %d proposer %d already buffered", b.Round, b.Proposer))
				return
			}
		}
		if len(f.props[b.Proposer]) >= perProposer {
			h.reject(what, errf(ReasonLimit, nil, "round %d proposer %d: %d blocks buffered", b.Round, b.Proposer, perProposer))
			return
		}
		if err := b.VerifySignature(h.cfg.Roster); err != nil {
			h.reject(what, errf(ReasonInvalid, err, "round %d proposer %d", b.Round, b.Proposer))
			return
		}
		f.props[b.Proposer] = append(f.props[b.Proposer], propEntry{block: b, hash: hash})
		h.stats.Buffered++
	}
}

// have reports whether a proposal block is held.
func (h *Harvester) have(hash dag.Hash) bool { return h.get(hash) != nil }

func (h *Harvester) get(hash dag.Hash) *dag.ProposalBlock {
	if p, ok := h.store.Proposal(hash); ok {
		return p
	}
	return h.extra[hash]
}

// acceptProposal checks a current-round block (PB-4) and stores it
// (DAG-3); a second block of its proposer yields evidence, broadcast once
// (PB-5). solicited: it answers this harvester's fetch (DAG-4).
func (h *Harvester) acceptProposal(what string, b dag.ProposalBlock, hash dag.Hash, solicited bool) bool {
	if h.have(hash) {
		if !solicited {
			h.reject(what, errf(ReasonDuplicate, nil, "block %x held", hash[:4]))
		}
		return false
	}
	if err := dag.ValidateProposal(h.cfg.Params, h.cfg.Roster, h.round, h.finalHash, h.cfg.Verifier, &b); err != nil {
		e := errf(ReasonInvalid, err, "block %x of proposer %d", hash[:4], b.Proposer)
		h.reject(what, e)
		if solicited {
			// The referenced block exists but is not valid: the
			// convergence blocks that reference it cannot be checked.
			h.unavailable(hash, e, true)
		}
		return false
	}
	ev, _, err := h.store.AddProposal(&b)
	if err != nil {
		h.reject(what, errf(ReasonInvalid, err, "store refused block %x", hash[:4]))
		return false
	}
	// The store keeps the first two blocks of a proposer (the second only
	// for fetches, DAG-4); a third is kept only if this harvester asked.
	if _, stored := h.store.Proposal(hash); !stored {
		if !solicited {
			h.reject(what, errf(ReasonLimit, nil, "third block %x of proposer %d changes nothing", hash[:4], b.Proposer))
			return false
		}
		bb := b
		h.extra[hash] = &bb
	}
	h.stats.ProposalsAccepted++
	if solicited {
		h.stats.BlocksFetched++
	}
	if ev != nil {
		if !h.evKnown[ev.Proposer] {
			h.evKnown[ev.Proposer] = true
			h.stats.EvidenceSent++
			h.emit(BroadcastEvidence{Evidence: *ev})
		}
	}
	h.resolved(hash)
	return true
}

// onEvidence stores verified equivocation evidence. spec: PB-5
func (h *Harvester) onEvidence(e dag.Equivocation) {
	const what = "EvidenceReceived"
	switch t := h.when(e.Round); t {
	case tStale, tTooFar:
		h.reject(what, h.timingErr(t, e.Round))
	case tCurrent:
		if h.evKnown[e.Proposer] {
			h.reject(what, errf(ReasonDuplicate, nil, "round %d proposer %d", e.Round, e.Proposer))
			return
		}
		if err := e.Verify(h.cfg.Roster); err != nil {
			h.reject(what, errf(ReasonInvalid, err, "round %d proposer %d", e.Round, e.Proposer))
			return
		}
		h.acceptEvidence(&e)
	case tFuture:
		f := h.futureOf(e.Round)
		if _, ok := f.evidence[e.Proposer]; ok {
			h.reject(what, errf(ReasonDuplicate, nil, "round %d proposer %d", e.Round, e.Proposer))
			return
		}
		if err := e.Verify(h.cfg.Roster); err != nil {
			h.reject(what, errf(ReasonInvalid, err, "round %d proposer %d", e.Round, e.Proposer))
			return
		}
		f.evidence[e.Proposer] = e
		h.stats.Buffered++
	}
}

// acceptEvidence stores verified evidence of the current round.
func (h *Harvester) acceptEvidence(e *dag.Equivocation) {
	h.evKnown[e.Proposer] = true
	h.store.AddEvidence(e)
}

// onConvergence takes a miner's convergence block: checked now if it is
// for the current round, buffered if for a later one. spec: MINE-3
func (h *Harvester) onConvergence(cb dag.ConvergenceBlock) {
	const what = "ConvergenceReceived"
	r := h.cfg.Roster
	if cb.Quorum != r.Quorum || cb.Epoch != r.Epoch {
		h.reject(what, errf(ReasonInvalid, nil, "quorum %d epoch %d, roster is %d/%d", cb.Quorum, cb.Epoch, r.Quorum, r.Epoch))
		return
	}
	if int64(cb.Rank) >= int64(h.cfg.Params.Fallbacks) && !h.cfg.Mutations.VoteWithoutRecompute {
		h.reject(what, errf(ReasonNotElected, nil, "rank %d, fallbacks %d", cb.Rank, h.cfg.Params.Fallbacks))
		return
	}
	switch t := h.when(cb.Round); t {
	case tStale, tTooFar:
		h.reject(what, h.timingErr(t, cb.Round))
	case tCurrent:
		h.receiveConv(what, cb, false)
	case tFuture:
		f := h.futureOf(cb.Round)
		hash := cb.Hash()
		for _, o := range f.conv[cb.Miner] {
			if o.Hash() == hash {
				h.reject(what, errf(ReasonDuplicate, nil, "block %x buffered", hash[:4]))
				return
			}
		}
		if len(f.conv[cb.Miner]) >= perMiner {
			h.reject(what, errf(ReasonLimit, nil, "round %d miner %d: %d blocks buffered", cb.Round, cb.Miner, perMiner))
			return
		}
		f.conv[cb.Miner] = append(f.conv[cb.Miner], cb)
		h.stats.Buffered++
	}
}

// receiveConv starts or repeats the check of a current-round convergence
// block. certified: it has a verified certificate or was committed, so the
// per-miner bound does not apply (certificates are unique per slot).
func (h *Harvester) receiveConv(what string, cb dag.ConvergenceBlock, certified bool) *convState {
	hash := cb.Hash()
	if st, ok := h.conv[hash]; ok {
		switch {
		case st.status == cChecked && !h.voted[slotKey{cb.Round, cb.Rank}]:
			h.maybeVote(st)
		case certified:
		case st.status == cFailed:
			h.reject(what, st.err)
		default:
			h.reject(what, errf(ReasonDuplicate, nil, "convergence block %x", hash[:4]))
		}
		return st
	}
	if !certified && h.perMiner[cb.Miner] >= perMiner {
		h.reject(what, errf(ReasonLimit, nil, "miner %d: %d blocks this round", cb.Miner, perMiner))
		return nil
	}
	if h.cfg.Mutations.VoteWithoutRecompute {
		// The planted bug: vote before any check.
		h.maybeVote(&convState{block: cb, hash: hash})
	}
	st := &convState{block: cb, hash: hash, counted: !certified}
	if st.counted {
		h.perMiner[cb.Miner]++
	}
	h.conv[hash] = st
	if err := h.admissible(&cb); err != nil {
		h.fail(what, st, err)
		return st
	}
	h.check(what, st)
	return st
}

// fail records that a block can be neither voted for nor finalized. A
// committed block keeps its failure (FIN-1 passes over it); any other is
// forgotten: a bad block costs its sender, not our memory, and one that
// failed for want of a referenced block is checked afresh if it is
// committed later.
func (h *Harvester) fail(what string, st *convState, err *Error) {
	st.status, st.err = cFailed, err
	h.reject(what, err)
	if h.isCommitted(st.hash) {
		return
	}
	delete(h.conv, st.hash)
	if st.counted {
		h.perMiner[st.block.Miner]--
	}
}

// admissible checks what MINE-3 asks besides recomputation: the block is
// for this roster, round and prev, its rank is below F and its builder is
// the miner of that rank (ORD-3).
func (h *Harvester) admissible(cb *dag.ConvergenceBlock) *Error {
	r := h.cfg.Roster
	switch {
	case cb.Quorum != r.Quorum || cb.Epoch != r.Epoch:
		return errf(ReasonInvalid, nil, "quorum %d epoch %d, roster is %d/%d", cb.Quorum, cb.Epoch, r.Quorum, r.Epoch)
	case cb.Round != h.round:
		return errf(ReasonInvalid, nil, "round %d, current %d", cb.Round, h.round)
	case cb.Prev != h.finalHash:
		return errf(ReasonWrongPrev, nil, "prev %x, final is %x", cb.Prev[:4], h.finalHash[:4])
	case int64(cb.Rank) >= int64(h.cfg.Params.Fallbacks) || int64(cb.Rank) >= int64(len(h.ranking)):
		return errf(ReasonNotElected, nil, "rank %d, fallbacks %d, miners %d", cb.Rank, h.cfg.Params.Fallbacks, len(h.ranking))
	case h.ranking[cb.Rank] != cb.Miner:
		return errf(ReasonNotElected, nil, "miner %d claims rank %d, which is miner %d's", cb.Miner, cb.Rank, h.ranking[cb.Rank])
	}
	return nil // the evidence is verified by Recompute (PB-5)
}

// check recomputes a block whose references are all held, or fetches the
// missing ones. spec: CONV-13, DAG-4
func (h *Harvester) check(what string, st *convState) {
	st.missing = dag.Missing(&st.block, h.have)
	if len(st.missing) > 0 {
		st.status = cPending
		h.fetch(&st.block, st.missing)
		return
	}
	blocks := make(map[dag.Hash]*dag.ProposalBlock, len(st.block.Refs))
	for _, ref := range st.block.Refs {
		blocks[ref.Hash] = h.get(ref.Hash)
	}
	// Blocks come from this harvester's store, checked against PB-4 on
	// receipt: no verifier, so no signature is checked twice. The ledger
	// is the state and the rejected set after the final block (CONV-14):
	// a block that applies a transfer rejected earlier does not reproduce.
	rejected := h.rejected
	if h.cfg.Mutations.IgnoreRejectedSet {
		rejected = nil
	}
	out, err := dag.RecomputeWithRejected(h.cfg.Params, h.cfg.Roster, nil, &h.final, h.beacon, h.tree, rejected, &st.block, blocks)
	if err != nil {
		h.stats.RecomputeFailed++
		h.fail(what, st, errf(ReasonMismatch, err, "convergence block %x of miner %d", st.hash[:4], st.block.Miner))
		return
	}
	st.status, st.out = cChecked, out
	h.stats.ConvergenceChecked++
	h.store.AddConvergence(&st.block, false)
	h.maybeVote(st)
	h.maybeSubmit(st.hash)
}

// maybeVote votes for a block at most once per (round, rank) slot.
// spec: MINE-3, CERT-5
func (h *Harvester) maybeVote(st *convState) {
	cb := &st.block
	k := slotKey{cb.Round, cb.Rank}
	if h.voted[k] || cb.Round != h.round {
		return
	}
	h.voted[k] = true
	v := certification.SignVote(h.cfg.Share, dag.ConvergenceStatement(h.cfg.Roster, cb))
	h.stats.VotesCast++
	h.emit(BroadcastVote{Vote: v})
	h.count("BroadcastVote", v, cb.Round)
}

// fetch asks for missing referenced blocks: the proposer first, then the
// other harvesters in index order, FetchWidth at a time. spec: DAG-4
func (h *Harvester) fetch(cb *dag.ConvergenceBlock, missing []dag.Hash) {
	ask := map[certification.Member][]dag.Hash{}
	for _, hash := range missing {
		if _, ok := h.fetches[hash]; ok {
			continue
		}
		var proposer certification.Member
		for _, ref := range cb.Refs {
			if ref.Hash == hash {
				proposer = ref.Proposer
			}
		}
		fs := &fetchState{rotation: h.rotation(proposer)}
		h.fetches[hash] = fs
		for k := 0; k < h.cfg.FetchWidth; k++ {
			if m, ok := fs.ask(); ok {
				ask[m] = append(ask[m], hash)
			}
		}
		if len(fs.outstanding) == 0 {
			h.unavailable(hash, errf(ReasonUnavailable, nil, "block %x: no harvester to ask", hash[:4]), false)
		}
	}
	h.sendFetches(ask)
}

func (h *Harvester) sendFetches(ask map[certification.Member][]dag.Hash) {
	for _, m := range sortedKeys(ask) {
		hs := ask[m]
		slices.SortFunc(hs, func(a, b dag.Hash) int { return bytes.Compare(a[:], b[:]) })
		h.stats.FetchesSent++
		h.emit(SendFetch{To: m, Hashes: hs})
	}
}

func (fs *fetchState) ask() (certification.Member, bool) {
	if fs.next >= len(fs.rotation) {
		return 0, false
	}
	m := fs.rotation[fs.next]
	fs.next++
	fs.outstanding = append(fs.outstanding, m)
	return m, true
}

// rotation is the order harvesters are asked for a block of proposer p.
func (h *Harvester) rotation(p certification.Member) []certification.Member {
	var out []certification.Member
	start := 1
	if p >= 1 && int(p) <= h.n {
		start = int(p)
	}
	for i := 0; i < h.n; i++ {
		m := certification.Member((start-1+i)%h.n + 1)
		if m != h.cfg.Self {
			out = append(out, m)
		}
	}
	return out
}

// resolved: a missing block arrived; re-check the blocks waiting for it.
func (h *Harvester) resolved(hash dag.Hash) {
	if _, ok := h.fetches[hash]; !ok {
		return
	}
	delete(h.fetches, hash)
	for _, st := range h.waiting(hash) {
		h.check("FetchResponse", st)
	}
}

// unavailable: a missing block cannot be had (permanent: it is not valid);
// the blocks waiting for it fail, except committed ones while the block
// may still turn up: FIN-1 must not skip them, so they stall and are
// fetched again after the next event (retryStalled).
func (h *Harvester) unavailable(hash dag.Hash, err *Error, permanent bool) {
	delete(h.fetches, hash)
	for _, st := range h.waiting(hash) {
		if !permanent && h.isCommitted(st.hash) {
			st.status = cStalled
			h.stats.FetchStalls++
			continue
		}
		h.fail("FetchResponse", st, err)
	}
}

func (h *Harvester) isCommitted(hash dag.Hash) bool {
	return slices.ContainsFunc(h.queue, func(c committed) bool { return c.hash == hash && !c.dropped })
}

// retryStalled fetches again what stalled committed blocks lack (DAG-4:
// "then any harvester", once more), at most MaxFetchRetries times per
// block. It runs after every event but a fetch exchange, so the retries
// follow the traffic of the rounds that go on without this harvester,
// while its peers still keep the blocks (DAG-3).
func (h *Harvester) retryStalled() {
	for _, hash := range sortedHashes(h.conv) {
		if st := h.conv[hash]; st.status == cStalled && st.retries < h.cfg.MaxFetchRetries {
			st.retries++
			h.stats.FetchRetries++
			h.check("Committed", st)
		}
	}
}

// waiting lists the pending blocks missing hash, by block hash.
func (h *Harvester) waiting(hash dag.Hash) []*convState {
	var out []*convState
	for _, st := range h.conv {
		if st.status == cPending && slices.Contains(st.missing, hash) {
			out = append(out, st)
		}
	}
	slices.SortFunc(out, func(a, b *convState) int { return bytes.Compare(a.hash[:], b.hash[:]) })
	return out
}

func (h *Harvester) isPeer(m certification.Member) bool {
	return m >= 1 && int(m) <= h.n && m != h.cfg.Self
}

// onFetchRequest answers with the held blocks, always (an empty answer
// tells the asker to try the next harvester). spec: DAG-4
func (h *Harvester) onFetchRequest(ev FetchRequest) {
	const what = "FetchRequest"
	if !h.isPeer(ev.From) {
		h.reject(what, errf(ReasonUnknownPeer, nil, "member %d", ev.From))
		return
	}
	if len(ev.Hashes) > h.cfg.MaxFetchHashes {
		h.reject(what, errf(ReasonLimit, nil, "%d hashes, at most %d", len(ev.Hashes), h.cfg.MaxFetchHashes))
		return
	}
	var blocks []dag.ProposalBlock
	seen := map[dag.Hash]bool{}
	for _, hash := range ev.Hashes {
		if seen[hash] {
			continue
		}
		seen[hash] = true
		if p := h.get(hash); p != nil {
			blocks = append(blocks, *p)
		}
	}
	h.stats.BlocksServed += len(blocks)
	h.emit(SendBlocks{To: ev.From, Blocks: blocks})
}

// onFetchResponse takes fetched blocks (checked against the hash asked for
// and PB-4) and asks the next harvester for what the answer lacked.
// spec: DAG-4
func (h *Harvester) onFetchResponse(ev FetchResponse) {
	const what = "FetchResponse"
	if !h.isPeer(ev.From) {
		h.reject(what, errf(ReasonUnknownPeer, nil, "member %d", ev.From))
		return
	}
	asked := false
	for _, fs := range h.fetches {
		asked = asked || slices.Contains(fs.outstanding, ev.From)
	}
	if !asked {
		h.reject(what, errf(ReasonUnsolicited, nil, "nothing asked of member %d", ev.From))
		return
	}
	for _, b := range ev.Blocks {
		hash := b.Hash()
		fs, ok := h.fetches[hash]
		if !ok || !slices.Contains(fs.outstanding, ev.From) {
			h.reject(what, errf(ReasonUnsolicited, nil, "block %x", hash[:4]))
			continue
		}
		h.acceptProposal(what, b, hash, true)
	}
	ask := map[certification.Member][]dag.Hash{}
	for _, hash := range sortedHashes(h.fetches) {
		fs := h.fetches[hash]
		i := slices.Index(fs.outstanding, ev.From)
		if i < 0 {
			continue
		}
		fs.outstanding = slices.Delete(fs.outstanding, i, i+1)
		if m, ok := fs.ask(); ok {
			ask[m] = append(ask[m], hash)
		} else if len(fs.outstanding) == 0 {
			h.unavailable(hash, errf(ReasonUnavailable, nil, "block %x: every harvester answered without it", hash[:4]), false)
		}
	}
	h.sendFetches(ask)
}

func sortedHashes[V any](m map[dag.Hash]V) []dag.Hash {
	ks := make([]dag.Hash, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.SortFunc(ks, func(a, b dag.Hash) int { return bytes.Compare(a[:], b[:]) })
	return ks
}

// slotRound parses a convergence slot (dag.ConvergenceSlot).
func slotRound(s certification.Slot) (dag.Round, uint32, bool) {
	if s.Kind != certification.KindConvergence {
		return 0, 0, false
	}
	round := dag.Round(beUint64(s.ID[16:24]))
	rank64 := beUint64(s.ID[24:32])
	if rank64 > 1<<32-1 {
		return 0, 0, false
	}
	rank := uint32(rank64)
	if dag.ConvergenceSlot(round, rank) != s {
		return 0, 0, false
	}
	return round, rank, true
}

func beUint64(b []byte) uint64 {
	var x uint64
	for _, c := range b {
		x = x<<8 | uint64(c)
	}
	return x
}

// onVote counts another harvester's convergence vote.
func (h *Harvester) onVote(v certification.Vote) {
	const what = "VoteReceived"
	round, rank, ok := slotRound(v.Slot)
	if !ok {
		h.reject(what, errf(ReasonBadVote, nil, "slot is not a convergence slot (kind %v)", v.Slot.Kind))
		return
	}
	if int64(rank) >= int64(h.cfg.Params.Fallbacks) {
		// No honest harvester votes there (MINE-3); refusing keeps the
		// collectors bounded by F slots per round.
		h.reject(what, errf(ReasonNotElected, nil, "vote for rank %d, fallbacks %d", rank, h.cfg.Params.Fallbacks))
		return
	}
	if t := h.when(round); t == tStale || t == tTooFar {
		h.reject(what, h.timingErr(t, round))
		return
	}
	h.count(what, v, round)
}

// count feeds a vote to the round's collector. spec: CERT-4..CERT-9
func (h *Harvester) count(what string, v certification.Vote, round dag.Round) {
	c := h.collectors[round]
	if c == nil {
		var err error
		if c, err = certification.NewCollector(h.cfg.Roster, certification.Options{}); err != nil {
			h.reject(what, errf(ReasonBadVote, err, "collector"))
			return
		}
		h.collectors[round] = c
	}
	before := c.Stats().PartialVerifies
	eff := c.Step(certification.VoteReceived{Vote: v})
	h.stats.PartialVerifies += c.Stats().PartialVerifies - before
	if eff.Rejected != nil {
		if v.Member == h.cfg.Self && certification.ReasonOf(eff.Rejected) == certification.ReasonSlotDecided {
			return // its own vote, cast after the others certified the block
		}
		reason := ReasonBadVote
		switch certification.ReasonOf(eff.Rejected) {
		case certification.ReasonSlotDecided:
			reason = ReasonSlotDecided
		case certification.ReasonDuplicate:
			reason = ReasonDuplicate
		}
		h.reject(what, errf(reason, eff.Rejected, "member %d", v.Member))
		return
	}
	if eff.Certificate != nil {
		h.stats.CertsFormed++
		hash := dag.Hash(eff.Certificate.Value.Subject)
		if h.certs[hash] == nil {
			h.certs[hash] = &certEntry{cert: *eff.Certificate, round: round}
		}
		h.maybeSubmit(hash)
	}
}

// maybeSubmit gives a certificate to the pacemaker once per block: when it
// came with its block, or when this harvester checked the block. spec: FIN-1
func (h *Harvester) maybeSubmit(hash dag.Hash) {
	ce := h.certs[hash]
	if ce == nil || ce.submitted {
		return
	}
	block := ce.block
	if block == nil {
		st := h.conv[hash]
		if st == nil || st.status != cChecked {
			return
		}
		block = &st.block
	}
	ce.submitted = true
	h.stats.Submitted++
	h.emit(Submit{Cmd: EncodeCommand(ce.cert, block)})
}

// verifyCert checks a convergence certificate against its block: statement
// first, then one pairing (CERT-10), skipped when the identical signature
// already verified for that block.
func (h *Harvester) verifyCert(cert *certification.Certificate, cb *dag.ConvergenceBlock, hash dag.Hash) *Error {
	if cert.Statement != dag.ConvergenceStatement(h.cfg.Roster, cb) {
		return errf(ReasonBadCert, nil, "statement is not the block's (round %d rank %d)", cb.Round, cb.Rank)
	}
	if ce := h.certs[hash]; ce != nil && ce.cert.Signature.Equal(cert.Signature) {
		return nil
	}
	h.stats.CertVerifies++
	if err := cert.Verify(h.cfg.Roster); err != nil {
		return errf(ReasonBadCert, err, "block %x", hash[:4])
	}
	return nil
}

// onCertificate takes a certificate formed elsewhere: verified, submitted
// (so a harvester that missed votes still gets it ordered), and its block
// checked so that it can become final here.
func (h *Harvester) onCertificate(cert certification.Certificate, cb dag.ConvergenceBlock) {
	const what = "CertificateReceived"
	hash := cb.Hash()
	t := h.when(cb.Round)
	if t == tStale || t == tTooFar {
		h.reject(what, h.timingErr(t, cb.Round))
		return
	}
	if ce := h.certs[hash]; ce != nil && ce.submitted {
		h.reject(what, errf(ReasonDuplicate, nil, "block %x already submitted", hash[:4]))
		return
	}
	if err := h.verifyCert(&cert, &cb, hash); err != nil {
		h.reject(what, err)
		return
	}
	ce := h.certs[hash]
	if ce == nil {
		ce = &certEntry{cert: cert, round: cb.Round}
		h.certs[hash] = ce
	}
	bb := cb
	ce.block, ce.received = &bb, true
	h.maybeSubmit(hash)
	if t == tCurrent {
		h.receiveConv(what, cb, true)
		return
	}
	f := h.futureOf(cb.Round)
	for _, o := range f.certified {
		if o.Hash() == hash {
			return
		}
	}
	f.certified = append(f.certified, cb)
}

// onCommitted queues the committed convergence certificates in commit
// order; advance applies FIN-1 to the queue. spec: FIN-1
func (h *Harvester) onCommitted(cmds []pm.Command) {
	const what = "Committed"
	for _, c := range cmds {
		cert, cb, err := DecodeCommand(c)
		if err != nil {
			h.reject(what, errf(ReasonGarbage, err, "command %d", c.ID))
			continue
		}
		hash := cb.Hash()
		if cb.Round <= h.final.Round {
			h.stats.LateCommands++
			h.reject(what, errf(ReasonLate, nil, "round %d is final", cb.Round))
			continue
		}
		if err := h.verifyCert(&cert, &cb, hash); err != nil {
			h.reject(what, err)
			continue
		}
		if h.certs[hash] == nil && h.when(cb.Round) != tTooFar {
			h.certs[hash] = &certEntry{cert: cert, round: cb.Round}
		}
		h.queue = append(h.queue, committed{cert: cert, block: cb, hash: hash})
	}
}

// advance applies FIN-1 to the committed queue: in commit order, the
// first command of the current round over a block on this harvester's
// final prev that it has checked is final; an unchecked one is checked
// first (fetching if needed) and the queue waits for it. Commands of later
// rounds wait for their round.
func (h *Harvester) advance() {
	for h.started && !h.halted {
		chosen := -1
	scan:
		for i := range h.queue {
			c := &h.queue[i]
			if c.dropped || c.block.Round != h.round {
				continue
			}
			if c.block.Prev != h.finalHash {
				c.dropped = true
				h.reject("Committed", errf(ReasonWrongPrev, nil, "round %d block %x: prev %x, final is %x", c.block.Round, c.hash[:4], c.block.Prev[:4], h.finalHash[:4]))
				continue
			}
			st := h.conv[c.hash]
			if st == nil {
				st = h.receiveConv("Committed", c.block, true)
			}
			switch st.status {
			case cChecked:
				chosen = i
				if !h.cfg.Mutations.SkipFirstCommittedRule {
					break scan
				}
			case cFailed:
				c.dropped = true
			case cPending, cStalled:
				if !h.cfg.Mutations.SkipFirstCommittedRule {
					break scan
				}
			}
		}
		if chosen < 0 {
			h.queue = slices.DeleteFunc(h.queue, func(c committed) bool { return c.dropped })
			return
		}
		c := h.queue[chosen]
		// Later commands for this round are recorded and ignored (FIN-1).
		for i, o := range h.queue {
			if i != chosen && !o.dropped && o.block.Round == c.block.Round {
				h.stats.LateCommands++
			}
		}
		h.finalize(c, h.conv[c.hash])
	}
}

// finalize makes a block final: FIN-2 (apply, check the root, settle the
// pool, remember the rejections: CONV-14) and FIN-3 (the next beacon, the
// next round).
func (h *Harvester) finalize(c committed, st *convState) {
	r := h.round
	next := h.tree.With(st.out.Changes)
	if got := next.Root(); got != c.block.StateRoot {
		h.halted = true
		h.emit(Violation{Round: r, Err: fmt.Errorf("harvester %d: FIN-2: final block %x of round %d has state root %x, applying it gives %x",
			h.cfg.Self, c.hash[:4], r, c.block.StateRoot[:4], got[:4])})
		return
	}
	h.tree = next
	// spec: CONV-14: the block's rejections join the rejected set, and
	// entries whose slot the block closed leave it. Every honest node and
	// miner does the same with the same final block, so their sets agree.
	h.rejected.Add(st.out.Rejected...)
	h.stats.RejectedPruned += h.rejected.Prune(next)
	for _, d := range c.block.Applied {
		delete(h.pool, d)
		h.done[d] = struct{}{}
	}
	for _, dr := range c.block.Rejected {
		delete(h.pool, dr.Digest)
		h.done[dr.Digest] = struct{}{}
	}
	h.carried = map[tx.Digest]struct{}{}
	for i := range c.block.Deferred {
		d := c.block.Deferred[i].Tx.Digest()
		delete(h.pool, d) // MEV-6: the block carries it
		h.carried[d] = struct{}{}
	}
	h.store.AddConvergence(&c.block, true)
	h.final, h.finalHash = c.block, c.hash
	h.chain = append(h.chain, c.hash)
	h.beacon = dag.NextBeacon(c.cert)
	h.stats.Finalized++
	h.emit(Finalized{Round: r, Block: c.block, Cert: c.cert, Applied: st.out.Applied, Beacon: h.beacon, Rejected: st.out.Rejected})
	h.emit(NotifyMiners{Round: r, Cert: c.cert, Block: c.block})

	h.queue = slices.DeleteFunc(h.queue, func(o committed) bool { return o.block.Round <= r })
	for hash, ce := range h.certs {
		if ce.round <= r {
			delete(h.certs, hash)
		}
	}
	for k := range h.voted {
		if k.round <= r {
			delete(h.voted, k)
		}
	}
	delete(h.collectors, r)
	if r >= h.cfg.KeepRounds {
		h.store.Prune(r + 1 - h.cfg.KeepRounds)
	}
	h.round = r + 1
	h.resetRound()
	h.startRound()
}
