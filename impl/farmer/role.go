package farmer

import (
	"cmp"
	"container/heap"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/fhbft/fhbft/impl/certification"
	"github.com/fhbft/fhbft/impl/scheduler"
	"github.com/fhbft/fhbft/impl/tx"
)

type entryState uint8

const (
	stNew        entryState = iota // held, no verdict yet, not in validation
	stValidating                   // EffectValidate emitted, Validated awaited
	stParked                       // nonce gap: waits for a predecessor or ParkTimeout (FARM-32)
	stFinal                        // verdict final
)

// entry is one transfer of this quorum that this member holds.
type entry struct {
	t         tx.Transfer
	d         tx.Digest
	seq       uint64 // arrival order at this member
	rank      int    // this member's 0-based position in Order
	arrived   time.Duration
	state     entryState
	verdict   certification.Verdict
	reason    tx.Reason
	place     scheduler.Place // 0: no scheduler task; local: obliged to vote; remote: delegated out
	obliged   bool            // this member must vote on it (VOTE-4)
	delegated bool            // a peer accepted it in this member's place
	voted     bool
	vote      certification.Vote // this member's vote, for resending (FARM-40)
	resends   int
	certified bool // a certificate notice arrived (FARM-33)
}

// chain is one sender's held transfers, by (nonce, arrival).
type chain struct {
	entries  []*entry
	inflight int
}

type timerKind uint8

const (
	timerTakeover timerKind = iota + 1
	timerPark
	timerResend
	timerFetch
)

type timer struct {
	at   time.Duration
	seq  uint64
	kind timerKind
	d    tx.Digest
}

type timers []timer

func (h timers) Len() int { return len(h) }
func (h timers) Less(i, j int) bool {
	return cmp.Or(cmp.Compare(h[i].at, h[j].at), cmp.Compare(h[i].seq, h[j].seq)) < 0
}
func (h timers) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *timers) Push(x any)   { *h = append(*h, x.(timer)) }
func (h *timers) Pop() any {
	old := *h
	t := old[len(old)-1]
	*h = old[:len(old)-1]
	return t
}

// Role is one farmer's protocol state. It is not safe for concurrent use;
// the driver serialises Step calls.
type Role struct {
	cfg     Config
	q, n    int
	peers   []Member
	sched   *scheduler.Scheduler
	now     time.Duration
	seq     uint64
	entries map[tx.Digest]*entry
	chains  map[tx.AccountID]*chain
	fwd     map[tx.Digest]tx.Transfer
	voted   map[tx.Digest]certification.Verdict // every vote of the epoch (VOTE-3)
	timers  timers
	stats   Stats
	eff     []Effect
}

// New returns a farmer role, or a *ConfigError.
func New(cfg Config) (*Role, error) {
	cfg = cfg.WithDefaults()
	r := cfg.Roster
	switch {
	case r.Validate() != nil:
		return nil, &ConfigError{"Roster", r.Validate().Error()}
	case cfg.Self < 1 || int(cfg.Self) > r.N():
		return nil, &ConfigError{"Self", fmt.Sprintf("%d outside 1..%d", cfg.Self, r.N())}
	case cfg.Share.Index != cfg.Self:
		return nil, &ConfigError{"Share", fmt.Sprintf("share index %d is not member %d", cfg.Share.Index, cfg.Self)}
	case cfg.Entry == nil:
		return nil, &ConfigError{"Entry", "no entry table"}
	case !cfg.Entry.Contains(r.Quorum):
		return nil, &ConfigError{"Entry", fmt.Sprintf("table does not contain quorum %d", r.Quorum)}
	case cfg.Alloc != AllocDigest && cfg.Alloc != AllocSigner:
		return nil, &ConfigError{"Alloc", cfg.Alloc.String()}
	case cfg.Timeout < 0 || cfg.ParkTimeout < 0 || cfg.FallbackStep < 0 || cfg.MaxHeld < 0:
		return nil, &ConfigError{"Timeout/ParkTimeout/FallbackStep/MaxHeld", "negative"}
	}
	var peers []Member
	for m := 1; m <= r.N(); m++ {
		if Member(m) != cfg.Self {
			peers = append(peers, Member(m))
		}
	}
	sc := cfg.Sched
	sc.Self = cfg.Self
	sc.Map = scheduler.QuorumMap{Epoch: r.Epoch, Quorum: r.Quorum, Quorums: cfg.Entry.Quorums(), Peers: peers}
	s, err := scheduler.New(sc)
	if err != nil {
		return nil, &ConfigError{"Sched", err.Error()}
	}
	return &Role{
		cfg: cfg, q: r.Q(), n: r.N(), peers: peers, sched: s,
		entries: map[tx.Digest]*entry{}, chains: map[tx.AccountID]*chain{},
		fwd: map[tx.Digest]tx.Transfer{}, voted: map[tx.Digest]certification.Verdict{},
	}, nil
}

