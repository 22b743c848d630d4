package dag

import (
	"fmt"
	"slices"
	"strings"
)

// Mutations plant bugs in the model. They exist ONLY so that tests can show
// that each invariant catches the bug it is for (BRIEF §5); the zero value
// is the model of the TLA+ module. ResolveByInputOrder, the bug a TLC
// config plants, is a Config constant instead.
type Mutations struct {
	// ApplyStale drops CONV-6: a winner whose slot is finalized is applied.
	ApplyStale bool
	// BurnFees breaks FARM-12: fees leave the sender but reach no sink.
	BurnFees bool
	// NoGapExpiry drops CONV-9's bound: gaps are deferred for ever.
	NoGapExpiry bool
	// DropConflicts drops CONV-10's reason for conflict losers.
	DropConflicts bool
	// IgnoreLateCertification lets LateTxs into blocks in round 1, as if
	// PB-4's certificate check were skipped.
	IgnoreLateCertification bool
}

// Model is tla/DAGConvergence.tla for one Config: the actions, invariants
// and liveness goal as methods under the module's names.
type Model struct {
	cfg     Config
	mut     Mutations
	nodes   []int // Honest, sorted
	miners  []int // sorted
	byz     []txSet
	byzMin  []bool // by index into miners: in ByzMiners
	genesis *cblock
	pos     map[int]map[int]int // round -> proposer -> pos_r; looked up only
}

// NewModel returns the model for cfg.
func NewModel(cfg Config) (*Model, error) { return newModel(cfg, Mutations{}) }

func newModel(cfg Config, mut Mutations) (*Model, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	m := &Model{cfg: cfg, mut: mut, nodes: cfg.Honest(), miners: slices.Sorted(slices.Values(cfg.Miners)),
		byz: cfg.byzBlocks(), pos: map[int]map[int]int{}}
	for _, mi := range m.miners {
		m.byzMin = append(m.byzMin, slices.Contains(cfg.ByzMiners, mi))
	}
	g := Ledger{}
	for _, a := range accounts {
		g.Accounts = append(g.Accounts, Account{ID: a, Balance: cfg.InitBalance})
	}
	m.genesis = newCBlock(Block{Round: 0, Post: g})
	for r := 1; r <= cfg.MaxRound; r++ {
		m.pos[r] = map[int]int{}
		for _, h := range cfg.Harvesters {
			m.pos[r][h] = cfg.Pos(r, h)
		}
	}
	return m, nil
}

// Config returns the model's constants.
func (m *Model) Config() Config { return m.cfg }

// GenesisBlock is the module's GenesisBlock: round 0, every account at
// InitBalance.
// spec: DAG-1, tla: DAGConvergence!GenesisBlock
func (m *Model) GenesisBlock() Block { return m.genesis.Block }

// Init is the initial state.
// tla: DAGConvergence!Init
func (m *Model) Init() State {
	return State{
		round: 1,
		final: make([][]*cblock, len(m.nodes)),
		inbox: make([][]pblock, len(m.miners)),
	}
}

func (m *Model) certifiedBy(r int) txSet {
	if m.mut.IgnoreLateCertification {
		return setOf(m.cfg.Certified)
	}
	return m.cfg.certifiedBy(r)
}

func (m *Model) convergeMut() mutations {
	return mutations{byInputOrder: m.cfg.ResolveByInputOrder, applyStale: m.mut.ApplyStale,
		burnFees: m.mut.BurnFees, noGapExpiry: m.mut.NoGapExpiry, dropConflicts: m.mut.DropConflicts}
}

// converge is Converge(r, prev, rej, ins) of the module over model blocks;
// ok is false when fewer than MinRefs proposers count.
func (m *Model) converge(r int, prev *cblock, rej txSet, ins []pblock) (*cblock, bool) {
	in := Input{Round: r, Positions: m.pos[r], Prev: prev.Post, Deferred: prev.Deferred, Rejected: rej.ids(),
		MinRefs: m.cfg.MinRefs, MaxDeferRounds: m.cfg.MaxDeferRounds}
	for _, b := range ins {
		in.Blocks = append(in.Blocks, b.proposal())
	}
	blk, err := converge(in, m.convergeMut())
	if err != nil {
		return nil, false
	}
	return newCBlock(blk), true
}

