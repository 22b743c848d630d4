package leftright

import (
	"fmt"
	"maps"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Benchmarks: a map of 100k account balances read by 1..max(2, GOMAXPROCS)
// reader goroutines while one writer updates it, with left-right and its
// baselines (sync.RWMutex, sync.Map, an atomic.Pointer copy-on-write map)
// in the same run; and the cost of a write plus its share of a Publish.
//
//	go test -run '^$' -bench . ./impl/leftright

const benchAccounts = 100_000

type accounts map[uint64]uint64

type setBalance struct{ k, v uint64 }

func (o setBalance) Apply(a *accounts) { (*a)[o.k] = o.v }

func newAccounts() accounts {
	m := make(accounts, benchAccounts)
	for i := range uint64(benchAccounts) {
		m[i] = i
	}
	return m
}

// target is one concurrent map under test. reader returns a lookup
// function for one goroutine and a function that releases it; write makes
// a batch of updates visible.
type target interface {
	reader() (get func(k uint64) uint64, done func())
	write(batch []setBalance)
}

type lrTarget struct{ w *Writer[accounts, setBalance] }

func (t *lrTarget) reader() (func(uint64) uint64, func()) {
	r := t.w.NewReader()
	return func(k uint64) (v uint64) {
		r.Read(func(a *accounts) { v = (*a)[k] })
		return v
	}, r.Close
}

func (t *lrTarget) write(batch []setBalance) {
	t.w.Append(batch...)
	t.w.Publish()
}

type rwTarget struct {
	mu sync.RWMutex
	m  accounts
}

func (t *rwTarget) reader() (func(uint64) uint64, func()) {
	return func(k uint64) uint64 {
		t.mu.RLock()
		v := t.m[k]
		t.mu.RUnlock()
		return v
	}, func() {}
}

func (t *rwTarget) write(batch []setBalance) {
	t.mu.Lock()
	for _, op := range batch {
		t.m[op.k] = op.v
	}
	t.mu.Unlock()
}

type syncMapTarget struct{ m sync.Map }

func (t *syncMapTarget) reader() (func(uint64) uint64, func()) {
	return func(k uint64) uint64 {
		v, _ := t.m.Load(k)
		return v.(uint64)
	}, func() {}
}

func (t *syncMapTarget) write(batch []setBalance) {
	for _, op := range batch {
		t.m.Store(op.k, op.v)
	}
}

// cowTarget publishes a fresh copy of the whole map per batch.
type cowTarget struct{ p atomic.Pointer[accounts] }

func (t *cowTarget) reader() (func(uint64) uint64, func()) {
	return func(k uint64) uint64 { return (*t.p.Load())[k] }, func() {}
}

func (t *cowTarget) write(batch []setBalance) {
	next := maps.Clone(*t.p.Load())
	for _, op := range batch {
		next[op.k] = op.v
	}
	t.p.Store(&next)
}

var targets = []struct {
	name string
	make func() target
}{
	{"leftright", func() target {
		return &lrTarget{New[accounts, setBalance](newAccounts(), newAccounts())}
	}},
	{"rwmutex", func() target { return &rwTarget{m: newAccounts()} }},
	{"syncmap", func() target {
		t := &syncMapTarget{}
		for i := range uint64(benchAccounts) {
			t.m.Store(i, i)
		}
		return t
	}},
	{"cowpointer", func() target {
		t := &cowTarget{}
		m := newAccounts()
		t.p.Store(&m)
		return t
	}},
}

// xorshift is the readers' key generator: cheap, no shared state.
func xorshift(x uint64) uint64 {
	x ^= x << 13
	x ^= x >> 7
	x ^= x << 17
	return x
}

const writeBatch = 100

// BenchmarkReads measures lookups per second with one concurrent writer.
// writer=paced writes a batch of 100 updates every millisecond (100k
// updates/s offered, read-heavy); writer=busy writes batches back to back.
// Metrics: reads/s over all readers, writes/s achieved by the writer.
func BenchmarkReads(b *testing.B) {
	maxReaders := max(2, runtime.GOMAXPROCS(0))
	for _, mode := range []string{"paced", "busy"} {
		for readers := 1; readers <= maxReaders; readers++ {
			for _, tg := range targets {
				b.Run(fmt.Sprintf("writer=%s/readers=%d/%s", mode, readers, tg.name), func(b *testing.B) {
					benchReads(b, tg.make(), readers, mode == "paced")
				})
			}
		}
	}
}

func benchReads(b *testing.B, t target, readers int, paced bool) {
	gets := make([]func(uint64) uint64, readers)
	for i := range gets {
		get, done := t.reader()
		gets[i] = get
		defer done()
	}
	var stop atomic.Bool
	var writes int64
	writerDone := make(chan struct{})
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()

	go func() {
		defer close(writerDone)
		batch := make([]setBalance, writeBatch)
		k := uint64(0x2545f4914f6cdd1d)
		var tick *time.Ticker
		if paced {
			tick = time.NewTicker(time.Millisecond)
			defer tick.Stop()
		}
		for !stop.Load() {
			for i := range batch {
				k = xorshift(k)
				batch[i] = setBalance{k % benchAccounts, k}
			}
			t.write(batch)
			writes += writeBatch
			if paced {
				<-tick.C
			}
		}
	}()

	var wg sync.WaitGroup
	var sink atomic.Uint64
	for i, get := range gets {
		n := b.N / readers
		if i == 0 {
			n += b.N % readers
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			k, acc := uint64(i+1)*0x9e3779b97f4a7c15, uint64(0)
			for range n {
				k = xorshift(k)
				acc += get(k % benchAccounts)
			}
			sink.Add(acc)
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	stop.Store(true)
	<-writerDone
	b.StopTimer()
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "reads/s")
	b.ReportMetric(float64(writes)/elapsed.Seconds(), "writes/s")
}

// BenchmarkWritePublish is the writer's cost per update with a Publish
// every `batch` updates: left-right appending the batch in one call,
// left-right-1by1 appending each update as it comes (as a mempool does on
// each arrival), and the baseline taking the RWMutex write lock once per
// batch. readers=1 keeps one goroutine reading continuously, so that
// Publish really has to wait for a reader to leave the old copy. Metric
// ns/publish is the elapsed time per Publish (per lock for the baseline);
// writer-cpu-ns/op is the writer thread's CPU time per update (Linux), which
// a loaded machine does not inflate the way it inflates wall time.
func BenchmarkWritePublish(b *testing.B) {
	for _, readers := range []int{0, 1} {
		for _, batch := range []int{1, 16, 256} {
			for _, name := range []string{"leftright", "leftright-1by1", "rwmutex"} {
				if batch == 1 && name == "leftright-1by1" {
					continue // same as leftright
				}
				b.Run(fmt.Sprintf("readers=%d/batch=%d/%s", readers, batch, name), func(b *testing.B) {
					if name == "rwmutex" {
						benchWrites(b, targets[1].make(), readers, batch, false)
					} else {
						benchWrites(b, targets[0].make(), readers, batch, name == "leftright-1by1")
					}
				})
			}
		}
	}
}

func benchWrites(b *testing.B, t target, readers, batchSize int, oneByOne bool) {
	var stop atomic.Bool
	var wg sync.WaitGroup
	for i := range readers {
		get, done := t.reader()
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer done()
			k := uint64(i+7) * 0x9e3779b97f4a7c15
			for !stop.Load() {
				k = xorshift(k)
				get(k % benchAccounts)
			}
		}()
	}
	batch := make([]setBalance, 0, batchSize)
	k := uint64(0x2545f4914f6cdd1d)
	publishes := 0
	runtime.LockOSThread() // so that threadCPU measures this loop alone
	defer runtime.UnlockOSThread()
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	cpu0, cpuOK := threadCPU()
	lr, isLR := t.(*lrTarget)
	for i := range b.N {
		k = xorshift(k)
		op := setBalance{k % benchAccounts, k}
		if isLR && oneByOne {
			lr.w.Append(op)
			if (i+1)%batchSize == 0 || i == b.N-1 {
				lr.w.Publish()
				publishes++
			}
			continue
		}
		batch = append(batch, op)
		if len(batch) == batchSize || i == b.N-1 {
			t.write(batch)
			batch = batch[:0]
			publishes++
		}
	}
	elapsed := time.Since(start)
	cpu1, _ := threadCPU()
	b.StopTimer()
	stop.Store(true)
	wg.Wait()
	b.ReportMetric(float64(elapsed.Nanoseconds())/float64(max(publishes, 1)), "ns/publish")
	if cpuOK {
		b.ReportMetric(float64((cpu1-cpu0).Nanoseconds())/float64(b.N), "writer-cpu-ns/op")
	}
}
