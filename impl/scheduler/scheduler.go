package scheduler

import (
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"time"
)

// entry is one held task and where it is.
type entry struct {
	task   Task
	place  Place
	peer   NodeID   // PlaceRemote: the peer it was delegated to
	quorum QuorumID // PlaceForward: the quorum it was forwarded to
}

// peerView is what this node knows of one peer's load. spec: SCHED-7
type peerView struct {
	id     NodeID
	have   bool          // a report of this epoch is on record
	seq    uint64        // its Seq
	recvAt time.Duration // this node's time when it was accepted
	load   Stats         // the report plus this node's delegations to the peer since
	p      float64       // Backpressure(load), cached
}

// Scheduler is one farmer node's task scheduler. It is not safe for
// concurrent use; the driver serialises Step calls.
type Scheduler struct {
	cfg     Config
	epoch   Epoch
	quorum  QuorumID
	quorums []QuorumID       // sorted
	peers   []peerView       // sorted by id
	tasks   map[Digest]entry // by value: one allocation fewer per task
	stats   Stats
	now     time.Duration

	reported   bool
	lastReport time.Duration
	reportSeq  uint64

	out []Effect
}

// New returns a scheduler with empty queues, or a *ConfigError.
func New(cfg Config) (*Scheduler, error) {
	cfg = cfg.WithDefaults()
	if cfg.Self == 0 {
		return nil, &ConfigError{Field: "self", Detail: "member indices start at 1"}
	}
	if err := cfg.Weights.Validate(); err != nil {
		return nil, err
	}
	if !(cfg.Threshold > 0 && cfg.Threshold <= 1) {
		return nil, &ConfigError{Field: "threshold", Detail: fmt.Sprintf("%v not in (0, 1]", cfg.Threshold)}
	}
	if cfg.MaxQueued < 1 || cfg.MaxQueued > HardMaxQueued {
		return nil, &ConfigError{Field: "max queued", Detail: fmt.Sprintf("%d not in [1, %d]", cfg.MaxQueued, HardMaxQueued)}
	}
	if cfg.MaxReportAge < 0 {
		return nil, &ConfigError{Field: "max report age", Detail: "negative"}
	}
	if cfg.ReportInterval < 0 {
		return nil, &ConfigError{Field: "report interval", Detail: "negative"}
	}
	quorums, peers, err := checkMap(cfg.Map, cfg.Self)
	if err != nil {
		ie := err.(*InputError)
		return nil, &ConfigError{Field: "map." + ie.Field, Detail: ie.Detail, Err: ErrMalformedMap}
	}
	s := &Scheduler{cfg: cfg, tasks: make(map[Digest]entry)}
	s.install(cfg.Map, quorums, peers)
	return s, nil
}

// checkMap validates a quorum map and returns sorted copies of its lists.
// spec: SCHED-11
func checkMap(m QuorumMap, self NodeID) ([]QuorumID, []NodeID, error) {
	const ev = "QuorumMapChanged"
	if len(m.Quorums) == 0 || len(m.Quorums) > MaxQuorums {
		return nil, nil, inputErr(ErrMalformedMap, ev, "quorums", "%d quorums, want 1..%d", len(m.Quorums), MaxQuorums)
	}
	if len(m.Peers) > MaxPeers {
		return nil, nil, inputErr(ErrMalformedMap, ev, "peers", "%d peers, want at most %d", len(m.Peers), MaxPeers)
	}
	qs := slices.Clone(m.Quorums)
	slices.Sort(qs)
	for i := 1; i < len(qs); i++ {
		if qs[i] == qs[i-1] {
			return nil, nil, inputErr(ErrMalformedMap, ev, "quorums", "quorum %d listed twice", qs[i])
		}
	}
	if _, ok := slices.BinarySearch(qs, m.Quorum); !ok {
		return nil, nil, inputErr(ErrMalformedMap, ev, "quorum", "own quorum %d not among the quorums", m.Quorum)
	}
	ps := slices.Clone(m.Peers)
	slices.Sort(ps)
	for i, p := range ps {
		switch {
		case p == 0:
			return nil, nil, inputErr(ErrMalformedMap, ev, "peers", "member index 0")
		case p == self:
			return nil, nil, inputErr(ErrMalformedMap, ev, "peers", "this node (%d) listed as its own peer", p)
		case i > 0 && p == ps[i-1]:
			return nil, nil, inputErr(ErrMalformedMap, ev, "peers", "peer %d listed twice", p)
		}
	}
	return qs, ps, nil
}

