package tests

// Refinement of the harvester role (impl/harvester, with impl/miner)
// against model/dag, spec/dag.md §5, §6, §8 (CONV-*, MINE-3, FIN-1..FIN-8,
// CONV-14), tla/DAGConvergence.tla's Certify and Finalize.
//
// A small driver (in the style of impl/harvester's own harness) wires four
// harvesters (qH = 3) and two miners. A seeded generator picks the
// scenario and every scheduling choice: which message in flight is
// delivered next (any of them: messages are reordered freely), when the
// fake pacemaker commits the submitted certificate commands and in which
// order (one global log, as PM-* guarantees; "pairs" runs hold commits
// until two certified blocks of a round are pending, so that FIN-1's
// first-committed rule decides), when each harvester's replica hands it a
// prefix of the log, and when miner timers fire. Transfers (certified with
// real farmer certificates) come in batches, one per round: next nonces,
// conflicting (from, nonce) pairs, gaps, overdrafts, funding that makes an
// overdraft affordable later; each is given to all or some harvesters.
// Optionally harvester 4 is Byzantine: it adds transfers to its blocks
// (every transfer a final block rejected, CONV-14's attack, and random
// certified ones: replays, early ones), re-signs, sometimes sends two
// different blocks to different nodes (equivocation), and hides the
// evidence against itself. Optionally a miner is Byzantine (its blocks are
// tampered with) or censors (impl/miner's OmitBlocks).
//
// The abstraction (dag_abstraction_test.go) maps every transfer of the run
// to its digest rank, accounts to 1..6, trees to ledgers. The driver keeps
// the canonical chain (the first honest finalization of each round) with
// the model block and the impl state after it. What is checked:
//
//   - Certify (MINE-3, CONV-13 as the model's Certify): every vote an
//     honest harvester casts, and every committed command, is for a block
//     of the rank's miner (ORD-3) whose abstraction is model Converge of
//     the abstraction of the blocks it references (plus both blocks of
//     each equivocation it names) against the ledger of the chain before
//     it: the state, the deferred list and the rejected set of model rules
//     (CONV-14: rejections of final blocks whose slot is still open); its
//     state root is the root of the state after its applied transfers.
//   - Finalize (FIN-1, FIN-2, FIN-3): after every Finalized effect of an
//     honest harvester, the block is such a legal block for its round, it
//     is the first legal command for that round on its final prev in the
//     part of the log the harvester has been given (FIN-1), its
//     certificate verifies, its beacon is beacon_r and Finalized.Beacon is
//     NextBeacon of the certificate (ORD-1); Finalized.Applied on a mirror
//     state store gives the block's root and a ledger equal to the model
//     block's post; Finalized.Rejected is the block's rejections. When the
//     effect is the harvester's last finalization of the step, its state
//     tree and its rejected set abstract to the model's.
//   - Propose: every transfer of an honest proposal block was given to
//     that harvester and is neither resolved by its chain nor carried in
//     the tip's deferred list (the model's Pool; the model proposes all of
//     it, MEV-3 a subset).
//   - The model invariants on the abstracted chains, re-checked here as
//     the same predicates because model/dag's invariant functions take a
//     model State over its fixed six-transfer Universe: ChainsPrefix
//     (honest chains and the miners' followed chains are prefixes of one
//     another), NoDoubleFinalize, OnePerSlot, RejectionsFinal,
//     Conservation (supply constant, sink = fees of applied transfers),
//     FinalizedWereCertified (every applied transfer has a certificate
//     made by the run), Deadline (a transfer in a counted block of round i
//     is resolved once round i + MaxDeferRounds is final).
//   - No Violation effect from an honest harvester or miner, and every
//     honest harvester finalizes the scenario's rounds (within a step
//     bound: a stall is reported, not timed).
//
// Not checked: the Byzantine harvester's own state; miners' internal
// state beyond their followed chains; fetch strategy; timer durations;
// MEV selection beyond the pool bound; liveness under adversarial
// scheduling (the scheduler is random, not adversarial).

import (
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fhbft/fhbft/impl/certification"
	"github.com/fhbft/fhbft/impl/dag"
	"github.com/fhbft/fhbft/impl/harvester"
	"github.com/fhbft/fhbft/impl/harvester/harvestertest"
	"github.com/fhbft/fhbft/impl/miner"
	pm "github.com/fhbft/fhbft/impl/pacemaker"
	"github.com/fhbft/fhbft/impl/state"
	"github.com/fhbft/fhbft/impl/tx"
	model "github.com/fhbft/fhbft/model/dag"
)

const (
	hvN, hvQ     = 4, 3
	hvMiners     = 2
	hvAccounts   = 6
	hvWait       = 10 * time.Millisecond
	hvFallback   = 20 * time.Millisecond
	hvMaxSteps   = 40000
	hvMaxDefer   = 2 // CONV-9 bound of these runs: small, so gaps expire within a run
	hvByzantineH = certification.Member(4)
)

var (
	hvSeeds = flag.Int("dag.harvester.seeds", 8, "TestHarvesterRefinesModel: number of seeded runs")
	hvSeed  = flag.Uint64("dag.harvester.seed", 0, "TestHarvesterRefinesModel: run this seed only")
)

var (
	hvFixOnce sync.Once
	hvFix     *harvestertest.Fixture
	hvFixErr  error
)

func hvFixture(t testing.TB) *harvestertest.Fixture {
	t.Helper()
	hvFixOnce.Do(func() { hvFix, hvFixErr = harvestertest.New(hvN, hvQ, hvAccounts) })
	if hvFixErr != nil {
		t.Fatal(hvFixErr)
	}
	return hvFix
}

func hvParams(f *harvestertest.Fixture) dag.Params {
	p := f.Params
	p.MaxDeferRounds = hvMaxDefer
	return p
}

// hvGift is a certified transfer and the harvesters that get it.
type hvGift struct {
	ct dag.CertifiedTx
	to []certification.Member
}

// hvScenario is the fixed part of a run.
type hvScenario struct {
	rounds         int
	byzH           certification.Member // 0: none
	byzEquivocate  bool
	byzRepropose   bool // re-propose every rejected transfer (CONV-14's attack)
	byzMiner       dag.MinerID
	omitMiner      dag.MinerID
	pairs          bool
	batches        [][]hvGift // batch k is given once round k is final somewhere (batch 0 at the start)
	hmut           harvester.Mutations
	mutants        []certification.Member
	mmut           miner.Mutations
	all            []dag.CertifiedTx
	plantedOverdue bool // batch 0 holds an overdraft that batch 1's funding makes affordable
	// skipVoteCheck turns the vote checker off, to show that the
	// Finalize checks catch a planted bug on their own.
	skipVoteCheck bool
}

func (sc *hvScenario) String() string {
	n := 0
	for _, b := range sc.batches {
		n += len(b)
	}
	return fmt.Sprintf("rounds=%d transfers=%d byzantine harvester=%d (equivocates %v, re-proposes rejected %v) tampering miner=%d censoring miner=%d pairs=%v overdraft-then-funded=%v",
		sc.rounds, n, sc.byzH, sc.byzEquivocate, sc.byzRepropose, sc.byzMiner, sc.omitMiner, sc.pairs, sc.plantedOverdue)
}

