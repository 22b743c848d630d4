package farmer

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/fhbft/fhbft/impl/certification"
	"github.com/fhbft/fhbft/impl/crypto/threshold"
	farm "github.com/fhbft/fhbft/impl/farmer"
	"github.com/fhbft/fhbft/impl/maglev"
	"github.com/fhbft/fhbft/impl/mempool"
	"github.com/fhbft/fhbft/impl/scheduler"
	"github.com/fhbft/fhbft/impl/sim/network"
	"github.com/fhbft/fhbft/impl/state"
	"github.com/fhbft/fhbft/impl/tx"
	"github.com/fhbft/fhbft/impl/validator"
)

// epoch of every roster in the simulation.
const epoch = certification.Epoch(1)

var txConfig = tx.Config{MinFee: 1}

type msgKind uint8

const (
	mTransfer      msgKind = iota + 1 // client submission, relay or forward
	mForwardAck                       // answer to a forward
	mDelegate                         // scheduler delegation to a peer
	mDelegateReply                    // answer to a delegation
	mVote                             // farmer → harvester
	mNotice                           // harvester → farmers: certificate formed
	mLoad                             // scheduler load report to peers
	mFetch                            // a parked transfer's predecessors, please
	mLayer                            // a Layer's own message (payload)
)

type message struct {
	kind    msgKind
	tx      tx.Transfer
	src     farm.Source
	digest  tx.Digest
	ok      bool
	attempt int
	vote    certification.Vote
	stmt    certification.Statement
	load    scheduler.PeerLoad
	below   uint64
	payload any // mLayer
}

type handoff struct {
	attempt int
}

type farmerNode struct {
	idx       int
	id        network.NodeID
	quorum    int // 0-based
	member    farm.Member
	behaviour Behaviour
	role      *farm.Role
	table     *maglev.Table
	share     threshold.SecretShare
	stores    validator.Stores
	unit      *validator.Unit
	batch     []tx.Transfer
	armed     bool
	handoffs  map[tx.Digest]*handoff
	attempts  map[tx.Digest]int
	votes     map[tx.Digest]certification.Verdict // first vote sent per transfer
	twice     map[tx.Digest]bool                  // a different second vote
	reasons   map[tx.Digest]tx.Reason             // last verdict reason delivered
	held      map[tx.AccountID][]tx.Transfer
	trace     *NodeTrace
}

type alarmKind uint8

const (
	aSubmit alarmKind = iota + 1
	aClientCheck
	aTickAll
	aWake
	aValidate
	aVerdicts
	aHandoffTimeout
	aLayer
)

type alarm struct {
	kind     alarmKind
	node     *farmerNode
	sub      int
	attempt  int
	digest   tx.Digest
	verdicts []validator.Verdict
	payload  any // aLayer
}

type certRec struct {
	harvester int
	quorum    int
	verdict   certification.Verdict
	at        time.Duration
}

type sim struct {
	cfg        Config
	q          int
	net        *network.Network[message]
	table      *maglev.Table
	rosters    []certification.Roster
	farmers    []*farmerNode
	collectors [][]*certification.Collector // [harvester][quorum]
	verified   certification.VerifyCache    // the checker's certificate checks
	clientNode network.NodeID
	work       workload
	alarms     []alarm
	certs      map[tx.Digest][]certRec
	firstSub   map[tx.Digest]time.Duration
	open       map[tx.Digest]bool // distinct transfers awaiting a certificate or the client's give-up
	abandoned  map[tx.Digest]bool
	rep        *Report
	ticking    bool
}

func (s *sim) farmerID(i int) network.NodeID    { return network.NodeID(i + 1) }
func (s *sim) harvesterID(h int) network.NodeID { return network.NodeID(len(s.farmers) + 1 + h) }

func (s *sim) schedule(at time.Duration, to network.NodeID, a alarm) {
	s.alarms = append(s.alarms, a)
	s.net.Schedule(at, to, uint64(len(s.alarms)-1))
}

func seedBytes(seed uint64, label string) [32]byte {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], seed)
	return sha256.Sum256(append([]byte("fhbft farm sim "+label), b[:]...))
}

