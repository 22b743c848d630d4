package ledger

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/fhbft/fhbft/impl/certification"
	"github.com/fhbft/fhbft/impl/crypto/bls"
	"github.com/fhbft/fhbft/impl/crypto/threshold"
	"github.com/fhbft/fhbft/impl/dag"
	"github.com/fhbft/fhbft/impl/harvester"
	"github.com/fhbft/fhbft/impl/miner"
	pm "github.com/fhbft/fhbft/impl/pacemaker"
	farmsim "github.com/fhbft/fhbft/impl/sim/farmer"
	"github.com/fhbft/fhbft/impl/sim/network"
	"github.com/fhbft/fhbft/impl/state"
	"github.com/fhbft/fhbft/impl/tx"
)

// HarvesterQuorum and HarvesterEpoch name the harvester roster (a quorum ID
// no farmer quorum uses).
const (
	HarvesterQuorum = certification.QuorumID(1000)
	HarvesterEpoch  = certification.Epoch(1)
)

// Messages between the layer's nodes (farmer.Host.Send payloads).
type (
	msgProposal struct {
		from  certification.Member
		block dag.ProposalBlock
	}
	msgEvidence struct{ ev dag.Equivocation }
	msgFetch    struct {
		from   certification.Member
		hashes []dag.Hash
	}
	msgBlocks struct {
		from   certification.Member
		blocks []dag.ProposalBlock
	}
	msgVote struct{ vote certification.Vote }
	msgConv struct {
		from  dag.MinerID
		block dag.ConvergenceBlock
	}
	msgNotice struct{ n miner.FinalNotice }
	msgPM     struct {
		from pm.ReplicaID
		msg  pm.Message
	}
)

// Alarms (farmer.Host.Schedule payloads).
type (
	alarmStart      struct{}
	alarmStall      struct{}
	alarmMinerTimer struct {
		round dag.Round
		rank  uint32
	}
)

// hnode is a harvester: its ledger role, its pacemaker replica and the
// state store the driver mirrors its final blocks into (FIN-2).
type hnode struct {
	idx      int // 0-based
	id       certification.Member
	nid      network.NodeID
	h        *harvester.Harvester
	rep      *pm.Replica
	store    *state.Store
	byz      bool // equivocates (FaultsEquivocate)
	lastTick time.Duration
	chain    []dag.Hash // final blocks by round, index 0 = genesis
	halted   bool
	forked   bool // finalized a block the canonical chain does not have (FIN-4)
	share    threshold.SecretShare
}

// mnode is a miner.
type mnode struct {
	id       dag.MinerID
	nid      network.NodeID
	m        *miner.Miner
	silent   bool // never builds (FaultsSilentMiner)
	omits    bool // OmitBlocks (FaultsOmit)
	corrupt  bool // Config.CorruptBlocks
	lastTick time.Duration
}

// final is a round's canonical final block: the first finalization of
// the round by any honest harvester (the others must agree, FIN-4).
type final struct {
	block    dag.ConvergenceBlock
	hash     dag.Hash
	applied  []tx.Transfer
	at       time.Duration
	by       certification.Member
	tree     state.Tree       // the state after it
	rejected *dag.RejectedSet // the ledger's rejected set after it (CONV-14)
	beacon   dag.Hash         // beacon of the next round (ORD-1)
}

// sim is the Layer: everything above transaction certification.
type sim struct {
	cfg     Config
	qH      int
	params  dag.Params
	host    *farmsim.Host
	roster  certification.Roster
	hs      []*hnode
	ms      []*mnode
	byNode  map[network.NodeID]any
	genesis state.Tree
	ref     *state.Store // reference ledger: the canonical chain applied once
	supply  uint64
	sink0   uint64

	// Canonical chain and outcomes.
	canon     []final // index r-1 = round r
	finalized map[tx.Digest]dag.Round
	slots     map[slotKey]tx.Digest
	rejected  map[tx.Digest]dag.Reason
	rejSet    *dag.RejectedSet // CONV-14, from the canonical chain
	rejRound  map[tx.Digest]dag.Round
	deferred  map[tx.Digest]bool // in the last final block's Deferred
	certs     map[tx.Digest]*certInfo
	feeTotal  uint64
	done      bool
	doneAt    time.Duration
	budgetHit bool
	stalled   bool

	// Records for the report and tests.
	proposed  map[dag.Round][]Proposal
	rows      []RoundRow
	mev       []uint64 // fees by position 1..nH (index 0: deferred carry, rank 0)
	mevCount  []int
	evidence  map[certification.Member][]dag.Round // equivocators per round in final blocks
	hRejected map[string]int
	mRejected map[string]int
	commits   int
	equivRnds map[dag.Round]bool // rounds the equivocator equivocated in
	archive   *dag.Store         // the DOT: what the observer (the first honest harvester) received, never pruned
	memo      *cachingVerifier
	proposals map[dag.Hash]*dag.ProposalBlock    // every proposal block sent
	built     map[dag.Hash]*dag.ConvergenceBlock // every convergence block sent
	voteCheck map[dag.Hash]error                 // MINE-3 check of blocks honest harvesters voted for
	pendVotes []pendingVote                      // votes for rounds whose prev is not final yet
	observer  *hnode
	trace     *tracer
	viol      []string
	nextProg  int
	hist      *recorder // Config.History (nil: not recorded)
}