// Config returns the configuration with defaults filled in.
func (r *Role) Config() Config { return r.cfg }

// Stats returns the counters.
func (r *Role) Stats() Stats { return r.stats }

// Now is the time of the last Tick.
func (r *Role) Now() time.Duration { return r.now }

// Held is the number of transfers held (this quorum's and forwards).
func (r *Role) Held() int { return len(r.entries) + len(r.fwd) }

// Load is this member's scheduler figures.
func (r *Role) Load() scheduler.Stats { return r.sched.Load() }

// SchedulerLen is the number of tasks in the scheduler's three queues.
func (r *Role) SchedulerLen() int { return r.sched.Len() }

// Voted reports whether this member voted on d in this epoch, and how.
func (r *Role) Voted(d tx.Digest) (certification.Verdict, bool) {
	v, ok := r.voted[d]
	return v, ok
}

// Status says how this member sees a transfer of its quorum: whether it
// holds it, its verdict and reason (0 if none is final), and whether it
// voted. Transfers are held for the epoch (until finalisation, a later
// issue, releases them).
func (r *Role) Status(d tx.Digest) (held bool, verdict certification.Verdict, reason tx.Reason, voted bool) {
	e := r.entries[d]
	if e == nil {
		return false, 0, 0, false
	}
	if e.state == stFinal {
		verdict, reason = e.verdict, e.reason
	}
	return true, verdict, reason, e.voted
}

// Step applies one event and returns the effects it caused, in the order the
// driver must carry them out. On error (always an *InputError) nothing
// changed and there are no effects. spec: FARM-34
func (r *Role) Step(ev Event) ([]Effect, error) {
	r.eff = nil
	var err error
	switch ev := ev.(type) {
	case TransferReceived:
		err = r.onTransfer(ev)
	case DelegatedIn:
		err = r.onDelegatedIn(ev)
	case Validated:
		err = r.onValidated(ev)
	case HandoffResult:
		err = r.onHandoff(ev)
	case LoadReport:
		err = r.onLoad(ev)
	case Certified:
		err = r.onCertified(ev)
	case Tick:
		err = r.onTick(ev)
	case FetchRequest:
		err = r.onFetch(ev)
	default:
		err = &InputError{Err: ErrNilEvent, Event: fmt.Sprintf("%T", ev)}
	}
	out := r.eff
	r.eff = nil
	if err != nil {
		return nil, err
	}
	return out, nil
}

func refuse(sentinel error, event, format string, args ...any) error {
	return &InputError{Err: sentinel, Event: event, Detail: fmt.Sprintf(format, args...)}
}

func schedErr(event string, err error) error {
	return &InputError{Err: ErrScheduler, Event: event, Cause: err}
}

func (r *Role) emit(e Effect) { r.eff = append(r.eff, e) }

func (r *Role) isPeer(m Member) bool { return m >= 1 && int(m) <= r.n && m != r.cfg.Self }

// entryQuorum is the Maglev lookup of the signer. spec: FARM-24, ENTRY-1
func (r *Role) entryQuorum(t *tx.Transfer, d tx.Digest) QuorumID {
	if r.cfg.Mutations.EntryByDigest {
		return r.cfg.Entry.Lookup(d)
	}
	return r.cfg.Entry.Lookup(t.From)
}