// Run executes the simulation.
func Run(cfg Config) (*Report, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Behaviours == nil {
		cfg.Behaviours = AllBehaviours
	}
	s := &sim{cfg: cfg, q: cfg.q(), certs: map[tx.Digest][]certRec{}, firstSub: map[tx.Digest]time.Duration{},
		open: map[tx.Digest]bool{}, abandoned: map[tx.Digest]bool{}}
	rep := &Report{Config: cfg, Q: s.q, RefusedByFarmers: map[string]int{}, RejectedVotes: map[certification.Reason]int{},
		InvalidByReason: map[tx.Reason]int{}, ByKind: map[Kind]*KindResult{}}
	s.rep = rep
	if cfg.Trace {
		rep.Trace = &Trace{}
	}
	// Links drop only before GST (impl/sim/network): the run stays before
	// GST, with delays bounded by MaxDelay, so that Drop applies throughout.
	net, err := network.New[message](network.Config{Seed: cfg.Seed, GST: network.Never,
		Default: network.LinkConfig{MinDelay: cfg.MinDelay, MaxDelay: cfg.MaxDelay, Drop: cfg.Drop}})
	if err != nil {
		return nil, err
	}
	s.net = net
	ids := make([]certification.QuorumID, cfg.Quorums)
	for k := range ids {
		ids[k] = certification.QuorumID(k + 1)
	}
	size, err := maglev.SizeFor(cfg.Quorums)
	if err != nil {
		return nil, err
	}
	if s.table, err = maglev.New(ids, size); err != nil {
		return nil, err
	}
	s.work = makeWorkload(cfg, cfg.Quorums*cfg.N, rand.New(rand.NewPCG(cfg.Seed, 0x6661726d)))
	if err := s.setup(ids); err != nil {
		return nil, err
	}
	defer func() {
		for _, f := range s.farmers {
			if f.unit != nil {
				f.unit.Close()
			}
		}
	}()
	for i, sub := range s.work.subs {
		s.schedule(sub.at, 0, alarm{kind: aSubmit, sub: i})
		if !sub.dup {
			s.open[sub.d] = true
		}
	}
	s.ticking = true
	s.schedule(0, 0, alarm{kind: aTickAll})
	layer := cfg.Layer
	if layer != nil {
		if err := layer.Attach(&Host{s: s}); err != nil {
			return nil, err
		}
	}
	for {
		ev, ok := s.net.Next()
		if !ok {
			break
		}
		if ev.At > 2*s.cfg.MaxTime {
			s.violation("the run did not quiesce by 2×MaxTime = %v", 2*s.cfg.MaxTime)
			break
		}
		// A finished layer's events are discarded, so that the run ends
		// when the farmers quiesce.
		live := layer != nil && !layer.Done()
		switch ev.Kind {
		case network.Delivery:
			if ev.Msg.kind == mLayer {
				if live {
					layer.Deliver(ev.From, ev.To, ev.Msg.payload)
				}
				continue
			}
			s.deliver(ev)
		case network.Alarm:
			if a := s.alarms[ev.Tag]; a.kind == aLayer {
				if live {
					layer.Alarm(ev.To, a.payload)
				}
				continue
			}
			s.alarm(ev)
		case network.Timer:
			if live {
				layer.Timer(ev.To, ev.Key, ev.Tag)
			}
		}
	}
	st := s.net.Stats()
	rep.Messages, rep.Dropped = st.Sent, st.DroppedRandom+st.DroppedPartition+st.DroppedCrashed
	rep.SimulatedTime = s.net.Now()
	s.finish()
	return rep, nil
}

