package miner

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/fhbft/fhbft/impl/certification"
	"github.com/fhbft/fhbft/impl/dag"
	"github.com/fhbft/fhbft/impl/state"
)

type propEntry struct {
	block dag.ProposalBlock
	hash  dag.Hash
}

// future holds input for a round the miner has not reached.
type future struct {
	props    map[certification.Member][]propEntry
	evidence map[certification.Member]dag.Equivocation
}

// notice is one certified block some harvesters named final.
type notice struct {
	block   dag.ConvergenceBlock
	cert    certification.Certificate
	senders int
}

// notices of one round: at most one per harvester (so at most nH blocks).
type notices struct {
	from   map[certification.Member]dag.Hash
	blocks map[dag.Hash]*notice
}

// Miner is one miner's state: a pure step function (see the package
// comment). Not safe for concurrent use.
type Miner struct {
	cfg    Config
	n      int
	need   int // notices that make a round final here: max(1, 2q−n)
	halted bool
	now    time.Duration

	round     dag.Round // current round = final.Round + 1
	final     dag.ConvergenceBlock
	finalHash dag.Hash
	beacon    dag.Hash
	tree      state.Tree
	rejected  *dag.RejectedSet // CONV-14: with tree, the ledger this miner follows
	chain     []dag.Hash

	rank    uint32 // this miner's rank in the current round (ORD-3)
	begun   bool
	beganAt time.Duration
	built   bool

	store   *dag.Store
	extra   map[dag.Hash]*dag.ProposalBlock // blocks a notice references that the store does not keep
	evKnown map[certification.Member]bool
	fut     map[dag.Round]*future
	notes   map[dag.Round]*notices

	out   []Effect
	stats Stats
}

// New returns a miner at the start of round 1.
func New(cfg Config) (*Miner, error) {
	cfg = cfg.withDefaults()
	r := cfg.Roster
	if err := r.Validate(); err != nil {
		return nil, &ConfigError{"Roster", err.Error()}
	}
	switch {
	case cfg.Miners < 1:
		return nil, &ConfigError{"Miners", fmt.Sprintf("%d, need ≥ 1", cfg.Miners)}
	case cfg.ID < 1 || int64(cfg.ID) > int64(cfg.Miners):
		return nil, &ConfigError{"ID", fmt.Sprintf("%d outside 1..%d", cfg.ID, cfg.Miners)}
	case cfg.Verifier == nil:
		return nil, &ConfigError{"Verifier", "nil"}
	case cfg.Wait < 0 || cfg.FallbackDelay <= 0:
		return nil, &ConfigError{"Wait/FallbackDelay", "need Wait ≥ 0 and FallbackDelay > 0"}
	case cfg.Mutations.OmitBlocks < 0:
		return nil, &ConfigError{"Mutations.OmitBlocks", "negative"}
	}
	if err := cfg.Params.Validate(); err != nil {
		return nil, &ConfigError{"Params", err.Error()}
	}
	if cfg.Params.Harvesters != r.N() {
		return nil, &ConfigError{"Params", fmt.Sprintf("Harvesters = %d, roster has %d", cfg.Params.Harvesters, r.N())}
	}
	if err := cfg.Params.ValidateRoster(r); err != nil { // CONV-2: MinRefs ≥ 2qH − nH
		return nil, &ConfigError{"Params", err.Error()}
	}
	g := dag.Genesis(r.Quorum, r.Epoch, cfg.Genesis.Root())
	m := &Miner{
		cfg: cfg, n: r.N(), need: max(1, 2*r.Q()-r.N()),
		final: g, finalHash: g.Hash(), beacon: g.Beacon, tree: cfg.Genesis, rejected: dag.NewRejectedSet(), round: g.Round + 1,
		store: dag.NewStore(), fut: map[dag.Round]*future{}, notes: map[dag.Round]*notices{},
	}
	m.chain = []dag.Hash{m.finalHash}
	m.store.AddConvergence(&g, true)
	m.resetRound()
	return m, nil
}

func (m *Miner) resetRound() {
	m.extra = map[dag.Hash]*dag.ProposalBlock{}
	m.evKnown = map[certification.Member]bool{}
	m.begun, m.built, m.beganAt = false, false, 0
	m.rank = m.rankOf()
}

// rankOf is this miner's index in the round's ranking. spec: ORD-3
func (m *Miner) rankOf() uint32 {
	for i, id := range dag.MinerRanking(m.beacon, m.round, m.cfg.Miners) {
		if id == m.cfg.ID {
			return uint32(i)
		}
	}
	return uint32(m.cfg.Miners) // not ranked: never builds
}