// hvForce fixes scenario choices for a planted-bug search.
type hvForce struct {
	byzH, byzRepropose, byzMiner, pairs, noByzMiner, overdue bool
}

func hvGenScenario(c dagChooser, f *harvestertest.Fixture, force hvForce) (*hvScenario, error) {
	sc := &hvScenario{rounds: 3 + c.pick(2, "rounds")}
	if force.byzH || c.pick(2, "byzantineHarvester") == 0 {
		sc.byzH = hvByzantineH
		sc.byzEquivocate = c.pick(3, "equivocate") == 0
		sc.byzRepropose = force.byzRepropose || c.pick(2, "repropose") == 0
	}
	switch k := c.pick(5, "minerFault"); {
	case force.byzMiner || k == 0 && !force.noByzMiner:
		sc.byzMiner = dag.MinerID(1 + c.pick(hvMiners, "byzMiner"))
	case k == 1 && !force.noByzMiner:
		sc.omitMiner = dag.MinerID(1 + c.pick(hvMiners, "omitMiner"))
	}
	sc.pairs = force.pairs || c.pick(3, "pairs") == 0
	sc.plantedOverdue = force.overdue || c.pick(3, "overdue") == 0

	next := make([]uint64, hvAccounts) // the generator's guess of each sender's next nonce
	var made []tx.Transfer
	have := map[tx.Digest]bool{}
	gift := func(batch int, from, to int, amount, fee, nonce uint64) error {
		t := f.Transfer(from, to, amount, fee, nonce)
		if have[t.Digest()] {
			return nil
		}
		have[t.Digest()] = true
		ct, err := dagCertify(f, t)
		if err != nil {
			return err
		}
		var to4 []certification.Member
		if c.pick(3, "toAll") > 0 {
			for m := 1; m <= hvN; m++ {
				to4 = append(to4, certification.Member(m))
			}
		} else {
			for m := 1; m <= hvN; m++ {
				if c.pick(2, "to") == 0 {
					to4 = append(to4, certification.Member(m))
				}
			}
			if len(to4) == 0 {
				to4 = []certification.Member{certification.Member(1 + c.pick(hvN, "toOne"))}
			}
		}
		sc.batches[batch] = append(sc.batches[batch], hvGift{ct, to4})
		sc.all = append(sc.all, ct)
		made = append(made, t)
		return nil
	}
	sc.batches = make([][]hvGift, sc.rounds)
	if sc.plantedOverdue {
		// Account 5 overdraws in round 1 (balance 1000) and is funded
		// by account 4 in round 2: the rejected transfer becomes
		// affordable while its slot is open.
		if err := gift(0, 5, 0, 1500, 1, 0); err != nil {
			return nil, err
		}
		next[5] = 1
		if sc.rounds > 1 {
			if err := gift(1, 4, 5, 900, 1, 0); err != nil {
				return nil, err
			}
			next[4] = 1
		}
	}
	for b := range sc.rounds {
		for range 2 + c.pick(4, "batchSize") {
			from := c.pick(hvAccounts-2, "from") // accounts 4 and 5 are the planted ones'
			to := (from + 1 + c.pick(hvAccounts-1, "to")) % hvAccounts
			amount := []uint64{10, 40, 150, 400}[c.pick(4, "amount")]
			fee := uint64(1 + c.pick(3, "fee"))
			nonce := next[from]
			switch c.pick(8, "kind") {
			case 0: // conflict: another transfer of an earlier slot
				if len(made) > 0 {
					u := made[c.pick(len(made), "conflictWith")]
					for i := range hvAccounts {
						if f.Account(i) == u.From {
							from = i
						}
					}
					if to == from {
						to = (from + 1) % hvAccounts
					}
					nonce = u.Nonce
				}
			case 1: // gap
				nonce += uint64(1 + c.pick(2, "gap"))
			case 2: // overdraft
				amount = 1100
				next[from]++
			default:
				next[from]++
			}
			if err := gift(b, from, to, amount, fee, nonce); err != nil {
				return nil, err
			}
		}
	}
	return sc, nil
}

type hvMsg struct {
	toH certification.Member
	toM dag.MinerID
	hev harvester.Event
	mev miner.Event
}

type hvTimer struct {
	at  time.Duration
	seq int
	to  dag.MinerID
	ev  miner.TimerFired
}

// hvFinal is one round of the canonical chain: the block's hash, its
// model abstraction, the state after it and beacon_{r+1}.
type hvFinal struct {
	hash   dag.Hash
	mb     model.Block
	tree   state.Tree
	beacon dag.Hash
}

type hvDriver struct {
	f  *harvestertest.Fixture
	c  dagChooser
	sc *hvScenario
	p  dag.Params
	hs []*harvester.Harvester
	ms []*miner.Miner

	queue   []hvMsg
	now     time.Duration
	timers  []hvTimer
	tseq    int
	pending []pm.Command
	seenCmd map[pm.CommandID]bool
	log     []pm.Command
	given   []int // per harvester: log entries handed to it

	proposals map[dag.Hash]dag.ProposalBlock // every proposal block signed
	convs     map[dag.Hash]dag.ConvergenceBlock
	legalMemo map[dag.Hash]error
	cmdOK     map[pm.CommandID]bool // certificate verifies and certifies the command's block
	abs       *dagAbs
	certified map[tx.Digest]bool
	gotTx     map[tx.Digest][]certification.Member
	batches   int // batches handed out

	canon   []hvFinal       // canon[r]: round r (0: genesis)
	chains  [][]model.Block // per harvester, rounds 1..
	hashes  [][]dag.Hash
	mirrors []*state.Store
	supply  uint64

	rejectedSeen []dag.CertifiedTx // for the Byzantine harvester
	err          error

	// figures
	steps, votesChecked, finalsChecked, cmdsChecked, proposalsChecked, stateChecks int
	applied, deferred, equivocations, byzBlocks, tampered, commitsHeld, nonBenign  int
	excludedRefs, decisive                                                         int
	reasons                                                                        map[dag.Reason]int
}

func (d *hvDriver) honest(m certification.Member) bool { return m != d.sc.byzH }

func (d *hvDriver) fail(format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf(format, args...)
	}
}