// setup deals the keys, builds every farmer (role, state store, mempool,
// validator unit) and every harvester's collectors.
func (s *sim) setup(ids []certification.QuorumID) error {
	cfg := s.cfg
	for k, qid := range ids {
		gk, shares, err := threshold.TrustedDealerForTesting(cfg.N, s.q, rand.NewChaCha8(seedBytes(cfg.Seed+uint64(k), "keys")))
		if err != nil {
			return err
		}
		roster := certification.Roster{Quorum: qid, Epoch: epoch, Key: gk}
		s.rosters = append(s.rosters, roster)
		for m := 1; m <= cfg.N; m++ {
			f := &farmerNode{idx: len(s.farmers), quorum: k, member: farm.Member(m), share: shares[m-1],
				handoffs: map[tx.Digest]*handoff{}, attempts: map[tx.Digest]int{}, votes: map[tx.Digest]certification.Verdict{}, twice: map[tx.Digest]bool{},
				reasons: map[tx.Digest]tx.Reason{}, held: map[tx.AccountID][]tx.Transfer{}}
			f.id = s.farmerID(f.idx)
			if m > cfg.N-cfg.Byzantine {
				f.behaviour = cfg.Behaviours[(k+(cfg.N-m))%len(cfg.Behaviours)]
			}
			// Every farmer builds its own entry table from the quorum list in
			// its own order: ENTRY-3 says they agree (checked in finish).
			perm := slices.Clone(ids)
			rand.New(rand.NewPCG(cfg.Seed, uint64(len(s.farmers)))).Shuffle(len(perm), func(i, j int) { perm[i], perm[j] = perm[j], perm[i] })
			size, err := maglev.SizeFor(len(perm))
			if err != nil {
				return err
			}
			if f.table, err = maglev.New(perm, size); err != nil {
				return err
			}
			rc := farm.Config{Self: f.member, Roster: roster, Share: shares[m-1], Entry: f.table,
				Sched: cfg.Sched, Alloc: cfg.Alloc, Timeout: cfg.Timeout, FallbackStep: cfg.FallbackStep, ParkTimeout: cfg.ParkTimeout,
				Trace: cfg.Trace && f.behaviour == ""}
			if f.behaviour == "" {
				rc.Mutations = cfg.Mutations
			}
			if f.behaviour == Flip {
				// Votes on everything at once: every member takes over
				// immediately (FARM-29 with step n and a 1 ms timeout).
				rc.Timeout, rc.FallbackStep = time.Millisecond, cfg.N
			}
			role, err := farm.New(rc)
			if err != nil {
				return err
			}
			f.role = role
			st, err := state.NewMem(s.work.genesis)
			if err != nil {
				return err
			}
			// Sized to the run: the default preallocates a processed cache
			// for 2^18 digests, which dominates a small run's set-up.
			mcfg := mempool.DefaultConfig()
			mcfg.MaxPending = max(1024, 4*len(s.work.txs))
			mcfg.ProcessedCap = mcfg.MaxPending
			mp, err := mempool.New(mcfg)
			if err != nil {
				return err
			}
			f.stores = validator.Stores{State: st, Mempool: mp}
			if f.behaviour != Silent {
				if f.unit, err = validator.New(validator.Config{Tx: txConfig, Workers: cfg.Workers}, f.stores); err != nil {
					return err
				}
			}
			if s.rep.Trace != nil && f.behaviour == "" {
				f.trace = &NodeTrace{Quorum: k + 1, Member: f.member}
				s.rep.Trace.Nodes = append(s.rep.Trace.Nodes, f.trace)
			}
			s.farmers = append(s.farmers, f)
		}
	}
	for _, f := range s.farmers {
		if err := s.net.AddNode(f.id); err != nil {
			return err
		}
	}
	for h := 0; h < cfg.Harvesters; h++ {
		var cs []*certification.Collector
		for _, r := range s.rosters {
			c, err := certification.NewCollector(r, certification.Options{Optimistic: cfg.OptimisticCollect})
			if err != nil {
				return err
			}
			cs = append(cs, c)
		}
		s.collectors = append(s.collectors, cs)
		if err := s.net.AddNode(s.harvesterID(h)); err != nil {
			return err
		}
	}
	s.clientNode = s.harvesterID(cfg.Harvesters)
	return s.net.AddNode(s.clientNode)
}

func (s *sim) farmerOf(k int, m certification.Member) *farmerNode {
	if m < 1 || int(m) > s.cfg.N {
		return nil
	}
	return s.farmers[k*s.cfg.N+int(m)-1]
}

