package harvester

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/fhbft/fhbft/impl/certification"
	"github.com/fhbft/fhbft/impl/dag"
	"github.com/fhbft/fhbft/impl/harvester/harvestertest"
	"github.com/fhbft/fhbft/impl/miner"
	pm "github.com/fhbft/fhbft/impl/pacemaker"
	"github.com/fhbft/fhbft/impl/state"
	"github.com/fhbft/fhbft/impl/tx"
)

const (
	testN, testQ = 4, 3
	testMiners   = 2
	testAccounts = 8
	testWait     = 10 * time.Millisecond
	testFallback = 20 * time.Millisecond
)

var (
	fixtureOnce sync.Once
	theFixture  *harvestertest.Fixture
	fixtureErr  error
)

func fixture(t testing.TB) *harvestertest.Fixture {
	t.Helper()
	fixtureOnce.Do(func() { theFixture, fixtureErr = harvestertest.New(testN, testQ, testAccounts) })
	if fixtureErr != nil {
		t.Fatal(fixtureErr)
	}
	return theFixture
}

func certified(t testing.TB, from, to int, amount, fee, nonce uint64) dag.CertifiedTx {
	t.Helper()
	f := fixture(t)
	ct, err := f.Certify(f.Transfer(from, to, amount, fee, nonce))
	if err != nil {
		t.Fatal(err)
	}
	return ct
}

func harvesterConfig(t testing.TB, self certification.Member) Config {
	f := fixture(t)
	return Config{Roster: f.Harvesters, Self: self, Share: f.Shares[self-1], Params: f.Params,
		Miners: testMiners, Verifier: f.Verifier, Genesis: f.Genesis}
}