// pendingVote is an honest harvester's convergence vote waiting for the
// canonical round before it to be known.
type pendingVote struct {
	by    certification.Member
	round dag.Round
	rank  uint32
	hash  dag.Hash
}

type slotKey struct {
	from  tx.AccountID
	nonce uint64
}

// certInfo is what the harvesters certified about a transfer.
type certInfo struct {
	t       tx.Transfer
	valid   bool // some harvester formed a certificate of verdict valid
	invalid bool
	first   time.Duration
	quorum  certification.QuorumID
}

func (s *sim) violation(format string, args ...any) {
	v := fmt.Sprintf(format, args...)
	s.viol = append(s.viol, v)
	s.trace.emit(traceEvent{Ev: "violation", Detail: v})
}

func seedBytes(seed uint64, label string) [32]byte {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], seed)
	return sha256.Sum256(append([]byte("fhbft ledger sim "+label), b[:]...))
}

// Attach builds the harvesters, replicas and miners. farmer.Layer
func (s *sim) Attach(host *farmsim.Host) error {
	s.host = host
	cfg := s.cfg
	gk, shares, err := threshold.TrustedDealerForTesting(cfg.Harvesters, s.qH, rand.NewChaCha8(seedBytes(cfg.Seed, "harvester keys")))
	if err != nil {
		return err
	}
	s.roster = certification.Roster{Quorum: HarvesterQuorum, Epoch: HarvesterEpoch, Key: gk}
	s.params = cfg.params(dag.DefaultParams(s.roster))
	if err := s.params.Validate(); err != nil {
		return err
	}
	genesis := host.Genesis()
	s.genesis = state.NewTree(genesis)
	if s.ref, err = state.NewMem(genesis); err != nil {
		return err
	}
	s.supply = s.ref.Supply()
	s.sink0 = s.ref.Account(state.FeeSink).Balance
	rosters, entry := host.Rosters(), host.Entry
	memo := newCachingVerifier(dag.RosterVerifier{Rosters: rosters, Entry: entry}, rosters)
	s.memo = memo
	newVerifier := func() dag.TxVerifier { return memo }
	nByz := cfg.byzantineHarvesters()
	for i := 0; i < cfg.Harvesters; i++ {
		hn := &hnode{idx: i, id: certification.Member(i + 1), nid: host.HarvesterNode(i), share: shares[i]}
		hn.byz = i >= cfg.Harvesters-nByz
		hc := harvester.Config{Roster: s.roster, Self: hn.id, Share: shares[i], Params: s.params, Miners: cfg.Miners,
			Verifier: newVerifier(), Genesis: s.genesis}
		if !hn.byz && (cfg.MutatedHarvesters == 0 || i < cfg.MutatedHarvesters) {
			hc.Mutations = cfg.HarvesterMutations
		}
		if hn.h, err = harvester.New(hc); err != nil {
			return err
		}
		pc := pm.Config{Timeout: cfg.PMTimeout}
		if hn.rep, err = pm.New(pc, hn.id, shares[i], s.roster); err != nil {
			return err
		}
		if hn.store, err = state.NewMem(genesis); err != nil {
			return err
		}
		hn.chain = []dag.Hash{s.canonGenesis()}
		s.hs = append(s.hs, hn)
		s.byNode[hn.nid] = hn
		if s.observer == nil && !hn.byz {
			s.observer = hn
		}
	}
	// The faulty miners are the ones ranked first and second for round 1
	// (ORD-3 from the genesis beacon), so that the fault shows at once.
	rank1 := dag.MinerRanking(dag.GenesisBeacon(HarvesterQuorum, HarvesterEpoch, s.genesis.Root()), 1, cfg.Miners)
	var omitter, silent, corrupt dag.MinerID
	switch {
	case cfg.Faults == FaultsAll:
		omitter, silent = rank1[0], rank1[1]
	case cfg.Faults.has(FaultsOmit):
		omitter = rank1[0]
	case cfg.Faults.has(FaultsSilentMiner):
		silent = rank1[0]
	}
	if cfg.CorruptBlocks {
		corrupt = rank1[0]
	}
	for i := 1; i <= cfg.Miners; i++ {
		nid, err := host.AddNode()
		if err != nil {
			return err
		}
		mn := &mnode{id: dag.MinerID(i), nid: nid, silent: dag.MinerID(i) == silent, omits: dag.MinerID(i) == omitter, corrupt: dag.MinerID(i) == corrupt}
		mc := miner.Config{ID: mn.id, Miners: cfg.Miners, Roster: s.roster, Params: s.params, Verifier: newVerifier(), Genesis: s.genesis,
			Wait: cfg.MinerWait, FallbackDelay: cfg.FallbackDelay}
		switch {
		case mn.omits:
			mc.Mutations.OmitBlocks = cfg.Harvesters - s.qH
		case !mn.silent && !mn.corrupt:
			mc.Mutations = cfg.MinerMutations
		}
		if mn.m, err = miner.New(mc); err != nil {
			return err
		}
		s.ms = append(s.ms, mn)
		s.byNode[nid] = mn
	}
	s.archive.AddConvergence(ptr(dag.Genesis(HarvesterQuorum, HarvesterEpoch, s.genesis.Root())), true)
	host.Schedule(0, 0, alarmStart{})
	host.Schedule(s.cfg.stallTime()/4, 0, alarmStall{})
	s.hist.attach(s)
	return nil
}