// order ranks the members for a transfer. spec: FARM-28
func (r *Role) order(t *tx.Transfer, d tx.Digest) []Member {
	key := [32]byte(d)
	if r.cfg.Alloc == AllocSigner {
		key = t.From
	}
	return Order(r.cfg.Roster.Quorum, r.cfg.Roster.Epoch, key, r.n)
}

func (r *Role) full() bool { return len(r.entries)+len(r.fwd) >= r.cfg.MaxHeld }

func (r *Role) task(t *tx.Transfer, d tx.Digest, dep scheduler.Dependency) scheduler.Task {
	return scheduler.Task{ID: scheduler.Digest(d), Signer: scheduler.Account(t.From), Cost: r.cfg.TaskCost, Dep: dep}
}

// depOf says where a transfer's predecessor is: here if this member holds a
// lower-nonce transfer of the sender, else nowhere pending. spec: FARM-30
func (r *Role) depOf(t *tx.Transfer) scheduler.Dependency {
	if c := r.chains[t.From]; c != nil && len(c.entries) > 0 && c.entries[0].t.Nonce < t.Nonce {
		return scheduler.Dependency{Kind: scheduler.DepLocal}
	}
	return scheduler.Dependency{Kind: scheduler.DepNone}
}

// onTransfer: entry check, then forward or hold and relay.
// spec: FARM-24, FARM-25, FARM-26, FARM-27
func (r *Role) onTransfer(ev TransferReceived) error {
	const name = "TransferReceived"
	t := ev.Tx
	switch ev.From.Kind {
	case FromClient, FromQuorum:
	case FromPeer:
		if !r.isPeer(ev.From.Member) {
			return refuse(ErrUnknownPeer, name, "member %d", ev.From.Member)
		}
	default:
		return refuse(ErrNilEvent, name, "unknown source kind %d", ev.From.Kind)
	}
	d := t.Digest()
	if q := r.entryQuorum(&t, d); q != r.cfg.Roster.Quorum {
		if ev.From.Kind == FromPeer {
			return refuse(ErrNotOurs, name, "peer %d relayed a transfer of quorum %d", ev.From.Member, q)
		}
		if _, ok := r.fwd[d]; ok {
			return refuse(ErrDuplicate, name, "%x is being forwarded", d[:8])
		}
		if r.full() {
			return refuse(ErrFull, name, "%d held", r.Held())
		}
		tk := r.task(&t, d, scheduler.Dependency{Kind: scheduler.DepQuorum, Quorum: q})
		loads := r.loads()
		effs, err := r.sched.Step(scheduler.TaskArrived{Task: tk})
		if err != nil {
			return schedErr(name, err)
		}
		r.fwd[d] = t
		r.stats.Received++
		r.applySched(effs, &tk, loads)
		return nil
	}
	if e := r.entries[d]; e != nil {
		if ev.From.Kind == FromPeer || e.certified {
			return refuse(ErrDuplicate, name, "%x already held", d[:8])
		}
		// Resubmitted from outside while not certified: a relay or a vote
		// may have been lost, so relay it again and resend the vote, if any
		// (the same signed vote: VOTE-3). spec: FARM-27, FARM-40
		r.stats.Rerelayed++
		r.emit(Effect{Kind: EffectRelay, Tx: t, Digest: d})
		if e.voted {
			r.stats.Resent++
			r.emit(Effect{Kind: EffectVote, Digest: d, Vote: e.vote})
		}
		return nil
	}
	if _, ok := r.voted[d]; ok {
		return refuse(ErrDuplicate, name, "%x already processed", d[:8])
	}
	if r.full() {
		return refuse(ErrFull, name, "%d held", r.Held())
	}
	order := r.order(&t, d)
	rank := rankOf(order, r.cfg.Self)
	var effs []scheduler.Effect
	var tk scheduler.Task
	var loads []scheduler.NodeLoad
	if rank < r.q {
		tk = r.task(&t, d, r.depOf(&t))
		loads = r.loads()
		var err error
		if effs, err = r.sched.Step(scheduler.TaskArrived{Task: tk}); err != nil {
			return schedErr(name, err)
		}
	}
	r.stats.Received++
	if ev.From.Kind != FromPeer {
		r.stats.Relayed++
		r.emit(Effect{Kind: EffectRelay, Tx: t, Digest: d})
	}
	e := r.hold(t, d, rank)
	r.setTakeover(e)
	if rank < r.q {
		r.stats.Assigned++
		r.applySched(effs, &tk, loads)
	}
	r.pump(r.chains[t.From])
	return nil
}