// tip is the round − 1 final block (all nodes agree on it: NextRound).
// tla: DAGConvergence!Tip
func (m *Model) tip(s State) *cblock {
	if s.round == 1 {
		return m.genesis
	}
	return s.final[0][s.round-2]
}

func deferredIDs(b *cblock) txSet {
	var x txSet
	for _, d := range b.Deferred {
		x |= 1 << (d.Tx.ID - 1)
	}
	return x
}

func rejectedIDs(b *cblock) txSet {
	var x txSet
	for _, r := range b.Rejected {
		x |= 1 << (r.ID - 1)
	}
	return x
}

func appliedIDs(b *cblock) txSet { return setOf(b.Applied) }

// resolved is ChainApplied(c) ∪ ChainRejected(c).
func resolved(c []*cblock) txSet {
	var x txSet
	for _, b := range c {
		x |= appliedIDs(b) | rejectedIDs(b)
	}
	return x
}

// tipOf is the state after chain c (the post of its last block).
// tla: DAGConvergence!TipOf
func (m *Model) tipOf(c []*cblock) Ledger {
	if len(c) == 0 {
		return m.genesis.Post
	}
	return c[len(c)-1].Post
}

// rejectedSet is the ledger's rejected set after chain c: the transfers its
// final blocks rejected whose slot is still open. Like the module, it is a
// function of the chain rather than state kept beside it, and it is
// dropped per slot (not kept for ever), as CONV-14 says.
// spec: CONV-14, tla: DAGConvergence!RejectedSet
func (m *Model) rejectedSet(c []*cblock) txSet {
	tip := ledger{m.tipOf(c)}
	var x txSet
	for _, b := range c {
		for _, r := range b.Rejected {
			if !inUniverse(r.ID) {
				continue // TypeOK's business
			}
			if t := universe[r.ID-1]; t.Nonce >= tip.get(t.From).Nonce {
				x |= 1 << (r.ID - 1)
			}
		}
	}
	return x
}

// excluded is what Converge excludes after chain c: the rejected set, or
// nothing with the planted bug IgnoreRejected.
// tla: DAGConvergence!Excluded
func (m *Model) excluded(c []*cblock) txSet {
	if m.cfg.IgnoreRejected {
		return 0
	}
	return m.rejectedSet(c)
}

// chain is the nodes' common chain of final blocks before this round.
// tla: DAGConvergence!Chain
func (s State) chain() []*cblock { return s.final[0][:s.round-1] }

// pool is an honest harvester's pool.
// spec: MEV-6, tla: DAGConvergence!Pool
func (m *Model) pool(s State) txSet {
	return m.certifiedBy(s.round) &^ (resolved(s.chain()) | deferredIDs(m.tip(s)))
}

// poolOf is harvester h's pool: SoloTxs only at the least honest one.
// tla: DAGConvergence!PoolOf
func (m *Model) poolOf(s State, h int) txSet {
	p := m.pool(s)
	if h != m.nodes[0] {
		p &^= setOf(m.cfg.SoloTxs)
	}
	return p
}

// roundOpen: the round takes proposals and builds.
// spec: MINE-1, tla: DAGConvergence!RoundOpen
func (m *Model) roundOpen(s State) bool {
	if s.round > m.cfg.MaxRound || len(s.cert) >= m.cfg.CertsPerRound {
		return false
	}
	for _, c := range s.final {
		if len(c) >= s.round {
			return false
		}
	}
	return true
}

func (s State) isBuilt(i int) bool { return s.built&(1<<i) != 0 }

// sentBy returns the distinct blocks of proposer h in any inbox (Sent).
func (s State) sentBy(h int) []pblock {
	var out []pblock
	for _, in := range s.inbox {
		for _, b := range in {
			if b.proposer == h && !slices.Contains(out, b) {
				out = append(out, b)
			}
		}
	}
	return out
}