func ptr[T any](v T) *T { return &v }

func (s *sim) canonGenesis() dag.Hash {
	g := dag.Genesis(HarvesterQuorum, HarvesterEpoch, s.genesis.Root())
	return g.Hash()
}

// Done reports that the run is over: every transfer settled, or the round
// budget hit. farmer.Layer
func (s *sim) Done() bool { return s.done }

// Certified hands a transaction certificate formed by harvester h to its
// pool (verdict valid only, MEV-6) and records it. farmer.Layer
func (s *sim) Certified(h int, t tx.Transfer, c certification.Certificate, at time.Duration) {
	s.hist.tick(s)
	d := t.Digest()
	ci := s.certs[d]
	if ci == nil {
		ci = &certInfo{t: t, first: at, quorum: c.Quorum}
		s.certs[d] = ci
	}
	valid := c.Value.Verdict == certification.Accept
	if valid {
		ci.valid = true
	} else {
		ci.invalid = true
	}
	verdict := "invalid"
	if valid {
		verdict = "valid"
	}
	s.trace.emit(traceEvent{Ev: "certified", Harvester: h + 1, Digest: hexd(d[:]), Verdict: verdict, Quorum: int(c.Quorum)})
	if valid && h < len(s.hs) {
		s.stepH(s.hs[h], harvester.TxCertified{Tx: dag.CertifiedTx{Transfer: t, Cert: c}})
	}
}

// Deliver routes a layer message to its node. farmer.Layer
func (s *sim) Deliver(from, to network.NodeID, payload any) {
	s.hist.tick(s)
	switch n := s.byNode[to].(type) {
	case *hnode:
		switch m := payload.(type) {
		case msgProposal:
			if n == s.observer {
				s.archive.AddProposal(&m.block)
			}
			s.stepH(n, harvester.ProposalReceived{From: m.from, Block: m.block})
		case msgEvidence:
			s.stepH(n, harvester.EvidenceReceived{Evidence: m.ev})
		case msgFetch:
			s.stepH(n, harvester.FetchRequest{From: m.from, Hashes: m.hashes})
		case msgBlocks:
			if n == s.observer {
				for i := range m.blocks {
					s.archive.AddProposal(&m.blocks[i])
				}
			}
			s.stepH(n, harvester.FetchResponse{From: m.from, Blocks: m.blocks})
		case msgVote:
			s.stepH(n, harvester.VoteReceived{Vote: m.vote})
		case msgConv:
			if n == s.observer {
				s.archive.AddConvergence(&m.block, false)
			}
			s.stepH(n, harvester.ConvergenceReceived{From: m.from, Block: m.block})
		case msgPM:
			s.stepR(n, pm.Deliver(m.from, m.msg))
		}
	case *mnode:
		switch m := payload.(type) {
		case msgProposal:
			s.stepM(n, miner.ProposalReceived{Block: m.block})
		case msgEvidence:
			s.stepM(n, miner.EvidenceReceived{Evidence: m.ev})
		case msgNotice:
			s.stepM(n, m.n)
		}
	}
}

// Alarm handles the layer's scheduled actions. farmer.Layer
func (s *sim) Alarm(to network.NodeID, payload any) {
	s.hist.tick(s)
	switch a := payload.(type) {
	case alarmStart:
		for _, hn := range s.hs {
			s.stepH(hn, harvester.Start{})
			s.stepR(hn, pm.Start{})
		}
	case alarmStall:
		// Liveness: a round must become final every StallTime.
		now, last := s.host.Now(), time.Duration(0)
		if len(s.canon) > 0 {
			last = s.canon[len(s.canon)-1].at
		}
		if now-last > s.cfg.stallTime() {
			s.violation("liveness: no round final since %v (round %d), stopped at %v", last.Round(time.Millisecond), len(s.canon), now.Round(time.Millisecond))
			s.stalled = true
			s.finishAt(now)
			return
		}
		s.host.Schedule(now+s.cfg.stallTime()/4, 0, alarmStall{})
	case alarmMinerTimer:
		if mn, ok := s.byNode[to].(*mnode); ok {
			s.stepM(mn, miner.TimerFired{Round: a.round, Rank: a.rank})
		}
	}
}