// hold records a transfer of this quorum and re-opens the sender's
// transfers parked above it. spec: FARM-31, FARM-32
func (r *Role) hold(t tx.Transfer, d tx.Digest, rank int) *entry {
	r.seq++
	e := &entry{t: t, d: d, seq: r.seq, rank: rank, arrived: r.now}
	r.entries[d] = e
	c := r.chains[t.From]
	if c == nil {
		c = &chain{}
		r.chains[t.From] = c
	}
	i, _ := slices.BinarySearchFunc(c.entries, e, func(a, b *entry) int {
		return cmp.Or(cmp.Compare(a.t.Nonce, b.t.Nonce), cmp.Compare(a.seq, b.seq))
	})
	c.entries = slices.Insert(c.entries, i, e)
	for _, o := range c.entries[i+1:] {
		if o.state == stParked && o.t.Nonce > t.Nonce {
			o.state = stNew
		}
	}
	return e
}

// setTakeover arms the fallback timer: the member at rank p ≥ q takes
// over ceil((p−q+1)/step) timeouts after it first held the transfer. An
// assigned member (p < q) gets the last resort timer (lastResort): it fires
// only if the member has not voted, i.e. if it delegated its vote and the
// transfer is still not certified. So every honest member that holds a
// transfer votes in the end unless a certificate is announced. spec: FARM-29
func (r *Role) setTakeover(e *entry) {
	if e.rank < r.q {
		r.addTimer(e.arrived+r.lastResort(), timerTakeover, e.d)
		return
	}
	step := r.cfg.FallbackStep
	k := (e.rank - r.q + step) / step
	r.addTimer(e.arrived+time.Duration(k)*r.cfg.Timeout, timerTakeover, e.d)
}

// lastResort is the takeover delay of the last rank, ceil((n−q)/step)+1
// timeouts: by then every unassigned member has been asked.
func (r *Role) lastResort() time.Duration {
	step := r.cfg.FallbackStep
	return time.Duration((r.n-r.q+step)/step) * r.cfg.Timeout
}

func (r *Role) addTimer(at time.Duration, k timerKind, d tx.Digest) {
	r.seq++
	heap.Push(&r.timers, timer{at: at, seq: r.seq, kind: k, d: d})
	r.emit(Effect{Kind: EffectWake, At: at})
}

// loads is L before a decision, only when tracing.
func (r *Role) loads() []scheduler.NodeLoad {
	if !r.cfg.Trace {
		return nil
	}
	return r.sched.Loads()
}

