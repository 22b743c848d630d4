package pacemaker

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"slices"
	"time"

	"github.com/fhbft/fhbft/impl/certification"
	"github.com/fhbft/fhbft/impl/crypto/threshold"
	"github.com/fhbft/fhbft/impl/pacemaker/timeout"
)

// Config configures a replica (spec: PM-35). Zero fields take defaults.
type Config struct {
	// MaxViewLookahead is L (PM-18): the farthest future view an unverified
	// message may name. Default max(64, R·(n−q)); must be ≥ R·(n−q).
	MaxViewLookahead      View
	ViewsPerLeader        int        // R (PM-34), default 1
	MaxBatch              int        // PM-20: commands per proposal (default 256)
	MaxPending            int        // PM-20: queued client commands (default 65536)
	MaxOutstandingFetches int        // PM-19: block requests held (default 8)
	MaxOrphans            int        // PM-19: fetched blocks waiting for their justify.node (default 1024)
	Leader                LeaderMode // PM-11
	Beacon                Hash       // the epoch beacon for LeaderBeacon; zero means none (round robin)
	Timeout               timeout.Config
	Mutations             Mutations // tests only
}

// Defaults.
const (
	DefaultMaxViewLookahead      = 64
	DefaultMaxBatch              = 256
	DefaultMaxPending            = 1 << 16
	DefaultMaxOutstandingFetches = 8
	DefaultMaxOrphans            = 1024
)

// withDefaults fills zero fields; L's default depends on n − q.
func (c Config) withDefaults(n, q int) Config {
	if c.ViewsPerLeader == 0 {
		c.ViewsPerLeader = 1
	}
	if c.MaxViewLookahead == 0 {
		c.MaxViewLookahead = max(DefaultMaxViewLookahead, View(c.ViewsPerLeader*(n-q)))
	}
	if c.MaxBatch == 0 {
		c.MaxBatch = DefaultMaxBatch
	}
	if c.MaxPending == 0 {
		c.MaxPending = DefaultMaxPending
	}
	if c.MaxOutstandingFetches == 0 {
		c.MaxOutstandingFetches = DefaultMaxOutstandingFetches
	}
	if c.MaxOrphans == 0 {
		c.MaxOrphans = DefaultMaxOrphans
	}
	c.Timeout = c.Timeout.WithDefaults()
	return c
}

// validate enforces PM-35 on a configuration with defaults filled.
func (c Config) validate(n, q int) error {
	switch {
	case c.ViewsPerLeader < 1:
		return &ConfigError{Field: "ViewsPerLeader", Reason: fmt.Sprintf("R = %d, need ≥ 1", c.ViewsPerLeader)}
	case c.MaxViewLookahead < View(c.ViewsPerLeader*(n-q)):
		return &ConfigError{Field: "MaxViewLookahead", Reason: fmt.Sprintf("L = %d < R·(n−q) = %d", c.MaxViewLookahead, c.ViewsPerLeader*(n-q))}
	case c.MaxBatch < 1 || c.MaxBatch > MaxCmdsPerBlock:
		return &ConfigError{Field: "MaxBatch", Reason: fmt.Sprintf("%d outside 1..%d", c.MaxBatch, MaxCmdsPerBlock)}
	case c.MaxPending < 1 || c.MaxOutstandingFetches < 1 || c.MaxOrphans < 1:
		return &ConfigError{Field: "limits", Reason: "MaxPending, MaxOutstandingFetches and MaxOrphans must be ≥ 1"}
	case c.Leader != LeaderRoundRobin && c.Leader != LeaderBeacon:
		return &ConfigError{Field: "Leader", Reason: c.Leader.String()}
	}
	if err := c.Timeout.Validate(); err != nil {
		return &ConfigError{Field: "Timeout", Reason: err.Error()}
	}
	return nil
}

// Mutations plant bugs so that tests can show the checkers catch them
// (BRIEF §5). Production code never sets them.
type Mutations struct {
	// NoConsecutiveCheck commits on any 3-chain of QCs, consecutive views
	// or not (breaks PM-6, PM-26).
	NoConsecutiveCheck bool
	// AcceptUnverifiedQC uses QCs without the pairing check (breaks PM-3).
	AcceptUnverifiedQC bool
	// LockDoesNotMove leaves bLock at genesis (breaks PM-6, PM-25).
	LockDoesNotMove bool
	// VoteTwice votes for every validly signed proposal of the current or
	// the previous view, ignoring vheight and the one-proposal-per-view
	// rule (breaks PM-5: at most one vote per view).
	VoteTwice bool
}

// Stats counts a replica's work, for simulator reports and benchmarks.
type Stats struct {
	CertVerifies     int // pairing checks of QCs and TCs (one each, PM-3)
	CertCacheHits    int // certificates found already verified
	ProposalVerifies int // pairing checks of proposal signatures (PM-31)
	PartialVerifies  int // pairing checks of vote and complaint partials (collectors)
	Combines         int // Lagrange combinations (collectors)
	VotesSigned      int
	ComplaintsSigned int
	Proposals        int
	QCsFormed        int
	TCsFormed        int
	FetchRequests    int
	Rejected         [32]int // by Reason
}

type buffered struct {
	from ReplicaID
	p    Proposal
	hash Hash
}

type fetchState struct {
	view View      // view the request was first made in
	peer ReplicaID // last replica asked
}

// Replica is one harvester replica running the pacemaker: a pure step
// function (see the package comment).
type Replica struct {
	cfg       Config
	id        ReplicaID
	share     threshold.SecretShare
	roster    certification.Roster
	n         int
	schedule  Schedule
	genesis   Hash
	genesisQC QC
	policy    *timeout.Policy

	started   bool
	now       time.Duration
	viewStart time.Duration
	timerView View // the view the next expiry complains about (PM-32)

	curView        View
	vheight        Height
	complainedView View // PM-15: no proposal of a view ≤ this is accepted
	lastHandled    View // last view whose proposal was accepted
	lastAccepted   buffered
	proposedView   View // last view this replica proposed in
	beatPending    bool // leader of curView waits for qcHigh's block (PM-19)

	bLock, bExec Hash
	qcHigh       QC
	qcHighFrom   ReplicaID // who gave us qcHigh: asked first for its block
	tcHigh       TC
	haveTC       bool
	store        *Store

	committed  []BlockRef
	executed   map[CommandID]bool
	pending    []Command
	pendingIDs map[CommandID]bool

	votes      map[View]*certification.Collector
	complaints map[View]*certification.Collector
	buffer     map[View]buffered
	signedOK   map[Hash]View    // proposals whose signature verified, by block hash
	orphans    map[Hash][]Block // fetched blocks by the justify node they wait for
	orphanWait map[Hash]Hash    // orphan hash → the hash it waits for
	fetching   map[Hash]*fetchState
	verified   map[Hash]View      // hash of a verified certificate's encoding → its view
	lastSync   map[ReplicaID]View // PM-33: view of the last sync reply to each replica

	inbox []Event  // the replica's messages to itself, handled within Step
	out   []Effect // effects of the current Step
	stats Stats
}

