package mempool

import (
	"bytes"
	"fmt"
	"math"
	"slices"

	"github.com/fhbft/fhbft/impl/tx"
)

// model is the reference for FARM-4..7: the rules written plainly over
// a flat list of pending transfers, recomputing everything by scanning.
type model struct {
	cfg       Config
	pending   []*mtx
	base      map[tx.AccountID]uint64 // tracked accounts only
	processed []mrec                  // oldest first
	evicted   map[tx.Digest]bool
	arrivals  int
}

type mtx struct {
	t         tx.Transfer
	d         tx.Digest
	arrival   int
	validated bool
}

type mrec struct {
	d tx.Digest
	o Outcome
}

func newModel(cfg Config) *model {
	return &model{cfg: cfg, base: map[tx.AccountID]uint64{}, evicted: map[tx.Digest]bool{}}
}

func (m *model) find(d tx.Digest) *mtx {
	for _, e := range m.pending {
		if e.d == d {
			return e
		}
	}
	return nil
}

func (m *model) of(id tx.AccountID) []*mtx {
	var out []*mtx
	for _, e := range m.pending {
		if e.t.From == id {
			out = append(out, e)
		}
	}
	return out
}

func (m *model) procIndex(d tx.Digest) int {
	return slices.IndexFunc(m.processed, func(r mrec) bool { return r.d == d })
}

func (m *model) record(d tx.Digest, o Outcome) {
	if i := m.procIndex(d); i >= 0 {
		m.processed[i].o = o
		return
	}
	m.processed = append(m.processed, mrec{d, o})
	delete(m.evicted, d)
	if len(m.processed) > m.cfg.ProcessedCap {
		m.evicted[m.processed[0].d] = true
		m.processed = m.processed[1:]
	}
}

func (m *model) validatedCount(id tx.AccountID) uint64 {
	var k uint64
	for _, e := range m.of(id) {
		if e.validated {
			k++
		}
	}
	return k
}

// sortDrops orders drops as the spec says: nonce, validated first, arrival.
func sortDrops(es []*mtx) {
	slices.SortFunc(es, func(x, y *mtx) int {
		switch {
		case x.t.Nonce != y.t.Nonce:
			if x.t.Nonce < y.t.Nonce {
				return -1
			}
			return 1
		case x.validated != y.validated:
			if x.validated {
				return -1
			}
			return 1
		}
		return x.arrival - y.arrival
	})
}

// commit removes the dropped transfers and records them, then forgets
// accounts with nothing pending.
func (m *model) commit(ds []Dropped) {
	for _, d := range ds {
		m.pending = slices.DeleteFunc(m.pending, func(e *mtx) bool { return e.d == d.Digest })
		m.record(d.Digest, d.Outcome)
	}
}

func (m *model) tidy() {
	for id := range m.base {
		if len(m.of(id)) == 0 {
			delete(m.base, id)
		}
	}
}

func mdrop(e *mtx, o Outcome) Dropped {
	return Dropped{Digest: e.d, From: e.t.From, Nonce: e.t.Nonce, Outcome: o}
}

// advanceDrops: every validated transfer, and waiting ones below newBase.
func (m *model) advanceDrops(id tx.AccountID, newBase uint64, final *tx.Digest) []Dropped {
	var es []*mtx
	for _, e := range m.of(id) {
		if e.validated || e.t.Nonce < newBase {
			es = append(es, e)
		}
	}
	sortDrops(es)
	var out []Dropped
	for _, e := range es {
		switch {
		case final != nil && e.d == *final:
			out = append(out, mdrop(e, OutcomeFinalized))
		case final != nil && e.t.Nonce == newBase-1:
			out = append(out, mdrop(e, OutcomeConflict))
		case e.t.Nonce < newBase:
			out = append(out, mdrop(e, OutcomeStale))
		default:
			out = append(out, mdrop(e, OutcomeOrphaned))
		}
	}
	return out
}