func newHvDriver(t testing.TB, c dagChooser, sc *hvScenario) (*hvDriver, error) {
	f := hvFixture(t)
	d := &hvDriver{f: f, c: c, sc: sc, p: hvParams(f), seenCmd: map[pm.CommandID]bool{}, given: make([]int, hvN),
		proposals: map[dag.Hash]dag.ProposalBlock{}, convs: map[dag.Hash]dag.ConvergenceBlock{}, legalMemo: map[dag.Hash]error{}, cmdOK: map[pm.CommandID]bool{},
		certified: map[tx.Digest]bool{}, gotTx: map[tx.Digest][]certification.Member{}, reasons: map[dag.Reason]int{},
		chains: make([][]model.Block, hvN), hashes: make([][]dag.Hash, hvN)}
	accts := make([]tx.AccountID, hvAccounts)
	for i := range accts {
		accts[i] = f.Account(i)
	}
	var txs []tx.Transfer
	for _, ct := range sc.all {
		txs = append(txs, ct.Transfer)
		d.certified[ct.Digest()] = true
	}
	d.abs = newDagAbs(accts, txs)
	g := dag.Genesis(f.Harvesters.Quorum, f.Harvesters.Epoch, f.Genesis.Root())
	gl, err := d.abs.ledger(f.Genesis)
	if err != nil {
		return nil, err
	}
	d.canon = []hvFinal{{hash: g.Hash(), mb: model.Block{Post: gl}, tree: f.Genesis, beacon: g.Beacon}}
	f.Genesis.Each(func(_ tx.AccountID, a tx.Account) { d.supply += a.Balance })
	for i := 1; i <= hvN; i++ {
		m := certification.Member(i)
		cfg := harvester.Config{Roster: f.Harvesters, Self: m, Share: f.Shares[i-1], Params: d.p,
			Miners: hvMiners, Verifier: f.Verifier, Genesis: f.Genesis}
		if slices.Contains(sc.mutants, m) {
			cfg.Mutations = sc.hmut
		}
		h, err := harvester.New(cfg)
		if err != nil {
			return nil, err
		}
		d.hs = append(d.hs, h)
		st, err := state.NewMem(f.Changes)
		if err != nil {
			return nil, err
		}
		d.mirrors = append(d.mirrors, st)
	}
	for i := 1; i <= hvMiners; i++ {
		cfg := miner.Config{ID: dag.MinerID(i), Miners: hvMiners, Roster: f.Harvesters, Params: d.p,
			Verifier: f.Verifier, Genesis: f.Genesis, Wait: hvWait, FallbackDelay: hvFallback, Mutations: sc.mmut}
		if dag.MinerID(i) == sc.omitMiner {
			cfg.Mutations.OmitBlocks = 1
		}
		m, err := miner.New(cfg)
		if err != nil {
			return nil, err
		}
		d.ms = append(d.ms, m)
	}
	d.giveBatch()
	for i := 1; i <= hvN; i++ {
		d.stepH(certification.Member(i), harvester.Start{})
	}
	return d, nil
}

func (d *hvDriver) giveBatch() {
	if d.batches >= len(d.sc.batches) {
		return
	}
	for _, g := range d.sc.batches[d.batches] {
		for _, m := range g.to {
			d.gotTx[g.ct.Digest()] = append(d.gotTx[g.ct.Digest()], m)
			d.queue = append(d.queue, hvMsg{toH: m, hev: harvester.TxCertified{Tx: g.ct}})
		}
	}
	d.batches++
}

func (d *hvDriver) toOthers(from certification.Member, ev harvester.Event) {
	for i := 1; i <= hvN; i++ {
		if m := certification.Member(i); m != from {
			d.queue = append(d.queue, hvMsg{toH: m, hev: ev})
		}
	}
}

func (d *hvDriver) toMiners(ev miner.Event) {
	for i := 1; i <= hvMiners; i++ {
		d.queue = append(d.queue, hvMsg{toM: dag.MinerID(i), mev: ev})
	}
}

func (d *hvDriver) stepH(m certification.Member, ev harvester.Event) {
	effs := d.hs[m-1].Step(ev)
	last := -1
	for i, e := range effs {
		if _, ok := e.(harvester.Finalized); ok {
			last = i
		}
	}
	for i, e := range effs {
		d.routeH(m, e, i == last)
	}
}

func (d *hvDriver) routeH(from certification.Member, e harvester.Effect, lastFinal bool) {
	switch e := e.(type) {
	case harvester.BroadcastProposal:
		d.proposals[e.Block.Hash()] = e.Block
		if !d.honest(from) {
			d.byzantinePropose(from, e.Block)
			return
		}
		d.checkPropose(from, &e.Block)
		d.toOthers(from, harvester.ProposalReceived{From: from, Block: e.Block})
		d.toMiners(miner.ProposalReceived{Block: e.Block})
	case harvester.BroadcastEvidence:
		if !d.honest(from) && e.Evidence.Proposer == from {
			return // it does not incriminate itself
		}
		d.toOthers(from, harvester.EvidenceReceived{Evidence: e.Evidence})
		d.toMiners(miner.EvidenceReceived{Evidence: e.Evidence})
	case harvester.SendFetch:
		d.queue = append(d.queue, hvMsg{toH: e.To, hev: harvester.FetchRequest{From: from, Hashes: e.Hashes}})
	case harvester.SendBlocks:
		d.queue = append(d.queue, hvMsg{toH: e.To, hev: harvester.FetchResponse{From: from, Blocks: e.Blocks}})
	case harvester.BroadcastVote:
		if d.honest(from) && !d.sc.skipVoteCheck {
			d.checkVote(from, e.Vote)
		}
		d.toOthers(from, harvester.VoteReceived{Vote: e.Vote})
	case harvester.Submit:
		if !d.seenCmd[e.Cmd.ID] {
			d.seenCmd[e.Cmd.ID] = true
			d.pending = append(d.pending, e.Cmd)
		}
	case harvester.Finalized:
		if d.honest(from) {
			d.checkFinalized(from, &e, lastFinal)
		}
		for _, r := range e.Rejected {
			if !slices.ContainsFunc(d.rejectedSeen, func(ct dag.CertifiedTx) bool { return ct.Digest() == r.Digest }) {
				for _, ct := range d.sc.all {
					if ct.Digest() == r.Digest {
						d.rejectedSeen = append(d.rejectedSeen, ct)
					}
				}
			}
		}
	case harvester.NotifyMiners:
		d.toMiners(miner.FinalNotice{From: from, Round: e.Round, Cert: e.Cert, Block: e.Block})
	case harvester.Violation:
		if d.honest(from) {
			d.fail("harvester %d: violation in round %d: %v", from, e.Round, e.Err)
		}
	case harvester.Rejected:
		// Honest input is never refused for a non-benign reason: the
		// only expected ones are the tampering miner's blocks and, with
		// a Byzantine harvester, its blocks that nobody holds yet when
		// asked (its own store has neither variant: DAG-4 gives up).
		if d.honest(from) && !e.Benign() {
			d.nonBenign++
			why := harvester.ReasonOf(e.Err)
			if !(d.sc.byzMiner != 0 && why == harvester.ReasonMismatch || d.sc.byzH != 0 && why == harvester.ReasonUnavailable) {
				d.fail("harvester %d refused %s: %v (no fault of the scenario explains it)", from, e.What, e.Err)
			}
		}
	}
}

func (d *hvDriver) routeM(from dag.MinerID, effs []miner.Effect) {
	for _, e := range effs {
		switch e := e.(type) {
		case miner.SetTimer:
			d.tseq++
			d.timers = append(d.timers, hvTimer{at: e.At, seq: d.tseq, to: from, ev: miner.TimerFired{Round: e.Round, Rank: e.Rank}})
		case miner.BroadcastConvergence:
			cb := e.Block
			if from == d.sc.byzMiner {
				cb = d.tamper(cb)
				d.tampered++
			}
			d.convs[cb.Hash()] = cb
			for i := 1; i <= hvN; i++ {
				d.queue = append(d.queue, hvMsg{toH: certification.Member(i), hev: harvester.ConvergenceReceived{From: from, Block: cb}})
			}
		case miner.Violation:
			if from != d.sc.byzMiner {
				d.fail("miner %d: violation in round %d: %v", from, e.Round, e.Err)
			}
		}
	}
}