func (s *sim) nodeOf(id network.NodeID) *farmerNode {
	if i := int(id) - 1; i >= 0 && i < len(s.farmers) {
		return s.farmers[i]
	}
	return nil
}

// step feeds one event to a farmer's role, after a Tick to the current
// time, and carries out the effects. It returns the event's error. A load
// report is fed without the Tick: ticks emit the role's own reports, so a
// report arriving would cause reports, which would tick the peers, without
// end.
func (s *sim) step(f *farmerNode, ev farm.Event) error {
	if _, load := ev.(farm.LoadReport); !load && s.net.Now() > f.role.Now() {
		now := s.net.Now()
		effs, err := f.role.Step(farm.Tick{Now: now})
		if err != nil {
			s.violation("farmer %d/%d refused the clock: %v", f.quorum+1, f.member, err)
		}
		s.effects(f, effs)
	}
	effs, err := f.role.Step(ev)
	if err != nil {
		var ie *farm.InputError
		name := err.Error()
		if errors.As(err, &ie) {
			name = ie.Err.Error()
		}
		s.rep.RefusedByFarmers[name]++
		return err
	}
	s.effects(f, effs)
	return nil
}

func (s *sim) violation(format string, args ...any) {
	s.rep.Violations = append(s.rep.Violations, fmt.Sprintf(format, args...))
}

func (s *sim) send(from, to network.NodeID, m message) { s.net.Send(from, to, m) }

// effects carries out a role's effects. spec: FARM-24 … FARM-36 (driver side)
func (s *sim) effects(f *farmerNode, effs []farm.Effect) {
	for _, e := range effs {
		switch e.Kind {
		case farm.EffectForward:
			f.attempts[e.Digest]++
			a := f.attempts[e.Digest]
			f.handoffs[e.Digest] = &handoff{attempt: a}
			// Rotate over the destination quorum's members by attempt, so a
			// silent member cannot hold a forward forever.
			order := farm.Order(e.Quorum, epoch, e.Digest, s.cfg.N)
			to := s.farmers[(int(e.Quorum)-1)*s.cfg.N+int(order[(a-1)%s.cfg.N])-1]
			s.send(f.id, to.id, message{kind: mTransfer, tx: e.Tx, src: farm.Source{Kind: farm.FromQuorum, Quorum: certification.QuorumID(f.quorum + 1)}, attempt: a})
			s.schedule(s.net.Now()+s.cfg.HandoffTimeout, f.id, alarm{kind: aHandoffTimeout, node: f, digest: e.Digest, attempt: a})
		case farm.EffectRelay:
			for m := 1; m <= s.cfg.N; m++ {
				if farm.Member(m) != f.member {
					s.send(f.id, s.farmers[f.quorum*s.cfg.N+m-1].id, message{kind: mTransfer, tx: e.Tx, src: farm.Source{Kind: farm.FromPeer, Member: f.member}})
				}
			}
		case farm.EffectDelegate:
			f.attempts[e.Digest]++
			a := f.attempts[e.Digest]
			f.handoffs[e.Digest] = &handoff{attempt: a}
			s.send(f.id, s.farmers[f.quorum*s.cfg.N+int(e.Peer)-1].id, message{kind: mDelegate, tx: e.Tx, attempt: a})
			s.schedule(s.net.Now()+s.cfg.HandoffTimeout, f.id, alarm{kind: aHandoffTimeout, node: f, digest: e.Digest, attempt: a})
		case farm.EffectValidate:
			f.batch = append(f.batch, e.Tx)
			if f.trace != nil {
				f.trace.Log = append(f.trace.Log, s.request(f, e))
			}
			if !f.armed {
				f.armed = true
				s.schedule(s.net.Now()+s.cfg.BatchWindow, f.id, alarm{kind: aValidate, node: f})
			}
		case farm.EffectVote:
			s.vote(f, e.Vote)
		case farm.EffectReport:
			for m := 1; m <= s.cfg.N; m++ {
				if farm.Member(m) != f.member {
					s.send(f.id, s.farmers[f.quorum*s.cfg.N+m-1].id, message{kind: mLoad, load: e.Report})
				}
			}
		case farm.EffectFetch:
			for m := 1; m <= s.cfg.N; m++ {
				if farm.Member(m) != f.member {
					s.send(f.id, s.farmers[f.quorum*s.cfg.N+m-1].id, message{kind: mFetch, tx: e.Tx, below: e.Tx.Nonce})
				}
			}
		case farm.EffectSend:
			s.send(f.id, s.farmers[f.quorum*s.cfg.N+int(e.Peer)-1].id, message{kind: mTransfer, tx: e.Tx, src: farm.Source{Kind: farm.FromPeer, Member: f.member}})
		case farm.EffectWake:
			s.schedule(e.At, f.id, alarm{kind: aWake, node: f})
		case farm.EffectPlaced:
			if f.trace != nil {
				f.trace.Placements = append(f.trace.Placements, *e.Placed)
			}
		}
	}
}

