package mempool

import (
	"cmp"
	"math"
	"slices"
	"sync"

	"github.com/fhbft/fhbft/impl/leftright"
	"github.com/fhbft/fhbft/impl/tx"
)

// Config bounds the mempool's memory (spec: FARM-5, FARM-6).
type Config struct {
	// MaxPending bounds the pending (waiting + validated) transfers.
	MaxPending int
	// MaxPerAccount bounds one sender's pending transfers.
	MaxPerAccount int
	// MaxAhead bounds how far above its account's ready nonce a waiting
	// transfer's nonce may be.
	MaxAhead uint64
	// ProcessedCap is the size of the processed-digest cache (0: none).
	ProcessedCap int
}

// DefaultConfig is a configuration for a farmer node.
func DefaultConfig() Config {
	return Config{MaxPending: 1 << 18, MaxPerAccount: 64, MaxAhead: 64, ProcessedCap: 1 << 18}
}

func (c Config) validate() error {
	switch {
	case c.MaxPending < 1:
		return refuse(CodeConfig, tx.Digest{}, "MaxPending %d < 1", c.MaxPending)
	case c.MaxPerAccount < 1:
		return refuse(CodeConfig, tx.Digest{}, "MaxPerAccount %d < 1", c.MaxPerAccount)
	case c.ProcessedCap < 0:
		return refuse(CodeConfig, tx.Digest{}, "ProcessedCap %d < 0", c.ProcessedCap)
	}
	return nil
}

// change is the one left-right operation. The writer plans it on its own
// copy (all rules and all choices, in plan*), and Apply replays the plan
// mechanically in a fixed order, so that both copies evolve identically
// and Apply can neither fail nor panic (leftright's contract).
type change struct {
	account tx.AccountID
	drops   []Dropped // 1: in this order
	setBase bool      // 2
	base    uint64
	promote *tx.Digest   // 3
	insert  *tx.Transfer // 4: with insertDigest; base is used if the account is new
	digest  tx.Digest
	final   *tx.Digest // 5: record as finalised without a pending entry
}

func (c change) Apply(p *pool) {
	for _, d := range c.drops {
		p.drop(d)
	}
	if c.setBase {
		if a := p.accounts[c.account]; a != nil {
			a.base = c.base
		}
	}
	if c.promote != nil {
		p.promote(*c.promote)
	}
	if c.insert != nil {
		p.insert(c.insert, c.digest, c.base)
	}
	if c.final != nil {
		p.processed.add(*c.final, OutcomeFinalized)
	}
	p.tidy(c.account)
}

// Mempool is the farmer's mempool (spec: FARM-4..7): one writer (the
// farmer driver) and wait-free Readers (the validator cores), each seeing
// published state only (FARM-1..3). Its methods are safe for concurrent
// use; they are serialised. Every refusal is an *Error and changes nothing.
type Mempool struct {
	mu sync.Mutex
	w  *leftright.Writer[pool, change]
}

// New returns an empty mempool.
func New(cfg Config) (*Mempool, error) { return newWithBug(cfg, noBug) }

func newWithBug(cfg Config, bug plantedBug) (*Mempool, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	return &Mempool{w: leftright.New[pool, change](newPool(cfg, bug), newPool(cfg, bug))}, nil
}

// do plans on the writer's copy and, if the plan is accepted, appends it.
func (m *Mempool) do(plan func(p *pool) (change, []Dropped, error)) ([]Dropped, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var (
		c   change
		out []Dropped
		err error
	)
	m.w.Read(func(p *pool) { c, out, err = plan(p) })
	if err != nil {
		return nil, err
	}
	m.w.Append(c)
	return out, nil
}

// Add puts a transfer in the mempool as waiting. accountNonce is the
// sender's finalised nonce from the state store's writer view: it sets the
// base of an account the mempool does not track, and if it is ahead of a
// tracked account's base (finalisations the mempool missed) the account is
// resynchronised first — see advance; if it is behind, it is ignored (the
// mempool's base is newer). The mempool keeps its own copy of *t. It
// returns the transfers the resynchronisation dropped.
func (m *Mempool) Add(t *tx.Transfer, accountNonce uint64) ([]Dropped, error) {
	if t == nil {
		return nil, ErrNilTransfer
	}
	own := *t
	return m.do(func(p *pool) (change, []Dropped, error) { return planAdd(p, &own, accountNonce) })
}

