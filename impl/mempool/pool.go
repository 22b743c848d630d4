package mempool

import (
	"bytes"
	"math/bits"
	"slices"

	"github.com/fhbft/fhbft/impl/tx"
)

// Outcome is why a transfer left the pending set (spec: FARM-7).
type Outcome uint8

const (
	_ Outcome = iota
	// OutcomeFinalized: the transfer itself was finalised.
	OutcomeFinalized
	// OutcomeRemoved: the driver removed it (found invalid, expired).
	OutcomeRemoved
	// OutcomeConflict: another transfer took its nonce (validated here
	// first, or finalised).
	OutcomeConflict
	// OutcomeStale: its nonce was finalised by transfers this mempool was
	// not told about.
	OutcomeStale
	// OutcomeOrphaned: it was validated on top of a pending predecessor
	// that was then removed or lost a conflict, so its validation premise
	// (nonce and pending debits) no longer holds.
	OutcomeOrphaned
)

var outcomeNames = [...]string{"", "finalized", "removed", "conflict", "stale", "orphaned"}

func (o Outcome) String() string {
	if int(o) < len(outcomeNames) && o != 0 {
		return outcomeNames[o]
	}
	return "none"
}

// Dropped reports one transfer that left the pending set and went to the
// processed cache.
type Dropped struct {
	Digest  tx.Digest
	From    tx.AccountID
	Nonce   uint64
	Outcome Outcome
}

// Status is where a digest is in the mempool.
type Status uint8

const (
	StatusAbsent    Status = iota // unknown, or evicted from the processed cache
	StatusWaiting                 // pending, waiting for validation
	StatusValidated               // pending, validated, not finalised
	StatusProcessed               // in the processed cache
)

func (s Status) String() string {
	return [...]string{"absent", "waiting", "validated", "processed"}[min(int(s), 3)]
}

// Candidate is a transfer that may be validated now.
type Candidate struct {
	Digest tx.Digest
	// Transfer is the mempool's own copy, shared by both left-right
	// copies and every reader: it must not be modified.
	Transfer *tx.Transfer
}

// entry is one pending transfer in one left-right copy.
type entry struct {
	t         *tx.Transfer // immutable, shared by both copies
	digest    tx.Digest
	arrival   uint64 // position in the order of Adds: breaks ties deterministically
	validated bool
}

func cost(t *tx.Transfer) (uint64, bool) {
	c, carry := bits.Add64(t.Amount, t.Fee, 0)
	return c, carry == 0
}

// account is one sender's node of the dependency graph: a chain by nonce
// (spec: FARM-4). Validated transfers hold nonces base … base+len−1
// without gaps; waiting transfers hold nonces ≥ ready(), several
// candidates per nonce in arrival order.
type account struct {
	base      uint64 // the account's finalised nonce as this mempool knows it
	validated []*entry
	debits    uint64 // Σ Amount+Fee over validated
	waiting   map[uint64][]*entry
	nWaiting  int
}

// ready is the nonce the next validatable transfer must carry:
// base + number of validated pending transfers (spec: FARM-4). It does not
// overflow: validated nonces are < 2^64−1 (TX-13, refused at Add).
func (a *account) ready() uint64 { return a.base + uint64(len(a.validated)) }

func (a *account) size() int { return len(a.validated) + a.nWaiting }

// plantedBug selects a deliberately wrong readiness rule so that tests can
// show their checks catch it. Always noBug outside this package's tests.
type plantedBug uint8

const (
	noBug plantedBug = iota
	// bugLowestWaiting makes the lowest waiting nonce ready even when a
	// predecessor is missing: "take the next in the queue".
	bugLowestWaiting
)

// pool is one left-right copy of the mempool.
type pool struct {
	cfg       Config
	bug       plantedBug
	accounts  map[tx.AccountID]*account
	entries   map[tx.Digest]*entry // every pending transfer
	processed processedCache
	arrivals  uint64
}

func newPool(cfg Config, bug plantedBug) pool {
	return pool{
		cfg:       cfg,
		bug:       bug,
		accounts:  make(map[tx.AccountID]*account),
		entries:   make(map[tx.Digest]*entry),
		processed: newProcessedCache(cfg.ProcessedCap),
	}
}

// candidate is the account's next validatable transfer, or nil: the
// earliest-arrived waiting transfer at the ready nonce (spec: FARM-4).
func (p *pool) candidate(a *account) *entry {
	if p.bug == bugLowestWaiting {
		var best *entry
		for _, es := range a.waiting {
			if best == nil || es[0].t.Nonce < best.t.Nonce {
				best = es[0]
			}
		}
		return best
	}
	if es := a.waiting[a.ready()]; len(es) > 0 {
		return es[0]
	}
	return nil
}

// ready lists the candidates of every account, by account ID (spec: FARM-4).
func (p *pool) ready() []Candidate {
	var out []Candidate
	for _, a := range p.accounts {
		if e := p.candidate(a); e != nil {
			out = append(out, Candidate{Digest: e.digest, Transfer: e.t})
		}
	}
	slices.SortFunc(out, func(x, y Candidate) int { return bytes.Compare(x.Transfer.From[:], y.Transfer.From[:]) })
	return out
}

