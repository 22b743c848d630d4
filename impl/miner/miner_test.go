package miner

import (
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/fhbft/fhbft/impl/certification"
	"github.com/fhbft/fhbft/impl/dag"
	"github.com/fhbft/fhbft/impl/harvester/harvestertest"
)

const (
	wait     = 10 * time.Millisecond
	fallback = 20 * time.Millisecond
)

var (
	fxOnce sync.Once
	fx     *harvestertest.Fixture
	fxErr  error
)

func fixture(t testing.TB) *harvestertest.Fixture {
	t.Helper()
	fxOnce.Do(func() { fx, fxErr = harvestertest.New(4, 3, 8) })
	if fxErr != nil {
		t.Fatal(fxErr)
	}
	return fx
}

func genesis(t testing.TB) dag.ConvergenceBlock {
	f := fixture(t)
	return dag.Genesis(f.Harvesters.Quorum, f.Harvesters.Epoch, f.Genesis.Root())
}

// rankedMiner returns the ID of the miner at `rank` in round 1 of two miners.
func rankedMiner(t testing.TB, rank int) dag.MinerID {
	return dag.MinerRanking(genesis(t).Beacon, 1, 2)[rank]
}

func newMiner(t testing.TB, id dag.MinerID, mut func(*Config)) *Miner {
	t.Helper()
	f := fixture(t)
	cfg := Config{ID: id, Miners: 2, Roster: f.Harvesters, Params: f.Params, Verifier: f.Verifier, Genesis: f.Genesis,
		Wait: wait, FallbackDelay: fallback}
	if mut != nil {
		mut(&cfg)
	}
	m, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// block is harvester p's signed round-r block on prev carrying one
// certified transfer of account p (so every block differs).
func block(t testing.TB, r dag.Round, prev dag.Hash, p certification.Member) dag.ProposalBlock {
	t.Helper()
	f := fixture(t)
	ct, err := f.Certify(f.Transfer(int(p), (int(p)+4)%8, 10, 1, uint64(r-1)))
	if err != nil {
		t.Fatal(err)
	}
	b := dag.ProposalBlock{Quorum: f.Harvesters.Quorum, Epoch: f.Harvesters.Epoch, Round: r, Proposer: p, Prev: prev, Txs: []dag.CertifiedTx{ct}}
	return dag.SignProposal(f.Shares[p-1], b)
}

func of[T Effect](effs []Effect) []T {
	var out []T
	for _, e := range effs {
		if x, ok := e.(T); ok {
			out = append(out, x)
		}
	}
	return out
}

func feed(m *Miner, evs ...Event) []Effect {
	var out []Effect
	for _, ev := range evs {
		out = append(out, m.Step(ev)...)
	}
	return out
}

// TestTimersByRank: the round begins at the first valid block; the rank-i
// miner's timer is Wait + i·FallbackDelay later; the elected miner builds
// at once when it holds a block of every harvester. spec: MINE-1, ORD-3
func TestTimersByRank(t *testing.T) {
	g := genesis(t)
	for rank := range 2 {
		m := newMiner(t, rankedMiner(t, rank), nil)
		if m.Rank() != uint32(rank) {
			t.Fatalf("rank %d, want %d", m.Rank(), rank)
		}
		effs := feed(m, Tick{Now: 5 * time.Millisecond}, ProposalReceived{Block: block(t, 1, g.Hash(), 1)})
		begun, timers := of[RoundBegun](effs), of[SetTimer](effs)
		want := 5*time.Millisecond + wait + time.Duration(rank)*fallback
		if len(begun) != 1 || len(timers) != 1 || timers[0].At != want || timers[0].Rank != uint32(rank) {
			t.Fatalf("rank %d: begun %+v timers %+v, want one timer at %v", rank, begun, timers, want)
		}
		effs = feed(m, ProposalReceived{Block: block(t, 1, g.Hash(), 2)}, ProposalReceived{Block: block(t, 1, g.Hash(), 3)},
			ProposalReceived{Block: block(t, 1, g.Hash(), 4)})
		built := of[BroadcastConvergence](effs)
		if rank == 0 && (len(built) != 1 || len(built[0].Block.Refs) != 4) {
			t.Fatalf("elected miner with every block: built %+v, want one block of 4 refs at once", built)
		}
		if rank == 1 && len(built) != 0 {
			t.Fatal("a fallback built before its timer")
		}
		if rank == 1 {
			effs = m.Step(TimerFired{Round: 1, Rank: 1})
			if b := of[BroadcastConvergence](effs); len(b) != 1 || b[0].Block.Rank != 1 || b[0].Block.Miner != m.Config().ID {
				t.Fatalf("fallback at its timer: %+v", effs)
			}
			if b := of[Built](effs); len(b) != 1 {
				t.Fatal("no Built effect")
			}
			if rs := of[Rejected](m.Step(TimerFired{Round: 1, Rank: 1})); len(rs) != 1 || ReasonOf(rs[0].Err) != ReasonStale {
				t.Fatal("a second firing built again")
			}
		}
	}
}

// TestTooFewRefsWaits: below MinRefs the miner re-arms its timer one
// FallbackDelay later instead of failing. spec: MINE-1, CONV-2
func TestTooFewRefsWaits(t *testing.T) {
	g := genesis(t)
	m := newMiner(t, rankedMiner(t, 0), nil)
	feed(m, ProposalReceived{Block: block(t, 1, g.Hash(), 1)}, ProposalReceived{Block: block(t, 1, g.Hash(), 2)})
	effs := feed(m, Tick{Now: wait}, TimerFired{Round: 1, Rank: 0})
	if ts := of[SetTimer](effs); len(of[BroadcastConvergence](effs)) != 0 || len(ts) != 1 || ts[0].At != wait+fallback {
		t.Fatalf("two of three needed blocks: effects %+v, want a timer at %v", effs, wait+fallback)
	}
	effs = feed(m, ProposalReceived{Block: block(t, 1, g.Hash(), 3)}, Tick{Now: wait + fallback}, TimerFired{Round: 1, Rank: 0})
	if b := of[BroadcastConvergence](effs); len(b) != 1 || len(b[0].Block.Refs) != 3 {
		t.Fatalf("third block then timer: %+v", effs)
	}
	if m.Stats().TooFewRefs != 1 {
		t.Fatalf("TooFewRefs = %d, want 1", m.Stats().TooFewRefs)
	}
}

// TestRankBeyondFallbacks: with F = 1 the rank-1 miner never builds.
func TestRankBeyondFallbacks(t *testing.T) {
	g := genesis(t)
	m := newMiner(t, rankedMiner(t, 1), func(c *Config) { c.Params.Fallbacks = 1 })
	effs := feed(m, ProposalReceived{Block: block(t, 1, g.Hash(), 1)})
	if len(of[SetTimer](effs)) != 0 || len(of[RoundBegun](effs)) != 1 {
		t.Fatalf("rank 1 with F = 1: %+v, want RoundBegun and no timer", effs)
	}
	if rs := of[Rejected](m.Step(TimerFired{Round: 1, Rank: 1})); len(rs) != 1 || ReasonOf(rs[0].Err) != ReasonNotElected {
		t.Fatal("a forged timer made a non-elected miner build")
	}
}

// TestOmitBlocks: the Byzantine preset leaves out the highest positions
// but keeps MinRefs; the block still recomputes. spec: CONV-13
func TestOmitBlocks(t *testing.T) {
	g := genesis(t)
	f := fixture(t)
	for _, omit := range []int{1, 5} {
		m := newMiner(t, rankedMiner(t, 0), func(c *Config) { c.Mutations.OmitBlocks = omit })
		blocks := map[dag.Hash]*dag.ProposalBlock{}
		var effs []Effect
		for p := certification.Member(1); p <= 4; p++ {
			b := block(t, 1, g.Hash(), p)
			blocks[b.Hash()] = &b
			effs = append(effs, m.Step(ProposalReceived{Block: b})...)
		}
		built := of[BroadcastConvergence](effs)
		if len(built) != 1 || len(built[0].Block.Refs) != 3 {
			t.Fatalf("omit %d: built %+v, want 3 refs", omit, built)
		}
		order := dag.Order(g.Beacon, 4)
		for _, r := range built[0].Block.Refs {
			if dag.Position(order, r.Proposer) == 4 {
				t.Fatalf("omit %d: kept the last position's block", omit)
			}
		}
		if _, err := dag.Recompute(f.Params, f.Harvesters, f.Verifier, &g, g.Beacon, f.Genesis, &built[0].Block, blocks); err != nil {
			t.Fatalf("omit %d: the block does not recompute: %v", omit, err)
		}
	}
}

// certifiedBlock builds and certifies the elected miner's round-1 block
// over harvesters 1..3's blocks.
func certifiedBlock(t testing.TB) (dag.ConvergenceBlock, certification.Certificate, []dag.ProposalBlock) {
	g := genesis(t)
	f := fixture(t)
	var in dag.Input
	for p := certification.Member(1); p <= 3; p++ {
		in.Blocks = append(in.Blocks, block(t, 1, g.Hash(), p))
	}
	out, err := dag.Converge(f.Params, &g, g.Beacon, f.Genesis, rankedMiner(t, 0), 0, in)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := f.CertifyConvergence(&out.Block)
	if err != nil {
		t.Fatal(err)
	}
	return out.Block, cert, in.Blocks
}

// TestFollowFinality: max(1, 2q−n) = 2 matching notices with a valid
// certificate make the round final at the miner, once it holds the
// referenced blocks; then it takes up the next round's buffered blocks.
// spec: MINE-1, FIN-3
func TestFollowFinality(t *testing.T) {
	cb, cert, blocks := certifiedBlock(t)
	m := newMiner(t, rankedMiner(t, 1), nil) // the fallback: it does not build early
	feed(m, ProposalReceived{Block: blocks[0]}, ProposalReceived{Block: blocks[1]})
	next := block(t, 2, cb.Hash(), 2)
	if effs := m.Step(ProposalReceived{Block: next}); len(effs) != 0 || m.Stats().Buffered != 1 {
		t.Fatalf("round-2 block in round 1: %+v, want it buffered silently", effs)
	}
	if len(of[Followed](m.Step(FinalNotice{From: 1, Round: 1, Cert: cert, Block: cb}))) != 0 {
		t.Fatal("followed on one notice")
	}
	if rs := of[Rejected](m.Step(FinalNotice{From: 1, Round: 1, Cert: cert, Block: cb})); len(rs) != 1 || ReasonOf(rs[0].Err) != ReasonDuplicate {
		t.Fatal("the same harvester's notice counted twice")
	}
	bad := cert
	bad.Signature = blocks[0].Signature
	if rs := of[Rejected](m.Step(FinalNotice{From: 3, Round: 1, Cert: bad, Block: cb})); len(rs) != 1 || ReasonOf(rs[0].Err) != ReasonBadCert {
		t.Fatal("a notice with a bad certificate was taken")
	}
	if effs := m.Step(FinalNotice{From: 2, Round: 1, Cert: cert, Block: cb}); len(of[Followed](effs)) != 0 {
		t.Fatal("followed without holding every referenced block")
	}
	effs := m.Step(ProposalReceived{Block: blocks[2]})
	fl := of[Followed](effs)
	if len(fl) != 1 || fl[0].Hash != cb.Hash() || m.Round() != 2 || m.Tree().Root() != cb.StateRoot {
		t.Fatalf("after the last referenced block: %+v, round %d", effs, m.Round())
	}
	g0 := genesis(t)
	if m.Beacon() != dag.NextBeacon(cert) || !slices.Equal(m.FinalChain(), []dag.Hash{g0.Hash(), cb.Hash()}) {
		t.Fatal("beacon or chain not advanced (ORD-1, FIN-3)")
	}
	if len(of[RoundBegun](effs)) != 1 || len(m.Store().Round(2).Blocks) != 1 {
		t.Fatalf("the buffered round-2 block was not taken up: %+v", effs)
	}
	if rs := of[Rejected](m.Step(TimerFired{Round: 1, Rank: m.Rank()})); len(rs) != 1 || ReasonOf(rs[0].Err) != ReasonStale {
		t.Fatal("a round-1 timer fired after the round was final")
	}
}

// TestRejectsChangeNothing: bad input is refused with a typed error and
// changes nothing. spec: PB-2, PB-4, BRIEF §6
func TestRejectsChangeNothing(t *testing.T) {
	g := genesis(t)
	m := newMiner(t, rankedMiner(t, 0), nil)
	good := block(t, 1, g.Hash(), 1)
	badSig := good
	badSig.Txs = nil
	far := block(t, 9, g.Hash(), 2)
	wrongPrev := block(t, 1, dag.Hash{1}, 2)
	cases := []struct {
		name string
		ev   Event
		want Reason
	}{
		{"bad signature", ProposalReceived{Block: badSig}, ReasonInvalid},
		{"too far ahead", ProposalReceived{Block: far}, ReasonTooFarAhead},
		{"wrong prev", ProposalReceived{Block: wrongPrev}, ReasonInvalid},
		{"stranger's notice", FinalNotice{From: 7, Round: 1}, ReasonUnknownPeer},
		{"timer before the round began", TimerFired{Round: 1, Rank: 0}, ReasonStale},
		{"nil event", nil, ReasonUnknownEvent},
	}
	for _, tc := range cases {
		effs := m.Step(tc.ev)
		if rs := of[Rejected](effs); len(effs) != 1 || len(rs) != 1 || ReasonOf(rs[0].Err) != tc.want {
			t.Errorf("%s: %+v, want one %v rejection", tc.name, effs, tc.want)
		}
		if m.Round() != 1 || len(m.Store().Round(1).Blocks) != 0 || m.Stats().Buffered != 0 {
			t.Errorf("%s changed the state", tc.name)
		}
	}
	feed(m, Tick{Now: time.Second})
	if rs := of[Rejected](m.Step(Tick{Now: time.Millisecond})); len(rs) != 1 || ReasonOf(rs[0].Err) != ReasonClockBackwards || m.Now() != time.Second {
		t.Error("time went backwards")
	}
}
