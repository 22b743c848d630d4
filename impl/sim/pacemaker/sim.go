package pacemaker

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/fhbft/fhbft/impl/certification"
	"github.com/fhbft/fhbft/impl/crypto/threshold"
	pm "github.com/fhbft/fhbft/impl/pacemaker"
	"github.com/fhbft/fhbft/impl/sim/network"
)

// envelope is what travels on the network: a message and, during a
// view-change measurement, the number of message delays on the causal
// chain since the first timeout (-1 outside a measurement).
type envelope struct {
	msg  pm.Message
	hops int
}

// Node is one network node: a replica, or a twin copy of one.
type Node struct {
	NID       network.NodeID
	ID        pm.ReplicaID
	Behaviour Behaviour
	Twin      bool // a second copy of identity ID
	Honest    bool // checked by the Checker and counted in the figures
	Up        bool // at the end of the run (set by the report)
	Rep       *pm.Replica

	share    threshold.SecretShare
	started  bool
	lastTick time.Duration
	forged   map[pm.Hash]pm.Block // ForgeQC: blocks served to fetches
	staleFor pm.View              // StaleLeader: view whose honest vote is replaced
	// Figures.
	Committed int // blocks committed
	Executed  []Execution
	Rejected  [32]int
	Evidence  int
	Entered   map[pm.Cause]int
}

// Submission is a client command handed to every replica.
type Submission struct {
	ID   pm.CommandID
	At   time.Duration
	Step int
}

// Execution is a command committed by a replica at position Pos (0-based)
// of its command log.
type Execution struct {
	ID   pm.CommandID
	Pos  int
	At   time.Duration
	Step int
}

// Sim is one simulation run.
type Sim struct {
	cfg    Config
	q      int
	roster certification.Roster
	shares []threshold.SecretShare
	net    *network.Network[envelope]
	nodes  []*Node // by NID-1
	chk    *Checker

	step      int
	stopped   bool
	nextCmd   pm.CommandID
	actions   []Action // view-triggered, in order
	maxView   pm.View  // highest honest view
	firstIn   map[pm.View]time.Duration
	qcs, tcs  int
	phases    []Phase
	subs      []Submission
	crash     *CrashReport
	gst       *GSTReport
	stepWall  time.Duration
	checkWall time.Duration
	wireErrs  int
	curHops   int // causal hops of the event being handled (view-change measurement)
}

// Alarm tags.
const (
	alarmCommand = iota + 1
	alarmCrashLeader
	alarmRecoverLeader
	alarmPhase
	alarmAction // + index into Config.Actions
)

var (
	keysMu sync.Mutex
	keys   = map[[2]int]struct {
		gk     threshold.GroupKey
		shares []threshold.SecretShare
	}{}
)

// dealKeys deals keys once per (n, q), deterministically from (n, q)
// (CERT-18: the trusted dealer is a simulation helper).
func dealKeys(n, q int) (threshold.GroupKey, []threshold.SecretShare, error) {
	keysMu.Lock()
	defer keysMu.Unlock()
	if k, ok := keys[[2]int{n, q}]; ok {
		return k.gk, k.shares, nil
	}
	gk, shares, err := threshold.TrustedDealerForTesting(n, q, rand.NewChaCha8([32]byte{'p', 'm', 's', 'i', 'm', byte(n), byte(n >> 8), byte(q), byte(q >> 8)}))
	if err != nil {
		return gk, nil, err
	}
	keys[[2]int{n, q}] = struct {
		gk     threshold.GroupKey
		shares []threshold.SecretShare
	}{gk, shares}
	return gk, shares, nil
}

