// Package network is a seeded, deterministic discrete-event network for
// simulating distributed protocols written as step functions (BRIEF §4:
// drivers do the I/O). It is generic over the message type and knows
// nothing about any protocol; impl/sim/pacemaker drives the pacemaker
// replicas of spec/pacemaker.md over it.
//
// The model is partial synchrony (DLS, as assumed by PM-29): before the
// global stabilisation time GST links may drop messages, delay them up to
// their configured maximum, and be cut by partitions; from GST on nothing is
// dropped, partitions are ignored, and a message sent at time t arrives by
// max(t, GST) + Delta. Nodes can crash and recover at scheduled times (a
// crashed node keeps its state, loses the messages sent to it, and gets the
// timers that came due while it was down when it recovers).
//
// Determinism: there is no wall clock, no goroutine and no map iteration
// that affects results. Events are delivered in (time, seq) order, seq being
// the order in which they were scheduled, and every link draws its delays
// and drops from its own random stream seeded by (Config.Seed, from, to), so
// a run is a function of the seed and of the driver's calls.
package network

import (
	"container/heap"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"time"
)

// NodeID names a node. Drivers choose the IDs (AddNode); 0 is reserved for
// the driver's own alarms (Schedule).
type NodeID int

// Never is a time that never comes: GST = Never keeps the network
// asynchronous for the whole run.
const Never = time.Duration(math.MaxInt64)

// LinkConfig is how a directed link behaves before GST.
type LinkConfig struct {
	MinDelay, MaxDelay time.Duration // delay drawn uniformly from [MinDelay, MaxDelay]
	Drop               float64       // probability that a message is lost (before GST only)
}

// Config configures a network.
type Config struct {
	Seed uint64
	// Default applies to every link without its own SetLink.
	Default LinkConfig
	// GST is the global stabilisation time. Zero means the network is
	// synchronous from the start; Never means it never stabilises.
	GST time.Duration
	// Delta bounds delays after GST, and a message sent before GST arrives
	// by GST + Delta. 0: no bound but each link's own MaxDelay.
	Delta time.Duration
}

func (c Config) validate() error {
	if err := c.Default.validate(); err != nil {
		return err
	}
	if c.GST < 0 || c.Delta < 0 {
		return errors.New("network: negative GST or Delta")
	}
	return nil
}

func (l LinkConfig) validate() error {
	switch {
	case l.MinDelay < 0 || l.MaxDelay < l.MinDelay:
		return fmt.Errorf("network: need 0 ≤ min delay ≤ max delay, got %v, %v", l.MinDelay, l.MaxDelay)
	case l.Drop < 0 || l.Drop > 1 || math.IsNaN(l.Drop):
		return fmt.Errorf("network: drop probability %v outside [0, 1]", l.Drop)
	}
	return nil
}

// Kind says what an Event is.
type Kind uint8

const (
	Delivery  Kind = iota + 1 // Msg from From arrives at To
	Timer                     // To's timer Key fired (Tag as given to SetTimer)
	Alarm                     // a driver alarm (Schedule) for To (0 for the driver itself)
	Crash                     // To crashed
	Recover                   // To recovered
	Partition                 // the partition changed to Groups (nil: healed)
)

