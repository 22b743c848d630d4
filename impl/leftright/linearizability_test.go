package leftright

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
)

// The linearizability check. One writer and N readers run concurrently on
// real goroutines; every Publish and every read is recorded with logical
// call and return stamps, and porcupine checks the history against the
// sequential specification of a left-right value:
//
//	state:   P, the length of the published prefix of the write log
//	publish: P := the number of operations appended so far
//	read:    legal iff it returns exactly prefix P, untorn
//
// A history that satisfies this model has every read return a published
// prefix (never an unpublished write, never a half-replayed copy), no older
// than any publish completed before the read began, and a reader's
// successive reads never go back (its reads are sequential, so they
// linearize in order against the non-decreasing P). spec: FARM-2, FARM-3
//
// The history is partitioned per reader: each partition holds all publishes
// and one reader's reads. That is sound because reads do not change the
// state and the publishes, issued by one goroutine, are totally ordered by
// real time: a linearization of each partition fixes each read to a point
// between two consecutive publishes, and these choices are independent.

var seedFlag = flag.Uint64("leftright.seed", 0, "run the linearizability check with this seed only")

// hist is the T of the check: the values appended so far, their count and a
// running hash. A reader reads n, then rehashes vals[:n], then reads sum, so
// a copy modified during the read shows up as a mismatch.
type hist struct {
	vals []uint64
	n    int
	sum  uint64
}

type histOp struct{ v uint64 }

func (o histOp) Apply(h *hist) {
	h.vals = append(h.vals, o.v)
	h.n++
	h.sum = mix(h.sum, o.v)
}

func mix(sum, v uint64) uint64 {
	x := (sum ^ v) * 0x9e3779b97f4a7c15
	return x ^ x>>29
}

// observation is what one read returned.
type observation struct {
	n      int    // h.n
	length int    // len(h.vals)
	rehash uint64 // hash recomputed over vals[:min(n, length)]
	sum    uint64 // h.sum, read last
}

func observe(h *hist) observation {
	o := observation{n: h.n}
	vals := h.vals
	o.length = len(vals)
	var s uint64
	for _, v := range vals[:min(o.n, o.length)] {
		s = mix(s, v)
		if v&63 == 0 {
			runtime.Gosched() // stretch some reads across a publish
		}
	}
	o.rehash = s
	o.sum = h.sum
	return o
}

type opKind uint8

const (
	kindPublish opKind = iota
	kindRead
)

type lrInput struct {
	kind   opKind
	reader int // for reads, 1..N (the porcupine client id)
	n      int // for publishes, the prefix length made visible
}

// lrModel is the specification above; digest[k] is the hash of the first k
// values the writer appends.
func lrModel(digest []uint64) porcupine.Model {
	return porcupine.Model{
		Partition: func(history []porcupine.Operation) [][]porcupine.Operation {
			var pubs []porcupine.Operation
			byReader := map[int][]porcupine.Operation{}
			maxReader := 0
			for _, op := range history {
				in := op.Input.(lrInput)
				if in.kind == kindPublish {
					pubs = append(pubs, op)
					continue
				}
				byReader[in.reader] = append(byReader[in.reader], op)
				maxReader = max(maxReader, in.reader)
			}
			var parts [][]porcupine.Operation
			for i := 1; i <= maxReader; i++ { // ordered, for reproducible output
				if reads, ok := byReader[i]; ok {
					parts = append(parts, append(append([]porcupine.Operation{}, pubs...), reads...))
				}
			}
			if len(parts) == 0 {
				parts = append(parts, pubs)
			}
			return parts
		},
		Init: func() any { return 0 },
		Step: func(state, input, output any) (bool, any) {
			p := state.(int)
			in := input.(lrInput)
			if in.kind == kindPublish {
				return in.n >= p, in.n
			}
			o := output.(observation)
			ok := o.n == p && o.length == p && o.rehash == digest[p] && o.sum == digest[p]
			return ok, p
		},
		DescribeOperation: func(input, output any) string {
			in := input.(lrInput)
			if in.kind == kindPublish {
				return fmt.Sprintf("publish → prefix %d", in.n)
			}
			o := output.(observation)
			torn := ""
			if o.length != o.n || o.sum != digest[min(o.n, len(digest)-1)] || o.rehash != digest[min(o.n, o.length, len(digest)-1)] {
				torn = " (torn)"
			}
			return fmt.Sprintf("read → prefix %d%s", o.n, torn)
		},
		DescribeState: func(state any) string { return fmt.Sprintf("published %d", state.(int)) },
	}
}

type harness struct {
	seed    uint64
	readers int
	ops     int // operations the writer appends
	bug     plantedBug
}

func (h harness) String() string {
	return fmt.Sprintf("seed=%d readers=%d ops=%d bug=%d", h.seed, h.readers, h.ops, h.bug)
}

