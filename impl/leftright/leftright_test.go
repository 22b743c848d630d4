package leftright

import (
	"fmt"
	"maps"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"

	"pgregory.net/rapid"
)

// kv is the map-based T used by the unit tests.
type kv map[uint64]uint64

type kvOp struct {
	kind byte // 's' set, 'd' delete, 'a' add
	k, v uint64
}

func (o kvOp) Apply(m *kv) {
	switch o.kind {
	case 's':
		(*m)[o.k] = o.v
	case 'd':
		delete(*m, o.k)
	case 'a':
		(*m)[o.k] += o.v
	}
}

func newKV() *Writer[kv, kvOp] { return New[kv, kvOp](kv{}, kv{}) }

func snapshot(r *Reader[kv]) kv {
	var out kv
	r.Read(func(m *kv) { out = maps.Clone(*m) })
	return out
}

func writerView(w *Writer[kv, kvOp]) kv {
	var out kv
	w.Read(func(m *kv) { out = maps.Clone(*m) })
	return out
}

// TestPublishVisibility: appended operations are invisible to readers until
// Publish and then all visible at once; the writer sees its own writes.
// spec: FARM-2, FARM-3
func TestPublishVisibility(t *testing.T) {
	w := newKV()
	r := w.NewReader()
	w.Append(kvOp{'s', 1, 10}, kvOp{'s', 2, 20})
	w.Append(kvOp{'a', 1, 5})
	if got := snapshot(r); len(got) != 0 {
		t.Fatalf("reader sees unpublished writes: %v", got)
	}
	if got, want := writerView(w), (kv{1: 15, 2: 20}); !maps.Equal(got, want) {
		t.Fatalf("writer view %v, want %v", got, want)
	}
	if w.Pending() != 3 || w.Published() != 0 {
		t.Fatalf("pending %d published %d, want 3 and 0", w.Pending(), w.Published())
	}
	w.Publish()
	if got, want := snapshot(r), (kv{1: 15, 2: 20}); !maps.Equal(got, want) {
		t.Fatalf("after publish reader sees %v, want %v", got, want)
	}
	if w.Pending() != 0 || w.Published() != 3 {
		t.Fatalf("pending %d published %d, want 0 and 3", w.Pending(), w.Published())
	}
	// The replay brought the other copy up to date: the next writes go on
	// top of the full state, and both copies agree after the next publish.
	w.Append(kvOp{'d', 2, 0})
	if got := snapshot(r); !maps.Equal(got, kv{1: 15, 2: 20}) {
		t.Fatalf("reader sees unpublished delete: %v", got)
	}
	w.Publish()
	if got := snapshot(r); !maps.Equal(got, kv{1: 15}) {
		t.Fatalf("after second publish reader sees %v", got)
	}
	if !maps.Equal(w.c.copies[0].v, w.c.copies[1].v) {
		t.Fatalf("copies diverged: %v vs %v", w.c.copies[0].v, w.c.copies[1].v)
	}
	// An empty publish changes nothing.
	side := w.c.read.Load()
	w.Publish()
	if w.c.read.Load() != side {
		t.Fatal("empty Publish swapped the sides")
	}
}

func TestNewClonedAndFunc(t *testing.T) {
	w := NewCloned[kv, Func[kv]](kv{7: 1}, func(m *kv) kv { return maps.Clone(*m) })
	r := w.NewReader()
	w.Append(func(m *kv) { (*m)[8] = 2 })
	w.Publish()
	if got := snapshot(r); !maps.Equal(got, kv{7: 1, 8: 2}) {
		t.Fatalf("got %v", got)
	}
	w.Append(func(m *kv) { delete(*m, 7) })
	w.Publish()
	if !maps.Equal(w.c.copies[0].v, w.c.copies[1].v) {
		t.Fatalf("copies diverged: %v vs %v", w.c.copies[0].v, w.c.copies[1].v)
	}
}

func mustPanic(t *testing.T, want string, f func()) {
	t.Helper()
	defer func() {
		t.Helper()
		if got := recover(); got != want {
			t.Fatalf("panic %v, want %q", got, want)
		}
	}()
	f()
}