func (m *model) add(t tx.Transfer, accountNonce uint64) ([]Dropped, Code) {
	d := t.Digest()
	if m.find(d) != nil || m.procIndex(d) >= 0 {
		return nil, CodeDuplicate
	}
	if t.Nonce == math.MaxUint64 {
		return nil, CodeNonceExhausted
	}
	base, tracked := m.base[t.From]
	var drops []Dropped
	if !tracked {
		base = accountNonce
	} else if accountNonce > base {
		drops = m.advanceDrops(t.From, accountNonce, nil)
		base = accountNonce
	}
	gone := func(e *mtx) bool { return slices.ContainsFunc(drops, func(x Dropped) bool { return x.Digest == e.d }) }
	var k uint64
	size := 0
	for _, e := range m.of(t.From) {
		if !gone(e) {
			size++
			if e.validated {
				k++
			}
		}
	}
	ready := base + k
	switch {
	case t.Nonce < base:
		return nil, CodeStale
	case t.Nonce < ready:
		return nil, CodeNonceTaken
	case t.Nonce-ready > m.cfg.MaxAhead:
		return nil, CodeTooFarAhead
	case size >= m.cfg.MaxPerAccount:
		return nil, CodeAccountFull
	case len(m.pending)-len(drops) >= m.cfg.MaxPending:
		return nil, CodeFull
	}
	m.commit(drops)
	m.base[t.From] = base
	m.pending = append(m.pending, &mtx{t: t, d: d, arrival: m.arrivals})
	m.arrivals++
	m.tidy()
	return drops, 0
}

func (m *model) validate(d tx.Digest) ([]Dropped, Code) {
	e := m.find(d)
	switch {
	case e == nil:
		return nil, CodeUnknown
	case e.validated:
		return nil, CodeAlreadyValidated
	case e.t.Nonce != m.base[e.t.From]+m.validatedCount(e.t.From):
		return nil, CodeNotReady
	}
	debits := m.pendingOf(e.t.From).Debits
	if e.t.Amount > math.MaxUint64-e.t.Fee || debits > math.MaxUint64-(e.t.Amount+e.t.Fee) {
		return nil, CodeDebitsOverflow
	}
	var drops []Dropped
	for _, o := range m.of(e.t.From) {
		if o != e && !o.validated && o.t.Nonce == e.t.Nonce {
			drops = append(drops, mdrop(o, OutcomeConflict))
		}
	}
	e.validated = true
	m.commit(drops)
	m.tidy()
	return drops, 0
}

func (m *model) finalize(t tx.Transfer) ([]Dropped, Code) {
	d := t.Digest()
	if t.Nonce == math.MaxUint64 {
		return nil, CodeNonceExhausted
	}
	if i := m.procIndex(d); i >= 0 && m.processed[i].o == OutcomeFinalized {
		return nil, CodeAlreadyFinalized
	}
	base, tracked := m.base[t.From]
	if !tracked {
		m.record(d, OutcomeFinalized)
		return nil, 0
	}
	if t.Nonce < base {
		return nil, CodeStale
	}
	for _, e := range m.of(t.From) {
		if e.validated && e.t.Nonce == base && e.d == d {
			drops := []Dropped{mdrop(e, OutcomeFinalized)}
			m.commit(drops)
			m.base[t.From] = base + 1
			m.tidy()
			return drops, 0
		}
	}
	drops := m.advanceDrops(t.From, t.Nonce+1, &d)
	wasPending := m.find(d) != nil
	m.commit(drops)
	m.base[t.From] = t.Nonce + 1
	if !wasPending {
		m.record(d, OutcomeFinalized)
	}
	m.tidy()
	return drops, 0
}

func (m *model) remove(d tx.Digest) ([]Dropped, Code) {
	e := m.find(d)
	if e == nil {
		return nil, CodeUnknown
	}
	drops := []Dropped{mdrop(e, OutcomeRemoved)}
	if e.validated {
		var above []*mtx
		for _, o := range m.of(e.t.From) {
			if o.validated && o.t.Nonce > e.t.Nonce {
				above = append(above, o)
			}
		}
		sortDrops(above)
		for _, o := range above {
			drops = append(drops, mdrop(o, OutcomeOrphaned))
		}
	}
	m.commit(drops)
	m.tidy()
	return drops, 0
}

