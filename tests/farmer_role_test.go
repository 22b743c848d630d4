package tests

// Role-level properties of the farmer (spec/farmer.md FARM-24 … FARM-37,
// VOTE-1 … VOTE-6): one impl/farmer Role driven by a test driver that plays
// its validator unit and mempool (an oracle over tx.Config.Validate), its
// peers, the harvesters and the clock, with every input drawn at random —
// by rapid, by a seeded generator (planted-bug hunts) or from fuzz bytes.

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/fhbft/fhbft/impl/certification"
	"github.com/fhbft/fhbft/impl/crypto/threshold"
	farm "github.com/fhbft/fhbft/impl/farmer"
	"github.com/fhbft/fhbft/impl/maglev"
	"github.com/fhbft/fhbft/impl/scheduler"
	"github.com/fhbft/fhbft/impl/tx"
	"github.com/fhbft/fhbft/impl/validator"
	"pgregory.net/rapid"
)

// chooser is where a harness draws its choices from.
type chooser interface {
	Int(label string, lo, hi int) int // in [lo, hi]
}

type rapidChooser struct{ t *rapid.T }

func (c rapidChooser) Int(label string, lo, hi int) int {
	return rapid.IntRange(lo, hi).Draw(c.t, label)
}

type randChooser struct{ r *rand.Rand }

func (c randChooser) Int(_ string, lo, hi int) int { return lo + c.r.IntN(hi-lo+1) }

// byteChooser reads choices from fuzz input; exhausted input gives lo.
type byteChooser struct {
	b []byte
	i int
}

func (c *byteChooser) Int(_ string, lo, hi int) int {
	if c.i+2 > len(c.b) || hi <= lo {
		return lo
	}
	v := int(binary.BigEndian.Uint16(c.b[c.i:]))
	c.i += 2
	return lo + v%(hi-lo+1)
}

func (c *byteChooser) done() bool { return c.i+2 > len(c.b) }

const (
	frN       = 5
	frOurs    = certification.QuorumID(1)
	frFar     = certification.QuorumID(2)
	frEpoch   = certification.Epoch(4)
	frSenders = 3
)

var frFix = sync.OnceValue(func() (f struct {
	roster  certification.Roster
	shares  []threshold.SecretShare
	table   *maglev.Table
	ours    []ed25519.PrivateKey // senders entering at frOurs
	far     []ed25519.PrivateKey // senders entering at frFar
	to      tx.AccountID
	genesis tx.Account
}) {
	gk, shares, err := threshold.TrustedDealerForTesting(frN, certification.DefaultThreshold(frN), rand.NewChaCha8([32]byte{'f', 'r'}))
	if err != nil {
		panic(err)
	}
	f.roster = certification.Roster{Quorum: frOurs, Epoch: frEpoch, Key: gk}
	f.shares = shares
	if f.table, err = maglev.New([]certification.QuorumID{frOurs, frFar}, maglev.DefaultTableSize); err != nil {
		panic(err)
	}
	for i := 0; len(f.ours) < frSenders || len(f.far) < 1; i++ {
		k := frKey(i)
		if f.table.Lookup(frID(k)) == frOurs {
			f.ours = append(f.ours, k)
		} else {
			f.far = append(f.far, k)
		}
	}
	f.to = frID(frKey(10_000))
	f.genesis = tx.Account{Balance: 1000, Nonce: 0}
	return f
})

func frKey(i int) ed25519.PrivateKey {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(i))
	s := sha256.Sum256(append([]byte("fhbft tests farmer role"), b[:]...))
	return ed25519.NewKeyFromSeed(s[:])
}

func frID(k ed25519.PrivateKey) tx.AccountID {
	var a tx.AccountID
	copy(a[:], k[32:])
	return a
}