// New returns replica id of the roster holding its secret share. The
// roster must be valid (CERT-1), the share must match the roster's public
// share for id, and the configuration must satisfy PM-35.
func New(cfg Config, id ReplicaID, share threshold.SecretShare, roster certification.Roster) (*Replica, error) {
	if err := roster.Validate(); err != nil {
		return nil, err
	}
	n, q := roster.N(), roster.Q()
	if id < 1 || int(id) > n {
		return nil, &ConfigError{Field: "id", Reason: fmt.Sprintf("%d outside 1..%d", id, n)}
	}
	if share.Index != id {
		return nil, &ConfigError{Field: "share", Reason: fmt.Sprintf("share index %d for replica %d", share.Index, id)}
	}
	if !share.Key.PublicKey().Equal(roster.Key.Shares[id-1]) {
		return nil, &ConfigError{Field: "share", Reason: "does not match the roster's public share"}
	}
	cfg = cfg.withDefaults(n, q)
	if err := cfg.validate(n, q); err != nil {
		return nil, err
	}
	pol, err := timeout.New(cfg.Timeout)
	if err != nil {
		return nil, &ConfigError{Field: "Timeout", Reason: err.Error()}
	}
	sched := Schedule{N: n, ViewsPerLeader: cfg.ViewsPerLeader}
	if cfg.Leader == LeaderBeacon && cfg.Beacon != (Hash{}) {
		beacon := cfg.Beacon
		sched.Beacon = &beacon
	}
	g := GenesisHash(roster.Quorum, roster.Epoch)
	return &Replica{
		cfg: cfg, id: id, share: share, roster: roster, n: n, schedule: sched,
		genesis: g, genesisQC: GenesisQCOf(roster), policy: pol,
		curView: 1, vheight: 1,
		bLock: g, bExec: g, qcHigh: GenesisQCOf(roster), store: NewStore(roster.Quorum, roster.Epoch),
		executed: map[CommandID]bool{}, pendingIDs: map[CommandID]bool{},
		votes: map[View]*certification.Collector{}, complaints: map[View]*certification.Collector{},
		buffer: map[View]buffered{}, signedOK: map[Hash]View{},
		orphans: map[Hash][]Block{}, orphanWait: map[Hash]Hash{},
		fetching: map[Hash]*fetchState{}, verified: map[Hash]View{}, lastSync: map[ReplicaID]View{},
	}, nil
}

// ID is the replica's index.
func (r *Replica) ID() ReplicaID { return r.id }

// Config is the replica's configuration with defaults filled.
func (r *Replica) Config() Config { return r.cfg }

// Roster is the harvester roster the replica runs in.
func (r *Replica) Roster() certification.Roster { return r.roster }

// Stats returns the work counters.
func (r *Replica) Stats() Stats { return r.stats }

// Block returns a stored block (dummies and genesis included).
func (r *Replica) Block(h Hash) (Block, bool) { return r.store.Get(h) }

// Extends reports whether stored block a is b or descends from it.
func (r *Replica) Extends(a, b Hash) bool { return r.store.Extends(a, b) }

// Leader is GETLEADER(v). spec: PM-11, PM-34
func (r *Replica) Leader(v View) ReplicaID { return r.schedule.Leader(v) }

// Schedule is the replica's leader schedule.
func (r *Replica) Schedule() Schedule { return r.schedule }

// Timeout is the duration the replica would set on its next timer.
func (r *Replica) Timeout() time.Duration { return r.policy.Timeout() }

// Step applies one event and returns its effects in order. Messages the
// replica sends itself (a leader's own proposal, a vote for the next view
// when it leads that view too) are handled within the same Step.
func (r *Replica) Step(ev Event) []Effect {
	r.out = nil
	r.dispatch(ev)
	for len(r.inbox) > 0 {
		e := r.inbox[0]
		r.inbox = r.inbox[1:]
		r.dispatch(e)
	}
	r.inbox = nil
	out := r.out
	r.out = nil
	return out
}

func (r *Replica) emit(e Effect) { r.out = append(r.out, e) }

func (r *Replica) reject(from ReplicaID, t MsgType, v View, reason Reason, err error) {
	if int(reason) < len(r.stats.Rejected) {
		r.stats.Rejected[reason]++
	}
	r.emit(Rejected{From: from, Type: t, View: v, Reason: reason, Err: err})
}

func errorf(format string, args ...any) error { return fmt.Errorf(format, args...) }

func (r *Replica) dispatch(ev Event) {
	switch ev.(type) {
	case Start, Tick, ClientCommand:
	default:
		if !r.started {
			r.reject(0, TypeEvent, 0, ReasonNotStarted, nil)
			return
		}
	}
	switch ev := ev.(type) {
	case Start:
		r.onStart()
	case Tick:
		r.onTick(ev.Now)
	case TimerFired:
		r.onTimer(ev.View)
	case ClientCommand:
		r.onClient(ev.Cmd)
	case ProposalReceived:
		r.onProposal(ev.From, ev.Proposal)
	case VoteReceived:
		r.onVote(ev.From, ev.Vote.Vote)
	case NewViewReceived:
		r.onNewView(ev.From, ev.QC)
	case ComplainReceived:
		r.onComplain(ev.From, ev.Complain)
	case NextViewReceived:
		r.onNextView(ev.From, ev.TC)
	case FetchRequestReceived:
		r.onFetchRequest(ev.From, ev.FetchRequest)
	case FetchResponseReceived:
		r.onFetchResponse(ev.From, ev.Block)
	default:
		r.reject(0, TypeEvent, 0, ReasonMalformed, errorf("unknown event %T", ev))
	}
}