// Accessors for drivers and tests.

func (m *Miner) Config() Config              { return m.cfg }
func (m *Miner) Round() dag.Round            { return m.round }
func (m *Miner) Rank() uint32                { return m.rank }
func (m *Miner) Beacon() dag.Hash            { return m.beacon }
func (m *Miner) Final() dag.ConvergenceBlock { return m.final }
func (m *Miner) Tree() state.Tree            { return m.tree }
func (m *Miner) Store() *dag.Store           { return m.store }
func (m *Miner) Stats() Stats                { return m.stats }
func (m *Miner) Now() time.Duration          { return m.now }
func (m *Miner) Halted() bool                { return m.halted }
func (m *Miner) Built() bool                 { return m.built }

// RejectedSet is a copy of the rejected set this miner derived from the
// final blocks it followed (CONV-14); it builds with it, as harvesters
// recompute with theirs.
func (m *Miner) RejectedSet() *dag.RejectedSet { return m.rejected.Clone() }

// FinalChain is the hashes of the final blocks this miner followed, by
// round (index 0: genesis).
func (m *Miner) FinalChain() []dag.Hash { return slices.Clone(m.chain) }

// Step applies one event and returns the effects it caused, in order.
func (m *Miner) Step(ev Event) []Effect {
	m.out = nil
	if m.halted {
		m.reject(fmt.Sprintf("%T", ev), errf(ReasonHalted, nil, "after an invariant violation"))
		return m.flush()
	}
	switch ev := ev.(type) {
	case Tick:
		if ev.Now < m.now {
			m.reject("Tick", errf(ReasonClockBackwards, nil, "%v < %v", ev.Now, m.now))
			break
		}
		m.now = ev.Now
	case ProposalReceived:
		m.onProposal(ev.Block)
	case EvidenceReceived:
		m.onEvidence(ev.Evidence)
	case FinalNotice:
		m.onNotice(ev)
	case TimerFired:
		m.onTimer(ev)
	default:
		m.reject(fmt.Sprintf("%T", ev), errf(ReasonUnknownEvent, nil, ""))
	}
	return m.flush()
}

func (m *Miner) flush() []Effect {
	out := m.out
	m.out = nil
	return out
}

func (m *Miner) emit(e Effect) { m.out = append(m.out, e) }

func (m *Miner) reject(what string, err *Error) {
	if int(err.Reason) < len(m.stats.Rejected) {
		m.stats.Rejected[err.Reason]++
	}
	m.emit(Rejected{What: what, Err: err})
}

// timing of a round: <0 stale, 0 current, 1 future, 2 too far.
func (m *Miner) timing(r dag.Round) int {
	switch {
	case r < m.round:
		return -1
	case r == m.round:
		return 0
	case r > m.round+m.cfg.MaxAhead:
		return 2
	}
	return 1
}

func (m *Miner) timingErr(t int, r dag.Round) *Error {
	if t < 0 {
		return errf(ReasonStale, nil, "round %d, current %d", r, m.round)
	}
	return errf(ReasonTooFarAhead, nil, "round %d, current %d, lookahead %d", r, m.round, m.cfg.MaxAhead)
}

func (m *Miner) futureOf(r dag.Round) *future {
	f := m.fut[r]
	if f == nil {
		f = &future{props: map[certification.Member][]propEntry{}, evidence: map[certification.Member]dag.Equivocation{}}
		m.fut[r] = f
	}
	return f
}

func (m *Miner) get(h dag.Hash) *dag.ProposalBlock {
	if p, ok := m.store.Proposal(h); ok {
		return p
	}
	return m.extra[h]
}

func (m *Miner) have(h dag.Hash) bool { return m.get(h) != nil }

// onProposal collects a valid block of the current round (PB-4) or
// buffers one of a later round. spec: MINE-1, DAG-3
func (m *Miner) onProposal(b dag.ProposalBlock) {
	const what = "ProposalReceived"
	t := m.timing(b.Round)
	switch t {
	case -1, 2:
		m.reject(what, m.timingErr(t, b.Round))
	case 0:
		m.accept(b, b.Hash())
		m.tryFollow()
	case 1:
		hash := b.Hash()
		f := m.futureOf(b.Round)
		for _, e := range f.props[b.Proposer] {
			if e.hash == hash {
				m.reject(what, errf(ReasonDuplicate, nil, "round %d proposer %d already buffered", b.Round, b.Proposer))
				return
			}
		}
		if len(f.props[b.Proposer]) >= perProposer {
			m.reject(what, errf(ReasonLimit, nil, "round %d proposer %d: %d blocks buffered", b.Round, b.Proposer, perProposer))
			return
		}
		if err := b.VerifySignature(m.cfg.Roster); err != nil {
			m.reject(what, errf(ReasonInvalid, err, "round %d proposer %d", b.Round, b.Proposer))
			return
		}
		f.props[b.Proposer] = append(f.props[b.Proposer], propEntry{block: b, hash: hash})
		m.stats.Buffered++
	}
}