// New builds a simulation; Run runs it.
func New(cfg Config) (*Sim, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	q := cfg.QOf()
	gk, shares, err := dealKeys(cfg.N, q)
	if err != nil {
		return nil, err
	}
	roster := certification.Roster{Quorum: 1, Epoch: 1, Key: gk}
	net, err := network.New[envelope](network.Config{
		Seed:    cfg.Seed,
		Default: network.LinkConfig{MinDelay: cfg.MinDelay, MaxDelay: cfg.MaxDelay, Drop: cfg.Drop},
		GST:     cfg.GST, Delta: cfg.Delta,
	})
	if err != nil {
		return nil, err
	}
	s := &Sim{cfg: cfg, q: q, roster: roster, shares: shares, net: net, chk: NewChecker(roster), firstIn: map[pm.View]time.Duration{}}
	pcfg := pm.Config{Timeout: cfg.Timeout, Leader: cfg.Leader, Beacon: cfg.Beacon, ViewsPerLeader: cfg.ViewsPerLeader, MaxBatch: cfg.MaxBatch}
	add := func(id pm.ReplicaID, twin bool) error {
		b := cfg.Byzantine[id]
		c := pcfg
		honest := b == Honest && !slices.Contains(cfg.Twins, id)
		if honest {
			c.Mutations = cfg.Mutations // planted bugs live in honest replicas
		}
		r, err := pm.New(c, id, shares[id-1], roster)
		if err != nil {
			return err
		}
		nd := &Node{NID: network.NodeID(len(s.nodes) + 1), ID: id, Behaviour: b, Twin: twin, Honest: honest,
			Rep: r, share: shares[id-1], forged: map[pm.Hash]pm.Block{}, Entered: map[pm.Cause]int{}}
		s.nodes = append(s.nodes, nd)
		if honest {
			s.chk.Track(nd.NID)
		}
		return net.AddNode(nd.NID)
	}
	for i := 1; i <= cfg.N; i++ {
		if err := add(pm.ReplicaID(i), false); err != nil {
			return nil, err
		}
	}
	for _, id := range cfg.Twins {
		if err := add(id, true); err != nil {
			return nil, err
		}
	}
	for i, a := range cfg.Actions {
		if a.AtView > 0 {
			s.actions = append(s.actions, a)
		} else {
			net.Schedule(a.At, 0, alarmAction+uint64(i))
		}
	}
	for _, cr := range cfg.Crashes {
		for _, nd := range s.copies(cr.Replica) {
			if cr.At > 0 {
				net.ScheduleCrash(cr.At, nd.NID)
			} else {
				net.CrashNow(nd.NID)
			}
			if cr.RecoverAt > cr.At {
				net.ScheduleRecover(cr.RecoverAt, nd.NID)
			}
		}
	}
	if cfg.CrashLeaderAt > 0 {
		net.Schedule(cfg.CrashLeaderAt, 0, alarmCrashLeader)
	}
	if cfg.GST > 0 && cfg.GST != network.Never {
		net.Schedule(cfg.GST, 0, alarmPhase)
	}
	if cfg.CommandInterval > 0 {
		net.Schedule(0, 0, alarmCommand)
	}
	return s, nil
}

// Config returns the configuration.
func (s *Sim) Config() Config { return s.cfg }

// Q is the threshold in use.
func (s *Sim) Q() int { return s.q }

// Nodes returns the nodes (replicas 1..n, then twin copies).
func (s *Sim) Nodes() []*Node { return s.nodes }

// Checker returns the safety checker.
func (s *Sim) Checker() *Checker { return s.chk }

// Now is the simulated time.
func (s *Sim) Now() time.Duration { return s.net.Now() }

// GST is the measurement after GST (nil before GST or without one).
func (s *Sim) GST() *GSTReport { return s.gst }

// MaxView is the highest view an honest replica is in.
func (s *Sim) MaxView() pm.View { return s.maxView }

// MinCommitted is the fewest blocks an honest, currently up replica has
// committed (-1 if there is none).
func (s *Sim) MinCommitted() int {
	m := -1
	for _, nd := range s.nodes {
		if nd.Honest && s.net.Up(nd.NID) && (m < 0 || nd.Committed < m) {
			m = nd.Committed
		}
	}
	return m
}

// DistinctCommitted is the number of distinct blocks committed by honest
// replicas (the longest committed chain).
func (s *Sim) DistinctCommitted() int { return len(s.chk.Committed()) }

func (s *Sim) copies(id pm.ReplicaID) []*Node {
	var out []*Node
	for _, nd := range s.nodes {
		if nd.ID == id {
			out = append(out, nd)
		}
	}
	return out
}

