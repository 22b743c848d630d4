package scheduler

// The reference model: the scheduler re-implemented from the text of
// SCHED-1..SCHED-12, as plainly as possible (maps, sorting, figures
// recomputed from the task list at every use, no caches, no incremental
// counters). Property tests compare every Step's effects and errors with
// it. It shares only the Log10 primitive with the package (SCHED-14), so
// that both sides round identically.

import (
	"encoding/binary"
	"math"
	"slices"
	"time"
)

type refTask struct {
	t      Task
	place  Place
	peer   NodeID
	quorum QuorumID
}

type refReport struct {
	seq       uint64
	at        time.Duration
	base      Stats
	delegated []uint32 // costs this node delegated to the peer since the report
}

type refModel struct {
	cfg     Config
	epoch   Epoch
	quorum  QuorumID
	quorums map[QuorumID]bool
	peers   map[NodeID]bool
	tasks   map[Digest]*refTask
	reports map[NodeID]*refReport
	now     time.Duration
	ticked  bool
	last    time.Duration
	seq     uint64
}

func newRef(cfg Config) *refModel {
	cfg.Mutations = Mutations{} // the oracle is always the rule text
	m := &refModel{cfg: cfg.WithDefaults(), tasks: map[Digest]*refTask{}}
	m.setMap(cfg.Map)
	return m
}

func (m *refModel) setMap(q QuorumMap) {
	m.epoch, m.quorum = q.Epoch, q.Quorum
	m.quorums, m.peers, m.reports = map[QuorumID]bool{}, map[NodeID]bool{}, map[NodeID]*refReport{}
	for _, x := range q.Quorums {
		m.quorums[x] = true
	}
	for _, p := range q.Peers {
		m.peers[p] = true
	}
}

// refStats: SCHED-3, from the task list.
func (m *refModel) stats() Stats {
	var s Stats
	for _, e := range m.tasks {
		q := map[Place]*QueueStat{PlaceLocal: &s.Local, PlaceRemote: &s.Remote, PlaceForward: &s.Forward}[e.place]
		q.Count++
		q.Total += uint64(e.t.Cost)
	}
	return s
}

// refP: SCHED-4 and SCHED-5 as written.
func refP(s Stats, w Weights) float64 {
	term := func(q QueueStat, w float64) float64 {
		if q.Count == 0 {
			return 0 // SCHED-5: an empty queue contributes nothing
		}
		wt := float64(w * float64(q.Total))
		avg := float64(float64(q.Total) / float64(q.Count))
		return float64(wt * avg)
	}
	l := term(s.Local, w.Local)
	r := term(s.Remote, w.Remote)
	f := float64(w.Forward * float64(s.Forward.Total))
	x := float64(float64(l+r) + f)
	if x < 1 || math.IsNaN(x) {
		return 0
	}
	return float64(1 + Log10(math.Min(x, math.MaxFloat64)))
}

func (m *refModel) peerP(p NodeID) float64 {
	r := m.reports[p]
	s := r.base
	for _, c := range r.delegated {
		s.Local.Count++
		s.Local.Total += uint64(c)
	}
	return refP(s, m.cfg.Weights)
}

func (m *refModel) freshPeers() []NodeID {
	var out []NodeID
	for p, r := range m.reports {
		if m.now-r.at <= m.cfg.MaxReportAge {
			out = append(out, p)
		}
	}
	slices.Sort(out)
	return out
}

func refRendezvous(a Account, p NodeID) uint64 {
	var w uint64
	for i := 0; i < 32; i += 8 {
		w ^= binary.LittleEndian.Uint64(a[i:])
	}
	mix := func(z uint64) uint64 {
		z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
		z = (z ^ (z >> 27)) * 0x94d049bb133111eb
		return z ^ (z >> 31)
	}
	return mix(w ^ mix(uint64(p)))
}

// shed: SCHED-6 and SCHED-8 D3.
func (m *refModel) shed(t Task) (NodeID, bool) {
	self := refP(m.stats(), m.cfg.Weights)
	fresh := m.freshPeers()
	L := []float64{self}
	for _, p := range fresh {
		L = append(L, m.peerP(p))
	}
	lo, hi := slices.Min(L), slices.Max(L)
	ln := 0.0
	if hi > lo {
		ln = (self - lo) / (hi - lo)
	}
	if len(fresh) == 0 || ln < m.cfg.Threshold {
		return 0, false
	}
	least := slices.Min(L[1:])
	var best NodeID
	for _, p := range fresh { // ascending, so on equal scores the lowest index stays
		if m.peerP(p) == least && (best == 0 || refRendezvous(t.Signer, p) > refRendezvous(t.Signer, best)) {
			best = p
		}
	}
	if !(least < self) {
		return 0, false
	}
	return best, true
}

func (m *refModel) place(t Task, pl Place, peer NodeID, q QuorumID, c Cause) Effect {
	m.tasks[t.ID] = &refTask{t: t, place: pl, peer: peer, quorum: q}
	switch pl {
	case PlaceRemote:
		if r := m.reports[peer]; r != nil {
			r.delegated = append(r.delegated, t.Cost)
		}
		return Effect{Kind: EffectDelegate, Cause: c, Task: t, Peer: peer}
	case PlaceForward:
		return Effect{Kind: EffectForward, Cause: c, Task: t, Quorum: q}
	}
	return Effect{Kind: EffectExecute, Cause: c, Task: t}
}

func (m *refModel) placeLocalData(t Task) Effect {
	if p, ok := m.shed(t); ok {
		return m.place(t, PlaceRemote, p, 0, CauseBackpressure)
	}
	return m.place(t, PlaceLocal, 0, 0, CauseLocal)
}