func (m *model) pendingOf(id tx.AccountID) tx.Pending {
	var p tx.Pending
	for _, e := range m.of(id) {
		if e.validated {
			p.Count++
			p.Debits += e.t.Amount + e.t.Fee
		}
	}
	return p
}

func (m *model) ready() []tx.Digest {
	var ids []tx.AccountID
	for id := range m.base {
		ids = append(ids, id)
	}
	slices.SortFunc(ids, func(a, b tx.AccountID) int { return bytes.Compare(a[:], b[:]) })
	var out []tx.Digest
	for _, id := range ids {
		r := m.base[id] + m.validatedCount(id)
		var best *mtx
		for _, e := range m.of(id) {
			if !e.validated && e.t.Nonce == r && (best == nil || e.arrival < best.arrival) {
				best = e
			}
		}
		if best != nil {
			out = append(out, best.d)
		}
	}
	return out
}

func (m *model) status(d tx.Digest) (Status, Outcome) {
	if e := m.find(d); e != nil {
		if e.validated {
			return StatusValidated, 0
		}
		return StatusWaiting, 0
	}
	if i := m.procIndex(d); i >= 0 {
		return StatusProcessed, m.processed[i].o
	}
	return StatusAbsent, 0
}

func (m *model) seen(d tx.Digest) bool {
	if e := m.find(d); e != nil {
		return e.validated
	}
	return m.procIndex(d) >= 0
}

// compare checks a view of the mempool against the model; ids and digests
// are every account and digest the test has used.
func (m *model) compare(v View, ids []tx.AccountID, digests []tx.Digest) error {
	if v.Len() != len(m.pending) {
		return fmt.Errorf("len %d, model %d", v.Len(), len(m.pending))
	}
	for _, id := range ids {
		if got, want := v.Pending(id), m.pendingOf(id); got != want {
			return fmt.Errorf("Pending(%x) = %+v, model %+v", id[:3], got, want)
		}
		gb, gok := v.Base(id)
		wb, wok := m.base[id]
		if gb != wb || gok != wok {
			return fmt.Errorf("Base(%x) = %d,%v, model %d,%v", id[:3], gb, gok, wb, wok)
		}
	}
	var ready []tx.Digest
	for _, c := range v.Ready() {
		ready = append(ready, c.Digest)
		if one, ok := v.Candidate(c.Transfer.From); !ok || one != c {
			return fmt.Errorf("Candidate(%x) disagrees with Ready", c.Transfer.From[:3])
		}
	}
	for _, id := range ids {
		if c, ok := v.Candidate(id); ok && !slices.Contains(ready, c.Digest) {
			return fmt.Errorf("Candidate(%x) not in Ready", id[:3])
		}
	}
	if want := m.ready(); !slices.Equal(ready, want) {
		return fmt.Errorf("Ready = %x, model %x", short(ready), short(want))
	}
	for _, d := range digests {
		gs, go_ := v.Status(d)
		ws, wo := m.status(d)
		if gs != ws || go_ != wo {
			return fmt.Errorf("Status(%x) = %v/%v, model %v/%v", d[:3], gs, go_, ws, wo)
		}
		if v.Seen(d) != m.seen(d) {
			return fmt.Errorf("Seen(%x) = %v, model %v", d[:3], v.Seen(d), m.seen(d))
		}
	}
	var proc []tx.Digest
	for _, r := range m.processed {
		proc = append(proc, r.d)
	}
	if got := v.Processed(); !slices.Equal(got, proc) {
		return fmt.Errorf("processed order %x, model %x", short(got), short(proc))
	}
	return nil
}

func short(ds []tx.Digest) [][]byte {
	out := make([][]byte, len(ds))
	for i := range ds {
		out[i] = ds[i][:3]
	}
	return out
}