// Timer is a pacemaker replica's view timer. farmer.Layer
func (s *sim) Timer(to network.NodeID, key int, tag uint64) {
	s.hist.tick(s)
	if hn, ok := s.byNode[to].(*hnode); ok {
		s.stepR(hn, pm.TimerFired{View: pm.View(tag)})
	}
}

// ---- harvesters ----

func (s *sim) stepH(hn *hnode, ev harvester.Event) {
	if s.done {
		return
	}
	s.harvesterEffects(hn, hn.h.Step(ev))
}

func (s *sim) sendH(from *hnode, to *hnode, payload any) {
	if to != from {
		s.host.Send(from.nid, to.nid, payload)
	}
}

func (s *sim) harvesterEffects(hn *hnode, effs []harvester.Effect) {
	for _, e := range effs {
		switch e := e.(type) {
		case harvester.BroadcastProposal:
			s.broadcastProposal(hn, e.Block)
		case harvester.BroadcastEvidence:
			for _, o := range s.hs {
				s.sendH(hn, o, msgEvidence{ev: e.Evidence})
			}
			for _, mn := range s.ms {
				s.host.Send(hn.nid, mn.nid, msgEvidence{ev: e.Evidence})
			}
		case harvester.SendFetch:
			if o := s.harvester(e.To); o != nil {
				s.sendH(hn, o, msgFetch{from: hn.id, hashes: e.Hashes})
			}
		case harvester.SendBlocks:
			if o := s.harvester(e.To); o != nil {
				s.sendH(hn, o, msgBlocks{from: hn.id, blocks: e.Blocks})
			}
		case harvester.BroadcastVote:
			round, rank := slotRoundRank(e.Vote.Slot)
			s.trace.emit(traceEvent{Ev: "voted", Harvester: int(hn.id), Round: round, Rank: &rank, Hash: hexd(e.Vote.Value.Subject[:])})
			if !hn.byz {
				s.pendVotes = append(s.pendVotes, pendingVote{by: hn.id, round: dag.Round(round), rank: rank, hash: dag.Hash(e.Vote.Value.Subject)})
				s.checkVotes()
			}
			for _, o := range s.hs {
				s.sendH(hn, o, msgVote{vote: e.Vote})
			}
		case harvester.Submit:
			s.traceCommand("certified-convergence", hn, e.Cmd)
			s.stepR(hn, pm.ClientCommand{Cmd: e.Cmd})
		case harvester.Finalized:
			s.onFinalized(hn, e)
		case harvester.NotifyMiners:
			for _, mn := range s.ms {
				s.host.Send(hn.nid, mn.nid, msgNotice{n: miner.FinalNotice{From: hn.id, Round: e.Round, Cert: e.Cert, Block: e.Block}})
			}
		case harvester.RoundStarted:
		case harvester.Rejected:
			s.hRejected[harvesterReason(e.Err)]++
		case harvester.Violation:
			hn.halted = true
			if !hn.byz {
				s.violation("harvester %d halted in round %d: %v", hn.id, e.Round, e.Err)
			}
		}
	}
}

// traceCommand traces a pacemaker command that carries a convergence
// certificate. Decoding costs point decompressions, so only when tracing.
func (s *sim) traceCommand(ev string, hn *hnode, c pm.Command) {
	if s.trace == nil {
		return
	}
	cert, cb, err := harvester.DecodeCommand(c)
	if err != nil {
		return
	}
	h := cb.Hash()
	s.trace.emit(traceEvent{Ev: ev, Harvester: int(hn.id), Round: uint64(cb.Round), Rank: &cb.Rank, Hash: hexd(h[:]), Signers: cert.Signers.Count()})
}

func harvesterReason(err error) string {
	r := harvester.ReasonOf(err)
	if r == 0 {
		return "other"
	}
	if r.Benign() {
		return r.String()
	}
	return r.String() + "*"
}

func (s *sim) harvester(m certification.Member) *hnode {
	if m < 1 || int(m) > len(s.hs) {
		return nil
	}
	return s.hs[m-1]
}