// accept checks and stores a current-round block; the first begins the
// round here (MINE-1).
func (m *Miner) accept(b dag.ProposalBlock, hash dag.Hash) {
	const what = "ProposalReceived"
	if m.have(hash) {
		m.reject(what, errf(ReasonDuplicate, nil, "block %x held", hash[:4]))
		return
	}
	if err := dag.ValidateProposal(m.cfg.Params, m.cfg.Roster, m.round, m.finalHash, m.cfg.Verifier, &b); err != nil {
		m.reject(what, errf(ReasonInvalid, err, "block %x of proposer %d", hash[:4], b.Proposer))
		return
	}
	ev, _, err := m.store.AddProposal(&b)
	if err != nil {
		m.reject(what, errf(ReasonInvalid, err, "store refused block %x", hash[:4]))
		return
	}
	// The store keeps a proposer's first two blocks (the second never
	// counts, PB-6); a third only matters if a noticed block names it.
	if _, stored := m.store.Proposal(hash); !stored {
		if !m.referenced(hash) {
			m.reject(what, errf(ReasonLimit, nil, "third block %x of proposer %d changes nothing", hash[:4], b.Proposer))
			return
		}
		bb := b
		m.extra[hash] = &bb
	}
	m.stats.BlocksAccepted++
	if ev != nil {
		m.evKnown[ev.Proposer] = true
	}
	m.begin()
	m.maybeBuildEarly()
}

// referenced reports whether a noticed block of the current round
// references hash.
func (m *Miner) referenced(hash dag.Hash) bool {
	nr := m.notes[m.round]
	if nr == nil {
		return false
	}
	for _, nb := range nr.blocks {
		for _, ref := range nb.block.Refs {
			if ref.Hash == hash {
				return true
			}
		}
	}
	return false
}

// begin starts the round's clock at the first valid block and arms the
// build timer: Wait + rank·FallbackDelay. spec: MINE-1
func (m *Miner) begin() {
	if m.begun {
		return
	}
	m.begun, m.beganAt = true, m.now
	m.emit(RoundBegun{Round: m.round, Rank: m.rank, At: m.now})
	if int64(m.rank) < int64(m.cfg.Params.Fallbacks) {
		at := m.now + m.cfg.Wait + time.Duration(m.rank)*m.cfg.FallbackDelay
		m.emit(SetTimer{Round: m.round, Rank: m.rank, At: at})
	}
}

// maybeBuildEarly: the elected miner need not wait once it holds a
// counted block from every harvester. spec: MINE-1
func (m *Miner) maybeBuildEarly() {
	if m.rank != 0 || m.built || !m.begun || int64(m.rank) >= int64(m.cfg.Params.Fallbacks) || m.finalKnown() {
		return
	}
	if len(m.store.Round(m.round).Blocks) == m.n {
		m.build()
	}
}

// onEvidence stores verified evidence (PB-5): the proposer counts no
// block (PB-6).
func (m *Miner) onEvidence(e dag.Equivocation) {
	const what = "EvidenceReceived"
	t := m.timing(e.Round)
	switch t {
	case -1, 2:
		m.reject(what, m.timingErr(t, e.Round))
	case 0:
		if m.evKnown[e.Proposer] {
			m.reject(what, errf(ReasonDuplicate, nil, "round %d proposer %d", e.Round, e.Proposer))
			return
		}
		if err := e.Verify(m.cfg.Roster); err != nil {
			m.reject(what, errf(ReasonInvalid, err, "round %d proposer %d", e.Round, e.Proposer))
			return
		}
		m.evKnown[e.Proposer] = true
		m.store.AddEvidence(&e)
	case 1:
		f := m.futureOf(e.Round)
		if _, ok := f.evidence[e.Proposer]; ok {
			m.reject(what, errf(ReasonDuplicate, nil, "round %d proposer %d", e.Round, e.Proposer))
			return
		}
		if err := e.Verify(m.cfg.Roster); err != nil {
			m.reject(what, errf(ReasonInvalid, err, "round %d proposer %d", e.Round, e.Proposer))
			return
		}
		f.evidence[e.Proposer] = e
		m.stats.Buffered++
	}
}