// taskErr: SCHED-1 checks in their order.
func (m *refModel) taskErr(t Task, members bool) error {
	d := t.Dep
	switch {
	case t.Cost == 0, d.Kind > DepQuorum:
		return ErrMalformedTask
	case (d.Kind == DepNone || d.Kind == DepLocal) && (d.Peer != 0 || d.Quorum != 0):
		return ErrMalformedTask
	case d.Kind == DepPeer && (d.Peer == 0 || d.Quorum != 0):
		return ErrMalformedTask
	case d.Kind == DepQuorum && d.Peer != 0:
		return ErrMalformedTask
	case members && d.Kind == DepPeer && d.Peer != m.cfg.Self && !m.peers[d.Peer]:
		return ErrUnknownPeer
	case members && d.Kind == DepQuorum && !m.quorums[d.Quorum]:
		return ErrUnknownQuorum
	case m.tasks[t.ID] != nil:
		return ErrDuplicateTask
	case len(m.tasks) >= m.cfg.MaxQueued:
		return ErrFull
	}
	return nil
}

func loadErr(l Stats) bool {
	for _, q := range []QueueStat{l.Local, l.Remote, l.Forward} {
		if q.Count > HardMaxQueued || q.Total < q.Count || q.Total > q.Count*MaxCost {
			return true
		}
	}
	return false
}

func mapErr(q QuorumMap, self NodeID) bool {
	qs, ps := map[QuorumID]bool{}, map[NodeID]bool{}
	for _, x := range q.Quorums {
		if qs[x] {
			return true
		}
		qs[x] = true
	}
	for _, p := range q.Peers {
		if p == 0 || p == self || ps[p] {
			return true
		}
		ps[p] = true
	}
	return len(q.Quorums) == 0 || len(q.Quorums) > MaxQuorums || len(q.Peers) > MaxPeers || !qs[q.Quorum]
}

// step returns the effects and the sentinel the spec prescribes.
func (m *refModel) step(ev Event) ([]Effect, error) {
	switch ev := ev.(type) {
	case TaskArrived:
		t := ev.Task
		if err := m.taskErr(t, true); err != nil {
			return nil, err
		}
		switch d := t.Dep; {
		case d.Kind == DepQuorum && d.Quorum != m.quorum:
			return []Effect{m.place(t, PlaceForward, 0, d.Quorum, CauseDepQuorum)}, nil
		case d.Kind == DepPeer && d.Peer != m.cfg.Self:
			return []Effect{m.place(t, PlaceRemote, d.Peer, 0, CauseDepPeer)}, nil
		}
		return []Effect{m.placeLocalData(t)}, nil
	case TaskDelegatedIn:
		if !m.peers[ev.From] {
			return nil, ErrUnknownPeer
		}
		if err := m.taskErr(ev.Task, false); err != nil {
			return nil, err
		}
		return []Effect{m.place(ev.Task, PlaceLocal, 0, 0, CauseDelegatedIn)}, nil
	case TaskCompleted, HandoffAcked, HandoffFailed:
		var id Digest
		local := false
		switch ev := ev.(type) {
		case TaskCompleted:
			id, local = ev.ID, true
		case HandoffAcked:
			id = ev.ID
		case HandoffFailed:
			id = ev.ID
		}
		e := m.tasks[id]
		if e == nil {
			return nil, ErrUnknownTask
		}
		if (e.place == PlaceLocal) != local {
			return nil, ErrWrongQueue
		}
		delete(m.tasks, id)
		switch ev.(type) {
		case TaskCompleted:
			return []Effect{{Kind: EffectDone, Cause: CauseCompleted, Task: e.t}}, nil
		case HandoffAcked:
			return []Effect{{Kind: EffectDone, Cause: CauseAcked, Task: e.t}}, nil
		}
		switch {
		case e.place == PlaceRemote:
			return []Effect{m.place(e.t, PlaceLocal, 0, 0, CauseFallback)}, nil
		case m.quorums[e.quorum] && e.quorum != m.quorum:
			return []Effect{m.place(e.t, PlaceForward, 0, e.quorum, CauseRetry)}, nil
		}
		return []Effect{m.placeLocalData(e.t)}, nil
	case PeerLoad:
		switch r := m.reports[ev.Peer]; {
		case !m.peers[ev.Peer]:
			return nil, ErrUnknownPeer
		case ev.Epoch != m.epoch:
			return nil, ErrWrongEpoch
		case loadErr(ev.Load):
			return nil, ErrMalformedLoad
		case r != nil && ev.Seq <= r.seq:
			return nil, ErrStaleReport
		}
		m.reports[ev.Peer] = &refReport{seq: ev.Seq, at: m.now, base: ev.Load}
		return nil, nil
	case QuorumMapChanged:
		if mapErr(ev.Map, m.cfg.Self) {
			return nil, ErrMalformedMap
		}
		if ev.Map.Epoch <= m.epoch {
			return nil, ErrStaleMap
		}
		m.setMap(ev.Map)
		return nil, nil
	case Tick:
		if ev.Now < m.now {
			return nil, ErrClockBackwards
		}
		m.now = ev.Now
		if !m.ticked || m.now-m.last >= m.cfg.ReportInterval {
			m.ticked, m.last = true, m.now
			m.seq++
			return []Effect{{Kind: EffectReport, Cause: CausePeriodic,
				Report: PeerLoad{Peer: m.cfg.Self, Epoch: m.epoch, Seq: m.seq, Load: m.stats()}}}, nil
		}
		return nil, nil
	}
	return nil, ErrNilEvent
}