func (p *pool) pending(id tx.AccountID) tx.Pending {
	if a := p.accounts[id]; a != nil {
		return tx.Pending{Count: uint64(len(a.validated)), Debits: a.debits}
	}
	return tx.Pending{}
}

// seen is TX-15's "pending or recently processed", where pending means
// accepted (validated), as in tx.Pending: a waiting transfer is not seen,
// or the validator would refuse every transfer it takes from the mempool
// as a duplicate of itself (spec: FARM-5).
func (p *pool) seen(d tx.Digest) bool {
	if e := p.entries[d]; e != nil {
		return e.validated
	}
	return p.processed.has(d)
}

func (p *pool) status(d tx.Digest) (Status, Outcome) {
	if e := p.entries[d]; e != nil {
		if e.validated {
			return StatusValidated, 0
		}
		return StatusWaiting, 0
	}
	if o, ok := p.processed.get(d); ok {
		return StatusProcessed, o
	}
	return StatusAbsent, 0
}

// --- mutation primitives, used only by change.Apply ---

func (p *pool) insert(t *tx.Transfer, d tx.Digest, base uint64) {
	a := p.accounts[t.From]
	if a == nil {
		a = &account{base: base, waiting: make(map[uint64][]*entry)}
		p.accounts[t.From] = a
	}
	e := &entry{t: t, digest: d, arrival: p.arrivals}
	p.arrivals++
	a.waiting[t.Nonce] = append(a.waiting[t.Nonce], e)
	a.nWaiting++
	p.entries[d] = e
}

// unlink removes a pending entry from its account; the caller records it.
func (p *pool) unlink(e *entry) {
	a := p.accounts[e.t.From]
	delete(p.entries, e.digest)
	if a == nil {
		return
	}
	if e.validated {
		if i := slices.Index(a.validated, e); i >= 0 {
			a.validated = slices.Delete(a.validated, i, i+1)
			c, _ := cost(e.t)
			a.debits -= c
		}
		return
	}
	es := a.waiting[e.t.Nonce]
	if i := slices.Index(es, e); i >= 0 {
		es = slices.Delete(es, i, i+1)
		a.nWaiting--
	}
	if len(es) == 0 {
		delete(a.waiting, e.t.Nonce)
	} else {
		a.waiting[e.t.Nonce] = es
	}
}

func (p *pool) drop(d Dropped) {
	if e := p.entries[d.Digest]; e != nil {
		p.unlink(e)
	}
	p.processed.add(d.Digest, d.Outcome)
}

func (p *pool) promote(d tx.Digest) {
	e := p.entries[d]
	if e == nil || e.validated {
		return
	}
	p.unlink(e)
	p.entries[d] = e
	a := p.accounts[e.t.From]
	e.validated = true
	a.validated = append(a.validated, e)
	c, _ := cost(e.t)
	a.debits += c
}

// tidy forgets an account with nothing pending, bounding memory by the
// number of pending transfers.
func (p *pool) tidy(id tx.AccountID) {
	if a := p.accounts[id]; a != nil && a.size() == 0 {
		delete(p.accounts, id)
	}
}

// processedCache is the bounded cache of processed digests (spec: FARM-5):
// a ring in insertion order; when full, the oldest insertion is evicted.
// Re-recording a digest updates its outcome and keeps its place. It is not
// an LRU: lookups happen on the read side, which must not write, so
// recency of use cannot be tracked; insertion order is deterministic.
type processedCache struct {
	ring    []tx.Digest
	outcome []Outcome
	head    int // oldest
	size    int
	index   map[tx.Digest]int
}

func newProcessedCache(capacity int) processedCache {
	return processedCache{
		ring:    make([]tx.Digest, capacity),
		outcome: make([]Outcome, capacity),
		index:   make(map[tx.Digest]int, capacity),
	}
}

func (c *processedCache) has(d tx.Digest) bool {
	_, ok := c.index[d]
	return ok
}

func (c *processedCache) get(d tx.Digest) (Outcome, bool) {
	i, ok := c.index[d]
	if !ok {
		return 0, false
	}
	return c.outcome[i], true
}

func (c *processedCache) add(d tx.Digest, o Outcome) {
	if i, ok := c.index[d]; ok {
		c.outcome[i] = o
		return
	}
	n := len(c.ring)
	if n == 0 {
		return
	}
	var i int
	if c.size == n {
		i = c.head
		delete(c.index, c.ring[i])
		c.head = (c.head + 1) % n
	} else {
		i = (c.head + c.size) % n
		c.size++
	}
	c.ring[i], c.outcome[i] = d, o
	c.index[d] = i
}

// order returns the cached digests from oldest to newest.
func (c *processedCache) order() []tx.Digest {
	out := make([]tx.Digest, c.size)
	for k := range c.size {
		out[k] = c.ring[(c.head+k)%len(c.ring)]
	}
	return out
}