func newHarvester(t testing.TB, self certification.Member, mut func(*Config)) *Harvester {
	t.Helper()
	cfg := harvesterConfig(t, self)
	if mut != nil {
		mut(&cfg)
	}
	h, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// delivery is one event in flight to a harvester (toH ≥ 1) or a miner.
type delivery struct {
	toH certification.Member
	toM dag.MinerID
	hev Event
	mev miner.Event
}

type timer struct {
	at  time.Duration
	seq int
	to  dag.MinerID
	ev  miner.TimerFired
}

type rejection struct {
	node string
	what string
	err  error
}

// cluster wires nH harvesters and M miners by hand: effects become events
// in one FIFO queue; a fake pacemaker commits every submitted command, in
// submission order, to every harvester once the queue is empty; time
// advances only to the next miner timer when nothing else is left. Fully
// deterministic.
type cluster struct {
	t     testing.TB
	f     *harvestertest.Fixture
	hs    []*Harvester // hs[i] is member i+1
	ms    []*miner.Miner
	queue []delivery
	now   time.Duration
	tseq  int
	tms   []timer

	pending []pm.Command
	seenCmd map[pm.CommandID]bool

	mirrors    []*state.Store
	finalized  [][]Finalized // per harvester
	votes      map[certification.Member][]certification.Vote
	evidence   map[certification.Member][]dag.Equivocation
	built      map[dag.MinerID][]dag.ConvergenceBlock
	rejections []rejection
	violations []string

	// Hooks. interceptH sees every harvester effect first and returns true
	// if it routed the effect itself. holdCommit delays the fake
	// pacemaker's commit. onFinal runs on every Finalized of harvester 1.
	// lagging, if set, is a harvester whose commits are delivered only
	// when everything else is done: it sees the next round's input first.
	lagging    certification.Member
	lagCmds    [][]pm.Command
	interceptH func(from certification.Member, e Effect) bool
	interceptM func(from dag.MinerID, e miner.Effect) bool
	holdCommit func() bool
	onFinal    func(r dag.Round)
}

func newCluster(t testing.TB, hmut func(certification.Member, *Config), mmut func(dag.MinerID, *miner.Config)) *cluster {
	t.Helper()
	f := fixture(t)
	c := &cluster{t: t, f: f, seenCmd: map[pm.CommandID]bool{},
		votes: map[certification.Member][]certification.Vote{}, evidence: map[certification.Member][]dag.Equivocation{},
		built: map[dag.MinerID][]dag.ConvergenceBlock{}}
	for i := 1; i <= testN; i++ {
		m := certification.Member(i)
		c.hs = append(c.hs, newHarvester(t, m, func(cfg *Config) {
			if hmut != nil {
				hmut(m, cfg)
			}
		}))
		st, err := state.NewMem(f.Changes)
		if err != nil {
			t.Fatal(err)
		}
		c.mirrors = append(c.mirrors, st)
		c.finalized = append(c.finalized, nil)
	}
	for i := 1; i <= testMiners; i++ {
		cfg := miner.Config{ID: dag.MinerID(i), Miners: testMiners, Roster: f.Harvesters, Params: f.Params,
			Verifier: f.Verifier, Genesis: f.Genesis, Wait: testWait, FallbackDelay: testFallback}
		if mmut != nil {
			mmut(dag.MinerID(i), &cfg)
		}
		m, err := miner.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		c.ms = append(c.ms, m)
	}
	return c
}

func (c *cluster) h(m certification.Member) *Harvester { return c.hs[m-1] }

func (c *cluster) toH(m certification.Member, ev Event) {
	c.queue = append(c.queue, delivery{toH: m, hev: ev})
}

func (c *cluster) toM(id dag.MinerID, ev miner.Event) {
	c.queue = append(c.queue, delivery{toM: id, mev: ev})
}

// toOthers queues ev to every harvester but `from`.
func (c *cluster) toOthers(from certification.Member, ev Event) {
	for i := 1; i <= testN; i++ {
		if certification.Member(i) != from {
			c.toH(certification.Member(i), ev)
		}
	}
}

func (c *cluster) toMiners(ev miner.Event) {
	for i := 1; i <= testMiners; i++ {
		c.toM(dag.MinerID(i), ev)
	}
}

// give hands a certified transfer to the listed harvesters (all if none).
func (c *cluster) give(ct dag.CertifiedTx, to ...certification.Member) {
	if len(to) == 0 {
		for i := 1; i <= testN; i++ {
			to = append(to, certification.Member(i))
		}
	}
	for _, m := range to {
		c.toH(m, TxCertified{Tx: ct})
	}
}

func (c *cluster) start() {
	for i := 1; i <= testN; i++ {
		c.toH(certification.Member(i), Start{})
	}
}

func (c *cluster) routeH(from certification.Member, effs []Effect) {
	for _, e := range effs {
		if c.interceptH != nil && c.interceptH(from, e) {
			continue
		}
		switch e := e.(type) {
		case BroadcastProposal:
			c.toOthers(from, ProposalReceived{From: from, Block: e.Block})
			c.toMiners(miner.ProposalReceived{Block: e.Block})
		case BroadcastEvidence:
			c.evidence[from] = append(c.evidence[from], e.Evidence)
			c.toOthers(from, EvidenceReceived{Evidence: e.Evidence})
			c.toMiners(miner.EvidenceReceived{Evidence: e.Evidence})
		case SendFetch:
			c.toH(e.To, FetchRequest{From: from, Hashes: e.Hashes})
		case SendBlocks:
			c.toH(e.To, FetchResponse{From: from, Blocks: e.Blocks})
		case BroadcastVote:
			c.votes[from] = append(c.votes[from], e.Vote)
			c.toOthers(from, VoteReceived{Vote: e.Vote})
		case Submit:
			if !c.seenCmd[e.Cmd.ID] {
				c.seenCmd[e.Cmd.ID] = true
				c.pending = append(c.pending, e.Cmd)
			}
		case Finalized:
			c.finalized[from-1] = append(c.finalized[from-1], e)
			head, err := c.mirrors[from-1].Apply(e.Applied)
			if err != nil {
				c.violations = append(c.violations, fmt.Sprintf("harvester %d round %d: mirror apply: %v", from, e.Round, err))
			} else if head.Root != e.Block.StateRoot {
				c.violations = append(c.violations, fmt.Sprintf("harvester %d round %d: Applied gives root %x, block says %x", from, e.Round, head.Root[:4], e.Block.StateRoot[:4]))
			}
			if from == 1 && c.onFinal != nil {
				c.onFinal(e.Round)
			}
		case NotifyMiners:
			c.toMiners(miner.FinalNotice{From: from, Round: e.Round, Cert: e.Cert, Block: e.Block})
		case Rejected:
			c.rejections = append(c.rejections, rejection{fmt.Sprintf("harvester %d", from), e.What, e.Err})
		case Violation:
			c.violations = append(c.violations, fmt.Sprintf("harvester %d round %d: %v", from, e.Round, e.Err))
		}
	}
}

func (c *cluster) routeM(from dag.MinerID, effs []miner.Effect) {
	for _, e := range effs {
		if c.interceptM != nil && c.interceptM(from, e) {
			continue
		}
		switch e := e.(type) {
		case miner.SetTimer:
			c.tseq++
			c.tms = append(c.tms, timer{at: e.At, seq: c.tseq, to: from, ev: miner.TimerFired{Round: e.Round, Rank: e.Rank}})
		case miner.BroadcastConvergence:
			c.built[from] = append(c.built[from], e.Block)
			for i := 1; i <= testN; i++ {
				c.toH(certification.Member(i), ConvergenceReceived{From: from, Block: e.Block})
			}
		case miner.Rejected:
			c.rejections = append(c.rejections, rejection{fmt.Sprintf("miner %d", from), e.What, e.Err})
		case miner.Violation:
			c.violations = append(c.violations, fmt.Sprintf("miner %d round %d: %v", from, e.Round, e.Err))
		}
	}
}

// run delivers events until done() or nothing is left; it fails the test
// after maxSteps deliveries.
func (c *cluster) run(maxSteps int, done func() bool) {
	c.t.Helper()
	for steps := 0; !done(); steps++ {
		if steps >= maxSteps {
			c.t.Fatalf("no progress after %d steps: rounds %v", maxSteps, c.rounds())
		}
		switch {
		case len(c.queue) > 0:
			d := c.queue[0]
			c.queue = c.queue[1:]
			if d.toH != 0 {
				c.routeH(d.toH, c.h(d.toH).Step(d.hev))
			} else {
				c.routeM(d.toM, c.ms[d.toM-1].Step(d.mev))
			}
		case len(c.lagCmds) > 0:
			c.toH(c.lagging, Committed{Cmds: c.lagCmds[0]})
			c.lagCmds = c.lagCmds[1:]
		case len(c.pending) > 0 && (c.holdCommit == nil || !c.holdCommit()):
			cmds := c.pending
			c.pending = nil
			for i := 1; i <= testN; i++ {
				if certification.Member(i) == c.lagging {
					c.lagCmds = append(c.lagCmds, slices.Clone(cmds))
					continue
				}
				c.toH(certification.Member(i), Committed{Cmds: slices.Clone(cmds)})
			}
		case len(c.tms) > 0:
			slices.SortFunc(c.tms, func(a, b timer) int {
				if a.at != b.at {
					return int(a.at - b.at)
				}
				return a.seq - b.seq
			})
			tm := c.tms[0]
			c.tms = c.tms[1:]
			if tm.at > c.now {
				c.now = tm.at
				for i := 1; i <= testMiners; i++ {
					c.routeM(dag.MinerID(i), c.ms[i-1].Step(miner.Tick{Now: c.now}))
				}
			}
			c.routeM(tm.to, c.ms[tm.to-1].Step(tm.ev))
		default:
			c.t.Fatalf("quiescent before done: rounds %v", c.rounds())
		}
	}
}

func (c *cluster) rounds() []dag.Round {
	var out []dag.Round
	for _, h := range c.hs {
		out = append(out, h.Round())
	}
	for _, m := range c.ms {
		out = append(out, m.Round())
	}
	return out
}

// allReached: every harvester and every miner is in round r or later.
func (c *cluster) allReached(r dag.Round) func() bool {
	return func() bool {
		for _, h := range c.hs {
			if h.Round() < r {
				return false
			}
		}
		for _, m := range c.ms {
			if m.Round() < r {
				return false
			}
		}
		return true
	}
}

// checkAgreement is the FIN-4 checker: every harvester's final chain is a
// prefix of the longest one, and equal-length chains have equal roots; it
// also reports violations and harvesters whose Applied lists did not
// reproduce their blocks' roots.
func (c *cluster) checkAgreement() error {
	if len(c.violations) > 0 {
		return fmt.Errorf("violations: %v", c.violations)
	}
	longest := c.hs[0].FinalChain()
	for _, h := range c.hs[1:] {
		if ch := h.FinalChain(); len(ch) > len(longest) {
			longest = ch
		}
	}
	for _, h := range c.hs {
		ch := h.FinalChain()
		for r := range ch {
			if ch[r] != longest[r] {
				return fmt.Errorf("harvester %d: round %d final block %x, another harvester's is %x", h.cfg.Self, r, ch[r][:4], longest[r][:4])
			}
		}
	}
	for _, m := range c.ms {
		ch := m.FinalChain()
		for r := range ch {
			if r >= len(longest) || ch[r] != longest[r] {
				return fmt.Errorf("miner %d: round %d followed a block no harvester finalized", m.Config().ID, r)
			}
		}
	}
	return nil
}

// nonBenign lists the rejections that do not happen in fault-free runs.
func (c *cluster) nonBenign() []string {
	var out []string
	for _, r := range c.rejections {
		if !Benign(r.err) && !miner.Benign(r.err) {
			out = append(out, fmt.Sprintf("%s %s: %v", r.node, r.what, r.err))
		}
	}
	return out
}

// checkVotesOnce is the CERT-5 checker: no harvester signed two votes in
// one slot.
func (c *cluster) checkVotesOnce() error {
	for m, vs := range c.votes {
		seen := map[certification.Slot]certification.Value{}
		for _, v := range vs {
			if old, ok := seen[v.Slot]; ok {
				return fmt.Errorf("harvester %d voted twice in slot round %d: %x and %x", m, v.Slot.Number(), old.Subject[:4], v.Value.Subject[:4])
			}
			seen[v.Slot] = v.Value
		}
	}
	return nil
}

// supply is the sum of all balances, the fee sink's included (FIN-8).
func supply(t state.Tree) uint64 {
	var s uint64
	t.Each(func(_ tx.AccountID, a tx.Account) { s += a.Balance })
	return s
}