// applySched carries out the scheduler's effects. tk and loads describe the
// decision that produced them, for EffectPlaced. spec: FARM-30
func (r *Role) applySched(effs []scheduler.Effect, tk *scheduler.Task, loads []scheduler.NodeLoad) {
	for _, se := range effs {
		d := tx.Digest(se.Task.ID)
		if r.cfg.Trace && tk != nil && se.Task.ID == tk.ID && se.Kind != scheduler.EffectDone && se.Kind != scheduler.EffectReport {
			r.emit(Effect{Kind: EffectPlaced, Digest: d, Placed: &Placement{Task: *tk, Effect: se, Loads: loads, Threshold: r.sched.Config().Threshold}})
		}
		switch se.Kind {
		case scheduler.EffectReport:
			r.emit(Effect{Kind: EffectReport, Report: se.Report})
		case scheduler.EffectForward:
			if se.Cause == scheduler.CauseRetry {
				r.stats.ForwardRetries++
			} else {
				r.stats.Forwarded++
			}
			r.emit(Effect{Kind: EffectForward, Tx: r.fwd[d], Digest: d, Quorum: se.Quorum})
		case scheduler.EffectDelegate:
			if e := r.entries[d]; e != nil {
				e.place = scheduler.PlaceRemote
				r.stats.DelegatedOut++
				r.emit(Effect{Kind: EffectDelegate, Tx: e.t, Digest: d, Peer: se.Peer})
			}
		case scheduler.EffectExecute:
			e := r.entries[d]
			if e == nil {
				// A forward re-decided locally: only if its quorum left the
				// map, which cannot happen within an epoch. Retire it.
				delete(r.fwd, d)
				if more, err := r.sched.Step(scheduler.TaskCompleted{ID: se.Task.ID}); err == nil {
					r.applySched(more, nil, nil)
				}
				continue
			}
			if se.Cause == scheduler.CauseFallback {
				r.stats.DelegationsFailed++
			}
			e.place = scheduler.PlaceLocal
			if r.cfg.Mutations.VoteTwice && e.voted {
				// The planted bug: validate again and vote on the new
				// verdict, which may differ (the transfer is now pending).
				e.voted, e.state = false, stNew
			}
			e.obliged = true
			r.maybeVote(e)
			if e.place == scheduler.PlaceLocal && !e.wants() {
				// Certified (or voted) while the task was elsewhere, e.g. a
				// delegation that failed after the notice: nothing to do.
				r.complete(e)
				continue
			}
			r.pump(r.chains[e.t.From])
		case scheduler.EffectDone:
			if _, ok := r.fwd[d]; ok {
				delete(r.fwd, d)
				continue
			}
			if e := r.entries[d]; e != nil {
				delegated := e.place == scheduler.PlaceRemote
				e.place = 0
				if delegated {
					// The peer votes in this member's place; should the
					// transfer still not be certified at the last rank's
					// time from now, this member takes over itself (the
					// peer may be Byzantine). spec: FARM-29, FARM-30
					e.delegated = true
					r.addTimer(r.now+r.lastResort(), timerTakeover, e.d)
				}
			}
		}
	}
}

// wants: this member must vote and has not. spec: VOTE-4
func (e *entry) wants() bool { return e.obliged && !e.voted && !e.certified }

// pump asks for the next validation of a sender, if any is wanted: the
// lowest-nonce transfer without a final verdict, provided it is at or below
// the highest transfer this member must vote on, and nothing of the sender
// is in validation. A parked transfer stops the walk: everything above it
// has the same gap. spec: FARM-31
func (r *Role) pump(c *chain) {
	if c == nil {
		return
	}
	if r.cfg.Mutations.NoPredecessorOrder {
		for _, e := range c.entries {
			if e.wants() && e.state == stNew {
				r.validate(c, e)
			}
		}
		return
	}
	if c.inflight > 0 {
		return
	}
	last := -1
	for i, e := range c.entries {
		if e.wants() {
			last = i
		}
	}
	for _, e := range c.entries[:last+1] {
		switch e.state {
		case stFinal:
			continue
		case stNew:
			r.validate(c, e)
		}
		return
	}
}

func (r *Role) validate(c *chain, e *entry) {
	e.state = stValidating
	c.inflight++
	r.stats.Validations++
	if !e.obliged {
		r.stats.Shadow++
	}
	r.emit(Effect{Kind: EffectValidate, Tx: e.t, Digest: e.d, Shadow: !e.obliged})
}