// onTimer builds when the miner's time has come. spec: MINE-1
func (m *Miner) onTimer(ev TimerFired) {
	const what = "TimerFired"
	if ev.Round != m.round || ev.Rank != m.rank || !m.begun {
		m.reject(what, errf(ReasonStale, nil, "timer of round %d rank %d, miner is in round %d at rank %d", ev.Round, ev.Rank, m.round, m.rank))
		return
	}
	if int64(m.rank) >= int64(m.cfg.Params.Fallbacks) {
		m.reject(what, errf(ReasonNotElected, nil, "rank %d, fallbacks %d", m.rank, m.cfg.Params.Fallbacks))
		return
	}
	if m.built {
		m.reject(what, errf(ReasonStale, nil, "round %d already built", ev.Round))
		return
	}
	if m.finalKnown() {
		m.reject(what, errf(ReasonStale, nil, "round %d is final", ev.Round))
		return
	}
	m.build()
}

// build runs Converge on the round's counted blocks and evidence, against
// the ledger after the final block: state and rejected set (CONV-14: the
// harvesters recompute with the same set, derived from the same final
// blocks). Too few counted blocks is not a failure: the miner waits one
// FallbackDelay and tries again. spec: MINE-1, CONV-2, CONV-14
func (m *Miner) build() {
	in := m.store.Round(m.round)
	in.Rejected = m.ledgerRejected()
	if k := m.cfg.Mutations.OmitBlocks; k > 0 {
		in.Blocks = m.omit(in.Blocks, k)
	}
	out, err := dag.Converge(m.cfg.Params, &m.final, m.beacon, m.tree, m.cfg.ID, m.rank, in)
	if errors.Is(err, dag.ErrTooFewRefs) {
		m.stats.TooFewRefs++
		m.emit(SetTimer{Round: m.round, Rank: m.rank, At: m.now + m.cfg.FallbackDelay})
		return
	}
	if err != nil {
		m.reject("TimerFired", errf(ReasonBuildFailed, err, "round %d", m.round))
		return
	}
	m.built = true
	m.stats.Built++
	m.store.AddConvergence(&out.Block, false)
	m.emit(BroadcastConvergence{Block: out.Block})
	m.emit(Built{Outcome: out})
}

// ledgerRejected is the rejected set Converge and Recompute take: the
// miner's own, or none under Mutations.IgnoreRejectedSet. spec: CONV-14
func (m *Miner) ledgerRejected() *dag.RejectedSet {
	if m.cfg.Mutations.IgnoreRejectedSet {
		return nil
	}
	return m.rejected
}

// omit drops up to k counted blocks of the highest positions, keeping at
// least MinRefs (Mutations.OmitBlocks).
func (m *Miner) omit(blocks []dag.ProposalBlock, k int) []dag.ProposalBlock {
	order := dag.Order(m.beacon, m.n)
	out := slices.Clone(blocks)
	slices.SortStableFunc(out, func(a, b dag.ProposalBlock) int {
		return dag.Position(order, a.Proposer) - dag.Position(order, b.Proposer)
	})
	for ; k > 0 && len(out) > m.cfg.Params.MinRefs; k-- {
		out = out[:len(out)-1]
		m.stats.Omitted++
	}
	return out
}

// onNotice records a harvester's finality notice; the certificate is
// verified once per block. spec: MINE-4 (follow on max(1, 2q−n) matching
// notices), MINE-1 (a miner that learns the round is final does not build)
func (m *Miner) onNotice(ev FinalNotice) {
	const what = "FinalNotice"
	if ev.From < 1 || int(ev.From) > m.n {
		m.reject(what, errf(ReasonUnknownPeer, nil, "member %d", ev.From))
		return
	}
	if ev.Block.Round != ev.Round {
		m.reject(what, errf(ReasonInvalid, nil, "notice for round %d carries a block of round %d", ev.Round, ev.Block.Round))
		return
	}
	t := m.timing(ev.Round)
	if t == -1 || t == 2 {
		m.reject(what, m.timingErr(t, ev.Round))
		return
	}
	nr := m.notes[ev.Round]
	if nr != nil {
		if _, ok := nr.from[ev.From]; ok {
			m.reject(what, errf(ReasonDuplicate, nil, "harvester %d already sent a notice for round %d", ev.From, ev.Round))
			return
		}
	}
	if ev.Cert.Statement != dag.ConvergenceStatement(m.cfg.Roster, &ev.Block) {
		m.reject(what, errf(ReasonBadCert, nil, "statement is not the block's"))
		return
	}
	hash := ev.Block.Hash()
	var nb *notice
	if nr != nil {
		nb = nr.blocks[hash]
	}
	if nb != nil {
		// BLS signatures are unique per message: a valid certificate of
		// this block has this signature.
		if !nb.cert.Signature.Equal(ev.Cert.Signature) {
			m.reject(what, errf(ReasonBadCert, nil, "signature differs from the verified one"))
			return
		}
	} else {
		m.stats.CertVerifies++
		if err := ev.Cert.Verify(m.cfg.Roster); err != nil {
			m.reject(what, errf(ReasonBadCert, err, "block %x", hash[:4]))
			return
		}
		if nr == nil {
			nr = &notices{from: map[certification.Member]dag.Hash{}, blocks: map[dag.Hash]*notice{}}
			m.notes[ev.Round] = nr
		}
		nb = &notice{block: ev.Block, cert: ev.Cert}
		nr.blocks[hash] = nb
	}
	nr.from[ev.From] = hash
	nb.senders++
	m.tryFollow()
}