func (r *Replica) isPeer(id ReplicaID) bool { return id >= 1 && int(id) <= r.n && id != r.id }

// send delivers m to replica `to`; to itself it is handled in this Step.
func (r *Replica) send(to ReplicaID, m Message) {
	if to == r.id {
		r.inbox = append(r.inbox, Deliver(r.id, m))
		return
	}
	r.emit(Send{To: to, Msg: m})
}

func (r *Replica) sameDomain(q certification.QuorumID, e certification.Epoch) bool {
	return q == r.roster.Quorum && e == r.roster.Epoch
}

// onStart enters view 1: RESETTIMER and ONBEAT. spec: PM-2, PM-13;
// tla: Pacemaker!Init
func (r *Replica) onStart() {
	if r.started {
		r.reject(0, TypeStart, 0, ReasonDuplicate, nil)
		return
	}
	r.started = true
	r.viewStart = r.now
	r.emit(ViewEntered{View: r.curView, Cause: CauseStart})
	r.setTimer(r.curView)
	r.beat()
	r.resumeBuffered()
}

// onTick advances the replica's notion of time: time is an input.
// spec: PM-22 (§3); tla: none (the models abstract time)
func (r *Replica) onTick(now time.Duration) {
	if now < r.now {
		r.reject(0, TypeTick, 0, ReasonStale, errorf("time %v before %v", now, r.now))
		return
	}
	r.now = now
}

// setTimer is RESETTIMER: the next expiry will complain about view w.
func (r *Replica) setTimer(w View) {
	r.timerView = w
	r.emit(SetTimer{View: w, Duration: r.policy.Timeout()})
}

// onTimer is ONTIMEOUT: the i-th expiry in view curView complains about
// w = curView + min(i−1, L) to leader(w+1) (the seed's RESETTIMER(view+1),
// so crashed next leaders are skipped), stops accepting proposals of views
// ≤ curView, backs the timer off, and re-sends outstanding block requests to
// the next replica in roster order. spec: PM-15, PM-32, PM-22, PM-19;
// tla: Pacemaker!Timeout
func (r *Replica) onTimer(w View) {
	if w != r.timerView || w < r.curView {
		r.reject(0, TypeTimer, w, ReasonStale, nil)
		return
	}
	// Only the view the replica is in is abandoned. Abandoning the future
	// views it complains about livelocked after GST: replicas split across
	// two views abandoned each other's next view in turn (found by the
	// simulator, tests.TestLivelockAbandonedViews). Voting safety rests on
	// vheight and the lock alone, so voting in a view also complained
	// about is safe.
	r.complainedView = max(r.complainedView, r.curView)
	r.policy.TimedOut()
	r.stats.ComplaintsSigned++
	vote := certification.SignVote(r.share, ComplaintStatement(r.roster, w))
	r.send(r.Leader(w+1), Complain{Vote: vote, QCHigh: r.qcHigh})
	r.retryFetches()
	r.setTimer(min(w+1, r.curView+r.cfg.MaxViewLookahead))
}

// onClient is ONRECEIVECLIENTREQUEST: queue the command for a later
// proposal of this replica. spec: PM-20; tla: none (models abstract commands)
func (r *Replica) onClient(c Command) {
	switch {
	case r.executed[c.ID] || r.pendingIDs[c.ID]:
		r.reject(0, TypeClient, 0, ReasonDuplicate, errorf("command %d", c.ID))
	case len(c.Payload) > MaxPayloadBytes:
		r.reject(0, TypeClient, 0, ReasonMalformed, errorf("payload %d bytes", len(c.Payload)))
	case len(r.pending) >= r.cfg.MaxPending:
		r.reject(0, TypeClient, 0, ReasonLimit, errorf("%d commands queued", len(r.pending)))
	default:
		r.pending = append(r.pending, c)
		r.pendingIDs[c.ID] = true
	}
}

// verifyQC checks a QC before any use: the genesis QC of this epoch is
// valid as it is, every other view-0 QC is invalid; otherwise kind,
// verdict, quorum and epoch, the certified block's view if the block is
// known, and, once per distinct certificate, the signature with one
// pairing check. spec: PM-2, PM-3
func (r *Replica) verifyQC(qc QC) error {
	if qc.View() == 0 {
		c := qc.Cert
		if c.Statement != r.genesisQC.Cert.Statement || c.Signers.Len() != 0 || !c.Signature.IsInfinity() {
			return errorf("a view-0 QC that is not this epoch's genesis QC")
		}
		return nil
	}
	if err := checkQCShape("qc", qc.Cert); err != nil {
		return err
	}
	if b, ok := r.store.Get(qc.Block()); ok && b.View != qc.View() {
		return errorf("QC of view %d for a block of view %d", qc.View(), b.View)
	}
	if r.cfg.Mutations.AcceptUnverifiedQC {
		return nil
	}
	return r.verifyCert(qc.Cert)
}

// verifyTC is verifyQC for TCs. spec: PM-3, PM-17
func (r *Replica) verifyTC(tc TC) error {
	if err := checkTCShape("tc", tc.Cert); err != nil {
		return err
	}
	return r.verifyCert(tc.Cert)
}

func certKey(c certification.Certificate) (Hash, error) {
	enc, err := c.MarshalBinary()
	if err != nil {
		return Hash{}, err
	}
	return sha256.Sum256(enc), nil
}

func (r *Replica) verifyCert(c certification.Certificate) error {
	key, err := certKey(c)
	if err != nil {
		return err
	}
	if _, ok := r.verified[key]; ok {
		r.stats.CertCacheHits++
		return nil
	}
	r.stats.CertVerifies++
	if err := c.Verify(r.roster); err != nil {
		return err
	}
	r.verified[key] = View(c.Slot.Number())
	return nil
}

// markVerified caches a certificate this replica combined from partials it
// verified itself.
func (r *Replica) markVerified(c certification.Certificate) {
	if key, err := certKey(c); err == nil {
		r.verified[key] = View(c.Slot.Number())
	}
}