func (k Kind) String() string {
	switch k {
	case Delivery:
		return "delivery"
	case Timer:
		return "timer"
	case Alarm:
		return "alarm"
	case Crash:
		return "crash"
	case Recover:
		return "recover"
	case Partition:
		return "partition"
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// Event is what Next hands the driver.
type Event[M any] struct {
	Kind     Kind
	At       time.Duration
	From, To NodeID
	Msg      M
	SentAt   time.Duration // Delivery: when it was sent
	Key      int           // Timer: which of To's timers
	Tag      uint64        // Timer, Alarm: the driver's tag
	Groups   [][]NodeID    // Partition: the new groups (nil when healed)
}

// Stats counts what the network did.
type Stats struct {
	Sent, Delivered                  int
	DroppedRandom, DroppedPartition  int // lost on a lossy link / on a cut link (at send or delivery)
	DroppedCrashed                   int // sent by or to a crashed node
	TimersFired, TimersHeld          int // held: came due while the node was down, fired at recovery
	DelaySum                         time.Duration
	MaxDelay                         time.Duration
	PartitionChanges, Crashes, Recov int
}

// MeanDelay is the mean delay of delivered messages.
func (s Stats) MeanDelay() time.Duration {
	if s.Delivered == 0 {
		return 0
	}
	return s.DelaySum / time.Duration(s.Delivered)
}

type item[M any] struct {
	ev  Event[M]
	seq uint64
}

type queue[M any] []item[M]

func (q queue[M]) Len() int { return len(q) }
func (q queue[M]) Less(i, j int) bool {
	if q[i].ev.At != q[j].ev.At {
		return q[i].ev.At < q[j].ev.At
	}
	return q[i].seq < q[j].seq
}
func (q queue[M]) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *queue[M]) Push(x any)   { *q = append(*q, x.(item[M])) }
func (q *queue[M]) Pop() any {
	old := *q
	x := old[len(old)-1]
	*q = old[:len(old)-1]
	return x
}

type link struct {
	cfg LinkConfig
	rng *rand.Rand
}

type timerKey struct {
	node NodeID
	key  int
}

type node struct {
	up    bool
	group int // partition group; -1 isolated
}

// Network is the simulator. It is not safe for concurrent use (nothing
// here runs concurrently).
type Network[M any] struct {
	cfg    Config
	now    time.Duration
	seq    uint64
	q      queue[M]
	nodes  map[NodeID]*node
	order  []NodeID // nodes in AddNode order
	links  map[[2]NodeID]*link
	timers map[timerKey]uint64   // the live timer's seq; older ones are stale
	held   map[NodeID][]Event[M] // timers that came due while the node was down
	recov  []NodeID              // recovered nodes whose held timers are still to be returned
	parted bool                  // a partition is in force
	stats  Stats
}

// New returns an empty network.
func New[M any](cfg Config) (*Network[M], error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	return &Network[M]{
		cfg: cfg, nodes: map[NodeID]*node{}, links: map[[2]NodeID]*link{},
		timers: map[timerKey]uint64{}, held: map[NodeID][]Event[M]{},
	}, nil
}

// Config returns the configuration.
func (n *Network[M]) Config() Config { return n.cfg }

// Now is the current simulated time: the time of the last event Next
// returned.
func (n *Network[M]) Now() time.Duration { return n.now }

// Stats returns the counters.
func (n *Network[M]) Stats() Stats { return n.stats }

// Pending is the number of queued events (including stale timers).
func (n *Network[M]) Pending() int { return len(n.q) }

// AddNode adds a node, up and connected to everyone (unless a partition is
// in force, which isolates it).
func (n *Network[M]) AddNode(id NodeID) error {
	if id == 0 {
		return errors.New("network: node 0 is reserved for the driver")
	}
	if _, ok := n.nodes[id]; ok {
		return fmt.Errorf("network: node %d added twice", id)
	}
	g := 0
	if n.parted {
		g = -1
	}
	n.nodes[id] = &node{up: true, group: g}
	n.order = append(n.order, id)
	return nil
}

// Nodes lists the nodes in the order they were added.
func (n *Network[M]) Nodes() []NodeID { return slices.Clone(n.order) }

// SetLink overrides the pre-GST behaviour of the directed link from → to.
func (n *Network[M]) SetLink(from, to NodeID, lc LinkConfig) error {
	if err := lc.validate(); err != nil {
		return err
	}
	n.link(from, to).cfg = lc
	return nil
}

func (n *Network[M]) link(from, to NodeID) *link {
	k := [2]NodeID{from, to}
	if l, ok := n.links[k]; ok {
		return l
	}
	// One stream per directed link: a link's delays do not depend on the
	// traffic of other links.
	s2 := uint64(uint32(from))<<32 | uint64(uint32(to))
	l := &link{cfg: n.cfg.Default, rng: rand.New(rand.NewPCG(n.cfg.Seed, s2^0x9e3779b97f4a7c15))}
	n.links[k] = l
	return l
}

func (n *Network[M]) push(ev Event[M]) uint64 {
	n.seq++
	heap.Push(&n.q, item[M]{ev: ev, seq: n.seq})
	return n.seq
}

func (n *Network[M]) stable(t time.Duration) bool { return t >= n.cfg.GST }

// Up reports whether node id is up (unknown nodes are down).
func (n *Network[M]) Up(id NodeID) bool {
	nd, ok := n.nodes[id]
	return ok && nd.up
}

// Connected reports whether a message from a to b would pass the partition
// now (after GST always, for known nodes).
func (n *Network[M]) Connected(a, b NodeID) bool {
	na, ok1 := n.nodes[a]
	nb, ok2 := n.nodes[b]
	if !ok1 || !ok2 {
		return false
	}
	if n.stable(n.now) || a == b {
		return true
	}
	return na.group >= 0 && na.group == nb.group
}

// Send puts msg on the link from → to at the current time. It reports
// whether the message was put in flight (false: lost at once — random drop,
// cut link, a crashed sender, an unknown node). A message in flight can
// still be lost on delivery if the link is cut or the receiver is down.
func (n *Network[M]) Send(from, to NodeID, msg M) bool {
	n.stats.Sent++
	if !n.Up(from) || n.nodes[to] == nil {
		n.stats.DroppedCrashed++
		return false
	}
	if !n.Connected(from, to) {
		n.stats.DroppedPartition++
		return false
	}
	l := n.link(from, to)
	// Draw both numbers on every send, so a link's stream advances the same
	// way whatever the drop probability and the GST are.
	u := l.rng.Float64()
	span := l.cfg.MaxDelay - l.cfg.MinDelay
	d := l.cfg.MinDelay + time.Duration(l.rng.Int64N(int64(span)+1))
	if !n.stable(n.now) && u < l.cfg.Drop {
		n.stats.DroppedRandom++
		return false
	}
	if n.cfg.Delta > 0 && n.stable(n.now) && l.cfg.MaxDelay > n.cfg.Delta {
		// After GST every delay is at most Delta: map the draw onto
		// [min(MinDelay, Delta), Delta] rather than clamping, so delays stay spread.
		lo := min(l.cfg.MinDelay, n.cfg.Delta)
		if span == 0 {
			d = lo
		} else {
			d = lo + time.Duration(float64(d-l.cfg.MinDelay)*float64(n.cfg.Delta-lo)/float64(span))
		}
	}
	at := n.now + d
	// Partial synchrony: a message sent before GST arrives by GST + Delta.
	if n.cfg.Delta > 0 && n.cfg.GST != Never {
		bound := max(n.now, n.cfg.GST) + n.cfg.Delta
		if bound >= n.now && at > bound {
			at = bound
		}
	}
	n.push(Event[M]{Kind: Delivery, At: at, From: from, To: to, Msg: msg, SentAt: n.now})
	return true
}

// SetTimer makes Timer{To: id, Key: key, Tag: tag} fire after d, replacing
// id's previous timer with the same key.
func (n *Network[M]) SetTimer(id NodeID, key int, d time.Duration, tag uint64) {
	if d < 0 {
		d = 0
	}
	n.timers[timerKey{id, key}] = n.push(Event[M]{Kind: Timer, At: n.now + d, To: id, Key: key, Tag: tag})
}

// CancelTimer cancels id's timer with the given key.
func (n *Network[M]) CancelTimer(id NodeID, key int) { delete(n.timers, timerKey{id, key}) }

// Schedule makes Next return Alarm{To: id, Tag: tag} at time at (not
// before now). Drivers use it for their own scheduled actions; id 0 means
// the driver, other ids are delivered only while the node is up.
func (n *Network[M]) Schedule(at time.Duration, id NodeID, tag uint64) {
	n.push(Event[M]{Kind: Alarm, At: max(at, n.now), To: id, Tag: tag})
}

// SchedulePartition cuts the network into groups at time at: nodes talk
// only within their group; nodes in no group are isolated. Groups must be
// disjoint. A nil groups heals the network.
func (n *Network[M]) SchedulePartition(at time.Duration, groups [][]NodeID) error {
	if err := n.checkGroups(groups); err != nil {
		return err
	}
	n.push(Event[M]{Kind: Partition, At: max(at, n.now), Groups: cloneGroups(groups)})
	return nil
}

// ScheduleHeal is SchedulePartition(at, nil).
func (n *Network[M]) ScheduleHeal(at time.Duration) { _ = n.SchedulePartition(at, nil) }

// SetPartition applies a partition now (nil heals).
func (n *Network[M]) SetPartition(groups [][]NodeID) error {
	if err := n.checkGroups(groups); err != nil {
		return err
	}
	n.applyPartition(groups)
	return nil
}

func (n *Network[M]) checkGroups(groups [][]NodeID) error {
	seen := map[NodeID]bool{}
	for _, g := range groups {
		for _, id := range g {
			if seen[id] {
				return fmt.Errorf("network: node %d in two partition groups", id)
			}
			seen[id] = true
		}
	}
	return nil
}

func cloneGroups(g [][]NodeID) [][]NodeID {
	if g == nil {
		return nil
	}
	out := make([][]NodeID, len(g))
	for i := range g {
		out[i] = slices.Clone(g[i])
	}
	return out
}

func (n *Network[M]) applyPartition(groups [][]NodeID) {
	n.stats.PartitionChanges++
	if groups == nil {
		n.parted = false
		for _, nd := range n.nodes {
			nd.group = 0
		}
		return
	}
	n.parted = true
	for _, nd := range n.nodes {
		nd.group = -1
	}
	for i, g := range groups {
		for _, id := range g {
			if nd, ok := n.nodes[id]; ok {
				nd.group = i
			}
		}
	}
}

// ScheduleCrash crashes node id at time at.
func (n *Network[M]) ScheduleCrash(at time.Duration, id NodeID) {
	n.push(Event[M]{Kind: Crash, At: max(at, n.now), To: id})
}

// ScheduleRecover recovers node id at time at.
func (n *Network[M]) ScheduleRecover(at time.Duration, id NodeID) {
	n.push(Event[M]{Kind: Recover, At: max(at, n.now), To: id})
}

// CrashNow crashes node id at the current time.
func (n *Network[M]) CrashNow(id NodeID) {
	if nd, ok := n.nodes[id]; ok && nd.up {
		nd.up = false
		n.stats.Crashes++
	}
}

// Next returns the next event in (time, seq) order and advances the clock
// to it; false when nothing is left. Partition changes, crashes and
// recoveries are applied before they are returned; deliveries to crashed
// nodes and over cut links are dropped (not returned); timers of crashed
// nodes are held and returned, in order, right after their Recover event.
func (n *Network[M]) Next() (Event[M], bool) {
	for {
		if held := n.nextHeld(); held != nil {
			return *held, true
		}
		if len(n.q) == 0 {
			return Event[M]{}, false
		}
		it := heap.Pop(&n.q).(item[M])
		ev := it.ev
		n.now = ev.At
		switch ev.Kind {
		case Delivery:
			nd := n.nodes[ev.To]
			if !nd.up {
				n.stats.DroppedCrashed++
				continue
			}
			if !n.Connected(ev.From, ev.To) {
				n.stats.DroppedPartition++
				continue
			}
			n.stats.Delivered++
			d := ev.At - ev.SentAt
			n.stats.DelaySum += d
			n.stats.MaxDelay = max(n.stats.MaxDelay, d)
			return ev, true
		case Timer:
			k := timerKey{ev.To, ev.Key}
			if n.timers[k] != it.seq {
				continue // replaced or cancelled
			}
			delete(n.timers, k)
			if !n.nodes[ev.To].up {
				n.stats.TimersHeld++
				n.held[ev.To] = append(n.held[ev.To], ev)
				continue
			}
			n.stats.TimersFired++
			return ev, true
		case Alarm:
			if ev.To != 0 && !n.Up(ev.To) {
				continue
			}
			return ev, true
		case Partition:
			n.applyPartition(ev.Groups)
			return ev, true
		case Crash:
			nd, ok := n.nodes[ev.To]
			if !ok || !nd.up {
				continue
			}
			nd.up = false
			n.stats.Crashes++
			return ev, true
		case Recover:
			nd, ok := n.nodes[ev.To]
			if !ok || nd.up {
				continue
			}
			nd.up = true
			n.stats.Recov++
			n.recov = append(n.recov, ev.To)
			return ev, true
		}
	}
}

// nextHeld returns a held timer of a node that has just recovered, at the
// recovery time.
func (n *Network[M]) nextHeld() *Event[M] {
	for len(n.recov) > 0 {
		id := n.recov[0]
		h := n.held[id]
		if len(h) == 0 || !n.Up(id) {
			n.recov = n.recov[1:]
			continue
		}
		ev := h[0]
		n.held[id] = h[1:]
		if len(n.held[id]) == 0 {
			delete(n.held, id)
		}
		ev.At = n.now
		n.stats.TimersFired++
		return &ev
	}
	return nil
}