// tryFollow moves through the rounds whose final block enough harvesters
// named and whose referenced blocks this miner holds (it asks for none:
// the blocks were broadcast to it).
func (m *Miner) tryFollow() {
	for !m.halted {
		nr := m.notes[m.round]
		if nr == nil {
			return
		}
		var pick *notice
		var hash dag.Hash
		for _, h := range sortedHashes(nr.blocks) {
			if nr.blocks[h].senders >= m.need {
				pick, hash = nr.blocks[h], h
				break
			}
		}
		if pick == nil || len(dag.Missing(&pick.block, m.have)) > 0 {
			return
		}
		blocks := make(map[dag.Hash]*dag.ProposalBlock, len(pick.block.Refs))
		for _, ref := range pick.block.Refs {
			blocks[ref.Hash] = m.get(ref.Hash)
		}
		r := m.round
		out, err := dag.RecomputeWithRejected(m.cfg.Params, m.cfg.Roster, nil, &m.final, m.beacon, m.tree, m.ledgerRejected(), &pick.block, blocks)
		if err != nil {
			m.halted = true
			m.emit(Violation{Round: r, Err: fmt.Errorf("miner %d: final block %x of round %d does not recompute: %w", m.cfg.ID, hash[:4], r, err)})
			return
		}
		next := m.tree.With(out.Changes)
		if got := next.Root(); got != pick.block.StateRoot {
			m.halted = true
			m.emit(Violation{Round: r, Err: fmt.Errorf("miner %d: final block %x of round %d has root %x, applying it gives %x", m.cfg.ID, hash[:4], r, pick.block.StateRoot[:4], got[:4])})
			return
		}
		m.tree = next
		// spec: CONV-14, FIN-2: the same rejected set every harvester keeps.
		m.rejected.Add(out.Rejected...)
		m.stats.RejectedPruned += m.rejected.Prune(next)
		m.store.AddConvergence(&pick.block, true)
		m.final, m.finalHash = pick.block, hash
		m.chain = append(m.chain, hash)
		m.beacon = dag.NextBeacon(pick.cert)
		m.stats.Followed++
		delete(m.notes, r)
		m.store.Prune(r)
		m.round = r + 1
		m.resetRound()
		m.emit(Followed{Round: r, Hash: hash, Beacon: m.beacon})
		m.drainFuture()
	}
}

// drainFuture takes up what was buffered for the round just entered.
func (m *Miner) drainFuture() {
	for r := range m.fut {
		if r < m.round {
			delete(m.fut, r)
		}
	}
	for r := range m.notes {
		if r < m.round {
			delete(m.notes, r)
		}
	}
	f := m.fut[m.round]
	if f == nil {
		return
	}
	delete(m.fut, m.round)
	// Evidence first, so that an early build sees it.
	for _, p := range sortedKeys(f.evidence) {
		e := f.evidence[p]
		m.evKnown[p] = true
		m.store.AddEvidence(&e)
	}
	for _, p := range sortedKeys(f.props) {
		for _, e := range f.props[p] {
			m.accept(e.block, e.hash)
		}
	}
}

// finalKnown reports whether enough harvesters named a final block of the
// current round (the miner may still lack its referenced blocks).
func (m *Miner) finalKnown() bool {
	if nr := m.notes[m.round]; nr != nil {
		for _, nb := range nr.blocks {
			if nb.senders >= m.need {
				return true
			}
		}
	}
	return false
}

func sortedKeys[V any](m map[certification.Member]V) []certification.Member {
	ks := make([]certification.Member, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

func sortedHashes[V any](m map[dag.Hash]V) []dag.Hash {
	ks := make([]dag.Hash, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.SortFunc(ks, func(a, b dag.Hash) int { return bytes.Compare(a[:], b[:]) })
	return ks
}