// updateQCHigh is UPDATEQCHIGH, written as the seed intends (its
// pseudocode assigns backwards). bLeaf is qcHigh's block. spec: PM-12;
// tla: Pacemaker!UpdateQCHigh
func (r *Replica) updateQCHigh(qc QC, from ReplicaID) {
	if qc.View() > r.qcHigh.View() {
		r.qcHigh = qc
		r.qcHighFrom = from
	}
}

// catchUpQC is ONRECEIVENEXTVIEW for a QC a message carries: if it can
// matter (view ≥ curView, or above qcHigh), verify it, UPDATEQCHIGH and
// catch up. It reports false when the QC is invalid: the whole message is
// then dropped. spec: PM-17, PM-3; tla: Pacemaker!ReceiveNewView (a QC
// carried by any message moves views as a NewView does)
func (r *Replica) catchUpQC(from ReplicaID, t MsgType, v View, qc QC) bool {
	if qc.View() < r.curView && qc.View() <= r.qcHigh.View() {
		return true // ignored: no use, no verification
	}
	if err := r.verifyQC(qc); err != nil {
		r.reject(from, t, v, ReasonBadQC, err)
		return false
	}
	r.learnQC(qc, from, false)
	return true
}

// learnQC applies a verified QC: UPDATEQCHIGH, then ONNEXTSYNCVIEW if it is
// of the current view or later; it is progress only if this replica formed
// it for its current view. spec: PM-9, PM-12, PM-17;
// tla: Pacemaker!FormQC, Pacemaker!ReceiveNewView
func (r *Replica) learnQC(qc QC, from ReplicaID, formed bool) {
	r.updateQCHigh(qc, from)
	if qc.View() >= r.curView {
		r.enterView(qc.View()+1, CauseQC, formed && qc.View() == r.curView)
	}
}

func (r *Replica) raiseTC(tc TC) {
	if !r.haveTC || tc.View() > r.tcHigh.View() {
		r.tcHigh, r.haveTC = tc, true
	}
}

// enterView is ONNEXTSYNCVIEW: views only move forward; a view left by
// progress is a timeout sample; enter, RESETTIMER, ONBEAT, then handle a
// buffered proposal. spec: PM-13, PM-22, PM-27; tla: the curView' updates
// of Pacemaker!ReceiveProposal, FormQC, FormTC, ReceiveNewView, ReceiveNextView
func (r *Replica) enterView(v View, cause Cause, progress bool) {
	if v <= r.curView {
		return
	}
	if progress {
		r.policy.ObserveView(r.now - r.viewStart)
	}
	r.curView = v
	r.viewStart = r.now
	r.prune()
	r.emit(ViewEntered{View: v, Cause: cause})
	r.setTimer(v)
	r.beat()
	r.resumeBuffered()
}

// prune drops per-view state below the current view (collectors, buffered
// proposals, proposal signature marks) and, now and then, old cached
// certificate hashes.
func (r *Replica) prune() {
	for v := range r.votes {
		if v < r.curView {
			delete(r.votes, v)
		}
	}
	for v := range r.complaints {
		if v < r.curView {
			delete(r.complaints, v)
		}
	}
	for v := range r.buffer {
		if v < r.curView {
			delete(r.buffer, v)
		}
	}
	for h, v := range r.signedOK {
		if v+1 < r.curView {
			delete(r.signedOK, h)
		}
	}
	if L := r.cfg.MaxViewLookahead; View(len(r.verified)) > 4*L {
		for k, v := range r.verified {
			if v+2*L < r.curView {
				delete(r.verified, k)
			}
		}
	}
}

// resumeBuffered re-delivers the buffered proposal of the current view.
func (r *Replica) resumeBuffered() {
	if p, ok := r.buffer[r.curView]; ok {
		delete(r.buffer, r.curView)
		r.inbox = append(r.inbox, ProposalReceived{From: p.from, Proposal: p.p})
	}
}

// beat is ONBEAT/ONPROPOSE: the leader of the current view proposes
// CREATELEAF(qcHigh, batch, curView) once, signed, to every replica
// itself included; bLeaf = qcHigh.node, padded with dummies up to the
// view before. spec: PM-1, PM-10, PM-20, PM-31; tla: Pacemaker!Propose
func (r *Replica) beat() {
	v := r.curView
	if !r.started || r.Leader(v) != r.id || r.proposedView >= v {
		return
	}
	jh := r.qcHigh.Block()
	jb, ok := r.store.Get(jh)
	if !ok {
		r.beatPending = true
		r.fetch(jh, r.qcHighFrom)
		return
	}
	r.beatPending = false
	if jb.View >= v || jb.View != r.qcHigh.View() {
		return // unreachable: qcHigh.view < curView, and verifyQC checked the view
	}
	dummies, parent := padding(jb, jh, v)
	for _, d := range dummies {
		_, _ = r.store.Put(d)
	}
	b := Block{Quorum: r.roster.Quorum, Epoch: r.roster.Epoch, View: v, Parent: parent,
		Justify: r.qcHigh, Cmds: r.batch(jh), Proposer: r.id}
	p := SignProposal(r.share, b)
	r.signedOK[b.Hash()] = v
	r.proposedView = v
	r.stats.Proposals++
	r.emit(Broadcast{Msg: p})
	r.inbox = append(r.inbox, Deliver(r.id, p))
}

// batch takes up to MaxBatch queued commands that are neither executed
// nor in a block on the branch bExec → parent. spec: PM-20
func (r *Replica) batch(parent Hash) []Command {
	if len(r.pending) == 0 {
		return nil
	}
	exec, _ := r.store.Get(r.bExec)
	inflight := map[CommandID]bool{}
	for h := parent; ; {
		b, ok := r.store.Get(h)
		if !ok || b.Height() <= exec.Height() {
			break
		}
		for _, c := range b.Cmds {
			inflight[c.ID] = true
		}
		h = b.Parent
	}
	var out []Command
	for _, c := range r.pending {
		if len(out) >= r.cfg.MaxBatch {
			break
		}
		if !inflight[c.ID] && !r.executed[c.ID] {
			out = append(out, c)
			inflight[c.ID] = true
		}
	}
	return out
}