// Run runs the simulation to a stop condition and returns its report.
func (s *Sim) Run() *Report {
	maxSteps := s.cfg.MaxSteps
	if maxSteps == 0 {
		maxSteps = 1_000_000
	}
	s.beginPhase("start")
	for _, nd := range s.nodes {
		if s.net.Up(nd.NID) {
			s.start(nd)
		}
	}
	for !s.stopped && s.step < maxSteps {
		ev, ok := s.net.Next()
		if !ok {
			break
		}
		if s.cfg.MaxTime > 0 && ev.At > s.cfg.MaxTime {
			break
		}
		s.step++
		s.chk.At(s.step, ev.At)
		switch ev.Kind {
		case network.Delivery:
			s.deliver(s.nodes[ev.To-1], s.nodes[ev.From-1], ev.Msg)
		case network.Timer:
			nd := s.nodes[ev.To-1]
			s.stepNode(nd, pm.TimerFired{View: pm.View(ev.Tag)}, -1, true)
		case network.Alarm:
			s.alarm(ev.Tag)
		case network.Crash:
			s.beginPhase(fmt.Sprintf("crash of node %d", ev.To))
		case network.Recover:
			nd := s.nodes[ev.To-1]
			s.beginPhase(fmt.Sprintf("recovery of node %d", ev.To))
			if !nd.started {
				s.start(nd)
			}
		case network.Partition:
			// The phase began with the alarm scheduled at the same time.
		}
		if s.cfg.StopOnViolation && len(s.chk.viol) > 0 {
			s.stopped = true
		}
		if s.cfg.MaxViews > 0 && s.maxView >= s.cfg.MaxViews {
			s.stopped = true
		}
		if s.cfg.StopWhen != nil && s.cfg.StopWhen(s) {
			s.stopped = true
		}
	}
	return s.report()
}

func (s *Sim) start(nd *Node) {
	nd.started = true
	if nd.Behaviour == Silent {
		return
	}
	s.stepNode(nd, pm.Start{}, -1, false)
}

func (s *Sim) alarm(tag uint64) {
	switch tag {
	case alarmCommand:
		if s.cfg.Commands > 0 && int(s.nextCmd) >= s.cfg.Commands {
			return
		}
		s.nextCmd++
		id := s.nextCmd
		s.subs = append(s.subs, Submission{ID: id, At: s.Now(), Step: s.step})
		cmd := pm.Command{ID: id, Payload: []byte(fmt.Sprintf("cmd-%d", id))}
		for _, nd := range s.nodes {
			if s.net.Up(nd.NID) && nd.started {
				s.stepNode(nd, pm.ClientCommand{Cmd: cmd}, -1, false)
			}
		}
		s.net.Schedule(s.Now()+s.cfg.CommandInterval, 0, alarmCommand)
	case alarmCrashLeader:
		s.crashLeader()
	case alarmRecoverLeader:
		if s.crash != nil {
			for _, nd := range s.copies(s.crash.Leader) {
				s.net.ScheduleRecover(s.Now(), nd.NID)
			}
		}
	case alarmPhase:
		s.beginPhase("GST")
		g := &GSTReport{At: s.Now(), View: s.maxView, FirstCommit: -1}
		for _, nd := range s.nodes {
			if nd.Honest && s.net.Up(nd.NID) {
				st := nd.Rep.State()
				if st.ComplainedView > st.CurView {
					g.Ahead = max(g.Ahead, st.ComplainedView-st.CurView)
				}
			}
		}
		s.gst = g
	default:
		if i := int(tag - alarmAction); tag >= alarmAction && i < len(s.cfg.Actions) {
			s.act(s.cfg.Actions[i], "")
		}
	}
}

// deliver hands a message to a node (through the wire encoding if asked).
func (s *Sim) deliver(to, from *Node, env envelope) {
	if to.Behaviour == ForgeQC {
		if req, ok := env.msg.(pm.FetchRequest); ok {
			if b, ok := to.forged[req.Hash]; ok {
				s.send(to, from, pm.FetchResponse{Block: b})
				return
			}
		}
	}
	s.stepNode(to, pm.Deliver(from.ID, env.msg), env.hops, false)
}

// stepNode runs one event through a node's replica and performs the
// effects, then checks the invariants.
func (s *Sim) stepNode(nd *Node, ev pm.Event, hops int, timer bool) {
	if nd.Behaviour == Silent || !nd.started && !isStart(ev) {
		return
	}
	now := s.Now()
	if now > nd.lastTick {
		nd.Rep.Step(pm.Tick{Now: now})
		nd.lastTick = now
	}
	// Hops along the causal chain: a timer expiry starts a chain (0), and
	// what a step sends is one message delay further than what caused it.
	s.curHops = -1
	if s.crash != nil && s.crash.measuring {
		if timer {
			s.curHops = 0
		} else {
			s.curHops = hops
		}
	}
	t0 := time.Now()
	effs := nd.Rep.Step(ev)
	s.stepWall += time.Since(t0)
	s.perform(nd, effs, timer)
	if nd.Honest {
		t1 := time.Now()
		st := nd.Rep.State()
		s.chk.OnState(nd.NID, st)
		s.checkWall += time.Since(t1)
	}
}

func isStart(ev pm.Event) bool { _, ok := ev.(pm.Start); return ok }