// roleHarness drives one Role and checks it after every step.
type roleHarness struct {
	c        chooser
	hostile  bool
	role     *farm.Role
	self     farm.Member
	now      time.Duration
	pool     []tx.Transfer
	held     map[tx.Digest]tx.Transfer
	waiting  []tx.Transfer // validation requests not answered yet
	handoffs []tx.Digest
	// the member's mempool as its driver keeps it (validator.Stores.Admit)
	pending map[tx.AccountID]tx.Pending
	seen    map[tx.Digest]bool
	votes   map[tx.Digest]certification.Vote
	steps   int
}

func (h *roleHarness) Account(tx.AccountID) tx.Account    { return frFix().genesis }
func (h *roleHarness) Pending(id tx.AccountID) tx.Pending { return h.pending[id] }
func (h *roleHarness) Seen(d tx.Digest) bool              { return h.seen[d] }

func newRoleHarness(c chooser, hostile bool, muts farm.Mutations) (*roleHarness, error) {
	f := frFix()
	self := farm.Member(c.Int("self", 1, frN))
	cfg := farm.Config{
		Self: self, Roster: f.roster, Share: f.shares[self-1], Entry: f.table,
		Alloc:        farm.AllocKey(c.Int("alloc", 0, 1)),
		Timeout:      time.Duration(c.Int("timeout", 1, 100)) * time.Millisecond,
		FallbackStep: c.Int("step", 1, 2),
		ParkTimeout:  time.Duration(c.Int("park", 1, 300)) * time.Millisecond,
		MaxHeld:      c.Int("maxHeld", 4, 64),
		Trace:        true,
		Mutations:    muts,
	}
	r, err := farm.New(cfg)
	if err != nil {
		return nil, err
	}
	h := &roleHarness{c: c, hostile: hostile, role: r, self: self, held: map[tx.Digest]tx.Transfer{},
		pending: map[tx.AccountID]tx.Pending{}, seen: map[tx.Digest]bool{}, votes: map[tx.Digest]certification.Vote{}}
	// The transfers of the run: chains with conflicting twins, bad
	// signatures and overdrafts for our senders, and a foreign sender.
	for i, k := range f.ours {
		for n := 0; n < 4; n++ {
			t := tx.Transfer{To: f.to, Amount: uint64(c.Int("amount", 1, 400)), Fee: 1, Nonce: uint64(n)}
			t.Sign(k)
			if c.Int("corrupt", 0, 7) == 0 {
				t.Signature[3] ^= 1
			}
			h.pool = append(h.pool, t)
			if c.Int("twin", 0, 5) == 0 {
				t2 := tx.Transfer{To: f.to, Amount: uint64(500 + i), Fee: 1, Nonce: uint64(n)}
				t2.Sign(k)
				h.pool = append(h.pool, t2)
			}
		}
	}
	for n := 0; n < 2; n++ {
		t := tx.Transfer{To: f.to, Amount: 5, Fee: 1, Nonce: uint64(n)}
		t.Sign(f.far[0])
		h.pool = append(h.pool, t)
	}
	return h, nil
}

func (h *roleHarness) pick() tx.Transfer { return h.pool[h.c.Int("tx", 0, len(h.pool)-1)] }

func (h *roleHarness) member() farm.Member {
	if h.hostile {
		return farm.Member(h.c.Int("member", 0, frN+1))
	}
	m := farm.Member(h.c.Int("member", 1, frN-1))
	if m >= h.self {
		m++
	}
	return m
}