// install adopts a validated map: no peer report survives an epoch change,
// since member indices may name other nodes in the new roster. Held tasks
// are untouched: their handoffs are answered by HandoffAcked/Failed.
// spec: SCHED-11
func (s *Scheduler) install(m QuorumMap, qs []QuorumID, ps []NodeID) {
	s.epoch, s.quorum, s.quorums = m.Epoch, m.Quorum, qs
	s.peers = make([]peerView, len(ps))
	for i, p := range ps {
		s.peers[i] = peerView{id: p}
	}
}

// Step applies one event and returns the effects it caused, in the order
// the driver must carry them out. The slice is the caller's. On error
// (always an *InputError) nothing changed and there are no effects.
// Step never panics. spec: SCHED-15
func (s *Scheduler) Step(ev Event) ([]Effect, error) {
	s.out = nil
	var err error
	switch ev := ev.(type) {
	case TaskArrived:
		err = s.onArrived(ev.Task)
	case TaskDelegatedIn:
		err = s.onDelegatedIn(ev.From, ev.Task)
	case TaskCompleted:
		err = s.onCompleted(ev.ID)
	case HandoffAcked:
		err = s.onAcked(ev.ID)
	case HandoffFailed:
		err = s.onFailed(ev.ID)
	case PeerLoad:
		err = s.onPeerLoad(ev)
	case QuorumMapChanged:
		err = s.onMap(ev.Map)
	case Tick:
		err = s.onTick(ev.Now)
	default:
		err = inputErr(ErrNilEvent, fmt.Sprintf("%T", ev), "", "not an event Step accepts")
	}
	out := s.out
	s.out = nil
	if err != nil {
		return nil, err
	}
	return out, nil
}

func (s *Scheduler) emit(e Effect) { s.out = append(s.out, e) }

func (s *Scheduler) peerIndex(id NodeID) (int, bool) {
	return slices.BinarySearchFunc(s.peers, id, func(v peerView, id NodeID) int {
		switch {
		case v.id < id:
			return -1
		case v.id > id:
			return 1
		}
		return 0
	})
}

func (s *Scheduler) isQuorum(q QuorumID) bool {
	_, ok := slices.BinarySearch(s.quorums, q)
	return ok
}

// checkTask validates a task's shape and, when members is set, that the
// peer or quorum its dependency names exists. spec: SCHED-1
func (s *Scheduler) checkTask(ev string, t Task, members bool) error {
	if t.Cost == 0 {
		return inputErr(ErrMalformedTask, ev, "task.cost", "cost 0; costs are 1..%d", uint64(MaxCost))
	}
	d := t.Dep
	switch d.Kind {
	case DepNone, DepLocal:
		if d.Peer != 0 || d.Quorum != 0 {
			return inputErr(ErrMalformedTask, ev, "task.dep", "%v dependency names peer %d, quorum %d", d.Kind, d.Peer, d.Quorum)
		}
	case DepPeer:
		if d.Quorum != 0 || d.Peer == 0 {
			return inputErr(ErrMalformedTask, ev, "task.dep", "peer dependency names peer %d, quorum %d", d.Peer, d.Quorum)
		}
		if _, ok := s.peerIndex(d.Peer); members && !ok && d.Peer != s.cfg.Self {
			return inputErr(ErrUnknownPeer, ev, "task.dep.peer", "member %d", d.Peer)
		}
	case DepQuorum:
		if d.Peer != 0 {
			return inputErr(ErrMalformedTask, ev, "task.dep", "quorum dependency names peer %d", d.Peer)
		}
		if members && !s.isQuorum(d.Quorum) {
			return inputErr(ErrUnknownQuorum, ev, "task.dep.quorum", "quorum %d in epoch %d", d.Quorum, s.epoch)
		}
	default:
		return inputErr(ErrMalformedTask, ev, "task.dep.kind", "%v", d.Kind)
	}
	return nil
}

// admit checks what every new task must pass besides its shape.
// spec: SCHED-1, SCHED-2
func (s *Scheduler) admit(ev string, t Task) error {
	if _, ok := s.tasks[t.ID]; ok {
		return inputErr(ErrDuplicateTask, ev, "task.id", "%x", t.ID[:8])
	}
	if len(s.tasks) >= s.cfg.MaxQueued {
		return inputErr(ErrFull, ev, "", "%d tasks held", len(s.tasks))
	}
	return nil
}