// onValidated records a verdict. spec: FARM-31, FARM-32
func (r *Role) onValidated(ev Validated) error {
	const name = "Validated"
	v := ev.Verdict
	e := r.entries[v.Digest]
	if e == nil || e.state != stValidating {
		return refuse(ErrUnexpectedVerdict, name, "%x", v.Digest[:8])
	}
	if !v.Verdict.Known() || (v.Verdict == certification.Accept && v.Reason != 0) {
		return refuse(ErrMalformedVerdict, name, "verdict %d reason %d", v.Verdict, v.Reason)
	}
	c := r.chains[e.t.From]
	c.inflight--
	if v.Verdict == certification.Reject && v.Reason == tx.ReasonNonceGap {
		below := false
		for _, o := range c.entries {
			if o == e {
				break
			}
			below = below || o.state != stFinal
		}
		switch {
		case below: // a predecessor arrived during the validation
			e.state = stNew
			r.pump(c)
			return nil
		case r.now < e.arrived+r.cfg.ParkTimeout:
			e.state = stParked
			r.stats.Parked++
			r.addTimer(e.arrived+r.cfg.ParkTimeout, timerPark, e.d)
			// Ask the peers for the missing predecessors now and again at
			// each quarter of the park timeout (FARM-39): a lost relay is
			// not repaired otherwise once the predecessor is certified
			// without this member, and a predecessor may reach the quorum
			// late (a client's resubmission).
			r.fetch(e)
			for k := time.Duration(1); k < 4; k++ {
				if at := e.arrived + k*r.cfg.ParkTimeout/4; at > r.now {
					r.addTimer(at, timerFetch, e.d)
				}
			}
			r.pump(c)
			return nil
		}
	}
	e.state, e.verdict, e.reason = stFinal, v.Verdict, v.Reason
	r.maybeVote(e)
	r.pump(c)
	return nil
}

// maybeVote signs and sends this member's vote once its verdict is final
// and it is obliged to vote. spec: VOTE-1, VOTE-2, VOTE-3, VOTE-4
func (r *Role) maybeVote(e *entry) {
	if e.state != stFinal || !e.wants() {
		return
	}
	verdict := e.verdict
	if r.cfg.Mutations.AcceptAll {
		verdict = certification.Accept
	}
	id := certification.Digest(e.d)
	st := certification.Statement{
		Quorum: r.cfg.Roster.Quorum,
		Epoch:  r.cfg.Roster.Epoch,
		Slot:   certification.Slot{Kind: certification.KindTx, ID: id},
		Value:  certification.Value{Subject: id, Verdict: verdict},
	}
	e.voted = true
	e.vote = certification.SignVote(r.cfg.Share, st)
	r.voted[e.d] = verdict
	r.stats.Votes++
	r.emit(Effect{Kind: EffectVote, Digest: e.d, Vote: e.vote})
	if r.cfg.MaxResends > 0 {
		r.addTimer(r.now+r.lastResort(), timerResend, e.d)
	}
	r.complete(e)
}

// complete retires this member's local scheduler task for e.
func (r *Role) complete(e *entry) {
	if e.place != scheduler.PlaceLocal {
		return
	}
	effs, err := r.sched.Step(scheduler.TaskCompleted{ID: scheduler.Digest(e.d)})
	if err != nil {
		return // unreachable: a local place is always a held local task
	}
	r.applySched(effs, nil, nil)
}

// onDelegatedIn accepts a peer's delegation unless this member votes on the
// transfer anyway (assigned, obliged, voted) or it is certified.
// spec: FARM-30, VOTE-3
func (r *Role) onDelegatedIn(ev DelegatedIn) error {
	const name = "DelegatedIn"
	if !r.isPeer(ev.From) {
		return refuse(ErrUnknownPeer, name, "member %d", ev.From)
	}
	t := ev.Tx
	d := t.Digest()
	if q := r.entryQuorum(&t, d); q != r.cfg.Roster.Quorum {
		return refuse(ErrNotOurs, name, "transfer of quorum %d", q)
	}
	e := r.entries[d]
	_, voted := r.voted[d]
	twice := r.cfg.Mutations.VoteTwice
	switch {
	case voted && !twice:
		return refuse(ErrRefused, name, "%x: voted", d[:8])
	case e != nil && (e.place != 0 || e.certified || (e.obliged && !twice)):
		return refuse(ErrRefused, name, "%x: already obliged, delegated or certified", d[:8])
	case e == nil && r.full():
		return refuse(ErrFull, name, "%d held", r.Held())
	}
	rank := r.q
	if e != nil {
		rank = e.rank
	} else {
		rank = rankOf(r.order(&t, d), r.cfg.Self)
	}
	if rank < r.q && !twice {
		return refuse(ErrRefused, name, "%x: assigned to this member", d[:8])
	}
	effs, err := r.sched.Step(scheduler.TaskDelegatedIn{From: ev.From, Task: r.task(&t, d, r.depOf(&t))})
	if err != nil {
		return schedErr(name, err)
	}
	if e == nil {
		r.stats.Received++
		e = r.hold(t, d, rank)
	}
	r.stats.DelegatedIn++
	r.applySched(effs, nil, nil)
	r.pump(r.chains[t.From])
	return nil
}