// tamper is the Byzantine miner: one field of its block changed.
func (d *hvDriver) tamper(cb dag.ConvergenceBlock) dag.ConvergenceBlock {
	t := cb
	t.Applied = slices.Clone(cb.Applied)
	t.Rejected = slices.Clone(cb.Rejected)
	switch k := d.c.pick(3, "tamper"); {
	case k == 1 && len(t.Applied) >= 2:
		t.Applied[0], t.Applied[1] = t.Applied[1], t.Applied[0]
	case k == 2 && len(t.Rejected) > 0:
		t.Rejected = t.Rejected[1:]
	default:
		t.Fees++
	}
	return t
}

// byzantinePropose replaces the Byzantine harvester's block by one with
// extra certified transfers, or by two different ones (equivocation).
func (d *hvDriver) byzantinePropose(from certification.Member, b dag.ProposalBlock) {
	variant := func(label string) dag.ProposalBlock {
		v := b
		v.Txs = slices.Clone(b.Txs)
		has := func(dg tx.Digest) bool {
			return slices.ContainsFunc(v.Txs, func(ct dag.CertifiedTx) bool { return ct.Digest() == dg })
		}
		if d.sc.byzRepropose {
			for _, ct := range d.rejectedSeen {
				if !has(ct.Digest()) {
					v.Txs = append(v.Txs, ct)
				}
			}
		}
		for _, ct := range d.sc.all {
			if !has(ct.Digest()) && d.c.pick(4, label) == 0 {
				v.Txs = append(v.Txs, ct)
			}
		}
		return dag.SignProposal(d.f.Shares[from-1], v)
	}
	a := variant("byzExtra")
	d.proposals[a.Hash()] = a
	d.byzBlocks++
	if !d.sc.byzEquivocate {
		d.toOthers(from, harvester.ProposalReceived{From: from, Block: a})
		d.toMiners(miner.ProposalReceived{Block: a})
		return
	}
	o := variant("byzExtra2")
	d.proposals[o.Hash()] = o
	// Two halves; each variant reaches at least one honest harvester (so
	// that a referenced block can be fetched) and one miner.
	for i := 1; i <= hvN; i++ {
		m := certification.Member(i)
		if m == from {
			continue
		}
		blk := a
		if d.c.pick(2, "byzHalf") == 0 && m != 1 || m == 2 {
			blk = o
		}
		d.queue = append(d.queue, hvMsg{toH: m, hev: harvester.ProposalReceived{From: from, Block: blk}})
		if m == 3 && d.c.pick(2, "byzBothToHarvester") == 0 {
			// Harvester 3 sees both and broadcasts the evidence (PB-5).
			d.queue = append(d.queue, hvMsg{toH: m, hev: harvester.ProposalReceived{From: from, Block: a}},
				hvMsg{toH: m, hev: harvester.ProposalReceived{From: from, Block: o}})
		}
	}
	d.queue = append(d.queue, hvMsg{toM: 1, mev: miner.ProposalReceived{Block: a}})
	d.queue = append(d.queue, hvMsg{toM: 2, mev: miner.ProposalReceived{Block: o}})
	if d.c.pick(2, "byzBothToMiner") == 0 {
		d.queue = append(d.queue, hvMsg{toM: 1, mev: miner.ProposalReceived{Block: o}})
	}
	d.byzBlocks++
}

// ---- the abstraction of a round and the model's Certify ----

func (d *hvDriver) getProposal(h dag.Hash) (*dag.ProposalBlock, bool) {
	b, ok := d.proposals[h]
	return &b, ok
}

// rejectedSet is CONV-14's set after chain c by model rules: the IDs final
// blocks rejected whose slot is open at the tip, with the first reason.
func (d *hvDriver) rejectedSet(c []model.Block) map[int]model.Reason {
	tip := d.canon[0].mb.Post
	if len(c) > 0 {
		tip = c[len(c)-1].Post
	}
	nonce := map[int]uint64{}
	for _, a := range tip.Accounts {
		nonce[a.ID] = a.Nonce
	}
	set := map[int]model.Reason{}
	for _, b := range c {
		for _, r := range b.Rejected {
			if t := d.abs.byID(r.ID); t.Nonce >= nonce[t.From] {
				if _, ok := set[r.ID]; !ok {
					set[r.ID] = r.Reason
				}
			}
		}
	}
	return set
}

func (d *hvDriver) canonModel() []model.Block {
	var c []model.Block
	for _, f := range d.canon[1:] {
		c = append(c, f.mb)
	}
	return c
}

// legal reports why cb is not a block the model's Certify could produce
// for its round on the canonical chain before it, nil if it is; it also
// returns the model block.
func (d *hvDriver) legal(cb *dag.ConvergenceBlock) (model.Block, error) {
	r := int(cb.Round)
	if r < 1 || r > len(d.canon) {
		return model.Block{}, fmt.Errorf("round %d: no final round %d to build on", r, r-1)
	}
	pre := d.canon[r-1]
	switch {
	case cb.Quorum != d.f.Harvesters.Quorum || cb.Epoch != d.f.Harvesters.Epoch:
		return model.Block{}, errors.New("another quorum or epoch")
	case cb.Prev != pre.hash:
		return model.Block{}, fmt.Errorf("prev %x… is not the round %d final block %x…", cb.Prev[:4], r-1, pre.hash[:4])
	case cb.Beacon != pre.beacon:
		return model.Block{}, fmt.Errorf("beacon %x… is not beacon_%d %x…", cb.Beacon[:4], r, pre.beacon[:4])
	case int(cb.Rank) >= d.p.Fallbacks || int(cb.Rank) >= hvMiners || dag.MinerRanking(pre.beacon, cb.Round, hvMiners)[cb.Rank] != cb.Miner:
		return model.Block{}, fmt.Errorf("miner %d is not the rank-%d miner of round %d (ORD-3)", cb.Miner, cb.Rank, r)
	}
	chain := d.canonModel()[:r-1]
	mi := model.Input{Round: r, Positions: dagPositions(pre.beacon, hvN), Prev: pre.mb.Post, Deferred: pre.mb.Deferred,
		MinRefs: d.p.MinRefs, MaxDeferRounds: int(d.p.MaxDeferRounds)}
	for id := range d.rejectedSet(chain) {
		mi.Rejected = append(mi.Rejected, id)
	}
	slices.Sort(mi.Rejected)
	for _, ref := range cb.Refs {
		b, ok := d.proposals[ref.Hash]
		if !ok {
			return model.Block{}, fmt.Errorf("references unknown block %x…", ref.Hash[:4])
		}
		p, err := d.abs.proposal(&b)
		if err != nil {
			return model.Block{}, err
		}
		mi.Blocks = append(mi.Blocks, p)
	}
	for _, e := range cb.Equivocations {
		b1, ok1 := d.proposals[e.Hash1]
		b2, ok2 := d.proposals[e.Hash2]
		if ok1 && ok2 {
			p1, err1 := d.abs.proposal(&b1)
			p2, err2 := d.abs.proposal(&b2)
			if err1 == nil && err2 == nil && dagBlockDiff(model.Block{Refs: []model.Proposal{p1}}, model.Block{Refs: []model.Proposal{p2}}) != "" {
				mi.Blocks = append(mi.Blocks, p1, p2) // the model sees the equivocation itself
				continue
			}
		}
		mi.Evidence = append(mi.Evidence, int(e.Proposer))
	}
	want, err := model.Converge(mi)
	if err != nil {
		return model.Block{}, fmt.Errorf("model refuses the round: %v", err)
	}
	var applied []tx.Transfer
	for _, dg := range cb.Applied {
		id, err := d.abs.id(dg)
		if err != nil {
			return want, err
		}
		applied = append(applied, d.abs.txs[id-1])
	}
	post, err := hvApply(pre.tree, applied)
	if err != nil {
		return want, fmt.Errorf("applied transfers do not apply (FARM-11): %v", err)
	}
	if root := post.Root(); root != cb.StateRoot {
		return want, fmt.Errorf("state root %x… is not the root after its applied transfers %x…", cb.StateRoot[:4], root[:4])
	}
	got, err := d.abs.block(cb, d.getProposal, post)
	if err != nil {
		return want, err
	}
	if df := dagBlockDiff(want, got); df != "" {
		return want, fmt.Errorf("not model Converge of what it references (-model +impl):\n%s", df)
	}
	return want, nil
}

