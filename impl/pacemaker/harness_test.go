package pacemaker

import (
	"bytes"
	"container/heap"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/fhbft/fhbft/impl/certification"
	"github.com/fhbft/fhbft/impl/crypto/threshold"
)

type fixture struct {
	roster certification.Roster
	shares []threshold.SecretShare
}

var (
	fixturesMu sync.Mutex
	fixtures   = map[[2]int]fixture{}
)

// newFixture deals keys once per (n, q), deterministically from (n, q).
func newFixture(t testing.TB, n, q int) fixture {
	t.Helper()
	fixturesMu.Lock()
	defer fixturesMu.Unlock()
	if f, ok := fixtures[[2]int{n, q}]; ok {
		return f
	}
	gk, shares, err := threshold.TrustedDealerForTesting(n, q, rand.NewChaCha8([32]byte{'p', 'm', byte(n), byte(q)}))
	if err != nil {
		t.Fatal(err)
	}
	f := fixture{roster: certification.Roster{Quorum: 7, Epoch: 1, Key: gk}, shares: shares}
	fixtures[[2]int{n, q}] = f
	return f
}

func (f fixture) replica(t testing.TB, cfg Config, id ReplicaID) *Replica {
	t.Helper()
	r, err := New(cfg, id, f.shares[id-1], f.roster)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// qcFor signs a vote of view v for block h by the first q members and
// combines them, as an honest next leader would.
func (f fixture) qcFor(t testing.TB, v View, h Hash) QC {
	t.Helper()
	return QC{Cert: f.certify(t, VoteStatement(f.roster, v, h))}
}

func (f fixture) tcFor(t testing.TB, v View) TC {
	t.Helper()
	return TC{Cert: f.certify(t, ComplaintStatement(f.roster, v))}
}

func (f fixture) certify(t testing.TB, st certification.Statement) certification.Certificate {
	t.Helper()
	var first []int
	for i := range f.roster.Q() {
		first = append(first, i)
	}
	return f.certifyBy(t, st, first)
}

// certifyBy combines the votes of the given members (0-based share indices).
func (f fixture) certifyBy(t testing.TB, st certification.Statement, members []int) certification.Certificate {
	t.Helper()
	c, err := certification.NewCollector(f.roster, certification.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, i := range members {
		if eff := c.Step(certification.VoteReceived{Vote: certification.SignVote(f.shares[i], st)}); eff.Certificate != nil {
			return *eff.Certificate
		}
	}
	t.Fatal("no certificate")
	return certification.Certificate{}
}

// --- a tiny deterministic network for tests -------------------------------

type item struct {
	at    time.Duration
	seq   int
	to    ReplicaID
	ev    Event
	timer bool
}

type itemHeap []item

func (h itemHeap) Len() int { return len(h) }
func (h itemHeap) Less(i, j int) bool {
	if h[i].at != h[j].at {
		return h[i].at < h[j].at
	}
	return h[i].seq < h[j].seq
}
func (h itemHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *itemHeap) Push(x any)   { *h = append(*h, x.(item)) }
func (h *itemHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// cluster delivers effects between replicas in time order: messages after
// a fixed delay, timers after their duration. Every message goes through
// its wire encoding.
type cluster struct {
	t        testing.TB
	f        fixture
	reps     []*Replica
	queue    itemHeap
	seq      int
	now      time.Duration
	delay    time.Duration
	timerSeq map[ReplicaID]int
	down     map[ReplicaID]bool
	// drop, if set, loses a message.
	drop func(from, to ReplicaID, m Message) bool
	// byz, if set, replaces a replica's effects (Byzantine behaviour); it
	// returns the deliveries to make instead.
	byz      func(c *cluster, from ReplicaID, e Effect) (handled bool)
	commits  map[ReplicaID][]Block
	cmds     map[ReplicaID][]Command
	qcs, tcs int
	evidence int
	entered  map[Cause]int
	rejected map[Reason]int
	steps    int
}

func newCluster(t testing.TB, n, q int, cfg Config) *cluster {
	f := newFixture(t, n, q)
	c := &cluster{
		t: t, f: f, delay: time.Millisecond,
		timerSeq: map[ReplicaID]int{}, down: map[ReplicaID]bool{},
		commits: map[ReplicaID][]Block{}, cmds: map[ReplicaID][]Command{},
		entered: map[Cause]int{}, rejected: map[Reason]int{},
	}
	for i := 1; i <= n; i++ {
		c.reps = append(c.reps, f.replica(t, cfg, ReplicaID(i)))
	}
	return c
}

func (c *cluster) rep(id ReplicaID) *Replica { return c.reps[id-1] }

func (c *cluster) push(at time.Duration, to ReplicaID, ev Event, timer bool) int {
	c.seq++
	heap.Push(&c.queue, item{at: at, seq: c.seq, to: to, ev: ev, timer: timer})
	return c.seq
}

// sendMsg puts m on the wire from → to, through its encoding.
func (c *cluster) sendMsg(from, to ReplicaID, m Message) {
	if c.drop != nil && c.drop(from, to, m) {
		return
	}
	enc, err := m.MarshalBinary()
	if err != nil {
		c.t.Fatalf("encode %T: %v", m, err)
	}
	dec, err := DecodeMessage(enc)
	if err != nil {
		c.t.Fatalf("decode %T: %v", m, err)
	}
	if re, _ := dec.MarshalBinary(); !bytes.Equal(re, enc) {
		c.t.Fatalf("%T: encoding not canonical", m)
	}
	c.push(c.now+c.delay, to, Deliver(from, dec), false)
}

func (c *cluster) start() {
	for _, r := range c.reps {
		if !c.down[r.ID()] {
			c.stepOne(r.ID(), Start{})
		}
	}
}

func (c *cluster) stepOne(id ReplicaID, ev Event) {
	r := c.rep(id)
	r.Step(Tick{Now: c.now})
	c.apply(id, r.Step(ev))
}

func (c *cluster) apply(from ReplicaID, effs []Effect) {
	for _, e := range effs {
		if c.byz != nil && c.byz(c, from, e) {
			continue
		}
		switch e := e.(type) {
		case Send:
			c.sendMsg(from, e.To, e.Msg)
		case Broadcast:
			for _, r := range c.reps {
				if r.ID() != from {
					c.sendMsg(from, r.ID(), e.Msg)
				}
			}
		case SetTimer:
			c.timerSeq[from] = c.push(c.now+e.Duration, from, TimerFired{View: e.View}, true)
		case Commit:
			c.commits[from] = append(c.commits[from], e.Blocks...)
			c.cmds[from] = append(c.cmds[from], e.Cmds...)
		case QCFormed:
			c.qcs++
		case TCFormed:
			c.tcs++
		case EvidenceFound:
			c.evidence++
		case ViewEntered:
			c.entered[e.Cause]++
		case Rejected:
			c.rejected[e.Reason]++
		}
	}
}

// run delivers events until done() or maxSteps deliveries.
func (c *cluster) run(maxSteps int, done func() bool) {
	for c.queue.Len() > 0 && !done() && c.steps < maxSteps {
		it := heap.Pop(&c.queue).(item)
		if it.timer && c.timerSeq[it.to] != it.seq {
			continue // replaced timer
		}
		c.now = it.at
		if c.down[it.to] {
			continue
		}
		c.steps++
		c.stepOne(it.to, it.ev)
		c.checkSafety()
	}
}

// checkSafety: committed chains of all replicas are prefixes of one another
// (PM-23) and views never decrease along a chain.
func (c *cluster) checkSafety() {
	for i := range c.reps {
		a := c.reps[i].State().Committed
		for k := 1; k < len(a); k++ {
			if a[k].View <= a[k-1].View {
				c.t.Fatalf("replica %d committed views out of order: %v", i+1, a)
			}
		}
		for j := i + 1; j < len(c.reps); j++ {
			b := c.reps[j].State().Committed
			for k := range min(len(a), len(b)) {
				if a[k].Hash != b[k].Hash {
					c.t.Fatalf("conflicting commits: replica %d has %v, replica %d has %v at position %d", i+1, a[k], j+1, b[k], k)
				}
			}
		}
	}
}

func (c *cluster) minCommitted(ids ...ReplicaID) int {
	m := -1
	for _, r := range c.reps {
		if len(ids) > 0 && !containsID(ids, r.ID()) {
			continue
		}
		if n := len(r.State().Committed); m < 0 || n < m {
			m = n
		}
	}
	return m
}

func containsID(ids []ReplicaID, id ReplicaID) bool {
	for _, x := range ids {
		if x == id {
			return true
		}
	}
	return false
}

func (c *cluster) summary() string {
	s := fmt.Sprintf("steps %d, now %v, qcs %d, tcs %d, entered %v, rejected %v;", c.steps, c.now, c.qcs, c.tcs, c.entered, c.rejected)
	for _, r := range c.reps {
		st := r.State()
		s += fmt.Sprintf(" [r%d view %d committed %d lock %v]", st.ID, st.CurView, len(st.Committed), st.BLock)
	}
	return s
}