// request is the trace entry of a validation request, with the held
// lower-nonce transfers of the sender whose verdict is not final (FARM-31
// says there are none).
func (s *sim) request(f *farmerNode, e farm.Effect) LogEntry {
	le := LogEntry{At: s.net.Now(), Kind: LogRequest, Digest: e.Digest, From: e.Tx.From, Nonce: e.Tx.Nonce, Shadow: e.Shadow}
	for _, p := range f.held[e.Tx.From] {
		if p.Nonce < e.Tx.Nonce {
			if held, v, _, _ := f.role.Status(p.Digest()); !held || v == 0 {
				le.Unfinal = append(le.Unfinal, p.Digest())
			}
		}
	}
	return le
}

// vote sends a vote to the harvesters, as the farmer's behaviour dictates.
// spec: VOTE-5
func (s *sim) vote(f *farmerNode, v certification.Vote) {
	s.rep.Votes++
	if f.behaviour == "" {
		d := tx.Digest(v.Slot.ID)
		if prev, ok := f.votes[d]; ok && prev != v.Value.Verdict {
			f.twice[d] = true
		} else if !ok {
			f.votes[d] = v.Value.Verdict
		}
	}
	other := v.Statement
	if other.Value.Verdict == certification.Accept {
		other.Value.Verdict = certification.Reject
	} else {
		other.Value.Verdict = certification.Accept
	}
	for h := 0; h < s.cfg.Harvesters; h++ {
		out := v
		switch f.behaviour {
		case Flip:
			out = certification.SignVote(f.share, other)
		case Equivocate:
			accept, reject := v, certification.SignVote(f.share, other)
			if v.Value.Verdict == certification.Reject {
				accept, reject = reject, accept
			}
			if s.cfg.Harvesters == 1 {
				s.send(f.id, s.harvesterID(h), message{kind: mVote, vote: accept})
				out = reject
			} else if h%2 == 0 {
				out = accept
			} else {
				out = reject
			}
		}
		s.send(f.id, s.harvesterID(h), message{kind: mVote, vote: out})
	}
}