// MarkValidated records that the validator accepted a waiting transfer.
// Its nonce must be the account's ready nonce, base + validated count
// (FARM-4), else ErrNotReady. Other waiting transfers with the same nonce
// conflict with it and are dropped (returned).
func (m *Mempool) MarkValidated(d tx.Digest) ([]Dropped, error) {
	return m.do(func(p *pool) (change, []Dropped, error) { return planValidate(p, d) })
}

// MarkFinalized records that t was finalised (applied to the state
// store). The driver calls it for every finalised transfer, in order,
// whether or not it is pending here. If t is the account's first
// validated transfer it leaves as OutcomeFinalized and the base advances
// by one; otherwise the account is advanced to t.Nonce+1 (see advance).
func (m *Mempool) MarkFinalized(t *tx.Transfer) ([]Dropped, error) {
	if t == nil {
		return nil, ErrNilTransfer
	}
	own := *t
	return m.do(func(p *pool) (change, []Dropped, error) { return planFinalize(p, &own) })
}

// Remove drops a pending transfer (found invalid, or expired). Removing a
// validated transfer also drops the validated transfers above it, which
// were validated counting it (OutcomeOrphaned).
func (m *Mempool) Remove(d tx.Digest) ([]Dropped, error) {
	return m.do(func(p *pool) (change, []Dropped, error) { return planRemove(p, d) })
}

// Publish makes every change so far visible to Readers at once (FARM-3).
func (m *Mempool) Publish() { m.w.Publish() }

// Read calls f with the writer's view, which includes unpublished changes.
// f must not call the Mempool's methods or keep the View.
func (m *Mempool) Read(f func(View)) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.w.Read(func(p *pool) { f(View{p}) })
}

// Ready is Read(View.Ready).
func (m *Mempool) Ready() (out []Candidate) {
	m.Read(func(v View) { out = v.Ready() })
	return out
}

// NewReader returns a read handle for one goroutine.
func (m *Mempool) NewReader() *Reader { return &Reader{r: m.w.NewReader()} }

// View is the mempool during one read. It implements tx.PendingView.
type View struct{ p *pool }

// Pending summarises the sender's validated, unfinalised transfers (TX-22).
func (v View) Pending(id tx.AccountID) tx.Pending { return v.p.pending(id) }

// Seen reports whether d is validated-pending or in the processed cache
// (TX-15, FARM-5); a waiting transfer is not seen.
func (v View) Seen(d tx.Digest) bool { return v.p.seen(d) }

// Status reports where d is, and its outcome if processed.
func (v View) Status(d tx.Digest) (Status, Outcome) { return v.p.status(d) }

// Ready lists each account's next validatable transfer, by account ID
// (FARM-4). At most one per account: its successors depend on it.
func (v View) Ready() []Candidate { return v.p.ready() }

// Candidate returns one account's next validatable transfer, if any: the
// entry of Ready for that account, in O(1), for a driver that knows which
// accounts a write touched.
func (v View) Candidate(id tx.AccountID) (Candidate, bool) {
	if a := v.p.accounts[id]; a != nil {
		if e := v.p.candidate(a); e != nil {
			return Candidate{Digest: e.digest, Transfer: e.t}, true
		}
	}
	return Candidate{}, false
}

// Base returns the account's finalised nonce as the mempool knows it, and
// whether the account is tracked (has pending transfers). A validator can
// compare it with the state's nonce to detect that the two left-right
// values were published at different moments.
func (v View) Base(id tx.AccountID) (uint64, bool) {
	if a := v.p.accounts[id]; a != nil {
		return a.base, true
	}
	return 0, false
}

// Len is the number of pending transfers.
func (v View) Len() int { return len(v.p.entries) }

// Processed lists the processed cache from oldest to newest.
func (v View) Processed() []tx.Digest { return v.p.processed.order() }

// Reader reads the published mempool without waiting (FARM-1). One per
// goroutine (Clone for another). It implements tx.PendingView; each method
// is one read, Read gives several answers from one snapshot.
type Reader struct{ r *leftright.Reader[pool] }

// Read calls f with a consistent view of the published mempool.
func (r *Reader) Read(f func(View)) { r.r.Read(func(p *pool) { f(View{p}) }) }