// broadcastProposal sends a harvester's proposal block to every other
// harvester and every miner. The equivocator (FaultsEquivocate) signs a
// second block with the same round and proposer, sends one to each half
// of the harvesters and both to every miner (in opposite orders to
// alternate miners), so that the miners hold the evidence. spec: PB-3, PB-5
func (s *sim) broadcastProposal(hn *hnode, b dag.ProposalBlock) {
	s.recordProposal(b)
	if hn == s.observer {
		s.archive.AddProposal(&b)
	}
	if !hn.byz {
		for _, o := range s.hs {
			s.sendH(hn, o, msgProposal{from: hn.id, block: b})
		}
		for _, mn := range s.ms {
			s.host.Send(hn.nid, mn.nid, msgProposal{from: hn.id, block: b})
		}
		return
	}
	alt := b
	alt.Signature = bls.Signature{}
	switch n := len(b.Txs); {
	case n >= 2:
		alt.Txs = slices.Clone(b.Txs)
		slices.Reverse(alt.Txs)
	case n == 1:
		alt.Txs = nil
	default:
		// Nothing to reorder: an honest-looking single block.
		for _, o := range s.hs {
			s.sendH(hn, o, msgProposal{from: hn.id, block: b})
		}
		for _, mn := range s.ms {
			s.host.Send(hn.nid, mn.nid, msgProposal{from: hn.id, block: b})
		}
		return
	}
	alt = dag.SignProposal(hn.share, alt)
	s.equivRnds[b.Round] = true
	s.recordProposal(alt)
	half := len(s.hs) / 2
	for i, o := range s.hs {
		blk := b
		if i >= half {
			blk = alt
		}
		s.sendH(hn, o, msgProposal{from: hn.id, block: blk})
	}
	for i, mn := range s.ms {
		first, second := b, alt
		if i%2 == 1 {
			first, second = alt, b
		}
		s.host.Send(hn.nid, mn.nid, msgProposal{from: hn.id, block: first})
		s.host.Send(hn.nid, mn.nid, msgProposal{from: hn.id, block: second})
	}
}

func (s *sim) recordProposal(b dag.ProposalBlock) {
	h := b.Hash()
	if s.proposals[h] == nil {
		s.proposals[h] = &b
	}
	p := Proposal{Proposer: b.Proposer, Hash: h}
	for i := range b.Txs {
		p.Digests = append(p.Digests, b.Txs[i].Digest())
	}
	s.proposed[b.Round] = append(s.proposed[b.Round], p)
	s.trace.emit(traceEvent{Ev: "proposed", Round: uint64(b.Round), Harvester: int(b.Proposer), Hash: hexd(h[:]), Txs: len(b.Txs)})
}

func slotRoundRank(sl certification.Slot) (uint64, uint32) {
	return binary.BigEndian.Uint64(sl.ID[16:24]), uint32(binary.BigEndian.Uint64(sl.ID[24:32]))
}

// ---- pacemaker replicas ----

func (s *sim) stepR(hn *hnode, ev pm.Event) {
	if s.done {
		return
	}
	if now := s.host.Now(); now > hn.lastTick {
		hn.lastTick = now
		s.replicaEffects(hn, hn.rep.Step(pm.Tick{Now: now}))
	}
	s.replicaEffects(hn, hn.rep.Step(ev))
}

func (s *sim) replicaEffects(hn *hnode, effs []pm.Effect) {
	for _, e := range effs {
		switch e := e.(type) {
		case pm.Send:
			if o := s.harvester(e.To); o != nil {
				s.sendH(hn, o, msgPM{from: hn.id, msg: e.Msg})
			}
		case pm.Broadcast:
			for _, o := range s.hs {
				s.sendH(hn, o, msgPM{from: hn.id, msg: e.Msg})
			}
		case pm.SetTimer:
			s.host.SetTimer(hn.nid, 0, e.Duration, uint64(e.View))
		case pm.Commit:
			if len(e.Cmds) == 0 {
				continue
			}
			s.commits += len(e.Cmds)
			for _, c := range e.Cmds {
				s.traceCommand("committed", hn, c)
			}
			s.stepH(hn, harvester.Committed{Cmds: e.Cmds})
		case pm.ConflictingCommit:
			if !hn.byz {
				s.violation("pacemaker replica %d: conflicting commit (PM-7, FIN-4)", hn.id)
			}
		}
	}
}

// ---- miners ----

func (s *sim) stepM(mn *mnode, ev miner.Event) {
	if s.done {
		return
	}
	if now := s.host.Now(); now > mn.lastTick {
		mn.lastTick = now
		s.minerEffects(mn, mn.m.Step(miner.Tick{Now: now}))
	}
	s.minerEffects(mn, mn.m.Step(ev))
}

