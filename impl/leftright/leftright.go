// Package leftright is a generic left-right concurrency primitive after
// Ramalhete and Correia, "Left-Right: A Concurrency Control Technique with
// Wait-Free Population Oblivious Reads" (2015). The farmer's mempool and
// state store are wrapped in it so that the validator cores read them
// without ever waiting for the writer (spec/farmer.md, rules FARM-1..FARM-3).
//
// # Shape
//
// A left-right value holds two copies of a data structure T. Readers use one
// copy (the read side); the single writer mutates the other (the write side)
// and records each mutation in an operation log. Nothing the writer does is
// visible to readers until Publish, which swaps the sides in one atomic
// store, waits for the readers that may still be using the old read side to
// leave it, and replays the log onto it, so that both copies are equal
// again and the old read side becomes the new write side.
//
//	w := leftright.New[Accounts, SetBalance](Accounts{}, Accounts{})
//	r := w.NewReader()          // one Reader per reading goroutine
//	w.Append(SetBalance{k, v})  // invisible to r ...
//	w.Publish()                 // ... until here, all at once
//	r.Read(func(a *Accounts) { _ = (*a)[k] })
//
// # Read indicators: one epoch counter per reader
//
// The paper needs a read indicator per copy that tells the writer whether a
// reader might still be inside the old read side; it discusses a single
// counter, per-thread counters and striped counters, plus a version index
// that stops a stream of new readers from starving the writer. We use one
// epoch counter per Reader (the per-thread variant, as seeds/000 describes
// it: "read handles maintain an epoch counter"), each on its own cache line:
//
//   - Enter increments the reader's epoch (it becomes odd), then loads the
//     read-side index; Leave increments the epoch again (even).
//   - Publish stores the new read-side index, then loads every reader's
//     epoch; for each that is odd it waits until the epoch differs from the
//     value it loaded.
//
// Waiting for "changed" rather than "even" is what replaces the paper's
// version-index toggle: a reader that leaves and immediately re-enters has
// changed its epoch and, having loaded the index after the swap, is on the
// new side, so the writer never waits for a read that began after the swap
// and cannot be starved. Per-reader counters rather than stripes mean no two
// readers ever write the same cache line, so reads scale with cores; the
// price is that the writer scans every registered Reader on each Publish
// (O(readers), on the writer's side only) and that a Reader belongs to one
// goroutine at a time (misuse is detected, see Reader).
//
// Reads are wait-free population oblivious: Enter is one atomic add and one
// atomic load of the shared index, Leave one atomic add, with no loop and no
// dependence on the number of readers or on anything the writer does
// (spec: FARM-1). (Each also loads its own epoch first, to catch misuse.)
//
// # Memory-ordering argument
//
// Go's sync/atomic operations are sequentially consistent (the Go memory
// model: they behave as if executed in one total order, with the semantics
// of C++'s sequentially consistent atomics): that order agrees with each
// goroutine's program order and with happens-before, and a load returns the
// latest store to its variable in that order. Let Publish's store of the new side index be S and a
// reader's Enter be A (epoch add) followed by L (index load).
//
//  1. Safety of the replay. Suppose a reader uses the old side, i.e. L
//     precedes S in the total order. Then A precedes S, which precedes the
//     writer's load E of that reader's epoch (program order in Publish). So
//     E sees the odd value A wrote, or a later one. If it sees the same odd
//     value the writer waits for a change, which only the reader's Leave
//     can produce (for a Reader used as documented); if it sees a later value the Leave already happened. In
//     both cases the reader's Leave precedes the writer's first replay
//     write, and since an atomic load that observes a store synchronises
//     with it, all of the reader's plain reads of the old side happen before
//     the writer's plain writes to it: no data race, no torn read.
//  2. Readers registered after the writer took its snapshot of the reader
//     list register with an atomic store that follows that snapshot load,
//     hence follows S; their first L follows S and sees the new side.
//  3. Visibility. The writer's plain writes to the write side (Append)
//     precede S in program order; a reader whose L observes S therefore
//     sees all of them (S synchronises with L). A reader sees either none
//     of the writes since the previous Publish or all of them (FARM-3).
//     The copy a load of the index selects holds exactly the prefix of the
//     publish whose store it read: the writer touches that copy again only
//     after the next swap and after this reader has left (point 1). A
//     reader's successive loads are ordered in the total order, so each
//     reads the same or a later store than the one before: its reads see
//     non-decreasing published prefixes of the log (FARM-2).
//
// Publish is linearizable at S, and a read at its L; the porcupine check in
// this package's tests verifies exactly that model against real goroutines.
//
// # How the writer waits
//
// The wait is for reads already under way, so it is normally a few hundred
// nanoseconds: the writer spins briefly, then yields with runtime.Gosched
// (the reader may be a goroutine waiting for this P), then sleeps with an
// exponential backoff capped at 50µs. The sleep matters when there are more
// runnable threads than cores: a reader whose thread the OS has descheduled
// inside a read can only finish if the writer gives the CPU back, which
// Gosched does not do. Readers never wait for any of this.
//
// # Single writer
//
// The algorithm assumes one writer. Writer serialises its methods with a
// sync.Mutex, so a *Writer may be shared by several goroutines: operations
// are applied in the order the mutex admits them. The mutex is never taken
// by readers.
//
// # Contract for operations
//
// Every operation is applied twice, once to each copy, so Apply must be
// deterministic (no clocks, randomness or map-iteration order affecting the
// result), must not panic, and the two copies must not share mutable memory
// (New's left and right must be independent values; NewCloned's clone must
// copy deeply). Values an operation stores into T (for example a pointer to
// a transaction) end up in both copies and must not be mutated afterwards.
package leftright

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// cacheLine is the padding unit that keeps independently written words on
// separate cache lines (128 covers adjacent-line prefetching on x86 and the
// 128-byte lines of some arm64 parts).
const cacheLine = 128