func (d *hvDriver) legalMemoized(cb *dag.ConvergenceBlock) error {
	h := cb.Hash()
	if err, ok := d.legalMemo[h]; ok {
		return err
	}
	if int(cb.Round) >= len(d.canon)+1 {
		return fmt.Errorf("round %d: round %d not final anywhere", cb.Round, cb.Round-1)
	}
	_, err := d.legal(cb)
	d.legalMemo[h] = err
	return err
}

// hvApply is FARM-11 on a copy of tree.
func hvApply(tree state.Tree, txs []tx.Transfer) (state.Tree, error) {
	var g []state.Change
	tree.Each(func(id tx.AccountID, a tx.Account) { g = append(g, state.Change{ID: id, Account: a}) })
	st, err := state.NewMem(g)
	if err != nil {
		return state.Tree{}, err
	}
	if _, err := st.Apply(txs); err != nil {
		return state.Tree{}, err
	}
	return st.Tree(), nil
}

// ---- checkers ----

func (d *hvDriver) checkPropose(from certification.Member, b *dag.ProposalBlock) {
	d.proposalsChecked++
	r := int(b.Round)
	if r > len(d.canon) || len(d.hashes[from-1]) != r-1 {
		d.fail("harvester %d proposes for round %d with %d final rounds", from, r, len(d.hashes[from-1]))
		return
	}
	chain := d.chains[from-1]
	done := map[int]bool{}
	for _, mb := range chain {
		for _, id := range mb.Applied {
			done[id] = true
		}
		for _, x := range mb.Rejected {
			done[x.ID] = true
		}
	}
	if len(chain) > 0 {
		for _, x := range chain[len(chain)-1].Deferred {
			done[x.Tx.ID] = true
		}
	}
	for i := range b.Txs {
		dg := b.Txs[i].Digest()
		id, err := d.abs.id(dg)
		switch {
		case err != nil:
			d.fail("harvester %d round %d: proposes a transfer the run never certified", from, r)
		case !slices.Contains(d.gotTx[dg], from):
			d.fail("harvester %d round %d: proposes transfer %d it was never given (MEV-6)", from, r, id)
		case done[id]:
			d.fail("harvester %d round %d: proposes transfer %d, resolved or carried by its chain (MEV-6, the model's Pool)", from, r, id)
		}
	}
}

func (d *hvDriver) checkVote(from certification.Member, v certification.Vote) {
	d.votesChecked++
	cb, ok := d.convs[dag.Hash(v.Value.Subject)]
	if !ok {
		d.fail("harvester %d votes for a block no miner sent", from)
		return
	}
	if v.Statement != dag.ConvergenceStatement(d.f.Harvesters, &cb) {
		d.fail("harvester %d: vote statement is not its block's", from)
		return
	}
	if err := d.legalMemoized(&cb); err != nil {
		d.fail("MINE-3/CONV-13: harvester %d votes for round %d rank %d block %x… of miner %d, which is no model Certify: %v",
			from, cb.Round, cb.Rank, v.Value.Subject[:4], cb.Miner, err)
	}
}

// firstCommitted is FIN-1 on the log prefix the harvester was given.
func (d *hvDriver) firstCommitted(m certification.Member, r dag.Round) (dag.Hash, bool) {
	for _, cmd := range d.log[:d.given[m-1]] {
		cert, cb, err := harvester.DecodeCommand(cmd)
		if err != nil || cb.Round != r || cb.Prev != d.canon[r-1].hash {
			continue
		}
		ok, seen := d.cmdOK[cmd.ID]
		if !seen {
			ok = cert.Verify(d.f.Harvesters) == nil && cert.Statement == dag.ConvergenceStatement(d.f.Harvesters, &cb)
			d.cmdOK[cmd.ID] = ok
		}
		if !ok {
			continue
		}
		if d.legalMemoized(&cb) == nil {
			return cb.Hash(), true
		}
	}
	return dag.Hash{}, false
}