// TestReaderMisuse: the misuses that would let the writer overwrite a copy
// being read are detected, and the handle stays usable after a detected
// nested read.
func TestReaderMisuse(t *testing.T) {
	w := newKV()
	r := w.NewReader()
	mustPanic(t, msgMisuse, func() {
		r.Read(func(*kv) { r.Read(func(*kv) {}) })
	})
	if e := r.s.epoch.Load(); e&1 != 0 {
		t.Fatalf("epoch %d odd after recovered nested read", e)
	}
	// A caught nested read must not make the outer read look finished to
	// the writer, even if the caller recovers and carries on reading.
	r.Read(func(*kv) {
		mustPanic(t, msgMisuse, func() { r.Read(func(*kv) {}) })
		if e := r.s.epoch.Load(); e&1 == 0 {
			t.Fatalf("epoch %d even inside the outer read", e)
		}
	})
	mustPanic(t, msgLeave, r.Leave)
	if e := r.s.epoch.Load(); e&1 != 0 {
		t.Fatalf("epoch %d odd after recovered Leave", e)
	}
	r.Enter()
	mustPanic(t, msgCloseIn, r.Close)
	r.Leave()
	r.Close()
	r.Close() // idempotent
	mustPanic(t, msgClosed, func() { r.Read(func(*kv) {}) })
	mustPanic(t, msgClosed, func() { r.Clone() })
	if n := len(*w.c.slots.Load()); n != 0 {
		t.Fatalf("%d readers registered after Close", n)
	}
	// A panic inside the callback still ends the read, so the writer is not
	// blocked forever.
	r2 := w.NewReader()
	mustPanic(t, "boom", func() { r2.Read(func(*kv) { panic("boom") }) })
	w.Append(kvOp{'s', 1, 1})
	w.Publish() // would hang if r2's epoch were left odd
}

// TestCloneAndRegistry: clones register independently, Close removes only
// the closed handle.
func TestCloneAndRegistry(t *testing.T) {
	w := newKV()
	r1 := w.NewReader()
	r2 := r1.Clone()
	r3 := r2.Clone()
	if n := len(*w.c.slots.Load()); n != 3 {
		t.Fatalf("%d readers registered, want 3", n)
	}
	r2.Close()
	if n := len(*w.c.slots.Load()); n != 2 {
		t.Fatalf("%d readers registered, want 2", n)
	}
	w.Append(kvOp{'s', 3, 3})
	w.Publish()
	for _, r := range []*Reader[kv]{r1, r3} {
		if got := snapshot(r); !maps.Equal(got, kv{3: 3}) {
			t.Fatalf("got %v", got)
		}
	}
}

// waitSwapped spins until the writer has swapped away from side old. It
// uses no clock: the writer goroutine is running Publish, so the swap
// happens without any help from the caller.
func waitSwapped[T any, O Operation[T]](w *Writer[T, O], old uint32) {
	for w.c.read.Load() == old {
		runtime.Gosched()
	}
}

// TestReadersNeverBlockOnWriter: reads complete while the writer is stuck
// inside Append (holding its mutex) and while it is stuck in Publish
// waiting for another reader. If a read waited for the writer either case
// would deadlock, which `go test` reports as a failure. spec: FARM-1
func TestReadersNeverBlockOnWriter(t *testing.T) {
	w := New[kv, Func[kv]](kv{}, kv{})
	r1, r2 := w.NewReader(), w.NewReader()

	// 1. Writer blocked inside an operation's Apply, holding the mutex.
	inApply, release := make(chan struct{}), make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		first := true // the operation is replayed later; block only once
		w.Append(func(m *kv) {
			if first {
				first = false
				close(inApply)
				<-release
			}
			(*m)[1] = 1
		})
	}()
	<-inApply
	for range 1000 {
		if got := snapshot(r1); len(got) != 0 {
			t.Fatalf("reader sees %v during Append", got)
		}
	}
	close(release)
	<-done

	// 2. Writer blocked in Publish, waiting for r1 to leave the old side.
	old := w.c.read.Load()
	held := r1.Enter()
	published := make(chan struct{})
	go func() { w.Publish(); close(published) }()
	waitSwapped(w, old)
	for range 1000 {
		if got := snapshot(r2); !maps.Equal(got, kv{1: 1}) {
			t.Fatalf("new reader sees %v while writer waits, want the published state", got)
		}
	}
	// r1 is still on the old copy, which the writer must not have touched.
	if len(*held) != 0 {
		t.Fatalf("writer replayed onto a copy that is still being read: %v", *held)
	}
	select {
	case <-published:
		t.Fatal("Publish returned while a reader was still inside the old side")
	default:
	}
	r1.Leave()
	<-published
	if got := snapshot(r1); !maps.Equal(got, kv{1: 1}) {
		t.Fatalf("r1 sees %v after publish", got)
	}
}

