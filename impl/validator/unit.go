package validator

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sync"

	"github.com/fhbft/fhbft/impl/tx"
)

// Handle is one worker's read handle on the node's finalised state and
// pending transfers (a left-right Reader of each: impl/state, impl/mempool).
// Read calls f with views that answer from one consistent snapshot until f
// returns; f must not keep them. A Handle is used by one goroutine only.
// spec: FARM-23
type Handle interface {
	Read(f func(accounts tx.AccountView, pending tx.PendingView))
	Close()
}

// Source makes read handles, one per worker.
type Source interface {
	NewHandle() Handle
}

// Config configures a Unit. Zero fields take defaults.
type Config struct {
	Tx       tx.Config
	Workers  int // worker goroutines; 0 means runtime.GOMAXPROCS(0)
	Batch    int // largest signature batch (DefaultBatch)
	Cooldown int // batches checked one by one after a failed batch (DefaultCooldown)
	// Mutations plant bugs for tests; production code never sets them.
	Mutations Mutations
}

// Mutations plant bugs so that tests can show their checkers catch them.
type Mutations struct {
	// OneLevel validates every transfer in one level, ignoring dependencies:
	// a successor is validated before its predecessor is admitted (breaks
	// FARM-22).
	OneLevel bool
}

// ErrClosed is returned by Validate after Close.
var ErrClosed = errors.New("validator: unit closed")

// Unit is the validator unit: a pool of worker goroutines, each with its
// own read handle and Verifier, that validates transfers in parallel and
// dependent transfers in nonce order. Its methods are safe for concurrent
// use but Validate calls are serialised. spec: FARM-22, FARM-23
type Unit struct {
	cfg   Config
	mu    sync.Mutex // serialises Validate, Close and Stats
	jobs  chan job
	wg    sync.WaitGroup
	stats []Stats // per worker, written by the worker between jobs
	level Stats
	done  bool
}

type job struct {
	cfg  tx.Config
	txs  []*tx.Transfer
	out  []Verdict
	wait *sync.WaitGroup
}

// New starts a Unit's workers, each with a handle from src.
func New(cfg Config, src Source) (*Unit, error) {
	if src == nil {
		return nil, errors.New("validator: nil source")
	}
	if cfg.Workers < 0 || cfg.Batch < 0 || cfg.Cooldown < 0 {
		return nil, fmt.Errorf("validator: negative workers, batch or cooldown (%d, %d, %d)", cfg.Workers, cfg.Batch, cfg.Cooldown)
	}
	if cfg.Workers == 0 {
		cfg.Workers = runtime.GOMAXPROCS(0)
	}
	if cfg.Batch == 0 {
		cfg.Batch = DefaultBatch
	}
	if cfg.Cooldown == 0 {
		cfg.Cooldown = DefaultCooldown
	}
	u := &Unit{cfg: cfg, jobs: make(chan job), stats: make([]Stats, cfg.Workers)}
	for w := 0; w < cfg.Workers; w++ {
		h := src.NewHandle()
		if h == nil {
			close(u.jobs)
			u.wg.Wait()
			return nil, errors.New("validator: source returned a nil handle")
		}
		u.wg.Add(1)
		go u.worker(w, h)
	}
	return u, nil
}

// Workers is the number of worker goroutines.
func (u *Unit) Workers() int { return u.cfg.Workers }

// worker owns one handle and one Verifier. Each job is checked inside one
// Read, so the chunk sees one snapshot.
func (u *Unit) worker(w int, h Handle) {
	defer u.wg.Done()
	defer h.Close()
	v := NewVerifier(u.cfg.Batch, u.cfg.Cooldown)
	for j := range u.jobs {
		h.Read(func(a tx.AccountView, p tx.PendingView) {
			v.Check(j.cfg, a, p, j.txs, j.out)
		})
		u.stats[w] = v.Stats()
		j.wait.Done()
	}
}