// Operation is one logged mutation of T. It is applied to the write side on
// Append and replayed onto the other copy after Publish.
type Operation[T any] interface {
	Apply(*T)
}

// Func adapts a function to Operation. Each Func stored in the log keeps its
// closure alive until it has been replayed.
type Func[T any] func(*T)

// Apply calls f.
func (f Func[T]) Apply(t *T) { f(t) }

// slot is one reader's epoch counter, alone on its cache line so that
// readers never contend with each other.
type slot struct {
	epoch atomic.Uint64 // odd while the reader is inside a read
	_     [cacheLine - 8]byte
}

// copyOf pads one copy of T so that the writer's writes to the write side do
// not share a cache line with readers' reads of the read side when T is
// small.
type copyOf[T any] struct {
	v T
	_ [cacheLine]byte
}

// core is the state shared by the writer and the readers.
type core[T any] struct {
	_      [cacheLine]byte
	read   atomic.Uint32 // index of the read side; read by every Enter
	_      [cacheLine - 4]byte
	copies [2]copyOf[T]

	regMu sync.Mutex              // serialises reader registration
	slots atomic.Pointer[[]*slot] // copy-on-write list of registered readers
}

// plantedBug selects a deliberately broken behaviour. It exists only so that
// the tests can show that their checks detect real protocol errors; it is
// always noBug outside this package's tests.
type plantedBug uint8

const (
	noBug plantedBug = iota
	// bugPublishOnAppend makes every Append publish at once: readers see
	// writes the caller has not published (violates FARM-2 and FARM-3).
	bugPublishOnAppend
	// bugNoWait replays onto the old read side without waiting for its
	// readers to leave: readers can observe a copy mid-replay (torn state).
	bugNoWait
)

// Writer is the single writer of a left-right value. Its methods are safe
// for concurrent use (a mutex serialises them) but must not be called from
// inside an Apply or from inside the callback of Writer.Read.
type Writer[T any, O Operation[T]] struct {
	mu        sync.Mutex
	c         *core[T]
	log       []O    // operations applied to the write side since the last Publish
	published uint64 // number of operations visible to readers
	waits     uint64 // publishes that had to wait for a reader (test coverage)
	bug       plantedBug
}

// New returns the writer of a left-right value whose two copies start as
// left and right. They must be equal in content and share no mutable memory
// (two empty maps, not the same map twice).
func New[T any, O Operation[T]](left, right T) *Writer[T, O] {
	c := &core[T]{}
	c.copies[0].v = left
	c.copies[1].v = right
	none := []*slot{}
	c.slots.Store(&none)
	return &Writer[T, O]{c: c}
}

// NewCloned is New with the second copy made by clone, which must return a
// deep copy of its argument.
func NewCloned[T any, O Operation[T]](initial T, clone func(*T) T) *Writer[T, O] {
	return New[T, O](initial, clone(&initial))
}

// writeSide is the copy readers are not using; only the writer touches it.
func (w *Writer[T, O]) writeSide() *T {
	return &w.c.copies[1-w.c.read.Load()].v
}

// Append applies ops to the write side and logs them. Readers do not see
// them until the next Publish (spec: FARM-2).
func (w *Writer[T, O]) Append(ops ...O) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, op := range ops {
		op.Apply(w.writeSide())
		w.log = append(w.log, op)
		if w.bug == bugPublishOnAppend {
			w.publishLocked()
		}
	}
}

// Publish makes every operation appended so far visible to readers at once
// (spec: FARM-3). It waits, without blocking any reader, until the readers
// that were using the old read side have left it, then replays the log onto
// it. With nothing appended it returns at once.
func (w *Writer[T, O]) Publish() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.publishLocked()
}

func (w *Writer[T, O]) publishLocked() {
	if len(w.log) == 0 {
		return
	}
	old := w.c.read.Load()
	// The linearization point: from here every new read sees the log.
	w.c.read.Store(1 - old)
	w.published += uint64(len(w.log))
	if w.bug != bugNoWait {
		w.waitForReaders()
	}
	stale := &w.c.copies[old].v
	for _, op := range w.log {
		op.Apply(stale)
	}
	clear(w.log) // drop references so replayed operations can be collected
	w.log = w.log[:0]
}