// onHandoff settles a delegation or a forward. spec: FARM-25, FARM-30
func (r *Role) onHandoff(ev HandoffResult) error {
	const name = "HandoffResult"
	_, fwd := r.fwd[ev.Digest]
	e := r.entries[ev.Digest]
	if !fwd && (e == nil || e.place != scheduler.PlaceRemote) {
		return refuse(ErrUnknownTransfer, name, "%x: no handoff pending", ev.Digest[:8])
	}
	var se scheduler.Event = scheduler.HandoffAcked{ID: scheduler.Digest(ev.Digest)}
	if !ev.OK {
		se = scheduler.HandoffFailed{ID: scheduler.Digest(ev.Digest)}
	}
	effs, err := r.sched.Step(se)
	if err != nil {
		return schedErr(name, err)
	}
	r.applySched(effs, nil, nil)
	return nil
}

func (r *Role) onLoad(ev LoadReport) error {
	effs, err := r.sched.Step(scheduler.PeerLoad(ev.Load))
	if err != nil {
		return schedErr("LoadReport", err)
	}
	r.applySched(effs, nil, nil)
	return nil
}

// onCertified notes a certificate notice: no takeover, no unstarted vote.
// spec: FARM-33
func (r *Role) onCertified(ev Certified) error {
	const name = "Certified"
	st := ev.Statement
	if st.Quorum != r.cfg.Roster.Quorum || st.Epoch != r.cfg.Roster.Epoch || st.Slot.Kind != certification.KindTx ||
		st.Value.Subject != st.Slot.ID || !st.Value.Verdict.Known() {
		return refuse(ErrWrongStatement, name, "quorum %d epoch %d kind %v", st.Quorum, st.Epoch, st.Slot.Kind)
	}
	d := tx.Digest(st.Slot.ID)
	e := r.entries[d]
	if e == nil {
		return refuse(ErrUnknownTransfer, name, "%x", d[:8])
	}
	if e.certified {
		return refuse(ErrDuplicate, name, "%x already certified", d[:8])
	}
	e.certified = true
	r.stats.Certified++
	if !e.voted {
		r.complete(e)
	}
	return nil
}

// fetch asks the peers for a parked transfer's predecessors. spec: FARM-39
func (r *Role) fetch(e *entry) {
	r.stats.Fetches++
	r.emit(Effect{Kind: EffectFetch, Tx: e.t, Digest: e.d})
}

// onFetch answers a peer's FetchRequest with the sender's transfers below
// the nonce that this member holds, lowest nonces first, at most MaxFetch.
// spec: FARM-39
func (r *Role) onFetch(ev FetchRequest) error {
	if !r.isPeer(ev.From) {
		return refuse(ErrUnknownPeer, "FetchRequest", "member %d", ev.From)
	}
	c := r.chains[ev.Sender]
	if c == nil {
		return nil
	}
	sent := 0
	for _, e := range c.entries {
		if e.t.Nonce >= ev.Below || sent == r.cfg.MaxFetch {
			break
		}
		sent++
		r.stats.Fetched++
		r.emit(Effect{Kind: EffectSend, Tx: e.t, Digest: e.d, Peer: ev.From})
	}
	return nil
}