// TestWriterNotStarved: readers that keep re-entering do not stop Publish
// from completing (the epoch only has to change, not to be seen even).
func TestWriterNotStarved(t *testing.T) {
	w := newKV()
	var stop atomic.Bool
	var wg sync.WaitGroup
	for range 4 {
		r := w.NewReader()
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer r.Close()
			for !stop.Load() {
				r.Read(func(m *kv) { _ = (*m)[1] })
			}
		}()
	}
	for i := range uint64(100) {
		w.Append(kvOp{'s', 1, i})
		w.Publish()
	}
	stop.Store(true)
	wg.Wait()
}

// TestSequentialModel is a rapid state-machine property: any sequence of
// appends, publishes, reads through several handles, clones and closes
// leaves every reader seeing exactly the published prefix of the log and
// the writer seeing all of it. spec: FARM-2, FARM-3
func TestSequentialModel(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		w := newKV()
		readers := []*Reader[kv]{w.NewReader()}
		var log []kvOp
		published := 0
		apply := func(n int) kv {
			m := kv{}
			for _, op := range log[:n] {
				op.Apply(&m)
			}
			return m
		}
		t.Repeat(map[string]func(*rapid.T){
			"append": func(t *rapid.T) {
				ops := rapid.SliceOfN(rapid.Custom(func(t *rapid.T) kvOp {
					return kvOp{
						kind: rapid.SampledFrom([]byte{'s', 'd', 'a'}).Draw(t, "kind"),
						k:    rapid.Uint64Range(0, 7).Draw(t, "k"),
						v:    rapid.Uint64Range(0, 100).Draw(t, "v"),
					}
				}), 0, 4).Draw(t, "ops")
				w.Append(ops...)
				log = append(log, ops...)
			},
			"publish": func(t *rapid.T) {
				w.Publish()
				published = len(log)
			},
			"clone": func(t *rapid.T) {
				i := rapid.IntRange(0, len(readers)-1).Draw(t, "reader")
				readers = append(readers, readers[i].Clone())
			},
			"close": func(t *rapid.T) {
				if len(readers) == 1 {
					t.Skip("keep one reader")
				}
				i := rapid.IntRange(0, len(readers)-1).Draw(t, "reader")
				readers[i].Close()
				readers = append(readers[:i], readers[i+1:]...)
			},
			"": func(t *rapid.T) {
				want := apply(published)
				for i, r := range readers {
					if got := snapshot(r); !maps.Equal(got, want) {
						t.Fatalf("reader %d sees %v, want published prefix %d: %v", i, got, published, want)
					}
				}
				if got, want := writerView(w), apply(len(log)); !maps.Equal(got, want) {
					t.Fatalf("writer sees %v, want %v", got, want)
				}
				if w.Pending() != len(log)-published || w.Published() != uint64(published) {
					t.Fatalf("pending %d published %d, want %d and %d", w.Pending(), w.Published(), len(log)-published, published)
				}
			},
		})
	})
}

func Example() {
	type accounts map[uint64]uint64
	w := New[accounts, Func[accounts]](accounts{}, accounts{})
	r := w.NewReader() // one per reading goroutine
	defer r.Close()

	w.Append(func(a *accounts) { (*a)[1] = 100 })
	r.Read(func(a *accounts) { fmt.Println("before publish:", (*a)[1]) })
	w.Publish()
	r.Read(func(a *accounts) { fmt.Println("after publish:", (*a)[1]) })
	// Output:
	// before publish: 0
	// after publish: 100
}