// perform carries out a node's effects in order; Byzantine nodes rewrite
// them first.
func (s *Sim) perform(nd *Node, effs []pm.Effect, timer bool) {
	// Register blocks and certificates first, so that a commit in the same
	// step finds the proposal and QC that caused it.
	t1 := time.Now()
	for _, e := range effs {
		switch e := e.(type) {
		case pm.Broadcast:
			s.observe(e.Msg)
		case pm.Send:
			s.observe(e.Msg)
			if v, ok := e.Msg.(pm.Vote); ok && nd.Honest {
				s.chk.OnVote(nd.NID, pm.View(v.Slot.Number()), v.Value.Subject)
			}
		case pm.QCFormed:
			s.chk.OnQC(e.QC)
		case pm.TCFormed:
			s.chk.OnTC(nd.NID, e.TC, true)
		}
	}
	s.checkWall += time.Since(t1)
	if s.cfg.Trace != nil {
		s.trace(nd, effs)
	}
	for _, e := range effs {
		if nd.Behaviour != Honest && s.byzantine(nd, e) {
			continue
		}
		switch e := e.(type) {
		case pm.Send:
			for _, to := range s.copies(e.To) {
				if to != nd {
					s.send(nd, to, e.Msg)
				}
			}
		case pm.Broadcast:
			for _, to := range s.nodes {
				if to.ID != nd.ID {
					s.send(nd, to, e.Msg)
				}
			}
		case pm.SetTimer:
			s.net.SetTimer(nd.NID, 0, e.Duration, uint64(e.View))
		case pm.Commit:
			s.onCommit(nd, e)
		case pm.QCFormed:
			s.onQC(nd, e.QC)
		case pm.TCFormed:
			if nd.Honest {
				s.tcs++
				s.curPhase().TCs++
				if c := s.crash; c != nil && c.measuring && c.FirstTC < 0 {
					c.FirstTC = s.Now()
				}
			}
		case pm.ViewEntered:
			s.onView(nd, e)
		case pm.EvidenceFound, pm.ProposalEquivocation:
			nd.Evidence++
		case pm.ConflictingCommit:
			s.chk.OnConflictingCommit(nd.NID, e)
		case pm.Rejected:
			if int(e.Reason) < len(nd.Rejected) {
				nd.Rejected[e.Reason]++
			}
		}
	}
	if timer && nd.Honest && s.crash != nil && s.crash.measuring && s.crash.FirstTimeout < 0 {
		for _, e := range effs {
			if sd, ok := e.(pm.Send); ok {
				if c, ok := sd.Msg.(pm.Complain); ok {
					s.crash.FirstTimeout = s.Now()
					s.crash.StallView = pm.View(c.Slot.Number())
					break
				}
			}
		}
	}
}

// observe registers what a message carries with the checker.
func (s *Sim) observe(m pm.Message) {
	switch m := m.(type) {
	case pm.Proposal:
		s.chk.OnBlock(m.Block)
	case pm.FetchResponse:
		s.chk.OnBlock(m.Block)
	case pm.NewView:
		s.chk.OnQC(m.QC)
	case pm.NextView:
		s.chk.OnTC(0, m.TC, false)
	}
}

// send puts a message on the network from one node to another.
func (s *Sim) send(from, to *Node, m pm.Message) {
	if from.Behaviour != Honest {
		s.observe(m) // crafted messages; honest ones were registered in perform
	}
	if s.cfg.Wire {
		enc, err := m.MarshalBinary()
		if err == nil {
			m, err = pm.DecodeMessage(enc)
		}
		if err != nil {
			s.wireErrs++
			return
		}
	}
	hops := -1
	if s.crash != nil && s.crash.measuring && s.curHops >= 0 {
		hops = s.curHops + 1
	}
	s.net.Send(from.NID, to.NID, envelope{msg: m, hops: hops})
}

func (s *Sim) onCommit(nd *Node, c pm.Commit) {
	nd.Committed += len(c.Blocks)
	for _, cmd := range c.Cmds {
		nd.Executed = append(nd.Executed, Execution{ID: cmd.ID, Pos: len(nd.Executed), At: s.Now(), Step: s.step})
	}
	if !nd.Honest {
		return
	}
	before := len(s.chk.ref)
	t1 := time.Now()
	s.chk.OnCommit(nd.NID, c.Blocks)
	s.checkWall += time.Since(t1)
	s.curPhase().Commits += len(s.chk.ref) - before
	if g := s.gst; g != nil && g.FirstCommit < 0 && len(s.chk.ref) > before {
		g.FirstCommit, g.CommitView = s.Now(), s.maxView
	}
	if cr := s.crash; cr != nil && cr.measuring && cr.FirstQC >= 0 && cr.FirstCommit < 0 {
		cr.FirstCommit = s.Now()
		cr.measuring = false
	}
}