func (s *sim) minerEffects(mn *mnode, effs []miner.Effect) {
	for _, e := range effs {
		switch e := e.(type) {
		case miner.SetTimer:
			s.host.Schedule(e.At, mn.nid, alarmMinerTimer{round: e.Round, rank: e.Rank})
		case miner.BroadcastConvergence:
			if mn.silent {
				continue
			}
			cb := e.Block
			if mn.corrupt {
				// A planted fault: the block claims a state root its
				// transfers do not produce (CONV-13 catches it).
				cb.StateRoot[0] ^= 0xff
			}
			h := cb.Hash()
			if s.built[h] == nil {
				s.built[h] = &cb
			}
			s.trace.emit(traceEvent{Ev: "converged", Round: uint64(cb.Round), Miner: int(cb.Miner), Rank: &cb.Rank, Hash: hexd(h[:]),
				Refs: len(cb.Refs), Applied: len(cb.Applied), Rejected: len(cb.Rejected), Deferred: len(cb.Deferred)})
			for _, hn := range s.hs {
				s.host.Send(mn.nid, hn.nid, msgConv{from: mn.id, block: cb})
			}
		case miner.Rejected:
			s.mRejected[minerReason(e.Err)]++
		case miner.Violation:
			if !mn.omits && !mn.silent && !mn.corrupt {
				s.violation("miner %d halted in round %d: %v", mn.id, e.Round, e.Err)
			}
		}
	}
}

func minerReason(err error) string {
	r := miner.ReasonOf(err)
	if r == 0 {
		return "other"
	}
	if r.Benign() {
		return r.String()
	}
	return r.String() + "*"
}

// ---- finality ----

// onFinalized mirrors a harvester's final block into its state store
// (FIN-2) and checks its chain against the canonical one (FIN-4); the first
// finalization of a round also goes to the reference ledger and the
// farmers (FIN-7) and is checked (FIN-5, FIN-8, PB-4).
func (s *sim) onFinalized(hn *hnode, e harvester.Finalized) {
	h := e.Block.Hash()
	r := e.Round
	s.trace.emit(traceEvent{Ev: "finalized", Harvester: int(hn.id), Round: uint64(r), Hash: hexd(h[:]), Miner: int(e.Block.Miner), Rank: &e.Block.Rank, Applied: len(e.Applied)})
	honest := !hn.byz
	if r != dag.Round(len(hn.chain)) {
		if honest {
			s.violation("harvester %d finalized round %d after round %d (DAG-1: rounds are never skipped)", hn.id, r, len(hn.chain)-1)
		}
		return
	}
	hn.chain = append(hn.chain, h)
	s.hist.beforeApply(hn)
	head, err := hn.store.Apply(e.Applied)
	switch {
	case err != nil && honest:
		s.violation("harvester %d: its state store refused final round %d: %v (FIN-2)", hn.id, r, err)
	case err == nil && head.Root != e.Block.StateRoot && honest:
		s.violation("harvester %d: state root %x after round %d, the block says %x (FIN-2)", hn.id, head.Root[:8], r, e.Block.StateRoot[:8])
	}
	hn.store.Publish()
	if !honest || hn.forked {
		return
	}
	switch {
	case int(r) > len(s.canon)+1:
		// Unreachable: this harvester finalized round r−1 first.
		s.violation("harvester %d finalized round %d, the chain has %d rounds", hn.id, r, len(s.canon))
	case int(r) <= len(s.canon):
		if c := s.canon[r-1]; c.hash != h {
			s.violation("FIN-4: harvester %d finalized %x in round %d, harvester %d finalized %x", hn.id, h[:8], r, c.by, c.hash[:8])
			hn.forked = true
		}
	default:
		s.canonical(hn, e, h)
	}
	s.hist.finalized(s, hn, r)
	s.checkDone()
}