// onArrived places a new task by the decision tree. spec: SCHED-8
func (s *Scheduler) onArrived(t Task) error {
	const ev = "TaskArrived"
	if err := s.checkTask(ev, t, true); err != nil {
		return err
	}
	if err := s.admit(ev, t); err != nil {
		return err
	}
	switch d := t.Dep; {
	case d.Kind == DepQuorum && d.Quorum != s.quorum: // D1
		s.put(t, PlaceForward, 0, d.Quorum, CauseDepQuorum)
	case d.Kind == DepPeer && d.Peer != s.cfg.Self: // D2
		s.put(t, PlaceRemote, d.Peer, 0, CauseDepPeer)
	default: // D3, D4
		s.placeLocalData(t)
	}
	return nil
}

// placeLocalData is the decision tree's backpressure branch for a task
// whose data is in this quorum. spec: SCHED-8 D3, D4
func (s *Scheduler) placeLocalData(t Task) {
	if peer, ok := s.shedTo(t.Signer); ok {
		s.put(t, PlaceRemote, peer, 0, CauseBackpressure)
		return
	}
	s.put(t, PlaceLocal, 0, 0, CauseLocal)
}

// shedTo decides D3: with L = this node's P and the P of every peer with a
// fresh report, delegate when LN_self ≥ θ to the fresh peer of least P,
// provided it is below this node's; ties go to the highest rendezvous
// score of (signer, peer), then to the lowest index. spec: SCHED-6, SCHED-8
func (s *Scheduler) shedTo(signer Account) (NodeID, bool) {
	if s.cfg.Mutations.IgnoreBackpressure {
		return 0, false
	}
	self := Backpressure(s.stats, s.cfg.Weights)
	lo, hi := self, self
	best := -1
	var sig uint64
	sigDone := false
	for i := range s.peers {
		v := &s.peers[i]
		if !s.fresh(v) {
			continue
		}
		if v.p < lo { // P is never NaN (SCHED-5), so plain comparisons suffice
			lo = v.p
		}
		if v.p > hi {
			hi = v.p
		}
		switch {
		case best < 0:
			best = i
		case s.cfg.Mutations.PickHighestPeer:
			if v.p > s.peers[best].p {
				best = i
			}
		case v.p < s.peers[best].p:
			best = i
		case v.p == s.peers[best].p:
			if !sigDone {
				sig, sigDone = signerWord(signer), true
			}
			// Strictly greater: on equal scores the lower index, met first, stays.
			if rendezvous(sig, v.id) > rendezvous(sig, s.peers[best].id) {
				best = i
			}
		}
	}
	if best < 0 || normalised(self, lo, hi) < s.cfg.Threshold || !(s.peers[best].p < self) {
		return 0, false
	}
	return s.peers[best].id, true
}

// fresh: a report of this epoch received at most MaxReportAge ago. spec: SCHED-7
func (s *Scheduler) fresh(v *peerView) bool {
	return v.have && s.now-v.recvAt <= s.cfg.MaxReportAge
}

// signerWord folds the signer account into 64 bits: the XOR of its four
// little-endian 8-byte words. spec: SCHED-8
func signerWord(a Account) uint64 {
	return binary.LittleEndian.Uint64(a[0:]) ^ binary.LittleEndian.Uint64(a[8:]) ^
		binary.LittleEndian.Uint64(a[16:]) ^ binary.LittleEndian.Uint64(a[24:])
}

// rendezvous is the tie-break score of a peer for a signer: equally loaded
// peers split the signers between them, and one signer's delegated tasks
// keep going to one peer. spec: SCHED-8
func rendezvous(sig uint64, peer NodeID) uint64 { return mix64(sig ^ mix64(uint64(peer))) }