// event draws the next input.
func (h *roleHarness) event() farm.Event {
	top := 9
	if h.hostile {
		top = 13
	}
	switch h.c.Int("action", 0, top) {
	case 0, 1, 2:
		src := farm.Source{Kind: farm.SourceKind(h.c.Int("source", 1, 3))}
		switch src.Kind {
		case farm.FromPeer:
			src.Member = h.member()
		case farm.FromQuorum:
			src.Quorum = frFar
		}
		return farm.TransferReceived{Tx: h.pick(), From: src}
	case 3, 4:
		if len(h.waiting) == 0 {
			return farm.Tick{Now: h.now}
		}
		i := h.c.Int("answer", 0, len(h.waiting)-1)
		t := h.waiting[i]
		h.waiting = append(h.waiting[:i], h.waiting[i+1:]...)
		return farm.Validated{Verdict: h.validate(&t)}
	case 5:
		return farm.Tick{Now: h.now + time.Duration(h.c.Int("dt", 0, 150))*time.Millisecond}
	case 6:
		t := h.pick()
		d := certification.Digest(t.Digest())
		return farm.Certified{Statement: certification.Statement{Quorum: frOurs, Epoch: frEpoch,
			Slot: certification.Slot{Kind: certification.KindTx, ID: d}, Value: certification.Value{Subject: d, Verdict: certification.Verdict(h.c.Int("verdict", 1, 2))}}}
	case 7:
		return farm.DelegatedIn{From: h.member(), Tx: h.pick()}
	case 8:
		if len(h.handoffs) == 0 {
			return farm.Tick{Now: h.now}
		}
		i := h.c.Int("handoff", 0, len(h.handoffs)-1)
		d := h.handoffs[i]
		h.handoffs = append(h.handoffs[:i], h.handoffs[i+1:]...)
		return farm.HandoffResult{Digest: d, OK: h.c.Int("ok", 0, 1) == 1}
	case 13:
		t := h.pick()
		return farm.FetchRequest{From: h.member(), Sender: t.From, Below: t.Nonce + 1}
	case 9:
		if h.c.Int("fetch", 0, 2) == 0 {
			t := h.pick()
			return farm.FetchRequest{From: h.member(), Sender: t.From, Below: t.Nonce + 1}
		}
		return farm.LoadReport{Load: scheduler.PeerLoad{Peer: h.member(), Epoch: frEpoch, Seq: uint64(h.c.Int("seq", 0, 50)),
			Load: scheduler.Stats{Local: scheduler.QueueStat{Count: uint64(h.c.Int("n", 0, 3)), Total: uint64(h.c.Int("t", 0, 9))}}}}
	case 10: // hostile: garbage verdicts
		var d tx.Digest
		if h.c.Int("known", 0, 1) == 1 {
			t := h.pick()
			d = t.Digest()
		} else {
			d[0] = byte(h.c.Int("byte", 0, 255))
		}
		return farm.Validated{Verdict: validator.Verdict{Digest: d, Verdict: certification.Verdict(h.c.Int("verdict", 0, 3)), Reason: tx.Reason(h.c.Int("reason", 0, 20))}}
	case 11: // hostile: garbage transfers, backwards clocks, nil
		switch h.c.Int("garbage", 0, 3) {
		case 0:
			var t tx.Transfer
			for i := range t.From {
				t.From[i] = byte(h.c.Int("b", 0, 255))
			}
			t.Nonce = uint64(h.c.Int("nonce", 0, 1<<16)) << 48
			t.Amount = ^uint64(0)
			return farm.TransferReceived{Tx: t, From: farm.Source{Kind: farm.SourceKind(h.c.Int("kind", 0, 5)), Member: h.member()}}
		case 1:
			return farm.Tick{Now: h.now - time.Duration(h.c.Int("back", 1, 100))}
		case 2:
			return nil
		default:
			t := h.pick()
			return farm.HandoffResult{Digest: t.Digest()}
		}
	default: // hostile: notices for other quorums, epochs, kinds
		t := h.pick()
		d := certification.Digest(t.Digest())
		return farm.Certified{Statement: certification.Statement{Quorum: certification.QuorumID(h.c.Int("q", 0, 3)), Epoch: certification.Epoch(h.c.Int("e", 3, 5)),
			Slot:  certification.Slot{Kind: certification.Kind(h.c.Int("k", 0, 5)), ID: d},
			Value: certification.Value{Subject: d, Verdict: certification.Verdict(h.c.Int("v", 0, 3))}}}
	}
}