// onTick advances the clock and fires due timers. spec: FARM-29, FARM-32, FARM-36
func (r *Role) onTick(ev Tick) error {
	if ev.Now < r.now {
		return refuse(ErrClockBackwards, "Tick", "%v < %v", ev.Now, r.now)
	}
	effs, err := r.sched.Step(scheduler.Tick{Now: ev.Now})
	if err != nil {
		return schedErr("Tick", err)
	}
	r.now = ev.Now
	r.applySched(effs, nil, nil)
	var retry []timer
	for len(r.timers) > 0 && r.timers[0].at <= r.now {
		tm := heap.Pop(&r.timers).(timer)
		e := r.entries[tm.d]
		if e == nil {
			continue
		}
		switch tm.kind {
		case timerTakeover:
			// A delegation in flight settles by itself: a failure makes the
			// task local (a vote follows), an acknowledgement re-arms the
			// last resort timer.
			if e.certified || e.voted || e.place != 0 {
				continue
			}
			tk := r.task(&e.t, e.d, r.depOf(&e.t))
			loads := r.loads()
			effs, err := r.sched.Step(scheduler.TaskArrived{Task: tk})
			if err != nil {
				if errors.Is(err, scheduler.ErrFull) {
					retry = append(retry, tm)
				}
				continue
			}
			r.stats.TakenOver++
			r.applySched(effs, &tk, loads)
		case timerResend:
			// Votes travel on lossy links: resend the same vote, with
			// exponential backoff, until a certificate is announced.
			// spec: FARM-40
			if e.certified || !e.voted || e.resends >= r.cfg.MaxResends {
				continue
			}
			e.resends++
			r.stats.Resent++
			r.emit(Effect{Kind: EffectVote, Digest: e.d, Vote: e.vote})
			if e.resends < r.cfg.MaxResends {
				r.addTimer(r.now+r.lastResort()<<e.resends, timerResend, e.d)
			}
		case timerFetch:
			if e.state == stParked {
				r.fetch(e)
			}
		case timerPark:
			if e.state != stParked {
				continue
			}
			e.state, e.verdict, e.reason = stFinal, certification.Reject, tx.ReasonNonceGap
			r.maybeVote(e)
			r.pump(r.chains[e.t.From])
		}
	}
	for _, tm := range retry {
		r.addTimer(r.now+r.cfg.Timeout, tm.kind, tm.d)
	}
	return nil
}

// Task is one scheduler task of this member, for diagnostics and tests.
type Task struct {
	Digest tx.Digest
	Place  scheduler.Place
	Entry  bool // a transfer of this quorum (false: a forward)
}

// Tasks lists the scheduler's tasks by digest, and whether every one of
// them belongs to a transfer this role holds and the scheduler holds nothing
// else: the role's and the scheduler's books agree (no task lost or
// duplicated across the queues, SCHED-13 seen from the role).
func (r *Role) Tasks() ([]Task, bool) {
	var out []Task
	for d := range r.entries {
		if _, p, ok := r.sched.Lookup(scheduler.Digest(d)); ok {
			out = append(out, Task{Digest: d, Place: p, Entry: true})
		}
	}
	for d := range r.fwd {
		if _, p, ok := r.sched.Lookup(scheduler.Digest(d)); ok {
			out = append(out, Task{Digest: d, Place: p})
		}
	}
	slices.SortFunc(out, func(a, b Task) int { return cmp.Compare(string(a.Digest[:]), string(b.Digest[:])) })
	ok := len(out) == r.sched.Len()
	for _, t := range out {
		if t.Entry {
			e := r.entries[t.Digest]
			ok = ok && e.place == t.Place
		} else {
			ok = ok && t.Place == scheduler.PlaceForward
		}
	}
	for _, e := range r.entries {
		if _, _, held := r.sched.Lookup(scheduler.Digest(e.d)); held != (e.place != 0) {
			ok = false
		}
	}
	for d := range r.fwd {
		if _, _, held := r.sched.Lookup(scheduler.Digest(d)); !held {
			ok = false
		}
	}
	return out, ok
}