// onProposal is ONRECEIVEPROPOSAL's admission, in the spec's order: drop
// malformed proposals and other quorums or epochs; catch up on the justify
// QC (PM-17); apply the view window (PM-18); then PM-4: the proposer leads
// the view, the view was not complained about, the first proposal of the
// view wins (a second, validly signed one is equivocation evidence), the
// leader's signature verifies (PM-31). A proposal of a future view is
// buffered. spec: PM-4, PM-17, PM-18, PM-31; tla: Pacemaker!ReceiveProposal
func (r *Replica) onProposal(from ReplicaID, p Proposal) {
	b := p.Block
	v := b.View
	rej := func(reason Reason, err error) { r.reject(from, TypeProposal, v, reason, err) }
	switch {
	case !r.sameDomain(b.Quorum, b.Epoch):
		rej(ReasonWrongDomain, errorf("quorum %d epoch %d", b.Quorum, b.Epoch))
		return
	case v == 0 || b.Proposer == 0 || int(b.Proposer) > r.n:
		rej(ReasonMalformed, errorf("view %d proposer %d", v, b.Proposer))
		return
	case len(b.Cmds) > r.cfg.MaxBatch:
		rej(ReasonMalformed, errorf("%d commands, batch limit %d", len(b.Cmds), r.cfg.MaxBatch))
		return
	case b.Justify.View() >= v:
		rej(ReasonMalformed, errorf("justify of view %d in a block of view %d", b.Justify.View(), v))
		return
	}
	if err := checkBlockLimits(b); err != nil {
		rej(ReasonMalformed, err)
		return
	}
	if !r.catchUpQC(from, TypeProposal, v, b.Justify) {
		return
	}
	switch {
	case v > r.curView+r.cfg.MaxViewLookahead:
		rej(ReasonTooFarAhead, nil)
		return
	case v < r.minProposalView():
		rej(ReasonStale, nil)
		return
	case b.Proposer != r.Leader(v):
		rej(ReasonNotLeader, errorf("proposer %d, leader of view %d is %d", b.Proposer, v, r.Leader(v)))
		return
	case v <= r.complainedView:
		rej(ReasonAbandoned, errorf("complained about view %d", r.complainedView))
		return
	}
	h := b.Hash()
	if first, ok := r.firstProposal(v); ok && !r.cfg.Mutations.VoteTwice {
		if first.hash == h {
			rej(ReasonDuplicate, nil)
			return
		}
		if err := r.verifyProposal(p, h); err != nil {
			rej(ReasonBadSignature, err)
			return
		}
		r.emit(ProposalEquivocation{Evidence: ProposalEvidence{First: first.p, Second: p}})
		rej(ReasonEquivocation, errorf("a different proposal of view %d came first", v))
		return
	}
	if err := r.verifyProposal(p, h); err != nil {
		rej(ReasonBadSignature, err)
		return
	}
	if v > r.curView {
		r.buffer[v] = buffered{from: from, p: p, hash: h}
		return
	}
	r.handleProposal(from, p, h)
}

func (r *Replica) minProposalView() View {
	if r.cfg.Mutations.VoteTwice && r.curView > 1 {
		return r.curView - 1
	}
	return r.curView
}

// firstProposal is the proposal of view v this replica accepted or holds.
func (r *Replica) firstProposal(v View) (buffered, bool) {
	if v == r.lastHandled {
		return r.lastAccepted, true
	}
	p, ok := r.buffer[v]
	return p, ok
}

func (r *Replica) verifyProposal(p Proposal, h Hash) error {
	if _, ok := r.signedOK[h]; ok {
		return nil
	}
	r.stats.ProposalVerifies++
	if err := VerifyProposal(r.roster, p); err != nil {
		return err
	}
	r.signedOK[h] = p.Block.View
	return nil
}

// handleProposal is the body of ONRECEIVEPROPOSAL for a signed proposal of
// the current view: verify its justify, wait for justify.node if missing
// (PM-19), check well-formedness (PM-1), vote by the safety and liveness
// rule (PM-5), UPDATE (PM-6), send NewView to the next leader and move on
// unless leading the next view (PM-8).
// spec: PM-1, PM-3, PM-4, PM-5, PM-8, PM-36, PM-37; tla: Pacemaker!ReceiveProposal
func (r *Replica) handleProposal(from ReplicaID, p Proposal, h Hash) {
	b := p.Block
	v := b.View
	rej := func(reason Reason, err error) { r.reject(from, TypeProposal, v, reason, err) }
	if err := r.verifyQC(b.Justify); err != nil {
		rej(ReasonBadQC, err)
		return
	}
	jh := b.Justify.Block()
	jb, ok := r.store.Get(jh)
	if !ok {
		r.buffer[v] = buffered{from: from, p: p, hash: h}
		r.fetch(jh, from)
		return
	}
	if jb.View != b.Justify.View() {
		rej(ReasonBadQC, errorf("QC of view %d for a block of view %d", b.Justify.View(), jb.View))
		return
	}
	if jb.View >= v { // PM-37: the justify is of an earlier view
		rej(ReasonBadAncestry, errorf("justify of view %d for a block of view %d", jb.View, v))
		return
	}
	dummies, parent := padding(jb, jh, v)
	if parent != b.Parent {
		rej(ReasonBadAncestry, errorf("parent is not DummyChain(justify.node of view %d, %d)", jb.View, v))
		return
	}
	for _, d := range dummies {
		_, _ = r.store.Put(d)
	}
	_, _ = r.store.Put(b)
	r.lastHandled, r.lastAccepted = v, buffered{from: from, p: p, hash: h}

	// PM-5: height(b) > vheight ∧ (b extends bLock ∨ height(b.justify.node) > height(bLock)),
	// and PM-36: b.view > bLock.view (implied by PM-4 and PM-13; checked
	// because the Coq safety proof rests on it).
	lock, _ := r.store.Get(r.bLock)
	vote := (b.Height() > r.vheight || r.cfg.Mutations.VoteTwice) &&
		(r.store.Extends(h, r.bLock) || jb.Height() > lock.Height()) &&
		(v > lock.View || r.cfg.Mutations.VoteTwice)
	if vote {
		r.vheight = max(r.vheight, b.Height())
	}
	r.update(b)
	next := r.Leader(v + 1)
	if vote {
		r.stats.VotesSigned++
		r.send(next, Vote{Vote: certification.SignVote(r.share, VoteStatement(r.roster, v, h))})
	}
	if next != r.id {
		r.send(next, NewView{QC: r.qcHigh})
		r.enterView(v+1, CauseProposal, true)
	}
}