func (d *hvDriver) checkFinalized(m certification.Member, e *harvester.Finalized, lastFinal bool) {
	d.finalsChecked++
	i := m - 1
	r := e.Round
	cb := &e.Block
	hash := cb.Hash()
	if int(r) != len(d.hashes[i])+1 || int(r) > len(d.canon) {
		d.fail("harvester %d finalizes round %d after %d rounds", m, r, len(d.hashes[i]))
		return
	}
	if d.hashes[i] != nil && d.hashes[i][r-2] != d.canon[r-1].hash {
		d.fail("harvester %d: its chain left the canonical one", m)
		return
	}
	// FIN-1, FIN-3, ORD-1.
	if err := e.Cert.Verify(d.f.Harvesters); err != nil || e.Cert.Statement != dag.ConvergenceStatement(d.f.Harvesters, cb) {
		d.fail("harvester %d round %d: the certificate does not certify the block: %v", m, r, err)
		return
	}
	if e.Beacon != dag.NextBeacon(e.Cert) {
		d.fail("harvester %d round %d: Finalized.Beacon is not NextBeacon(cert) (ORD-1)", m, r)
	}
	// Certify + Finalize: the block is the model's.
	mb, err := d.legal(cb)
	if err != nil {
		d.fail("harvester %d finalizes round %d with a block that is no model Certify: %v", m, r, err)
		return
	}
	first, ok := d.firstCommitted(m, r)
	if !ok || first != hash {
		d.fail("FIN-1: harvester %d finalizes round %d with block %x… (miner %d rank %d); the first committed legal certificate it was given is %x… (found %v)",
			m, r, hash[:4], cb.Miner, cb.Rank, first[:4], ok)
		return
	}
	// FIN-2 on a mirror of its state store.
	if len(e.Applied) != len(cb.Applied) {
		d.fail("harvester %d round %d: Finalized.Applied has %d transfers, the block %d", m, r, len(e.Applied), len(cb.Applied))
		return
	}
	for k := range e.Applied {
		if e.Applied[k].Digest() != cb.Applied[k] {
			d.fail("harvester %d round %d: Finalized.Applied[%d] is not the block's", m, r, k)
			return
		}
	}
	head, err := d.mirrors[i].Apply(e.Applied)
	if err != nil || head.Root != cb.StateRoot {
		d.fail("FIN-2: harvester %d round %d: Applied on its mirror: %v, root %x…, block %x…", m, r, err, head.Root[:4], cb.StateRoot[:4])
		return
	}
	if got, err := d.abs.ledger(d.mirrors[i].Tree()); err != nil || dagBlockDiff(model.Block{Post: mb.Post}, model.Block{Post: got}) != "" {
		d.fail("harvester %d round %d: mirror ledger %+v, model post %+v (%v)", m, r, got, mb.Post, err)
		return
	}
	if len(e.Rejected) != len(cb.Rejected) {
		d.fail("harvester %d round %d: Finalized.Rejected has %d, the block %d", m, r, len(e.Rejected), len(cb.Rejected))
		return
	}
	for k, x := range e.Rejected {
		if x.Digest != cb.Rejected[k].Digest || x.Reason != cb.Rejected[k].Reason || x.Transfer.Digest() != x.Digest {
			d.fail("harvester %d round %d: Finalized.Rejected[%d] is not the block's", m, r, k)
			return
		}
	}
	// ChainsPrefix: the canonical chain is the first finalization of each
	// round; every other must be the same block.
	if int(r) == len(d.canon) {
		// How often CONV-14 mattered: referenced transfers in the rejected set.
		rej := d.rejectedSet(d.canonModel())
		for _, p := range mb.Refs {
			for _, t := range p.Txs {
				if _, ok := rej[t.ID]; ok {
					d.excludedRefs++
				}
			}
		}
		d.canon = append(d.canon, hvFinal{hash: hash, mb: mb, tree: d.mirrors[i].Tree(), beacon: e.Beacon})
		for _, x := range cb.Rejected {
			d.reasons[x.Reason]++
		}
		d.applied += len(cb.Applied)
		d.deferred += len(cb.Deferred)
		d.equivocations += len(cb.Equivocations)
		if int(r) == d.batches {
			d.giveBatch()
		}
	} else if d.canon[r].hash != hash {
		d.fail("ChainsPrefix (FIN-4): harvester %d finalizes round %d with %x…, another honest harvester with %x…", m, r, hash[:4], d.canon[r].hash[:4])
		return
	}
	d.hashes[i] = append(d.hashes[i], hash)
	d.chains[i] = append(d.chains[i], mb)
	if err := d.chainInvariants(d.chains[i]); err != nil {
		d.fail("harvester %d after round %d: %v", m, r, err)
		return
	}
	// The harvester's own ledger, when this is its latest final round.
	if h := d.hs[i]; lastFinal && h.Final().Round == r {
		d.stateChecks++
		got, err := d.abs.ledger(h.Tree())
		if err != nil || dagBlockDiff(model.Block{Post: mb.Post}, model.Block{Post: got}) != "" {
			d.fail("harvester %d round %d: its state tree abstracts to %+v, the model's post is %+v (%v)", m, r, got, mb.Post, err)
			return
		}
		want := d.rejectedSet(d.chains[i])
		gotSet := map[int]model.Reason{}
		for _, en := range h.RejectedSet().Entries() {
			id, err := d.abs.id(en.Digest)
			if err != nil {
				d.fail("harvester %d: rejected set: %v", m, err)
				return
			}
			why, _ := dagModelReason(en.Reason)
			gotSet[id] = why
		}
		if fmt.Sprint(want) != fmt.Sprint(gotSet) {
			d.fail("CONV-14: harvester %d after round %d: rejected set %v, the model's %v", m, r, gotSet, want)
		}
	}
}

// chainInvariants re-checks the model's invariants on one abstracted
// chain (see the file comment for why not model/dag's own functions).
func (d *hvDriver) chainInvariants(c []model.Block) error {
	appliedAt := map[int]int{}
	slot := map[model.Slot]int{}
	var fees uint64
	for i, b := range c {
		for _, id := range b.Applied {
			if _, ok := appliedAt[id]; ok {
				return fmt.Errorf("NoDoubleFinalize: transfer %d applied twice", id)
			}
			appliedAt[id] = i + 1
			t := d.abs.byID(id)
			if u, ok := slot[t.Slot()]; ok && u != id {
				return fmt.Errorf("OnePerSlot: transfers %d and %d of slot %+v applied", u, id, t.Slot())
			}
			slot[t.Slot()] = id
			if !d.certified[d.abs.txs[id-1].Digest()] {
				return fmt.Errorf("FinalizedWereCertified: transfer %d", id)
			}
			fees += t.Fee
		}
	}
	for i, b := range c {
		for _, x := range b.Rejected {
			if at, ok := appliedAt[x.ID]; ok && at > i+1 {
				return fmt.Errorf("RejectionsFinal (CONV-14): transfer %d rejected (%s) in round %d, applied in round %d", x.ID, x.Reason, i+1, at)
			}
		}
	}
	tip := c[len(c)-1].Post
	sum := tip.Sink
	for _, a := range tip.Accounts {
		sum += a.Balance
	}
	if sum != d.supply || tip.Sink != fees {
		return fmt.Errorf("Conservation (FIN-8): supply %d (want %d), sink %d, fees of applied transfers %d", sum, d.supply, tip.Sink, fees)
	}
	resolved := map[int]bool{}
	for _, b := range c {
		for _, id := range b.Applied {
			resolved[id] = true
		}
		for _, x := range b.Rejected {
			resolved[x.ID] = true
		}
	}
	for i, b := range c {
		if len(c) < i+1+hvMaxDefer {
			continue
		}
		for _, p := range b.Refs {
			for _, t := range p.Txs {
				if !resolved[t.ID] {
					return fmt.Errorf("Deadline (CONV-9, FIN-6): transfer %d of a counted block of round %d unresolved after round %d", t.ID, i+1, len(c))
				}
			}
		}
	}
	return nil
}

// finalChecks: every honest chain and every miner's followed chain is a
// prefix of the canonical chain.
func (d *hvDriver) finalChecks() error {
	for i, hs := range d.hashes {
		if !d.honest(certification.Member(i + 1)) {
			continue
		}
		impl := d.hs[i].FinalChain()
		for r, h := range hs {
			if h != d.canon[r+1].hash || r+1 >= len(impl) || impl[r+1] != h {
				return fmt.Errorf("ChainsPrefix: harvester %d round %d", i+1, r+1)
			}
		}
	}
	for _, m := range d.ms {
		if m.Config().ID == d.sc.byzMiner {
			continue
		}
		for r, h := range m.FinalChain() {
			if r >= len(d.canon) || d.canon[r].hash != h {
				return fmt.Errorf("ChainsPrefix: miner %d followed a round %d block no honest harvester finalized", m.Config().ID, r)
			}
		}
	}
	return nil
}

// ---- the scheduler ----

func (d *hvDriver) done() bool {
	for i := range d.hs {
		if d.honest(certification.Member(i+1)) && len(d.hashes[i]) < d.sc.rounds {
			return false
		}
	}
	return true
}

// holdCommit: in pairs runs, commit once two certified blocks of the
// lowest round not yet final everywhere are pending.
func (d *hvDriver) holdCommit() bool {
	if !d.sc.pairs {
		return false
	}
	low := dag.Round(len(d.canon))
	subjects := map[dag.Hash]bool{}
	for _, cmd := range d.pending {
		if _, cb, err := harvester.DecodeCommand(cmd); err == nil && cb.Round == low {
			subjects[cb.Hash()] = true
		}
	}
	return len(subjects) < 2
}