// Pending implements tx.PendingView.
func (r *Reader) Pending(id tx.AccountID) tx.Pending {
	p := r.r.Enter()
	out := p.pending(id)
	r.r.Leave()
	return out
}

// Seen implements tx.PendingView.
func (r *Reader) Seen(d tx.Digest) bool {
	p := r.r.Enter()
	out := p.seen(d)
	r.r.Leave()
	return out
}

// Ready lists the published candidates.
func (r *Reader) Ready() (out []Candidate) {
	r.Read(func(v View) { out = v.Ready() })
	return out
}

// Clone returns a new Reader for another goroutine.
func (r *Reader) Clone() *Reader { return &Reader{r: r.r.Clone()} }

// Close unregisters the Reader.
func (r *Reader) Close() { r.r.Close() }

var (
	_ tx.PendingView = (*Reader)(nil)
	_ tx.PendingView = View{}
)

// --- plans: the rules, on a read-only copy ---

// dropOrder is the order in which drops are reported and recorded
// (and hence evicted): by nonce, validated before waiting, then arrival.
func dropOrder(es []*entry) {
	slices.SortFunc(es, func(x, y *entry) int {
		if c := cmp.Compare(x.t.Nonce, y.t.Nonce); c != 0 {
			return c
		}
		if x.validated != y.validated {
			if x.validated {
				return -1
			}
			return 1
		}
		return cmp.Compare(x.arrival, y.arrival)
	})
}

func dropped(e *entry, o Outcome) Dropped {
	return Dropped{Digest: e.digest, From: e.t.From, Nonce: e.t.Nonce, Outcome: o}
}

// advance plans moving a tracked account's base up to newBase because the
// nonces below it were finalised (spec: FARM-7). final, if set, is the
// digest finalised at nonce newBase−1. Every validated transfer leaves:
// those below newBase were finalised (the final one) or superseded
// (OutcomeConflict at newBase−1 when final is set, OutcomeStale below),
// and those at or above newBase were validated on top of them and lose
// their premise (OutcomeOrphaned). Waiting transfers below newBase leave
// likewise; waiting ones at or above it stay.
func advance(a *account, newBase uint64, final *tx.Digest) []Dropped {
	var es []*entry
	es = append(es, a.validated...)
	for n, ws := range a.waiting {
		if n < newBase {
			es = append(es, ws...)
		}
	}
	dropOrder(es)
	out := make([]Dropped, 0, len(es))
	for _, e := range es {
		o := OutcomeOrphaned
		switch n := e.t.Nonce; {
		case final != nil && e.digest == *final:
			o = OutcomeFinalized
		case final != nil && n == newBase-1:
			o = OutcomeConflict
		case n < newBase:
			o = OutcomeStale
		}
		out = append(out, Dropped{Digest: e.digest, From: e.t.From, Nonce: e.t.Nonce, Outcome: o})
	}
	return out
}

// planAdd: spec FARM-6 (admission), FARM-7 (resynchronisation).
func planAdd(p *pool, t *tx.Transfer, accountNonce uint64) (change, []Dropped, error) {
	d := t.Digest()
	if p.entries[d] != nil {
		return change{}, nil, refuse(CodeDuplicate, d, "pending")
	}
	if p.processed.has(d) {
		return change{}, nil, refuse(CodeDuplicate, d, "recently processed")
	}
	if t.Nonce == math.MaxUint64 {
		return change{}, nil, refuse(CodeNonceExhausted, d, "nonce 2^64-1")
	}
	c := change{account: t.From, insert: t, digest: d, base: accountNonce}
	base, validated, size, total := accountNonce, 0, 0, len(p.entries)
	if a := p.accounts[t.From]; a != nil {
		base, validated, size = a.base, len(a.validated), a.size()
		if accountNonce > a.base {
			c.drops = advance(a, accountNonce, nil)
			c.setBase = true
			base, validated, size = accountNonce, 0, size-len(c.drops)
			total -= len(c.drops)
		}
	}
	ready := base + uint64(validated)
	switch {
	case t.Nonce < base:
		return change{}, nil, refuse(CodeStale, d, "nonce %d below finalised nonce %d", t.Nonce, base)
	case t.Nonce < ready:
		return change{}, nil, refuse(CodeNonceTaken, d, "nonce %d held by a validated transfer (ready nonce %d)", t.Nonce, ready)
	case t.Nonce-ready > p.cfg.MaxAhead:
		return change{}, nil, refuse(CodeTooFarAhead, d, "nonce %d, ready nonce %d, max ahead %d", t.Nonce, ready, p.cfg.MaxAhead)
	case size >= p.cfg.MaxPerAccount:
		return change{}, nil, refuse(CodeAccountFull, d, "%d pending for this sender", size)
	case total >= p.cfg.MaxPending:
		return change{}, nil, refuse(CodeFull, d, "%d pending", total)
	}
	return c, c.drops, nil
}