// update is UPDATE(b*): with b2 = b*.justify.node, b1 = b2.justify.node,
// b0 = b1.justify.node, raise qcHigh, lock on b1 if higher, and commit b0
// if b2 → b1 → b0 are direct parents (consecutive views).
// spec: PM-6, PM-12, PM-25, PM-26; tla: Pacemaker!ReceiveProposal
func (r *Replica) update(bstar Block) {
	qc := bstar.Justify
	r.updateQCHigh(qc, bstar.Proposer)
	h2 := qc.Block()
	b2, ok2 := r.store.Get(h2)
	h1 := justifyNode(b2, h2)
	b1, ok1 := r.store.Get(h1)
	h0 := justifyNode(b1, h1)
	if !ok1 || !ok2 || !r.store.Has(h0) {
		return // unreachable: stored blocks have their justify nodes as ancestors
	}
	lock, _ := r.store.Get(r.bLock)
	if b1.Height() > lock.Height() && !r.cfg.Mutations.LockDoesNotMove {
		r.bLock = h1
	}
	if (b2.Parent == h1 && b1.Parent == h0) || r.cfg.Mutations.NoConsecutiveCheck {
		r.commit(h0)
	}
}

// commit is ONCOMMIT(b): if b is above bExec and extends it, commit the
// blocks on the path bExec → b by increasing height, dummies committing
// nothing, each command ID once; bExec := b. A b that does not extend
// bExec is a safety violation: reported, nothing committed.
// spec: PM-7, PM-20, PM-22; tla: Pacemaker!ReceiveProposal
func (r *Replica) commit(h Hash) {
	b, ok := r.store.Get(h)
	exec, _ := r.store.Get(r.bExec)
	if !ok || b.Height() <= exec.Height() {
		return
	}
	if !r.store.Extends(h, r.bExec) {
		r.emit(ConflictingCommit{Block: refOf(b, h), Exec: refOf(exec, r.bExec)})
		return
	}
	var path []Hash
	for x := h; x != r.bExec; {
		xb, _ := r.store.Get(x)
		path = append(path, x)
		x = xb.Parent
	}
	slices.Reverse(path)
	var eff Commit
	for _, x := range path {
		xb, _ := r.store.Get(x)
		if xb.IsDummy() {
			continue
		}
		r.committed = append(r.committed, refOf(xb, x))
		eff.Blocks = append(eff.Blocks, xb)
		for _, c := range xb.Cmds {
			if !r.executed[c.ID] {
				r.executed[c.ID] = true
				eff.Cmds = append(eff.Cmds, c)
			}
		}
	}
	r.bExec = h
	r.policy.Committed()
	if len(eff.Cmds) > 0 {
		r.pending = slices.DeleteFunc(r.pending, func(c Command) bool { return r.executed[c.ID] })
		for _, c := range eff.Cmds {
			delete(r.pendingIDs, c.ID)
		}
	}
	if len(eff.Blocks) > 0 {
		r.emit(eff)
	}
}

func (r *Replica) collector(m map[View]*certification.Collector, v View) *certification.Collector {
	if c, ok := m[v]; ok {
		return c
	}
	c, err := certification.NewCollector(r.roster, certification.Options{})
	if err != nil {
		return nil // unreachable: the roster was validated in New
	}
	m[v] = c
	return c
}

// collect feeds a vote or complaint to the view's collector (CERT-4..9)
// and reports what it did; it returns the certificate when one formed.
func (r *Replica) collect(m map[View]*certification.Collector, v View, from ReplicaID, t MsgType, vote certification.Vote) *certification.Certificate {
	c := r.collector(m, v)
	if c == nil {
		r.reject(from, t, v, ReasonMalformed, errorf("no collector"))
		return nil
	}
	before := c.Stats()
	eff := c.Step(certification.VoteReceived{Vote: vote})
	after := c.Stats()
	r.stats.PartialVerifies += after.PartialVerifies - before.PartialVerifies
	r.stats.Combines += after.Combines - before.Combines
	if eff.Evidence != nil {
		r.emit(EvidenceFound{Evidence: *eff.Evidence})
	}
	if eff.Rejected != nil {
		reason := ReasonBadVote
		switch certification.ReasonOf(eff.Rejected) {
		case certification.ReasonDuplicate:
			reason = ReasonDuplicate
		case certification.ReasonEquivocation:
			reason = ReasonEquivocation
		case certification.ReasonSlotDecided:
			reason = ReasonObsolete
		case certification.ReasonWrongQuorum, certification.ReasonWrongEpoch:
			reason = ReasonWrongDomain
		}
		r.reject(from, t, v, reason, eff.Rejected)
	}
	return eff.Certificate
}

// collectable applies the filters shared by votes and complaints before
// any crypto: the view window and being the collector. spec: PM-9, PM-16, PM-18
func (r *Replica) collectable(from ReplicaID, t MsgType, v View) bool {
	switch {
	case v > r.curView+r.cfg.MaxViewLookahead:
		r.reject(from, t, v, ReasonTooFarAhead, nil)
	case v < r.curView:
		r.reject(from, t, v, ReasonStale, nil)
	case r.Leader(v+1) != r.id:
		r.reject(from, t, v, ReasonNotCollector, nil)
	default:
		return true
	}
	return false
}

// onVote is ONRECEIVEVOTE: the leader of w+1 collects votes of view
// curView ≤ w ≤ curView+L in per-view sets; q votes make a QC, which
// raises qcHigh and moves this replica to w+1, where it proposes.
// spec: PM-9, PM-3, PM-18; tla: Pacemaker!FormQC
func (r *Replica) onVote(from ReplicaID, m certification.Vote) {
	w := View(m.Slot.Number())
	switch {
	case m.Slot.Kind != certification.KindQC || m.Value.Verdict != certification.Accept:
		r.reject(from, TypeVote, w, ReasonMalformed, errorf("vote of kind %v verdict %v", m.Slot.Kind, m.Value.Verdict))
		return
	case !r.sameDomain(m.Quorum, m.Epoch):
		r.reject(from, TypeVote, w, ReasonWrongDomain, errorf("quorum %d epoch %d", m.Quorum, m.Epoch))
		return
	}
	if !r.collectable(from, TypeVote, w) {
		return
	}
	cert := r.collect(r.votes, w, from, TypeVote, m)
	if cert == nil {
		return
	}
	qc := QC{Cert: *cert}
	r.markVerified(qc.Cert)
	r.stats.QCsFormed++
	r.emit(QCFormed{QC: qc})
	// The block's proposer has it; if this replica missed the proposal, the
	// voter whose vote completed the QC has it (it voted): beat() fetches
	// qcHigh's block from there. PM-19
	src := r.Leader(w)
	if !r.store.Has(qc.Block()) {
		src = m.Member
	}
	r.learnQC(qc, src, true)
}