// mix64 is the SplitMix64 finaliser.
func mix64(z uint64) uint64 {
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// put adds a task to a queue and emits the matching effect.
// spec: SCHED-2, SCHED-7 (delegations count towards the peer's view)
func (s *Scheduler) put(t Task, p Place, peer NodeID, q QuorumID, c Cause) {
	e := entry{task: t, place: p, peer: peer, quorum: q}
	s.tasks[t.ID] = e
	s.enqueue(&e, c)
}

// enqueue counts an entry in its queue and emits its effect.
func (s *Scheduler) enqueue(e *entry, c Cause) {
	t := e.task
	switch e.place {
	case PlaceLocal:
		addStat(&s.stats.Local, t.Cost)
	case PlaceRemote:
		addStat(&s.stats.Remote, t.Cost)
		if i, ok := s.peerIndex(e.peer); ok && s.peers[i].have {
			v := &s.peers[i]
			addStat(&v.load.Local, t.Cost)
			v.p = Backpressure(v.load, s.cfg.Weights)
		}
	case PlaceForward:
		addStat(&s.stats.Forward, t.Cost)
	}
	s.emit(placeEffect(e, c))
}

// placeEffect is the effect announcing that e entered its queue.
func placeEffect(e *entry, c Cause) Effect {
	switch e.place {
	case PlaceRemote:
		return Effect{Kind: EffectDelegate, Cause: c, Task: e.task, Peer: e.peer}
	case PlaceForward:
		return Effect{Kind: EffectForward, Cause: c, Task: e.task, Quorum: e.quorum}
	}
	return Effect{Kind: EffectExecute, Cause: c, Task: e.task}
}

func addStat(q *QueueStat, cost uint32) {
	q.Count = satAdd(q.Count, 1)
	q.Total = satAdd(q.Total, uint64(cost))
}

func satAdd(a, b uint64) uint64 {
	if a > math.MaxUint64-b {
		return math.MaxUint64
	}
	return a + b
}

// dequeue uncounts an entry (own queues never saturate: MaxQueued·MaxCost < 2^52).
func (s *Scheduler) dequeue(e *entry) {
	q := s.queue(e.place)
	q.Count--
	q.Total -= uint64(e.task.Cost)
}

func (s *Scheduler) queue(p Place) *QueueStat {
	switch p {
	case PlaceLocal:
		return &s.stats.Local
	case PlaceRemote:
		return &s.stats.Remote
	}
	return &s.stats.Forward
}

// onDelegatedIn executes a peer's delegated task here: it is never
// delegated or forwarded again, so a task makes at most one intra-quorum
// hop. Its dependency is checked for shape only: it was stated from the
// delegator's side. spec: SCHED-9
func (s *Scheduler) onDelegatedIn(from NodeID, t Task) error {
	const ev = "TaskDelegatedIn"
	if _, ok := s.peerIndex(from); !ok {
		return inputErr(ErrUnknownPeer, ev, "from", "member %d", from)
	}
	if err := s.checkTask(ev, t, false); err != nil {
		return err
	}
	if err := s.admit(ev, t); err != nil {
		return err
	}
	s.put(t, PlaceLocal, 0, 0, CauseDelegatedIn)
	return nil
}

// held finds a task that must be in the local queue (local) or in the
// remote or forwarding queue (!local).
func (s *Scheduler) held(ev string, id Digest, local bool) (entry, error) {
	e, ok := s.tasks[id]
	if !ok {
		return entry{}, inputErr(ErrUnknownTask, ev, "id", "%x", id[:8])
	}
	if (e.place == PlaceLocal) != local {
		return entry{}, inputErr(ErrWrongQueue, ev, "id", "%x is in the %v queue", id[:8], e.place)
	}
	return e, nil
}

func (s *Scheduler) retire(e *entry, c Cause) {
	s.dequeue(e)
	delete(s.tasks, e.task.ID)
	s.emit(Effect{Kind: EffectDone, Cause: c, Task: e.task})
}

// onCompleted retires a locally executed task. spec: SCHED-10
func (s *Scheduler) onCompleted(id Digest) error {
	e, err := s.held("TaskCompleted", id, true)
	if err != nil {
		return err
	}
	s.retire(&e, CauseCompleted)
	return nil
}

// onAcked retires a delegated or forwarded task its recipient accepted.
// spec: SCHED-10
func (s *Scheduler) onAcked(id Digest) error {
	e, err := s.held("HandoffAcked", id, false)
	if err != nil {
		return err
	}
	s.retire(&e, CauseAcked)
	return nil
}

// onFailed re-places a task whose handoff failed: a delegated task is
// executed here (its data is in this quorum, and going local cannot
// bounce); a forwarded task is forwarded again while its quorum is still
// another quorum of the map, and otherwise treated as data-local (its
// dependency's holder is no longer known). The failed peer's view keeps
// the task until its next report, so it looks busier. spec: SCHED-10
func (s *Scheduler) onFailed(id Digest) error {
	e, err := s.held("HandoffFailed", id, false)
	if err != nil {
		return err
	}
	s.dequeue(&e)
	switch {
	case e.place == PlaceRemote && s.cfg.Mutations.LoseFailedHandoff:
		delete(s.tasks, id)
	case e.place == PlaceRemote:
		e.place, e.peer = PlaceLocal, 0
		s.tasks[id] = e
		s.enqueue(&e, CauseFallback)
	case s.isQuorum(e.quorum) && e.quorum != s.quorum:
		s.enqueue(&e, CauseRetry)
	default:
		delete(s.tasks, id) // re-placed below on the state without it
		s.placeLocalData(e.task)
	}
	return nil
}

// onPeerLoad records a peer's report. Checks, in order: the sender is a
// peer, the epoch is this node's, the figures are possible, the Seq is
// newer than the last accepted one. spec: SCHED-7
func (s *Scheduler) onPeerLoad(r PeerLoad) error {
	const ev = "PeerLoad"
	i, ok := s.peerIndex(r.Peer)
	if !ok {
		return inputErr(ErrUnknownPeer, ev, "peer", "member %d", r.Peer)
	}
	if r.Epoch != s.epoch {
		return inputErr(ErrWrongEpoch, ev, "epoch", "%d, current %d", r.Epoch, s.epoch)
	}
	if err := checkLoad(ev, r.Load); err != nil {
		return err
	}
	v := &s.peers[i]
	if v.have && r.Seq <= v.seq {
		return inputErr(ErrStaleReport, ev, "seq", "%d, last %d", r.Seq, v.seq)
	}
	*v = peerView{id: v.id, have: true, seq: r.Seq, recvAt: s.now, load: r.Load, p: Backpressure(r.Load, s.cfg.Weights)}
	return nil
}

// checkLoad: per queue, count ≤ HardMaxQueued and count ≤ total ≤
// count·MaxCost (every task costs 1..MaxCost, so an empty queue has total
// 0). spec: SCHED-7
func checkLoad(ev string, l Stats) error {
	for _, q := range []struct {
		name string
		q    QueueStat
	}{{"load.local", l.Local}, {"load.remote", l.Remote}, {"load.forward", l.Forward}} {
		if q.q.Count > HardMaxQueued {
			return inputErr(ErrMalformedLoad, ev, q.name+".count", "%d > %d", q.q.Count, HardMaxQueued)
		}
		if q.q.Total < q.q.Count || q.q.Total > q.q.Count*MaxCost {
			return inputErr(ErrMalformedLoad, ev, q.name+".total", "%d for %d tasks of cost 1..%d", q.q.Total, q.q.Count, uint64(MaxCost))
		}
	}
	return nil
}

// onMap installs a newer epoch's map. spec: SCHED-11
func (s *Scheduler) onMap(m QuorumMap) error {
	qs, ps, err := checkMap(m, s.cfg.Self)
	if err != nil {
		return err
	}
	if m.Epoch <= s.epoch {
		return inputErr(ErrStaleMap, "QuorumMapChanged", "epoch", "%d, current %d", m.Epoch, s.epoch)
	}
	s.install(m, qs, ps)
	return nil
}

// onTick advances the clock and emits this node's load report every
// ReportInterval (the first Tick always reports). spec: SCHED-12
func (s *Scheduler) onTick(now time.Duration) error {
	if now < s.now {
		return inputErr(ErrClockBackwards, "Tick", "now", "%v < %v", now, s.now)
	}
	s.now = now
	if !s.reported || now-s.lastReport >= s.cfg.ReportInterval {
		s.reported, s.lastReport = true, now
		s.reportSeq++
		s.emit(Effect{Kind: EffectReport, Cause: CausePeriodic,
			Report: PeerLoad{Peer: s.cfg.Self, Epoch: s.epoch, Seq: s.reportSeq, Load: s.stats}})
	}
	return nil
}

// Config returns the configuration with defaults filled.
func (s *Scheduler) Config() Config { return s.cfg }

// Epoch is the current quorum map's epoch.
func (s *Scheduler) Epoch() Epoch { return s.epoch }

// Load returns this node's queue figures (what it reports).
func (s *Scheduler) Load() Stats { return s.stats }

// Len is the number of tasks held in the three queues.
func (s *Scheduler) Len() int { return len(s.tasks) }

// Backpressure is this node's P. spec: SCHED-4
func (s *Scheduler) Backpressure() float64 { return Backpressure(s.stats, s.cfg.Weights) }

// Lookup says where a held task is.
func (s *Scheduler) Lookup(id Digest) (Task, Place, bool) {
	e, ok := s.tasks[id]
	if !ok {
		return Task{}, 0, false
	}
	return e.task, e.place, true
}

// NodeLoad is one element of L with its normalised value.
type NodeLoad struct {
	Node NodeID
	P    float64 // backpressure
	LN   float64 // LN_b
}

// Loads returns L as the next decision would see it: this node first, then
// every peer with a fresh report by index, each with P and LN_b.
// spec: SCHED-6
func (s *Scheduler) Loads() []NodeLoad {
	l := []NodeLoad{{Node: s.cfg.Self, P: s.Backpressure()}}
	for i := range s.peers {
		if v := &s.peers[i]; s.fresh(v) {
			l = append(l, NodeLoad{Node: v.id, P: v.p})
		}
	}
	ps := make([]float64, len(l))
	for i := range l {
		ps[i] = l[i].P
	}
	for i, ln := range Normalise(ps) {
		l[i].LN = ln
	}
	return l
}