// Validate decides every transfer of txs and returns the verdicts in input
// order. Transfers are split into dependency levels: those of one sender are
// ordered by nonce (ties, i.e. conflicting transfers, by input position) and
// the k-th of each sender is in level k. Each level runs in parallel on the
// workers; when it has finished, admit (if not nil) is called, on the
// caller's goroutine, with the level's accepted transfers in input order, and
// must make them visible to the workers' handles (mempool insert and publish)
// before it returns. Only then does the next level start. So every transfer is
// validated after its predecessor's verdict, against a pending view holding
// the predecessor if it was accepted. spec: FARM-22, FARM-23
func (u *Unit) Validate(txs []*tx.Transfer, admit func(accepted []*tx.Transfer)) ([]Verdict, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.done {
		return nil, ErrClosed
	}
	out := make([]Verdict, len(txs))
	for _, lvl := range u.levels(txs) {
		u.level.Levels++
		u.runLevel(txs, lvl, out)
		var acc []*tx.Transfer
		for _, i := range lvl {
			if out[i].Accepted() {
				acc = append(acc, txs[i])
			}
		}
		u.level.Admitted += len(acc)
		if admit != nil && len(acc) > 0 {
			admit(acc)
		}
	}
	return out, nil
}

// levels returns, for each dependency level, the input positions of its
// transfers in increasing order. nil transfers go to level 0.
func (u *Unit) levels(txs []*tx.Transfer) [][]int {
	idx := make([]int, len(txs))
	for i := range idx {
		idx[i] = i
	}
	if u.cfg.Mutations.OneLevel {
		return [][]int{idx}
	}
	from := func(i int) []byte {
		if txs[i] == nil {
			return nil
		}
		return txs[i].From[:]
	}
	slices.SortFunc(idx, func(a, b int) int {
		if c := bytes.Compare(from(a), from(b)); c != 0 {
			return c
		}
		if txs[a] != nil && txs[b] != nil {
			if c := cmp.Compare(txs[a].Nonce, txs[b].Nonce); c != 0 {
				return c
			}
		}
		return cmp.Compare(a, b)
	})
	var lv [][]int
	k := 0
	for j, i := range idx {
		if j == 0 || txs[i] == nil || txs[idx[j-1]] == nil || txs[i].From != txs[idx[j-1]].From {
			k = 0
		} else {
			k++
		}
		if k == len(lv) {
			lv = append(lv, nil)
		}
		lv[k] = append(lv[k], i)
	}
	for _, l := range lv {
		slices.Sort(l)
	}
	return lv
}

// runLevel spreads one level over the workers in contiguous chunks of at
// most Batch transfers, at least one chunk per worker when there are enough
// transfers, and waits for all of them.
func (u *Unit) runLevel(txs []*tx.Transfer, lvl []int, out []Verdict) {
	in := make([]*tx.Transfer, len(lvl))
	for j, i := range lvl {
		in[j] = txs[i]
	}
	res := make([]Verdict, len(lvl))
	size := min(u.cfg.Batch, (len(in)+u.cfg.Workers-1)/u.cfg.Workers)
	size = max(size, 1)
	var wait sync.WaitGroup
	for lo := 0; lo < len(in); lo += size {
		hi := min(lo+size, len(in))
		wait.Add(1)
		u.jobs <- job{cfg: u.cfg.Tx, txs: in[lo:hi], out: res[lo:hi], wait: &wait}
	}
	wait.Wait()
	for j, i := range lvl {
		out[i] = res[j]
	}
}

// Stats returns the counters summed over the workers.
func (u *Unit) Stats() Stats {
	u.mu.Lock()
	defer u.mu.Unlock()
	s := u.level
	for _, w := range u.stats {
		s.add(w)
	}
	return s
}

// Close stops the workers and closes their handles. Validate after Close
// returns ErrClosed.
func (u *Unit) Close() {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.done {
		return
	}
	u.done = true
	close(u.jobs)
	u.wg.Wait()
}