// onComplain is ONRECEIVECOMPLAIN: catch up on the carried qcHigh (PM-17),
// answer a complaint about a past view with this replica's highest
// certificate (PM-33); the leader of w+1 collects complaints about
// curView ≤ w ≤ curView+L, and q of them make TC(w): broadcast NextView
// and move to w+1. spec: PM-16, PM-17, PM-33, PM-18; tla: Pacemaker!FormTC
func (r *Replica) onComplain(from ReplicaID, m Complain) {
	w := View(m.Slot.Number())
	switch {
	case m.Slot.Kind != certification.KindComplaint || m.Value != (certification.Value{Verdict: certification.Accept}):
		r.reject(from, TypeComplain, w, ReasonMalformed, errorf("complaint of kind %v value %v", m.Slot.Kind, m.Value.Verdict))
		return
	case m.QCHigh.IsZero():
		r.reject(from, TypeComplain, w, ReasonMalformed, errorf("no qcHigh"))
		return
	case !r.sameDomain(m.Quorum, m.Epoch):
		r.reject(from, TypeComplain, w, ReasonWrongDomain, errorf("quorum %d epoch %d", m.Quorum, m.Epoch))
		return
	}
	if !r.catchUpQC(from, TypeComplain, w, m.QCHigh) {
		return
	}
	if w < r.curView {
		r.syncReply(from)
	}
	if !r.collectable(from, TypeComplain, w) {
		return
	}
	cert := r.collect(r.complaints, w, from, TypeComplain, m.Vote)
	if cert == nil {
		return
	}
	tc := TC{Cert: *cert}
	r.markVerified(tc.Cert)
	r.raiseTC(tc)
	r.stats.TCsFormed++
	r.emit(TCFormed{TC: tc})
	r.emit(Broadcast{Msg: NextView{TC: tc}})
	r.enterView(w+1, CauseTC, false)
}

// syncReply answers a complaint about a past view, at most once per
// sender and view, with the highest certificate this replica holds; no
// verification is spent. spec: PM-33; tla: none (not modelled, spec §10)
func (r *Replica) syncReply(to ReplicaID) {
	if !r.isPeer(to) || r.lastSync[to] == r.curView {
		return
	}
	r.lastSync[to] = r.curView
	if r.haveTC && r.tcHigh.View() >= r.qcHigh.View() {
		r.send(to, NextView{TC: r.tcHigh})
	} else {
		r.send(to, NewView{QC: r.qcHigh})
	}
}

// onNextView is ONRECEIVENEXTVIEW: a verified TC of view w ≥ curView moves
// the replica to w+1; one of a lower view is ignored without a pairing.
// No lookahead bound applies: the TC is verified before it moves anything.
// spec: PM-17, PM-3, PM-18; tla: Pacemaker!ReceiveNextView
func (r *Replica) onNextView(from ReplicaID, tc TC) {
	w := tc.View()
	if w < r.curView {
		r.reject(from, TypeNextView, w, ReasonStale, nil)
		return
	}
	if err := r.verifyTC(tc); err != nil {
		r.reject(from, TypeNextView, w, ReasonBadTC, err)
		return
	}
	r.raiseTC(tc)
	r.enterView(w+1, CauseTC, false)
}

// onNewView is ONRECEIVENEWVIEW: verify the QC, UPDATEQCHIGH, catch up,
// and fetch its block if unknown. A QC that cannot change anything is
// ignored without a pairing. spec: PM-14, PM-17, PM-19;
// tla: Pacemaker!ReceiveNewView
func (r *Replica) onNewView(from ReplicaID, qc QC) {
	v := qc.View()
	if qc.IsZero() {
		r.reject(from, TypeNewView, v, ReasonMalformed, errorf("no QC"))
		return
	}
	if v < r.curView && v <= r.qcHigh.View() {
		r.reject(from, TypeNewView, v, ReasonObsolete, nil)
		return
	}
	if !r.catchUpQC(from, TypeNewView, v, qc) {
		return
	}
	if !r.store.Has(qc.Block()) {
		r.fetch(qc.Block(), from)
	}
}

// fetch asks for block h (once; retried on timer expiry) from the peer
// that named it. spec: PM-19; tla: none (the models share one block set)
func (r *Replica) fetch(h Hash, peer ReplicaID) {
	for {
		w, ok := r.orphanWait[h]
		if !ok {
			break
		}
		h = w // h is held as an orphan: fetch what it waits for
	}
	if r.store.Has(h) {
		return
	}
	if _, ok := r.fetching[h]; ok {
		return
	}
	if len(r.fetching) >= r.cfg.MaxOutstandingFetches {
		for k, st := range r.fetching {
			if st.view < r.curView {
				delete(r.fetching, k)
			}
		}
		if len(r.fetching) >= r.cfg.MaxOutstandingFetches {
			r.reject(0, TypeFetchRequest, r.curView, ReasonLimit, errorf("%d fetches outstanding", len(r.fetching)))
			return
		}
	}
	st := &fetchState{view: r.curView, peer: peer}
	r.fetching[h] = st
	if r.isPeer(peer) {
		r.askFetch(h, peer)
	}
}

func (r *Replica) askFetch(h Hash, peer ReplicaID) {
	r.stats.FetchRequests++
	r.send(peer, FetchRequest{Quorum: r.roster.Quorum, Epoch: r.roster.Epoch, Hash: h})
}