// canonical takes the first finalization of round r.
func (s *sim) canonical(hn *hnode, e harvester.Finalized, h dag.Hash) {
	r := e.Round
	cb := e.Block
	now := s.host.Now()
	s.canon = append(s.canon, final{block: cb, hash: h, applied: e.Applied, at: now, by: hn.id, beacon: e.Beacon})
	s.hist.canonical(hn, e.Applied, now)
	s.archive.AddConvergence(&cb, true)
	for i := range cb.Equivocations {
		s.archive.AddEvidence(&cb.Equivocations[i])
		s.evidence[cb.Equivocations[i].Proposer] = append(s.evidence[cb.Equivocations[i].Proposer], r)
	}
	// PB-4 / FIN-5: what is applied is what the block lists, once each.
	if len(e.Applied) != len(cb.Applied) {
		s.violation("round %d: %d transfers applied, the block lists %d", r, len(e.Applied), len(cb.Applied))
	}
	var fees uint64
	for i := range e.Applied {
		t := &e.Applied[i]
		d := t.Digest()
		if i < len(cb.Applied) && cb.Applied[i] != d {
			s.violation("round %d: applied transfer %d is %x, the block lists %x", r, i, d[:8], cb.Applied[i][:8])
		}
		if pr, ok := s.finalized[d]; ok {
			s.violation("FIN-5: %x finalized in round %d and again in round %d", d[:8], pr, r)
		}
		if reason, ok := s.rejected[d]; ok {
			s.violation("CONV-14: %x rejected (%v) in round %d, then finalized in round %d", d[:8], reason, s.rejRound[d], r)
		}
		k := slotKey{t.From, t.Nonce}
		if od, ok := s.slots[k]; ok && od != d {
			s.violation("FIN-5: slot (%x, %d) finalized twice: %x and %x", t.From[:8], t.Nonce, od[:8], d[:8])
		}
		if ci := s.certs[d]; ci == nil || !ci.valid {
			s.violation("PB-4: %x finalized in round %d without a transaction certificate of verdict valid", d[:8], r)
		}
		s.finalized[d] = r
		s.slots[k] = d
		delete(s.rejected, d)
		fees += t.Fee
	}
	if fees != cb.Fees {
		s.violation("CONV-10: round %d block says fees %d, its transfers pay %d", r, cb.Fees, fees)
	}
	s.feeTotal += fees
	// FIN-2, FIN-8 on the reference ledger.
	head, err := s.ref.Apply(e.Applied)
	if err != nil {
		s.violation("reference ledger refused final round %d: %v (FIN-2)", r, err)
	} else if head.Root != cb.StateRoot {
		s.violation("FIN-2: reference state root %x after round %d, the block says %x", head.Root[:8], r, cb.StateRoot[:8])
	}
	s.ref.Publish()
	s.canon[r-1].tree = s.ref.Tree()
	s.rejSet.Add(e.Rejected...)
	s.rejSet.Prune(s.canon[r-1].tree)
	s.canon[r-1].rejected = s.rejSet.Clone()
	s.checkVotes()
	if sup := s.ref.Supply(); sup != s.supply {
		s.violation("FIN-8: supply %d after round %d, genesis %d", sup, r, s.supply)
	}
	if sink := s.ref.Account(state.FeeSink).Balance; sink != s.sink0+s.feeTotal {
		s.violation("FIN-8: fee sink %d after round %d, want %d + %d fees", sink, r, s.sink0, s.feeTotal)
	}
	// FIN-7: the farmers follow.
	if err := s.host.Finalize(e.Applied, cb.StateRoot); err != nil {
		s.violation("FIN-7: %v", err)
	}
	for _, dr := range cb.Rejected {
		if _, fin := s.finalized[dr.Digest]; !fin {
			if _, seen := s.rejected[dr.Digest]; !seen {
				s.rejected[dr.Digest] = dr.Reason
				s.rejRound[dr.Digest] = r
			}
		}
		s.trace.emit(traceEvent{Ev: "rejected", Round: uint64(r), Digest: hexd(dr.Digest[:]), Reason: dr.Reason.String(), By: "convergence"})
	}
	s.deferred = map[tx.Digest]bool{}
	for i := range cb.Deferred {
		s.deferred[cb.Deferred[i].Tx.Digest()] = true
	}
	s.revenue(r, &cb)
	row := RoundRow{Round: r, Hash: h, Refs: len(cb.Refs), Equivocations: len(cb.Equivocations), Applied: len(cb.Applied),
		Rejected: len(cb.Rejected), Deferred: len(cb.Deferred), Fees: cb.Fees, Miner: cb.Miner, Rank: cb.Rank, At: now}
	for _, ref := range cb.Refs {
		row.Proposers = append(row.Proposers, ref.Proposer)
	}
	for _, e := range cb.Equivocations {
		row.Equivocators = append(row.Equivocators, e.Proposer)
	}
	s.rows = append(s.rows, row)
	if s.cfg.Progress != nil && s.cfg.ProgressEvery > 0 && int(r) >= s.nextProg {
		s.nextProg = int(r) + s.cfg.ProgressEvery
		fmt.Fprintf(s.cfg.Progress, "fhbft simulate: round %d final at %v: %d finalized, %d rejected, %d deferred, %d transfers certified valid\n",
			r, now.Round(time.Millisecond), len(s.finalized), len(s.rejected), len(s.deferred), s.validCount())
	}
	if int(r) >= s.cfg.Rounds {
		s.budgetHit = true
		s.finishAt(now)
	}
}

// checkVotes checks every honest convergence vote whose round's prev is
// final: the block voted for was sent by the miner of its rank (ORD-3),
// its rank is below F, and Recompute reproduces it from the canonical prev,
// beacon, state and rejected set and the proposal blocks it references
// (MINE-3, CONV-13, CONV-14). Each distinct block is recomputed once.
func (s *sim) checkVotes() {
	keep := s.pendVotes[:0]
	for _, v := range s.pendVotes {
		if int(v.round)-1 > len(s.canon) {
			keep = append(keep, v)
			continue
		}
		err, done := s.voteCheck[v.hash]
		if !done {
			err = s.recheck(v)
			s.voteCheck[v.hash] = err
		}
		if err != nil {
			s.violation("MINE-3: honest harvester %d voted for convergence block %x (round %d rank %d): %v", v.by, v.hash[:8], v.round, v.rank, err)
		}
	}
	s.pendVotes = keep
}