// deliver is Deliver(b, ms): b reaches every miner of ms that has not built.
func (s State) deliver(b pblock, ms func(i int) bool) State {
	inbox := slices.Clone(s.inbox)
	for i := range inbox {
		if !ms(i) || s.isBuilt(i) {
			continue
		}
		k, found := slices.BinarySearchFunc(inbox[i], b, cmpPBlock)
		if !found {
			inbox[i] = slices.Insert(slices.Clip(inbox[i]), k, b)
		}
	}
	s.inbox = inbox
	return s
}

func (m *Model) minerIndex(miner int) (int, bool) { return slices.BinarySearch(m.miners, miner) }
func (m *Model) nodeIndex(n int) (int, bool)      { return slices.BinarySearch(m.nodes, n) }

func (m *Model) anyUnbuilt(s State) bool { return s.built != 1<<len(m.miners)-1 }

// Propose is honest harvester h proposing its pool to every miner, once
// per round.
// spec: PB-1, PB-3, MEV-6, tla: DAGConvergence!Propose
func (m *Model) Propose(s State, h int) (State, bool) {
	if _, ok := m.nodeIndex(h); !ok || !m.roundOpen(s) || len(s.sentBy(h)) > 0 || !m.anyUnbuilt(s) {
		return s, false
	}
	return s.deliver(pblock{h, m.poolOf(s, h)}, func(int) bool { return true }), true
}

// byzSend is the common guard of EquivocatorSend and WithholderSend.
func (m *Model) byzSend(s State, h int, txs txSet, miner int) (State, pblock, bool) {
	i, ok := m.minerIndex(miner)
	b := pblock{h, txs}
	if !ok || !m.roundOpen(s) || !slices.Contains(m.byz, txs) || txs&^m.certifiedBy(s.round) != 0 ||
		s.isBuilt(i) || slices.Contains(s.inbox[i], b) {
		return s, b, false
	}
	return s.deliver(b, func(k int) bool { return k == i }), b, true
}

// EquivocatorSend is equivocator h sending the block <<h, txs>> to miner,
// with at most two different blocks in the round.
// spec: PB-4, PB-5, tla: DAGConvergence!EquivocatorSend
func (m *Model) EquivocatorSend(s State, h int, txs []int, miner int) (State, bool) {
	return m.equivocatorSend(s, h, setOf(txs), miner)
}

func (m *Model) equivocatorSend(s State, h int, txs txSet, miner int) (State, bool) {
	if !slices.Contains(m.cfg.Equivocators, h) {
		return s, false
	}
	next, b, ok := m.byzSend(s, h, txs, miner)
	if !ok {
		return s, false
	}
	if sent := s.sentBy(h); len(sent) >= 2 && !slices.Contains(sent, b) {
		return s, false
	}
	return next, true
}

// WithholderSend is withholder h sending its one block of the round to
// miner.
// spec: PB-4, PB-6, tla: DAGConvergence!WithholderSend
func (m *Model) WithholderSend(s State, h int, txs []int, miner int) (State, bool) {
	return m.withholderSend(s, h, setOf(txs), miner)
}

func (m *Model) withholderSend(s State, h int, txs txSet, miner int) (State, bool) {
	if !slices.Contains(m.cfg.Withholders, h) {
		return s, false
	}
	next, b, ok := m.byzSend(s, h, txs, miner)
	if !ok {
		return s, false
	}
	for _, c := range s.sentBy(h) {
		if c != b {
			return s, false
		}
	}
	return next, true
}

// counted is Cardinality(CountedOf(in)) for a set of distinct blocks.
func counted(in []pblock) int {
	n := 0
	for i, b := range in {
		if (i == 0 || in[i-1].proposer != b.proposer) && (i+1 == len(in) || in[i+1].proposer != b.proposer) {
			n++
		}
	}
	return n
}