// retryFetches re-sends every outstanding request to the next replica in
// roster order (in hash order, so effects do not depend on map order).
// spec: PM-19
func (r *Replica) retryFetches() {
	if len(r.fetching) == 0 || r.n < 2 {
		return
	}
	hashes := make([]Hash, 0, len(r.fetching))
	for h := range r.fetching {
		hashes = append(hashes, h)
	}
	slices.SortFunc(hashes, func(a, b Hash) int { return bytes.Compare(a[:], b[:]) })
	for _, h := range hashes {
		st := r.fetching[h]
		next := st.peer
		for {
			next = next%ReplicaID(r.n) + 1
			if next != r.id {
				break
			}
		}
		st.peer = next
		r.askFetch(h, next)
	}
}

// onFetchRequest answers with a stored real block; dummies and genesis are
// recomputed, never sent. spec: PM-19, PM-1; tla: none (the models share one block set)
func (r *Replica) onFetchRequest(from ReplicaID, m FetchRequest) {
	if !r.sameDomain(m.Quorum, m.Epoch) {
		r.reject(from, TypeFetchRequest, 0, ReasonWrongDomain, nil)
		return
	}
	b, ok := r.store.Get(m.Hash)
	if !ok || b.IsDummy() {
		r.reject(from, TypeFetchRequest, 0, ReasonUnknownBlock, nil)
		return
	}
	if !r.isPeer(from) {
		r.reject(from, TypeFetchRequest, 0, ReasonMalformed, errorf("request from %d", from))
		return
	}
	r.send(from, FetchResponse{Block: b})
}

// onFetchResponse uses a requested block whose hash matches, which is a
// well-formed real block with a verifying justify (caught up on, PM-17); it
// is stored once its justify.node is stored (else that is fetched), and a
// waiting proposal or beat resumes. Locks and commits do not change here.
// spec: PM-19, PM-17; tla: none
func (r *Replica) onFetchResponse(from ReplicaID, b Block) {
	h := b.Hash()
	rej := func(reason Reason, err error) { r.reject(from, TypeFetchResponse, b.View, reason, err) }
	if r.store.Has(h) {
		rej(ReasonDuplicate, nil)
		return
	}
	if _, ok := r.fetching[h]; !ok {
		rej(ReasonUnsolicited, nil)
		return
	}
	switch {
	case !r.sameDomain(b.Quorum, b.Epoch):
		rej(ReasonWrongDomain, nil)
		return
	case b.Proposer == 0 || int(b.Proposer) > r.n || b.Justify.View() >= b.View:
		rej(ReasonMalformed, errorf("not a real block with a lower justify"))
		return
	}
	if err := checkBlockLimits(b); err != nil {
		rej(ReasonMalformed, err)
		return
	}
	if err := r.verifyQC(b.Justify); err != nil {
		rej(ReasonBadQC, err)
		return
	}
	delete(r.fetching, h)
	r.learnQC(b.Justify, from, false)
	r.adopt(b, h, from)
	if r.beatPending {
		r.beat()
	}
	r.resumeBuffered()
}

// adopt stores a validated fetched block if its justify node is stored, of
// the QC's view, and the parent is DummyChain(justify.node, view); then
// any orphans that waited for it. Otherwise it holds the block as an
// orphan and fetches what is missing. spec: PM-19, PM-1, PM-3; tla: none
func (r *Replica) adopt(b Block, h Hash, from ReplicaID) {
	type item struct {
		b Block
		h Hash
	}
	work := []item{{b, h}}
	for len(work) > 0 {
		x := work[len(work)-1]
		work = work[:len(work)-1]
		jh := x.b.Justify.Block()
		jb, ok := r.store.Get(jh)
		if !ok {
			if len(r.orphanWait) >= r.cfg.MaxOrphans {
				r.reject(from, TypeFetchResponse, x.b.View, ReasonLimit, errorf("%d orphans held", len(r.orphanWait)))
				continue
			}
			if _, dup := r.orphanWait[x.h]; !dup {
				r.orphans[jh] = append(r.orphans[jh], x.b)
				r.orphanWait[x.h] = jh
			}
			r.fetch(jh, from)
			continue
		}
		if jb.View != x.b.Justify.View() {
			r.reject(from, TypeFetchResponse, x.b.View, ReasonBadQC, errorf("QC view %d, block view %d", x.b.Justify.View(), jb.View))
			continue
		}
		dummies, parent := padding(jb, jh, x.b.View)
		if parent != x.b.Parent {
			r.reject(from, TypeFetchResponse, x.b.View, ReasonBadAncestry, nil)
			continue
		}
		for _, d := range dummies {
			_, _ = r.store.Put(d)
		}
		_, _ = r.store.Put(x.b)
		for _, kid := range r.orphans[x.h] {
			kh := kid.Hash()
			delete(r.orphanWait, kh)
			work = append(work, item{kid, kh})
		}
		delete(r.orphans, x.h)
	}
}

// ReplicaState is a read-only snapshot for tests and drivers, in the
// names of the spec and the models.
type ReplicaState struct {
	ID             ReplicaID
	Started        bool
	CurView        View
	VHeight        Height // height of the last block voted for (genesis height 1 before any vote)
	LastVotedView  View   // VHeight − 1
	ComplainedView View   // highest view complained about (PM-15)
	BLock          BlockRef
	BLeaf          BlockRef // qcHigh's block; Hash only if not yet fetched
	BExec          BlockRef
	QCHigh         QC
	TCHigh         View       // view of the highest TC known, 0 if none
	Committed      []BlockRef // real blocks committed, in order (shared; do not modify)
	Pending        int        // queued client commands
	Timeout        time.Duration
}

// State returns the replica's state.
func (r *Replica) State() ReplicaState {
	ref := func(h Hash) BlockRef {
		if b, ok := r.store.Get(h); ok {
			return refOf(b, h)
		}
		return BlockRef{Hash: h}
	}
	leaf := ref(r.qcHigh.Block())
	leaf.View, leaf.Height = r.qcHigh.View(), r.qcHigh.Height()
	var tc View
	if r.haveTC {
		tc = r.tcHigh.View()
	}
	return ReplicaState{
		ID: r.id, Started: r.started, CurView: r.curView,
		VHeight: r.vheight, LastVotedView: View(r.vheight - 1), ComplainedView: r.complainedView,
		BLock: ref(r.bLock), BLeaf: leaf, BExec: ref(r.bExec), QCHigh: r.qcHigh, TCHigh: tc,
		Committed: slices.Clip(r.committed), Pending: len(r.pending), Timeout: r.policy.Timeout(),
	}
}