func (s *sim) deliver(ev network.Event[message]) {
	m := ev.Msg
	if h := int(ev.To) - len(s.farmers) - 1; h >= 0 && h < s.cfg.Harvesters {
		if m.kind == mVote {
			s.collect(h, m.vote)
		}
		return
	}
	f := s.nodeOf(ev.To)
	if f == nil || f.behaviour == Silent {
		return
	}
	from := s.nodeOf(ev.From)
	switch m.kind {
	case mTransfer:
		before, _, _, _ := f.role.Status(m.tx.Digest())
		err := s.step(f, farm.TransferReceived{Tx: m.tx, From: m.src})
		if held, _, _, _ := f.role.Status(m.tx.Digest()); err == nil && held && !before {
			f.held[m.tx.From] = append(f.held[m.tx.From], m.tx)
			if f.trace != nil {
				f.trace.Log = append(f.trace.Log, LogEntry{At: s.net.Now(), Kind: LogHeld, Digest: m.tx.Digest(), From: m.tx.From, Nonce: m.tx.Nonce})
			}
		}
		if ev.From == s.clientNode {
			s.rep.Submissions++
		}
		if m.src.Kind == farm.FromQuorum && from != nil {
			s.send(f.id, from.id, message{kind: mForwardAck, digest: m.tx.Digest(), ok: err == nil || errors.Is(err, farm.ErrDuplicate), attempt: m.attempt})
		}
	case mForwardAck, mDelegateReply:
		h := f.handoffs[m.digest]
		if h == nil || h.attempt != m.attempt {
			return
		}
		delete(f.handoffs, m.digest)
		s.step(f, farm.HandoffResult{Digest: m.digest, OK: m.ok})
	case mDelegate:
		if from == nil {
			return
		}
		err := s.step(f, farm.DelegatedIn{From: from.member, Tx: m.tx})
		if err == nil {
			f.held[m.tx.From] = append(f.held[m.tx.From], m.tx)
		}
		s.send(f.id, from.id, message{kind: mDelegateReply, digest: m.tx.Digest(), ok: err == nil, attempt: m.attempt})
	case mNotice:
		s.step(f, farm.Certified{Statement: m.stmt})
	case mLoad:
		s.step(f, farm.LoadReport{Load: m.load})
	case mFetch:
		if from != nil {
			s.step(f, farm.FetchRequest{From: from.member, Sender: m.tx.From, Below: m.below})
		}
	}
}

// collect is a harvester's collector step; a new certificate is verified,
// recorded and announced to the quorum's farmers and the client.
// spec: CERT-9, CERT-10, VOTE-5
func (s *sim) collect(h int, v certification.Vote) {
	k := int(v.Quorum) - 1
	if k < 0 || k >= len(s.rosters) {
		s.rep.RejectedVotes[certification.ReasonWrongQuorum]++
		return
	}
	start := time.Now()
	eff := s.collectors[h][k].Step(certification.VoteReceived{Vote: v})
	s.rep.CollectTime += time.Since(start)
	s.rep.CollectSteps++
	for _, d := range eff.Dropped { // optimistic: earlier pending votes found bad
		s.rep.RejectedVotes[certification.ReasonOf(d)]++
	}
	if eff.Rejected != nil {
		reason := certification.ReasonOf(eff.Rejected)
		s.rep.RejectedVotes[reason]++
		// A vote for a decided slot, or a resent one, comes from a farmer
		// that has not heard of the certificate: tell it again (its notice
		// may have been lost).
		if c, ok := s.collectors[h][k].Certificate(v.Slot); ok && (reason == certification.ReasonSlotDecided || reason == certification.ReasonDuplicate) {
			if f := s.farmerOf(k, v.Member); f != nil {
				s.send(s.harvesterID(h), f.id, message{kind: mNotice, stmt: c.Statement})
			}
		}
	}
	if eff.Evidence != nil {
		s.rep.Evidence++
	}
	c := eff.Certificate
	if c == nil {
		return
	}
	start = time.Now()
	// Every harvester forms the same group signature; the cache pays its
	// pairing once and still checks each certificate's bitmap (CERT-10).
	err := s.verified.Verify(*c, s.rosters[k])
	s.rep.VerifyTime += time.Since(start)
	s.rep.Verifies++
	if err != nil {
		s.violation("harvester %d: certificate for %x does not verify: %v", h, c.Slot.ID[:8], err)
	}
	d := tx.Digest(c.Slot.ID)
	s.certs[d] = append(s.certs[d], certRec{harvester: h, quorum: k, verdict: c.Value.Verdict, at: s.net.Now()})
	if len(s.certs[d]) == 1 {
		delete(s.open, d)
	}
	if s.cfg.Layer != nil && !s.cfg.Layer.Done() {
		if t, ok := s.work.txs[d]; ok {
			s.cfg.Layer.Certified(h, t, *c, s.net.Now())
		}
	}
	for m := 0; m < s.cfg.N; m++ {
		s.send(s.harvesterID(h), s.farmers[k*s.cfg.N+m].id, message{kind: mNotice, stmt: c.Statement})
	}
}