func (d *hvDriver) deliver(k int) {
	msg := d.queue[k]
	d.queue = slices.Delete(d.queue, k, k+1)
	if msg.toH != 0 {
		d.stepH(msg.toH, msg.hev)
		return
	}
	d.routeM(msg.toM, d.ms[msg.toM-1].Step(msg.mev))
}

func (d *hvDriver) commit() {
	dagShuffle(d.c, d.pending, "commitOrder")
	d.log = append(d.log, d.pending...)
	d.pending = nil
}

func (d *hvDriver) giveLog(i int) {
	n := d.given[i] + 1 + d.c.pick(len(d.log)-d.given[i], "logPrefix")
	cmds := slices.Clone(d.log[d.given[i]:n])
	d.given[i] = n
	d.stepH(certification.Member(i+1), harvester.Committed{Cmds: cmds})
}

func (d *hvDriver) fireTimer() {
	slices.SortFunc(d.timers, func(a, b hvTimer) int {
		if a.at != b.at {
			return int(a.at - b.at)
		}
		return a.seq - b.seq
	})
	tm := d.timers[0]
	d.timers = d.timers[1:]
	if tm.at > d.now {
		d.now = tm.at
		for i := range d.ms {
			d.routeM(dag.MinerID(i+1), d.ms[i].Step(miner.Tick{Now: d.now}))
		}
	}
	d.routeM(tm.to, d.ms[tm.to-1].Step(tm.ev))
}

func (d *hvDriver) lagging() []int {
	var out []int
	for i := range d.hs {
		if d.given[i] < len(d.log) {
			out = append(out, i)
		}
	}
	return out
}

// step makes one scheduling choice; false when nothing can happen.
func (d *hvDriver) step() bool {
	d.steps++
	switch k := d.c.pick(20, "action"); {
	case k < 15 && len(d.queue) > 0:
		d.deliver(d.c.pick(len(d.queue), "deliver"))
		return true
	case k == 15 && len(d.pending) > 0 && !d.holdCommit():
		d.commit()
		return true
	case (k == 16 || k == 17) && len(d.lagging()) > 0:
		lag := d.lagging()
		d.giveLog(lag[d.c.pick(len(lag), "lagging")])
		return true
	case k == 18 && len(d.timers) > 0:
		d.fireTimer()
		return true
	}
	// Nothing chosen could happen: the first thing that can, in a fixed
	// order (so the run cannot idle).
	switch {
	case len(d.queue) > 0:
		d.deliver(0)
	case len(d.lagging()) > 0:
		d.giveLog(d.lagging()[0])
	case len(d.pending) > 0 && !d.holdCommit():
		d.commit()
	case len(d.timers) > 0:
		d.fireTimer()
	case len(d.pending) > 0:
		d.commitsHeld++
		d.commit()
	default:
		return false
	}
	return true
}

func (d *hvDriver) run() error {
	for !d.done() {
		if d.err != nil {
			return d.err
		}
		if d.steps >= hvMaxSteps {
			return fmt.Errorf("no progress after %d steps: harvesters at rounds %v", d.steps, d.rounds())
		}
		if !d.step() {
			return fmt.Errorf("quiescent with harvesters at rounds %v", d.rounds())
		}
	}
	if d.err != nil {
		return d.err
	}
	return d.finalChecks()
}

func (d *hvDriver) rounds() []dag.Round {
	var out []dag.Round
	for _, h := range d.hs {
		out = append(out, h.Round())
	}
	return out
}

// hvRun generates the scenario for seed and runs it; mutate plants a bug.
func hvRun(t testing.TB, seed uint64, force hvForce, mutate func(*hvScenario)) (*hvDriver, error) {
	c := dagPCGChooser{rand.New(rand.NewPCG(seed, 0x4a7))}
	sc, err := hvGenScenario(c, hvFixture(t), force)
	if err != nil {
		t.Fatal(err)
	}
	if mutate != nil {
		mutate(sc)
	}
	d, err := newHvDriver(t, c, sc)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.run(); err != nil {
		return d, fmt.Errorf("%w\nscenario: %v", err, sc)
	}
	return d, nil
}

// hvSeedForce: even seeds of TestHarvesterRefinesModel have a Byzantine
// harvester, so that few seeds cover both kinds of run.
func hvSeedForce(seed uint64) hvForce { return hvForce{byzH: seed%2 == 0} }

// TestHarvesterRefinesModel: in random runs every honest vote and
// committed block is a model Certify, every finalization a model Finalize
// of the first committed one, and the model invariants hold on the
// abstracted chains (see the file comment). spec: MINE-3, CONV-13, CONV-14,
// FIN-1..FIN-8, tla: DAGConvergence!Certify, DAGConvergence!Finalize
func TestHarvesterRefinesModel(t *testing.T) {
	first, seeds := uint64(1), uint64(*hvSeeds)
	if *hvSeed != 0 {
		first, seeds = *hvSeed, 1
	}
	var tot hvDriver
	tot.reasons = map[dag.Reason]int{}
	byz, pairs := 0, 0
	for seed := first; seed < first+seeds; seed++ {
		d, err := hvRun(t, seed, hvSeedForce(seed), nil)
		if err != nil {
			t.Fatalf("seed %d (rerun with -run=TestHarvesterRefinesModel -dag.harvester.seed=%d): %v", seed, seed, err)
		}
		tot.steps += d.steps
		tot.votesChecked += d.votesChecked
		tot.finalsChecked += d.finalsChecked
		tot.proposalsChecked += d.proposalsChecked
		tot.stateChecks += d.stateChecks
		tot.applied += d.applied
		tot.deferred += d.deferred
		tot.equivocations += d.equivocations
		tot.byzBlocks += d.byzBlocks
		tot.tampered += d.tampered
		tot.commitsHeld += d.commitsHeld
		tot.nonBenign += d.nonBenign
		for r, n := range d.reasons {
			tot.reasons[r] += n
		}
		// Every committed block is a model Certify; count the rounds in
		// which FIN-1 chose between two different certified blocks.
		perRound := map[dag.Round]map[dag.Hash]bool{}
		for _, cmd := range d.log {
			_, cb, err := harvester.DecodeCommand(cmd)
			if err != nil || int(cb.Round) >= len(d.canon)+1 {
				continue
			}
			if err := d.legalMemoized(&cb); err != nil {
				t.Fatalf("seed %d: committed block of round %d is no model Certify: %v", seed, cb.Round, err)
			}
			tot.cmdsChecked++
			if perRound[cb.Round] == nil {
				perRound[cb.Round] = map[dag.Hash]bool{}
			}
			perRound[cb.Round][cb.Hash()] = true
		}
		for _, hs := range perRound {
			if len(hs) > 1 {
				tot.decisive++
			}
		}
		tot.excludedRefs += d.excludedRefs
		if d.sc.byzH != 0 {
			byz++
		}
		if d.sc.pairs {
			pairs++
		}
	}
	t.Logf("%d runs (%d with a Byzantine harvester, %d committing in pairs): %d scheduling steps, %d honest proposals, %d votes, %d committed commands (%d rounds with two certified blocks committed), %d finalizations checked (%d with the harvester's own state and rejected set); canonical chains: %d applied, rejected %v, %d deferred, %d equivocators excluded, %d referenced transfers excluded by the rejected set; %d Byzantine blocks, %d tampered convergence blocks, %d non-benign rejections at honest harvesters (all from those faults), %d held commits released for want of other steps",
		seeds, byz, pairs, tot.steps, tot.proposalsChecked, tot.votesChecked, tot.cmdsChecked, tot.decisive, tot.finalsChecked, tot.stateChecks,
		tot.applied, tot.reasons, tot.deferred, tot.equivocations, tot.excludedRefs, tot.byzBlocks, tot.tampered, tot.nonBenign, tot.commitsHeld)
	if seeds >= 4 && (tot.votesChecked == 0 || tot.decisive == 0 || tot.excludedRefs == 0 || len(tot.reasons) < 4 || tot.byzBlocks == 0) {
		t.Error("the runs exercised too little")
	}
}