// planValidate: spec FARM-4 (readiness), FARM-7 (conflicts, debits).
func planValidate(p *pool, d tx.Digest) (change, []Dropped, error) {
	e := p.entries[d]
	if e == nil {
		return change{}, nil, refuse(CodeUnknown, d, "not pending")
	}
	if e.validated {
		return change{}, nil, refuse(CodeAlreadyValidated, d, "nonce %d", e.t.Nonce)
	}
	a := p.accounts[e.t.From]
	ok := e.t.Nonce == a.ready()
	if p.bug == bugLowestWaiting {
		ok = ok || p.candidate(a) == e
	}
	if !ok {
		return change{}, nil, refuse(CodeNotReady, d, "nonce %d, ready nonce %d", e.t.Nonce, a.ready())
	}
	c, ok := cost(e.t)
	if !ok {
		return change{}, nil, refuse(CodeDebitsOverflow, d, "amount + fee exceeds 2^64-1")
	}
	if _, carry := addCarry(a.debits, c); carry {
		return change{}, nil, refuse(CodeDebitsOverflow, d, "pending debits %d + %d", a.debits, c)
	}
	dig := e.digest // not a pointer into the writer's copy
	ch := change{account: e.t.From, promote: &dig}
	for _, o := range a.waiting[e.t.Nonce] {
		if o != e {
			ch.drops = append(ch.drops, dropped(o, OutcomeConflict))
		}
	}
	return ch, ch.drops, nil
}

func addCarry(x, y uint64) (uint64, bool) {
	s := x + y
	return s, s < x
}

// planFinalize: spec FARM-7.
func planFinalize(p *pool, t *tx.Transfer) (change, []Dropped, error) {
	d := t.Digest()
	if t.Nonce == math.MaxUint64 {
		return change{}, nil, refuse(CodeNonceExhausted, d, "nonce 2^64-1")
	}
	if o, ok := p.processed.get(d); ok && o == OutcomeFinalized {
		return change{}, nil, refuse(CodeAlreadyFinalized, d, "nonce %d", t.Nonce)
	}
	a := p.accounts[t.From]
	if a == nil {
		// Not tracked: only remember the digest.
		return change{account: t.From, final: &d}, nil, nil
	}
	if t.Nonce < a.base {
		return change{}, nil, refuse(CodeStale, d, "nonce %d below finalised nonce %d", t.Nonce, a.base)
	}
	if len(a.validated) > 0 && a.validated[0].digest == d {
		// The usual case: our oldest validated transfer was finalised.
		ds := []Dropped{dropped(a.validated[0], OutcomeFinalized)}
		return change{account: t.From, drops: ds, setBase: true, base: a.base + 1}, ds, nil
	}
	c := change{account: t.From, drops: advance(a, t.Nonce+1, &d), setBase: true, base: t.Nonce + 1}
	if p.entries[d] == nil {
		c.final = &d
	}
	return c, c.drops, nil
}

// planRemove: spec FARM-7.
func planRemove(p *pool, d tx.Digest) (change, []Dropped, error) {
	e := p.entries[d]
	if e == nil {
		return change{}, nil, refuse(CodeUnknown, d, "not pending")
	}
	c := change{account: e.t.From}
	if !e.validated {
		c.drops = []Dropped{dropped(e, OutcomeRemoved)}
		return c, c.drops, nil
	}
	a := p.accounts[e.t.From]
	i := slices.Index(a.validated, e)
	c.drops = append(c.drops, dropped(e, OutcomeRemoved))
	for _, o := range a.validated[i+1:] {
		c.drops = append(c.drops, dropped(o, OutcomeOrphaned))
	}
	return c, c.drops, nil
}