// waitForReaders returns once no reader can still be inside the copy that
// was the read side before the last swap. It must run after that swap.
func (w *Writer[T, O]) waitForReaders() {
	for _, s := range *w.c.slots.Load() {
		e := s.epoch.Load()
		if e&1 == 0 {
			continue // not reading; a later Enter will see the new side
		}
		// The reader entered before our load; it may be on the old side.
		// Any change of its epoch means that read has ended.
		w.waits++
		backoff := time.Microsecond
		for spins := 0; s.epoch.Load() == e; spins++ {
			switch {
			case spins < 32:
				// Most reads end within a few hundred nanoseconds.
			case spins < 64:
				// The reader may be a goroutine waiting for this P.
				runtime.Gosched()
			default:
				// The reader's thread is likely descheduled by the OS
				// (more runnable threads than cores). Gosched would keep
				// this thread on the CPU; sleeping gives the CPU back.
				time.Sleep(backoff)
				backoff = min(2*backoff, maxBackoff)
			}
		}
	}
}

// maxBackoff caps the writer's sleep between checks of a reader that is
// taking long, bounding the extra publish latency once it has left.
const maxBackoff = 50 * time.Microsecond

// Pending is the number of operations appended but not yet published.
func (w *Writer[T, O]) Pending() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.log)
}

// Published is the number of operations published so far: readers see the
// first Published() operations ever appended, in order.
func (w *Writer[T, O]) Published() uint64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.published
}

// Read calls f with the write side, which includes unpublished operations.
// f must not retain the pointer or call the Writer's methods.
func (w *Writer[T, O]) Read(f func(*T)) {
	w.mu.Lock()
	defer w.mu.Unlock()
	f(w.writeSide())
}

// NewReader registers and returns a new read handle. It is safe to call
// from any goroutine at any time.
func (w *Writer[T, O]) NewReader() *Reader[T] { return w.c.newReader() }

func (c *core[T]) newReader() *Reader[T] {
	s := new(slot)
	c.regMu.Lock()
	defer c.regMu.Unlock()
	old := *c.slots.Load()
	next := make([]*slot, len(old), len(old)+1)
	copy(next, old)
	next = append(next, s)
	c.slots.Store(&next)
	return &Reader[T]{c: c, s: s}
}

// Reader is a read handle. A Reader must be used by one goroutine at a time
// and its reads must not nest; give each reading goroutine its own Reader
// (Clone). Both kinds of misuse are detected and panic, because either
// would let the writer overwrite a copy that is still being read.
type Reader[T any] struct {
	c *core[T]
	s *slot // nil once closed
}

const (
	msgMisuse  = "leftright: Reader entered twice at once (shared between goroutines or nested reads); use one Reader per goroutine"
	msgLeave   = "leftright: Leave without a matching Enter"
	msgClosed  = "leftright: Reader used after Close"
	msgCloseIn = "leftright: Reader closed inside a read"
)

// Enter starts a read and returns the read side, valid until Leave. Enter
// never waits (spec: FARM-1). The pointer must not be used after Leave and
// the data must not be modified.
func (r *Reader[T]) Enter() *T {
	if r.s == nil {
		panic(msgClosed)
	}
	// A nested read is caught before the epoch changes, so the writer never
	// sees the outer read as finished.
	if r.s.epoch.Load()&1 != 0 {
		panic(msgMisuse)
	}
	if r.s.epoch.Add(1)&1 == 0 {
		// Another goroutine entered concurrently: undo and report.
		r.s.epoch.Add(^uint64(0))
		panic(msgMisuse)
	}
	return &r.c.copies[r.c.read.Load()].v
}

// Leave ends the read started by Enter.
func (r *Reader[T]) Leave() {
	if r.s == nil {
		panic(msgClosed)
	}
	if r.s.epoch.Load()&1 == 0 {
		panic(msgLeave)
	}
	if r.s.epoch.Add(1)&1 != 0 {
		r.s.epoch.Add(^uint64(0))
		panic(msgLeave)
	}
}

// Read calls f with the read side. f must not retain the pointer or modify
// the data. If f panics the read still ends.
func (r *Reader[T]) Read(f func(*T)) {
	t := r.Enter()
	defer r.Leave()
	f(t)
}

// Clone registers a new Reader on the same value, for another goroutine. It
// is safe to call concurrently with reads on r.
func (r *Reader[T]) Clone() *Reader[T] {
	if r.s == nil {
		panic(msgClosed)
	}
	return r.c.newReader()
}

// Close unregisters the Reader so that Publish no longer scans it. Closing
// a closed Reader does nothing.
func (r *Reader[T]) Close() {
	if r.s == nil {
		return
	}
	if r.s.epoch.Load()&1 != 0 {
		panic(msgCloseIn)
	}
	c := r.c
	c.regMu.Lock()
	old := *c.slots.Load()
	next := make([]*slot, 0, len(old))
	for _, s := range old {
		if s != r.s {
			next = append(next, s)
		}
	}
	c.slots.Store(&next)
	c.regMu.Unlock()
	r.s = nil
}