// validate is the member's validator unit and admit: the verdict of
// tx.Config.Validate against the genesis state and this member's mempool,
// and the transfer admitted if accepted.
func (h *roleHarness) validate(t *tx.Transfer) validator.Verdict {
	v := validator.Check(tx.Config{MinFee: 1}, h, h, []*tx.Transfer{t})[0]
	if v.Accepted() {
		p := h.pending[t.From]
		p.Count++
		p.Debits += t.Amount + t.Fee
		h.pending[t.From] = p
		h.seen[v.Digest] = true
	}
	return v
}

// step applies one event and checks FARM-31 (predecessor order), VOTE-2
// (a vote carries the member's final verdict), VOTE-3 (once), FARM-34 (a
// refusal changes nothing) and SCHED-13 as the role sees it.
func (h *roleHarness) step(ev farm.Event) error {
	h.steps++
	beforeStats, beforeHeld, beforeLen := h.role.Stats(), h.role.Held(), h.role.SchedulerLen()
	effs, err := h.role.Step(ev)
	if err != nil {
		var ie *farm.InputError
		if !errors.As(err, &ie) || ie.Err == nil {
			return fmt.Errorf("step %d: untyped error %v for %T", h.steps, err, ev)
		}
		if effs != nil || h.role.Stats() != beforeStats || h.role.Held() != beforeHeld || h.role.SchedulerLen() != beforeLen {
			return fmt.Errorf("step %d: refused %T changed the state (%v)", h.steps, ev, err)
		}
		return nil
	}
	switch ev := ev.(type) {
	case farm.Tick:
		h.now = ev.Now
	case farm.TransferReceived:
		if frFix().table.Lookup(ev.Tx.From) == frOurs {
			h.held[ev.Tx.Digest()] = ev.Tx
		}
	case farm.DelegatedIn:
		h.held[ev.Tx.Digest()] = ev.Tx
	}
	for _, e := range effs {
		switch e.Kind {
		case farm.EffectValidate:
			if _, ok := h.held[e.Digest]; !ok {
				return fmt.Errorf("step %d: validation of %x, which the role does not hold", h.steps, e.Digest[:4])
			}
			for d, p := range h.held {
				if p.From == e.Tx.From && p.Nonce < e.Tx.Nonce {
					if held, v, _, _ := h.role.Status(d); !held || v == 0 {
						return fmt.Errorf("step %d: FARM-31: nonce %d asked for while nonce %d (%x) has no final verdict", h.steps, e.Tx.Nonce, p.Nonce, d[:4])
					}
				}
			}
			h.waiting = append(h.waiting, e.Tx)
		case farm.EffectVote:
			v := e.Vote
			// Sending the same signed vote again is a retransmission
			// (FARM-40); a second, different vote breaks VOTE-3/CERT-5.
			if prev, ok := h.votes[e.Digest]; ok && (prev.Statement != v.Statement || prev.Member != v.Member) {
				return fmt.Errorf("step %d: VOTE-3/CERT-5: second vote on %x: %v after %v", h.steps, e.Digest[:4], v.Value.Verdict, prev.Value.Verdict)
			}
			h.votes[e.Digest] = v
			id := certification.Digest(e.Digest)
			if v.Member != h.self || v.Quorum != frOurs || v.Epoch != frEpoch || v.Slot != (certification.Slot{Kind: certification.KindTx, ID: id}) || v.Value.Subject != id {
				return fmt.Errorf("step %d: VOTE-1: vote %+v", h.steps, v.Statement)
			}
			if _, verdict, _, _ := h.role.Status(e.Digest); verdict != v.Value.Verdict {
				return fmt.Errorf("step %d: VOTE-2: voted %v, the member's verdict is %v", h.steps, v.Value.Verdict, verdict)
			}
		case farm.EffectForward, farm.EffectDelegate:
			h.handoffs = append(h.handoffs, e.Digest)
		case farm.EffectPlaced:
			if err := checkPlacement(*e.Placed, frOurs); err != nil {
				return fmt.Errorf("step %d: %v", h.steps, err)
			}
		}
	}
	if _, ok := h.role.Tasks(); !ok {
		return fmt.Errorf("step %d: SCHED-13: the role's and the scheduler's tasks disagree", h.steps)
	}
	return nil
}