// values is the writer's deterministic sequence of appended values, and
// digests the hash of each prefix.
func (h harness) values() (vals, digest []uint64) {
	rng := rand.New(rand.NewPCG(h.seed, 0xfeed))
	vals = make([]uint64, h.ops)
	digest = make([]uint64, h.ops+1)
	for i := range vals {
		vals[i] = rng.Uint64()
		digest[i+1] = mix(digest[i], vals[i])
	}
	return vals, digest
}

// maxRecorded bounds the reads recorded per reader, and so the checking
// time, when a slow writer (a loaded machine, -race) lets readers spin for
// long. Later reads still run (the writer's rendezvous needs them) but are
// not checked.
const maxRecorded = 8000

// run executes the concurrent workload and returns its history. The
// operation mix is drawn from seeded generators; the interleaving is up to
// the scheduler.
func (h harness) run() (history []porcupine.Operation, waits uint64) {
	vals, _ := h.values()
	w := New[hist, histOp](hist{}, hist{})
	w.bug = h.bug

	var clock atomic.Int64 // logical time: stamps are totally ordered
	var writerDone atomic.Bool
	// reads counts reader 1's completed reads; the writer uses it to make
	// sure reads really happen between an Append and the next Publish.
	var reads atomic.Int64

	logs := make([][]porcupine.Operation, h.readers+1)
	var wg sync.WaitGroup
	for id := 1; id <= h.readers; id++ {
		r := w.NewReader()
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer r.Close()
			rng := rand.New(rand.NewPCG(h.seed, uint64(id)))
			var local []porcupine.Operation
			for extra := 0; extra < 3; {
				if writerDone.Load() {
					extra++ // a few reads after the last publish
				}
				call := clock.Add(1)
				var o observation
				if rng.IntN(2) == 0 {
					r.Read(func(t *hist) { o = observe(t) })
				} else {
					o = observe(r.Enter())
					r.Leave()
				}
				ret := clock.Add(1)
				if len(local) < maxRecorded {
					local = append(local, porcupine.Operation{
						ClientId: id, Input: lrInput{kind: kindRead, reader: id},
						Call: call, Output: o, Return: ret,
					})
				}
				if id == 1 {
					reads.Add(1)
				}
				if rng.IntN(8) == 0 {
					runtime.Gosched()
				}
			}
			logs[id] = local
		}()
	}

	rng := rand.New(rand.NewPCG(h.seed, 0))
	var wlog []porcupine.Operation
	publish := func(n int) {
		call := clock.Add(1)
		w.Publish()
		ret := clock.Add(1)
		wlog = append(wlog, porcupine.Operation{
			ClientId: 0, Input: lrInput{kind: kindPublish, n: n}, Call: call, Return: ret,
		})
	}
	for i := 0; i < h.ops; {
		b := min(1+rng.IntN(6), h.ops-i)
		batch := make([]histOp, b)
		for j := range batch {
			batch[j] = histOp{vals[i+j]}
		}
		if rng.IntN(2) == 0 {
			w.Append(batch...)
		} else {
			for _, op := range batch {
				w.Append(op)
			}
		}
		i += b
		if rng.IntN(4) == 0 {
			// Let reader 1 complete a read that starts after the Append:
			// without this a fast writer could finish before any reader
			// looked between an Append and its Publish.
			seen := reads.Load()
			for reads.Load() < seen+2 {
				runtime.Gosched()
			}
		}
		if rng.IntN(3) == 0 || i == h.ops {
			publish(i)
			runtime.Gosched() // give readers a chance to overlap the next batch
		}
	}
	writerDone.Store(true)
	wg.Wait()
	logs[0] = wlog

	for _, l := range logs {
		history = append(history, l...)
	}
	return history, w.waits
}

// overlapping counts reads whose interval overlaps some publish: the reads
// that exercise the protocol rather than a quiet copy.
func overlapping(history []porcupine.Operation) int {
	var pubs []porcupine.Operation
	for _, op := range history {
		if op.Input.(lrInput).kind == kindPublish {
			pubs = append(pubs, op)
		}
	}
	n := 0
	for _, op := range history {
		if op.Input.(lrInput).kind != kindRead {
			continue
		}
		for _, p := range pubs {
			if p.Call <= op.Return && op.Call <= p.Return {
				n++
				break
			}
		}
	}
	return n
}

// check runs porcupine on a history. On an unexpected verdict it writes the
// visualisation to a fresh temporary directory and prints its path.
func (h harness) check(t *testing.T, history []porcupine.Operation, want porcupine.CheckResult) {
	t.Helper()
	_, digest := h.values()
	model := lrModel(digest)
	res, info := porcupine.CheckOperationsVerbose(model, history, time.Minute)
	if res == want {
		return
	}
	dir, err := os.MkdirTemp("", "leftright-porcupine-")
	path := filepath.Join(dir, "history.html")
	if err == nil {
		err = porcupine.VisualizePath(model, info, path)
	}
	if err != nil {
		path = "(not written: " + err.Error() + ")"
	}
	t.Errorf("%v: porcupine says %s, want %s (%d operations); rerun with -leftright.seed=%d; visualisation: %s",
		h, res, want, len(history), h.seed, path)
}