// inputs is Inputs(m) for the i-th miner: an honest miner's inbox, every
// subset of a Byzantine miner's inbox (each sorted, as SortBlocks orders
// it).
// spec: FIN-6, tla: DAGConvergence!Inputs
func (m *Model) inputs(s State, i int) [][]pblock {
	in := s.inbox[i]
	if !m.byzMin[i] {
		return [][]pblock{in}
	}
	out := make([][]pblock, 0, 1<<len(in))
	for mask := 0; mask < 1<<len(in); mask++ {
		var sub []pblock
		for k, b := range in {
			if mask&(1<<k) != 0 {
				sub = append(sub, b)
			}
		}
		out = append(out, sub)
	}
	return out
}

// waited: with MinersWait, the i-th miner holds a block of every honest
// harvester.
// spec: MINE-1, tla: DAGConvergence!Waited
func (m *Model) waited(s State, i int) bool {
	if !m.cfg.MinersWait {
		return true
	}
	for _, h := range m.nodes {
		if !slices.ContainsFunc(s.inbox[i], func(b pblock) bool { return b.proposer == h }) {
			return false
		}
	}
	return true
}

// Certify is miner building Converge over its whole inbox: Certify(m) of
// an honest miner, and one of the choices of a Byzantine one (see
// CertifyFrom).
// spec: MINE-1, MINE-3, CONV-2, CONV-13, CONV-14, tla: DAGConvergence!Certify
func (m *Model) Certify(s State, miner int) (State, bool) {
	i, ok := m.minerIndex(miner)
	if !ok {
		return s, false
	}
	return m.build(s, i, s.inbox[i])
}

// CertifyFrom is Byzantine miner building from the blocks refs of its
// inbox (any subset with MinRefs counted proposers).
// spec: FIN-6, CONV-13, tla: DAGConvergence!Build
func (m *Model) CertifyFrom(s State, miner int, refs []Proposal) (State, bool) {
	i, ok := m.minerIndex(miner)
	if !ok || !m.byzMin[i] {
		return s, false
	}
	var sub []pblock
	for _, b := range s.inbox[i] {
		if slices.ContainsFunc(refs, func(p Proposal) bool { return fmtProposal(p) == fmtProposal(b.proposal()) }) {
			sub = append(sub, b)
		}
	}
	if len(sub) != len(refs) {
		return s, false
	}
	return m.build(s, i, sub)
}

// build is Build(m, S) for the i-th miner and S ⊆ its inbox, sorted: the
// block Converge makes of S, in SortBlocks order, on the nodes' ledger
// (the tip's state and the rejected set), certified.
// tla: DAGConvergence!Build
func (m *Model) build(s State, i int, in []pblock) (State, bool) {
	if s.isBuilt(i) || !m.roundOpen(s) || !m.waited(s, i) || counted(in) < m.cfg.MinRefs {
		return s, false
	}
	blk, ok := m.converge(s.round, m.tip(s), m.excluded(s.chain()), in)
	if !ok {
		return s, false
	}
	cert := insertBlock(s.cert, blk)
	if len(cert) == len(s.cert) {
		return s, false // blk ∈ cert
	}
	s.cert = cert
	s.built |= 1 << i
	return s, true
}

// Finalize is node n finalizing b, a certified block of its next round.
// spec: FIN-1, FIN-2, tla: DAGConvergence!Finalize
func (m *Model) Finalize(s State, n int, b Block) (State, bool) {
	enc := string(encodeBlock(nil, b))
	for k, c := range s.cert {
		if c.enc == enc {
			return m.finalize(s, n, k)
		}
	}
	return s, false
}

func (m *Model) finalize(s State, n, k int) (State, bool) {
	i, ok := m.nodeIndex(n)
	if !ok || len(s.final[i]) != s.round-1 {
		return s, false
	}
	final := slices.Clone(s.final)
	final[i] = append(slices.Clip(final[i]), s.cert[k])
	s.final = final
	return s, true
}