func (h *roleHarness) run(steps int) error {
	for i := 0; i < steps; i++ {
		if err := h.step(h.event()); err != nil {
			return err
		}
	}
	return nil
}

// checkPlacement re-derives a scheduler decision from the loads it was
// made on (SCHED-8): D1 forwards a task whose dependency is another quorum
// to that quorum; D3 delegates to a fresh peer of least backpressure when
// this node's LN_b ≥ θ and that peer's P is lower; D4 executes otherwise.
func checkPlacement(p farm.Placement, own certification.QuorumID) error {
	e := p.Effect
	if p.Task.Dep.Kind == scheduler.DepQuorum && p.Task.Dep.Quorum != own {
		if e.Kind != scheduler.EffectForward || e.Quorum != p.Task.Dep.Quorum {
			return fmt.Errorf("SCHED-8 D1: dependency on quorum %d placed as %v", p.Task.Dep.Quorum, e)
		}
		return nil
	}
	if p.Task.Dep.Kind == scheduler.DepPeer {
		if e.Kind != scheduler.EffectDelegate || e.Peer != p.Task.Dep.Peer {
			return fmt.Errorf("SCHED-8 D2: dependency on peer %d placed as %v", p.Task.Dep.Peer, e)
		}
		return nil
	}
	if len(p.Loads) == 0 {
		return fmt.Errorf("placement without loads")
	}
	self := p.Loads[0]
	minP, found := 0.0, false
	for _, l := range p.Loads[1:] {
		if !found || l.P < minP {
			minP, found = l.P, true
		}
	}
	if found && self.LN >= p.Threshold && minP < self.P {
		if e.Kind != scheduler.EffectDelegate {
			return fmt.Errorf("SCHED-8 D3: LN_self %.3f ≥ θ %.2f and a peer at P %.3f < %.3f, yet %v", self.LN, p.Threshold, minP, self.P, e)
		}
		for _, l := range p.Loads[1:] {
			if l.Node == e.Peer && l.P != minP {
				return fmt.Errorf("SCHED-8 D3: delegated to peer %d at P %.3f, least is %.3f", e.Peer, l.P, minP)
			}
		}
		return nil
	}
	if e.Kind != scheduler.EffectExecute {
		return fmt.Errorf("SCHED-8 D4: LN_self %.3f, θ %.2f, least peer P %.3f (self %.3f), yet %v", self.LN, p.Threshold, minP, self.P, e)
	}
	return nil
}

// TestFarmerRoleProperties: under random transfers (chains out of order,
// conflicting twins, bad signatures, overdrafts, foreign senders), verdicts,
// notices, delegations, handoff outcomes, load reports and time, the role
// asks for no transfer before its held predecessors have final verdicts
// (FARM-31), votes once per transfer with its own verdict inside (VOTE-1 …
// VOTE-3), follows the scheduler's decision tree (SCHED-8), keeps its books
// with the scheduler (SCHED-13) and changes nothing on a refusal (FARM-34).
func TestFarmerRoleProperties(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		h, err := newRoleHarness(rapidChooser{t}, false, farm.Mutations{})
		if err != nil {
			t.Fatal(err)
		}
		if err := h.run(rapid.IntRange(10, 80).Draw(t, "steps")); err != nil {
			t.Fatal(err)
		}
	})
}