func harnessSeeds() []uint64 {
	if *seedFlag != 0 {
		return []uint64{*seedFlag}
	}
	return []uint64{1, 2, 3}
}

// TestLinearizable: with the real implementation every history of N
// concurrent readers and one writer satisfies the model. spec: FARM-2, FARM-3
func TestLinearizable(t *testing.T) {
	for _, seed := range harnessSeeds() {
		for _, readers := range []int{1, 3} {
			h := harness{seed: seed, readers: readers, ops: 2000}
			t.Run(fmt.Sprintf("seed=%d/readers=%d", seed, readers), func(t *testing.T) {
				start := time.Now()
				history, waits := h.run()
				ran := time.Since(start)
				h.check(t, history, porcupine.Ok)
				t.Logf("%v: %d operations, %d reads overlapping a publish, %d publishes waited for a reader (run %v, check %v)",
					h, len(history), overlapping(history), waits, ran.Round(time.Millisecond), (time.Since(start) - ran).Round(time.Millisecond))
			})
		}
	}
}

// TestCatchesPublishOnAppend: the same harness against a writer that makes
// every Append visible at once; porcupine must report the history illegal.
// The writer's wait for a reader between Append and Publish makes an
// offending read certain, so every seed must be caught.
func TestCatchesPublishOnAppend(t *testing.T) {
	for _, seed := range harnessSeeds() {
		h := harness{seed: seed, readers: 2, ops: 100, bug: bugPublishOnAppend}
		history, _ := h.run()
		h.check(t, history, porcupine.Illegal)
	}
}

// TestCatchesTornRead drives one deterministic interleaving: a reader is
// inside the read side when the writer publishes. The correct writer waits
// for it, so the read is consistent and the history legal; with the planted
// bug the writer replays onto the copy being read and porcupine must report
// the torn read. Both interleavings are forced with channels and the swap
// index, not with timing, and are race-free (the test goroutines hand over
// control explicitly), so the race detector can stay on.
func TestCatchesTornRead(t *testing.T) {
	for _, bug := range []plantedBug{noBug, bugNoWait} {
		t.Run(fmt.Sprintf("bug=%d", bug), func(t *testing.T) {
			h := harness{seed: 7, readers: 1, ops: 5, bug: bug}
			vals, _ := h.values()
			w := New[hist, histOp](hist{}, hist{})
			w.bug = bug
			r := w.NewReader()
			var clock int64
			var history []porcupine.Operation
			var mu sync.Mutex // guards clock and history between the goroutines
			stamp := func() int64 { mu.Lock(); defer mu.Unlock(); clock++; return clock }
			record := func(op porcupine.Operation) { mu.Lock(); history = append(history, op); mu.Unlock() }
			publish := func(n int) {
				call := stamp()
				w.Publish()
				record(porcupine.Operation{Input: lrInput{kind: kindPublish, n: n}, Call: call, Return: stamp()})
			}

			for _, v := range vals[:3] {
				w.Append(histOp{v})
			}
			publish(3)

			call := stamp()
			old := w.c.read.Load()
			cur := r.Enter()
			o := observation{n: cur.n} // first half of the read

			w.Append(histOp{vals[3]}, histOp{vals[4]})
			published := make(chan struct{})
			go func() { publish(5); close(published) }()
			if bug == noBug {
				waitSwapped(w, old) // the writer is now waiting for us
			} else {
				<-published // the broken writer does not wait
			}
			o.length = len(cur.vals)
			for _, v := range cur.vals[:min(o.n, o.length)] {
				o.rehash = mix(o.rehash, v)
			}
			o.sum = cur.sum // second half of the read
			r.Leave()
			<-published
			record(porcupine.Operation{ClientId: 1, Input: lrInput{kind: kindRead, reader: 1}, Call: call, Output: o, Return: stamp()})

			want := porcupine.Ok
			if bug != noBug {
				want = porcupine.Illegal
			}
			h.check(t, history, want)
		})
	}
}

// TestVisualisationWritten exercises the failure path's HTML output on a
// known-illegal history, so that a real failure will come with a readable
// trace.
func TestVisualisationWritten(t *testing.T) {
	h := harness{seed: 1, readers: 1, ops: 2}
	_, digest := h.values()
	history := []porcupine.Operation{
		{ClientId: 0, Input: lrInput{kind: kindPublish, n: 1}, Call: 1, Return: 2},
		{ClientId: 1, Input: lrInput{kind: kindRead, reader: 1}, Call: 3, Return: 4,
			Output: observation{n: 2, length: 2, rehash: digest[2], sum: digest[2]}},
	}
	model := lrModel(digest)
	res, info := porcupine.CheckOperationsVerbose(model, history, time.Minute)
	if res != porcupine.Illegal {
		t.Fatalf("reading an unpublished write: porcupine says %s, want Illegal", res)
	}
	path := filepath.Join(t.TempDir(), "history.html")
	if err := porcupine.VisualizePath(model, info, path); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(path); err != nil || st.Size() == 0 {
		t.Fatalf("visualisation not written: %v", err)
	}
}