func (s *Sim) onQC(nd *Node, qc pm.QC) {
	if !nd.Honest {
		return
	}
	s.qcs++
	s.curPhase().QCs++
	cr := s.crash
	if cr != nil && cr.measuring && cr.FirstTimeout >= 0 && cr.FirstQC < 0 && qc.View() > cr.StallView {
		cr.FirstQC = s.Now()
		cr.QCView = qc.View()
		cr.Hops = s.curHops
	}
}

func (s *Sim) onView(nd *Node, e pm.ViewEntered) {
	nd.Entered[e.Cause]++
	for len(s.actions) > 0 {
		a := s.actions[0]
		if e.View < a.AtView || a.Node != 0 && a.Node != nd.NID || a.Node == 0 && !nd.Honest {
			break
		}
		s.actions = s.actions[1:]
		s.act(a, fmt.Sprintf(" (node %d entered view %d)", nd.NID, e.View))
	}
	if !nd.Honest {
		return
	}
	if _, ok := s.firstIn[e.View]; !ok {
		s.firstIn[e.View] = s.Now()
	}
	if e.View > s.maxView {
		s.maxView = e.View
		s.curPhase().ViewEnd = e.View
	}
}

// crashLeader crashes the leader of the highest view an honest up
// replica is in, and starts the view-change measurement.
func (s *Sim) crashLeader() {
	var v pm.View
	var asker *Node
	for _, nd := range s.nodes {
		if nd.Honest && s.net.Up(nd.NID) {
			if st := nd.Rep.State(); st.CurView >= v {
				v, asker = st.CurView, nd
			}
		}
	}
	if asker == nil {
		return
	}
	id := asker.Rep.Leader(v)
	for _, nd := range s.copies(id) {
		s.net.CrashNow(nd.NID)
	}
	s.crash = &CrashReport{Leader: id, View: v, At: s.Now(), measuring: true,
		FirstTimeout: -1, FirstTC: -1, FirstQC: -1, FirstCommit: -1, Hops: -1}
	s.beginPhase(fmt.Sprintf("leader %d crashed in view %d", id, v))
	if s.cfg.RecoverAfter > 0 {
		s.net.Schedule(s.Now()+s.cfg.RecoverAfter, 0, alarmRecoverLeader)
	}
}

func (s *Sim) tracef(format string, args ...any) {
	if s.cfg.Trace != nil {
		fmt.Fprintf(s.cfg.Trace, "%9.3fms ", float64(s.Now())/float64(time.Millisecond))
		fmt.Fprintf(s.cfg.Trace, format, args...)
		fmt.Fprintln(s.cfg.Trace)
	}
}

func (s *Sim) trace(nd *Node, effs []pm.Effect) {
	for _, e := range effs {
		switch e := e.(type) {
		case pm.Broadcast:
			if p, ok := e.Msg.(pm.Proposal); ok {
				s.tracef("node %d proposes %s on %v", nd.NID, ref(p.Block), p.Block.Justify)
			}
		case pm.QCFormed:
			s.tracef("node %d formed %v", nd.NID, e.QC)
		case pm.TCFormed:
			s.tracef("node %d formed %v", nd.NID, e.TC)
		case pm.ViewEntered:
			s.tracef("node %d enters view %d by %v", nd.NID, e.View, e.Cause)
		case pm.Commit:
			var bs []string
			for _, b := range e.Blocks {
				bs = append(bs, ref(b))
			}
			s.tracef("node %d commits %v", nd.NID, bs)
		case pm.Send:
			if v, ok := e.Msg.(pm.Vote); ok {
				h := v.Value.Subject
				s.tracef("node %d votes v%d/%x to %d", nd.NID, v.Slot.Number(), h[:4], e.To)
			}
		}
	}
}

// act applies an Action now.
func (s *Sim) act(a Action, why string) {
	var what []string
	if a.Final {
		s.actions = nil
	}
	if a.Partition {
		if err := s.net.SetPartition(a.Groups); err == nil {
			what = append(what, fmt.Sprintf("partition %v", a.Groups))
		}
	}
	for _, id := range a.Crash {
		s.net.CrashNow(id)
		what = append(what, fmt.Sprintf("crash %d", id))
	}
	for _, id := range a.Recover {
		s.net.ScheduleRecover(s.Now(), id)
		what = append(what, fmt.Sprintf("recover %d", id))
	}
	name := strings.Join(what, ", ") + why
	s.beginPhase(name)
	s.tracef("%s", name)
}