// TestFarmerRoleCatchesPlantedBugs: the same checks fail on each planted
// bug, for some seed (printed).
func TestFarmerRoleCatchesPlantedBugs(t *testing.T) {
	for name, m := range map[string]farm.Mutations{
		"no predecessor order": {NoPredecessorOrder: true},
		"vote twice":           {VoteTwice: true},
		"accept all":           {AcceptAll: true},
	} {
		t.Run(name, func(t *testing.T) {
			for seed := uint64(1); seed <= 300; seed++ {
				h, err := newRoleHarness(randChooser{rand.New(rand.NewPCG(seed, 11))}, false, m)
				if err != nil {
					t.Fatal(err)
				}
				if err := h.run(80); err != nil {
					t.Logf("caught with seed %d: %v", seed, err)
					return
				}
			}
			t.Fatalf("planted bug %q not caught in 300 seeds", name)
		})
	}
}

// TestFarmerRoleHarnessReachesDeepStates: the generator is not vacuous —
// across seeded runs the role votes, validates predecessors for itself,
// parks nonce gaps, takes over, delegates, forwards, fetches and resends.
func TestFarmerRoleHarnessReachesDeepStates(t *testing.T) {
	var total farm.Stats
	for seed := uint64(1); seed <= 60; seed++ {
		h, err := newRoleHarness(randChooser{rand.New(rand.NewPCG(seed, 12))}, false, farm.Mutations{})
		if err != nil {
			t.Fatal(err)
		}
		if err := h.run(80); err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		s := h.role.Stats()
		total.Votes += s.Votes
		total.Resent += s.Resent
		total.Rerelayed += s.Rerelayed
		total.Shadow += s.Shadow
		total.Parked += s.Parked
		total.TakenOver += s.TakenOver
		total.DelegatedOut += s.DelegatedOut
		total.DelegatedIn += s.DelegatedIn
		total.Forwarded += s.Forwarded
		total.ForwardRetries += s.ForwardRetries
		total.Fetches += s.Fetches
		total.Fetched += s.Fetched
		total.DelegationsFailed += s.DelegationsFailed
	}
	t.Logf("totals over 60 seeds: %+v", total)
	if total.Votes == 0 || total.Resent == 0 || total.Rerelayed == 0 || total.Shadow == 0 || total.Parked == 0 || total.TakenOver == 0 || total.DelegatedOut == 0 ||
		total.DelegatedIn == 0 || total.Forwarded == 0 || total.ForwardRetries == 0 || total.Fetches == 0 || total.Fetched == 0 || total.DelegationsFailed == 0 {
		t.Fatalf("some behaviour never reached: %+v", total)
	}
}

// TestFarmerRoleDeterministic: the role is a function of its configuration
// and its inputs — replaying a run's events on a fresh role gives the same
// effects and errors, step by step (FARM-35).
func TestFarmerRoleDeterministic(t *testing.T) {
	for seed := uint64(1); seed <= 20; seed++ {
		h, err := newRoleHarness(randChooser{rand.New(rand.NewPCG(seed, 13))}, true, farm.Mutations{})
		if err != nil {
			t.Fatal(err)
		}
		cfg := h.role.Config()
		var events []farm.Event
		var effects [][]farm.Effect
		var errs []string
		for i := 0; i < 60; i++ {
			ev := h.event()
			effs, err := h.role.Step(ev)
			events, effects, errs = append(events, ev), append(effects, effs), append(errs, fmt.Sprint(err))
			if tk, ok := ev.(farm.Tick); ok && err == nil {
				h.now = tk.Now
			}
			for _, e := range effs {
				if e.Kind == farm.EffectValidate {
					h.waiting = append(h.waiting, e.Tx)
				}
				if e.Kind == farm.EffectForward || e.Kind == farm.EffectDelegate {
					h.handoffs = append(h.handoffs, e.Digest)
				}
			}
		}
		again, err := farm.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		for i, ev := range events {
			effs, err := again.Step(ev)
			if fmt.Sprint(err) != errs[i] || !reflect.DeepEqual(effs, effects[i]) {
				t.Fatalf("seed %d step %d (%T): replay differs:\n%v %+v\n%v %+v", seed, i, ev, errs[i], effects[i], err, effs)
			}
		}
	}
}