// TestHarvesterRefinementCatchesPlantedBugs: each of impl/harvester's
// planted bugs fails the check for some seed (printed); the same seed and
// scenario pass without it.
func TestHarvesterRefinementCatchesPlantedBugs(t *testing.T) {
	const maxSeed = 12
	for _, tc := range []struct {
		name  string
		force hvForce
		plant func(*hvScenario)
	}{
		{"IgnoreRejectedSet (harvesters and miners)", hvForce{byzH: true, byzRepropose: true, overdue: true}, func(sc *hvScenario) {
			sc.hmut.IgnoreRejectedSet = true
			sc.mmut.IgnoreRejectedSet = true
			for m := 1; m <= hvN; m++ {
				sc.mutants = append(sc.mutants, certification.Member(m))
			}
		}},
		{"IgnoreRejectedSet (harvesters and miners), vote checker off", hvForce{byzH: true, byzRepropose: true, overdue: true}, func(sc *hvScenario) {
			sc.hmut.IgnoreRejectedSet = true
			sc.mmut.IgnoreRejectedSet = true
			for m := 1; m <= hvN; m++ {
				sc.mutants = append(sc.mutants, certification.Member(m))
			}
			sc.skipVoteCheck = true
		}},
		{"SkipFirstCommittedRule (harvester 1)", hvForce{pairs: true, noByzMiner: true}, func(sc *hvScenario) {
			sc.hmut.SkipFirstCommittedRule = true
			sc.mutants = []certification.Member{1}
		}},
		{"VoteWithoutRecompute (all harvesters)", hvForce{byzMiner: true}, func(sc *hvScenario) {
			sc.hmut.VoteWithoutRecompute = true
			for m := 1; m <= hvN; m++ {
				sc.mutants = append(sc.mutants, certification.Member(m))
			}
		}},
	} {
		caught := false
		for seed := uint64(1); seed <= maxSeed && !caught; seed++ {
			_, err := hvRun(t, seed, tc.force, tc.plant)
			if err == nil {
				continue
			}
			caught = true
			t.Logf("%s caught with seed %d: %.400s", tc.name, seed, err)
			if _, err := hvRun(t, seed, tc.force, func(sc *hvScenario) { sc.skipVoteCheck = false }); err != nil {
				t.Errorf("%s: seed %d fails without the planted bug too: %v", tc.name, seed, err)
			}
		}
		if !caught {
			t.Errorf("%s: not caught in seeds 1..%d", tc.name, maxSeed)
		}
	}
}

// TestHarvesterChainCheckersCanFail: each invariant predicate of
// chainInvariants rejects a doctored copy of a real run's canonical chain
// (the predicates are this file's re-statement of model/dag's, so they
// need their own evidence that they can fail).
func TestHarvesterChainCheckersCanFail(t *testing.T) {
	d, err := hvRun(t, 1, hvForce{overdue: true}, nil)
	if err != nil {
		t.Fatalf("seed 1: %v", err)
	}
	chain := d.canonModel()
	if err := d.chainInvariants(chain); err != nil {
		t.Fatalf("the real chain fails: %v", err)
	}
	clone := func() []model.Block {
		c := make([]model.Block, len(chain))
		for i, b := range chain {
			b.Applied = slices.Clone(b.Applied)
			b.Refs = slices.Clone(b.Refs)
			b.Post.Accounts = slices.Clone(b.Post.Accounts)
			c[i] = b
		}
		return c
	}
	last := len(chain) - 1
	appliedSlots := map[model.Slot]bool{}
	resolved := map[int]bool{}
	for _, b := range chain {
		for _, id := range b.Applied {
			appliedSlots[d.abs.byID(id).Slot()] = true
			resolved[id] = true
		}
		for _, x := range b.Rejected {
			resolved[x.ID] = true
		}
	}
	type doctor struct {
		name string
		want string
		edit func(c []model.Block) bool // false: the chain has nothing to doctor
	}
	for _, dc := range []doctor{
		{"an applied transfer applied again", "NoDoubleFinalize", func(c []model.Block) bool {
			for i, b := range c[:last] {
				if len(b.Applied) > 0 {
					c[last].Applied = append(c[last].Applied, c[i].Applied[0])
					return true
				}
			}
			return false
		}},
		{"a conflict loser applied", "OnePerSlot", func(c []model.Block) bool {
			for _, b := range c {
				for _, x := range b.Rejected {
					if x.Reason == model.ReasonConflict && appliedSlots[d.abs.byID(x.ID).Slot()] {
						c[last].Applied = append(c[last].Applied, x.ID)
						return true
					}
				}
			}
			return false
		}},
		{"a rejected transfer applied later", "RejectionsFinal", func(c []model.Block) bool {
			for i, b := range c[:last] {
				for _, x := range b.Rejected {
					if !appliedSlots[d.abs.byID(x.ID).Slot()] {
						c[i+1].Applied = append(c[i+1].Applied, x.ID)
						return true
					}
				}
			}
			return false
		}},
		{"a unit of supply created", "Conservation", func(c []model.Block) bool {
			c[last].Post.Sink++
			return true
		}},
		{"an unresolved transfer in an early counted block", "Deadline", func(c []model.Block) bool {
			if len(c) < 1+hvMaxDefer || len(c[0].Refs) == 0 {
				return false
			}
			for id := 1; id <= len(d.abs.txs); id++ {
				if !resolved[id] {
					p := c[0].Refs[0]
					p.Txs = append(slices.Clone(p.Txs), d.abs.byID(id))
					c[0].Refs[0] = p
					return true
				}
			}
			return false
		}},
	} {
		c := clone()
		if !dc.edit(c) {
			t.Errorf("%s: the run's chain has nothing to doctor", dc.name)
			continue
		}
		err := d.chainInvariants(c)
		if err == nil || !strings.Contains(err.Error(), dc.want) {
			t.Errorf("%s: %v, want a %s violation", dc.name, err, dc.want)
			continue
		}
		t.Logf("%s: %v", dc.name, err)
	}
	// FinalizedWereCertified: forget one applied transfer's certificate.
	for _, b := range chain {
		if len(b.Applied) > 0 {
			dg := d.abs.txs[b.Applied[0]-1].Digest()
			d.certified[dg] = false
			err := d.chainInvariants(chain)
			d.certified[dg] = true
			if err == nil || !strings.Contains(err.Error(), "FinalizedWereCertified") {
				t.Errorf("an uncertified applied transfer: %v", err)
			}
			break
		}
	}
}