func (s *sim) recheck(v pendingVote) error {
	cb := s.built[v.hash]
	if cb == nil {
		return fmt.Errorf("no miner sent it")
	}
	if cb.Round != v.round || cb.Rank != v.rank {
		return fmt.Errorf("the block is for round %d rank %d", cb.Round, cb.Rank)
	}
	prev := dag.Genesis(HarvesterQuorum, HarvesterEpoch, s.genesis.Root())
	beacon, tree, rejected := prev.Beacon, s.genesis, (*dag.RejectedSet)(nil)
	if v.round > 1 {
		f := &s.canon[v.round-2]
		prev, beacon, tree, rejected = f.block, f.beacon, f.tree, f.rejected
	}
	if int(v.rank) >= s.params.Fallbacks {
		return fmt.Errorf("rank %d, fallbacks %d", v.rank, s.params.Fallbacks)
	}
	if want := dag.MinerRanking(beacon, v.round, len(s.ms))[v.rank]; cb.Miner != want {
		return fmt.Errorf("built by miner %d, rank %d is miner %d (ORD-3)", cb.Miner, v.rank, want)
	}
	blocks := map[dag.Hash]*dag.ProposalBlock{}
	for _, ref := range cb.Refs {
		if b := s.proposals[ref.Hash]; b != nil {
			blocks[ref.Hash] = b
		}
	}
	_, err := dag.RecomputeWithRejected(s.params, s.roster, s.memo, &prev, beacon, tree, rejected, cb, blocks)
	return err
}

// revenue credits each applied transfer's fee to the position its key
// names (rank 0: carried over from prev.Deferred). spec: MEV-5, CONV-3
func (s *sim) revenue(r dag.Round, cb *dag.ConvergenceBlock) {
	carried := map[tx.Digest]bool{}
	if r > 1 {
		prev := &s.canon[r-2].block
		for i := range prev.Deferred {
			carried[prev.Deferred[i].Tx.Digest()] = true
		}
	}
	order := dag.Order(cb.Beacon, len(s.hs))
	byHash := map[dag.Hash]*Proposal{}
	for i := range s.proposed[r] {
		byHash[s.proposed[r][i].Hash] = &s.proposed[r][i]
	}
	best := map[tx.Digest]int{}
	for _, ref := range cb.Refs {
		p := byHash[ref.Hash]
		if p == nil {
			continue
		}
		pos := dag.Position(order, ref.Proposer)
		for _, d := range p.Digests {
			if b, ok := best[d]; !ok || pos < b {
				best[d] = pos
			}
		}
	}
	app := s.canon[r-1].applied
	for i := range app {
		d := app[i].Digest()
		pos := best[d]
		if carried[d] {
			pos = 0
		}
		if pos >= 0 && pos < len(s.mev) {
			s.mev[pos] += app[i].Fee
			s.mevCount[pos]++
		}
	}
}

func (s *sim) validCount() int {
	n := 0
	for _, ci := range s.certs {
		if ci.valid {
			n++
		}
	}
	return n
}

// checkDone ends the run when every transfer is settled: each distinct
// submission certified (or given up by its client), every transfer
// certified valid finalized or rejected, and every honest harvester has
// finalized the canonical chain.
func (s *sim) checkDone() {
	if s.done || s.host.Unresolved() > 0 {
		return
	}
	for d, ci := range s.certs {
		if !ci.valid {
			continue
		}
		if _, ok := s.finalized[d]; ok {
			continue
		}
		if _, ok := s.rejected[d]; ok {
			continue
		}
		return
	}
	for _, hn := range s.hs {
		if !hn.byz && !hn.halted && !hn.forked && len(hn.chain)-1 < len(s.canon) {
			return
		}
	}
	s.finishAt(s.host.Now())
}

// finishAt ends the ledger's part of the run: from now on the farmer
// layer discards its events and runs to quiescence.
func (s *sim) finishAt(t time.Duration) {
	s.done, s.doneAt = true, t
}

// errorsOf joins the violations into one error.
func errorsOf(v []string) error {
	if len(v) == 0 {
		return nil
	}
	return &ViolationError{Violations: v}
}

// ViolationError is Run's error when an invariant failed.
type ViolationError struct{ Violations []string }

func (e *ViolationError) Error() string {
	if len(e.Violations) == 1 {
		return "ledger sim: 1 invariant violation: " + e.Violations[0]
	}
	return fmt.Sprintf("ledger sim: %d invariant violations, first: %s", len(e.Violations), e.Violations[0])
}