// NextRound ends the round once every node finalized the same block.
// spec: DAG-1, FIN-3, tla: DAGConvergence!NextRound
func (m *Model) NextRound(s State) (State, bool) {
	if s.round > m.cfg.MaxRound {
		return s, false
	}
	for _, c := range s.final {
		if len(c) != s.round || c[s.round-1].enc != s.final[0][s.round-1].enc {
			return s, false
		}
	}
	return State{round: s.round + 1, final: s.final, inbox: make([][]pblock, len(m.miners))}, true
}

// Successor is one enabled action instance and the state it leads to.
type Successor struct {
	// Label names the action instance, e.g. "Certify(m=1)".
	Label string
	Next  State
}

// Successors returns every enabled action of Next in s, in a fixed order.
// tla: DAGConvergence!Next
func (m *Model) Successors(s State) []Successor {
	var out []Successor
	add := func(next State, ok bool, format string, args ...any) {
		if ok {
			out = append(out, Successor{fmt.Sprintf(format, args...), next})
		}
	}
	for _, h := range m.nodes {
		next, ok := m.Propose(s, h)
		add(next, ok, "Propose(h=%d)", h)
	}
	for _, h := range slices.Sorted(slices.Values(m.cfg.Equivocators)) {
		for _, txs := range m.byz {
			for _, mi := range m.miners {
				next, ok := m.equivocatorSend(s, h, txs, mi)
				add(next, ok, "EquivocatorSend(h=%d, txs=%v, m=%d)", h, txs, mi)
			}
		}
	}
	for _, h := range slices.Sorted(slices.Values(m.cfg.Withholders)) {
		for _, txs := range m.byz {
			for _, mi := range m.miners {
				next, ok := m.withholderSend(s, h, txs, mi)
				add(next, ok, "WithholderSend(h=%d, txs=%v, m=%d)", h, txs, mi)
			}
		}
	}
	for i, mi := range m.miners {
		if !m.byzMin[i] {
			next, ok := m.build(s, i, s.inbox[i])
			add(next, ok, "Certify(m=%d)", mi)
			continue
		}
		for _, in := range m.inputs(s, i) {
			next, ok := m.build(s, i, in)
			if !ok {
				continue
			}
			var ps []string
			for _, b := range in {
				ps = append(ps, fmtProposal(b.proposal()))
			}
			add(next, ok, "Certify(m=%d, S={%s})", mi, strings.Join(ps, ", "))
		}
	}
	for _, n := range m.nodes {
		for k := range s.cert {
			next, ok := m.finalize(s, n, k)
			add(next, ok, "Finalize(n=%d, b=cert[%d])", n, k+1)
		}
	}
	next, ok := m.NextRound(s)
	add(next, ok, "NextRound")
	return out
}

// fairLabel reports whether a label belongs to an action that Fairness
// makes weakly fair: everything honest harvesters, miners and nodes do.
func fairLabel(label string) bool {
	for _, p := range []string{"Propose(", "Certify(", "Finalize(", "NextRound"} {
		if strings.HasPrefix(label, p) {
			return true
		}
	}
	return false
}

// FairEnabled reports whether an action under weak fairness in LiveSpec is
// enabled.
// tla: DAGConvergence!Fairness
func (m *Model) FairEnabled(s State) bool {
	for _, h := range m.nodes {
		if _, ok := m.Propose(s, h); ok {
			return true
		}
	}
	for i := range m.miners {
		for _, in := range m.inputs(s, i) {
			if _, ok := m.build(s, i, in); ok {
				return true
			}
		}
	}
	for _, n := range m.nodes {
		for k := range s.cert {
			if _, ok := m.finalize(s, n, k); ok {
				return true
			}
		}
	}
	_, ok := m.NextRound(s)
	return ok
}

// LegalStep reports whether from -> to is a step of [Next]_vars: the label
// of an action that takes from to to, or "stutter" if they are equal.
func (m *Model) LegalStep(from, to State) (string, bool) {
	if from.Equal(to) {
		return "stutter", true
	}
	for _, n := range m.Successors(from) {
		if n.Next.Equal(to) {
			return n.Label, true
		}
	}
	return "", false
}

// Format prints s like a TLC trace state.
func (m *Model) Format(s State) string { return s.format(m.nodes, m.miners) }