func (s *sim) alarm(ev network.Event[message]) {
	a := s.alarms[ev.Tag]
	now := s.net.Now()
	switch a.kind {
	case aSubmit:
		sub := s.work.subs[a.sub]
		if _, ok := s.firstSub[sub.d]; !ok {
			s.firstSub[sub.d] = now
		}
		s.send(s.clientNode, s.farmers[sub.target].id, message{kind: mTransfer, tx: sub.t, src: farm.Source{Kind: farm.FromClient}})
		if !sub.dup {
			s.schedule(now+s.cfg.ClientTimeout, 0, alarm{kind: aClientCheck, sub: a.sub, attempt: 1})
		}
	case aClientCheck:
		sub := s.work.subs[a.sub]
		if len(s.certs[sub.d]) > 0 {
			return
		}
		if a.attempt >= s.cfg.MaxAttempts || now >= s.cfg.MaxTime {
			s.abandoned[sub.d] = true
			delete(s.open, sub.d)
			return
		}
		// Resubmit to another farmer: a stride through all farmers.
		target := (sub.target + a.attempt*(s.cfg.N+1)) % len(s.farmers)
		s.rep.Retries++
		s.send(s.clientNode, s.farmers[target].id, message{kind: mTransfer, tx: sub.t, src: farm.Source{Kind: farm.FromClient}})
		s.schedule(now+s.cfg.ClientTimeout, 0, alarm{kind: aClientCheck, sub: a.sub, attempt: a.attempt + 1})
	case aTickAll:
		for _, f := range s.farmers {
			if f.behaviour != Silent {
				s.step(f, farm.Tick{Now: now})
			}
		}
		if len(s.open) > 0 && now < s.cfg.MaxTime {
			s.schedule(now+s.cfg.TickInterval, 0, alarm{kind: aTickAll})
		}
	case aWake:
		if a.node.behaviour != Silent {
			s.step(a.node, farm.Tick{Now: now})
		}
	case aValidate:
		s.runValidation(a.node)
	case aVerdicts:
		for _, v := range a.verdicts {
			a.node.reasons[v.Digest] = v.Reason
			if a.node.trace != nil {
				a.node.trace.Log = append(a.node.trace.Log, LogEntry{At: now, Kind: LogVerdict, Digest: v.Digest, Verdict: v.Verdict, Reason: v.Reason})
			}
			if err := s.step(a.node, farm.Validated{Verdict: v}); err != nil && a.node.behaviour == "" {
				s.violation("farmer %d/%d refused its own verdict: %v", a.node.quorum+1, a.node.member, err)
			}
		}
	case aHandoffTimeout:
		f := a.node
		h := f.handoffs[a.digest]
		if h == nil || h.attempt != a.attempt || f.behaviour == Silent {
			return
		}
		delete(f.handoffs, a.digest)
		s.step(f, farm.HandoffResult{Digest: a.digest, OK: false})
	}
}

// runValidation runs a farmer's batched requests on its validator unit
// (real goroutines; the wall time is measured) and delivers the verdicts
// after the simulated validation time. spec: FARM-22, FARM-23
func (s *sim) runValidation(f *farmerNode) {
	f.armed = false
	if len(f.batch) == 0 {
		return
	}
	batch := make([]*tx.Transfer, len(f.batch))
	for i := range f.batch {
		batch[i] = &f.batch[i]
	}
	f.batch = nil
	start := time.Now()
	verdicts, err := f.unit.Validate(batch, func(acc []*tx.Transfer) {
		if err := f.stores.Admit(acc); err != nil {
			s.violation("farmer %d/%d: mempool refused an accepted transfer: %v", f.quorum+1, f.member, err)
		}
	})
	s.rep.ValidateWall += time.Since(start)
	s.rep.Validated += len(batch)
	s.rep.ValidateCalls++
	if err != nil {
		s.violation("farmer %d/%d: validator: %v", f.quorum+1, f.member, err)
		return
	}
	rounds := (len(batch) + s.cfg.SimCores - 1) / s.cfg.SimCores
	s.schedule(s.net.Now()+time.Duration(rounds)*s.cfg.ValidationCost, f.id, alarm{kind: aVerdicts, node: f, verdicts: verdicts})
}
