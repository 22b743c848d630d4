package mempool

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/fhbft/fhbft/impl/tx"
	"pgregory.net/rapid"
)

func user(i int) tx.AccountID { return tx.AccountID{0xEE, byte(i)} }

// checkInvariants checks the structure FARM-4 requires of one view: per
// account, validated nonces are exactly base … base+k−1 and debits their
// sum; waiting nonces are ≥ base+k; every ready candidate carries nonce
// base+k, i.e. all its predecessors down to base are validated; the
// entries index matches the accounts.
func checkInvariants(v View) error {
	p := v.p
	n := 0
	for id, a := range p.accounts {
		if a.size() == 0 {
			return fmt.Errorf("account %x tracked with nothing pending", id[:3])
		}
		var debits uint64
		for i, e := range a.validated {
			if !e.validated || e.t.Nonce != a.base+uint64(i) {
				return fmt.Errorf("account %x: validated[%d] has nonce %d, base %d", id[:3], i, e.t.Nonce, a.base)
			}
			debits += e.t.Amount + e.t.Fee
			if p.entries[e.digest] != e {
				return fmt.Errorf("validated entry not indexed")
			}
		}
		if debits != a.debits {
			return fmt.Errorf("account %x: debits %d, sum %d", id[:3], a.debits, debits)
		}
		w := 0
		for nonce, es := range a.waiting {
			if nonce < a.ready() {
				return fmt.Errorf("account %x: waiting at nonce %d below ready nonce %d", id[:3], nonce, a.ready())
			}
			for _, e := range es {
				if e.validated || e.t.Nonce != nonce || p.entries[e.digest] != e {
					return fmt.Errorf("account %x: bad waiting entry", id[:3])
				}
			}
			w += len(es)
		}
		if w != a.nWaiting {
			return fmt.Errorf("account %x: nWaiting %d, counted %d", id[:3], a.nWaiting, w)
		}
		n += a.size()
	}
	if n != len(p.entries) {
		return fmt.Errorf("%d entries indexed, %d in accounts", len(p.entries), n)
	}
	for _, c := range v.Ready() {
		a := p.accounts[c.Transfer.From]
		if a == nil || c.Transfer.Nonce != a.ready() {
			return fmt.Errorf("ready transfer with nonce %d before its predecessor is validated (base %d, %d validated)", c.Transfer.Nonce, a.base, len(a.validated))
		}
	}
	return nil
}

var modelCfg = Config{MaxPending: 10, MaxPerAccount: 5, MaxAhead: 3, ProcessedCap: 8}

// harness drives a Mempool and the model together and tracks, from the
// Mempool's own return values only, which transfers should be pending.
type harness struct {
	m       *Mempool
	mod     *model
	ids     []tx.AccountID
	digests []tx.Digest
	txs     map[tx.Digest]tx.Transfer
	state   map[tx.AccountID]uint64 // the state store's nonces (simulated)
	live    map[tx.Digest]bool      // pending according to the Mempool's returns
	gone    map[tx.Digest]bool      // dropped according to the Mempool's returns
	r       *Reader
	stats   map[string]int
}

func newHarness(t rapid.TB, bug plantedBug) *harness {
	m, err := newWithBug(modelCfg, bug)
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{
		m: m, mod: newModel(modelCfg), txs: map[tx.Digest]tx.Transfer{},
		state: map[tx.AccountID]uint64{}, live: map[tx.Digest]bool{}, gone: map[tx.Digest]bool{},
		r: m.NewReader(), stats: map[string]int{},
	}
	for i := range 3 {
		h.ids = append(h.ids, user(i))
	}
	return h
}

func (h *harness) genTransfer(t *rapid.T) tx.Transfer {
	fi := rapid.IntRange(0, len(h.ids)-1).Draw(t, "from")
	from := h.ids[fi]
	tr := tx.Transfer{
		From:   from,
		To:     h.ids[(fi+1)%len(h.ids)],
		Amount: rapid.Uint64Range(1, 3).Draw(t, "amount"),
		Fee:    rapid.Uint64Range(0, 1).Draw(t, "fee"),
	}
	if rare(t, "huge", 12) {
		tr.Amount = math.MaxUint64/2 + rapid.Uint64Range(0, 2).Draw(t, "hugeAmount")
	}
	d := rapid.SampledFrom([]int{0, 0, 1, 0, 1, 2, 3, -1, 4}).Draw(t, "nonceDelta")
	base := h.state[from]
	if b, ok := h.mod.base[from]; ok {
		base = b
	}
	if d < 0 && base == 0 {
		d = 0
	}
	tr.Nonce = uint64(int64(base) + int64(d))
	if rare(t, "maxNonce", 40) {
		tr.Nonce = math.MaxUint64
	}
	// A variant byte: equal variants make duplicates, different ones
	// conflicting transfers (same sender and nonce).
	tr.Signature[0] = byte(rapid.IntRange(0, 2).Draw(t, "variant"))
	return tr
}

// rare is true about once in n draws. (rapid biases integers towards
// the bounds, so "== 0" would be far more frequent than 1/n.)
func rare(t *rapid.T, label string, n int) bool {
	return rapid.IntRange(0, n-1).Draw(t, label) == n/2
}

func (h *harness) note(tr tx.Transfer) tx.Digest {
	d := tr.Digest()
	if _, ok := h.txs[d]; !ok {
		h.txs[d] = tr
		h.digests = append(h.digests, d)
	}
	return d
}

// pick draws a known digest (most of the time) or an unknown one.
func (h *harness) pick(t *rapid.T) tx.Digest {
	var pend []tx.Digest
	for _, e := range h.mod.pending {
		pend = append(pend, e.d)
	}
	switch {
	case len(pend) > 0 && rapid.IntRange(0, 9).Draw(t, "pickPending") > 1:
		return rapid.SampledFrom(pend).Draw(t, "pending")
	case len(h.digests) > 0 && rapid.Bool().Draw(t, "pickKnown"):
		return rapid.SampledFrom(h.digests).Draw(t, "known")
	}
	return tx.Digest{0xFF, byte(rapid.IntRange(0, 255).Draw(t, "unknown"))}
}

// step performs one random operation on both and compares.
func (h *harness) step(t *rapid.T) {
	var (
		got, want []Dropped
		err       error
		code      Code
		op        string
		added     *tx.Digest
	)
	switch rapid.IntRange(0, 9).Draw(t, "op") {
	case 0, 1, 2, 3:
		op = "add"
		tr := h.genTransfer(t)
		d := h.note(tr)
		nonce := h.state[tr.From]
		if rare(t, "missedFinal", 12) {
			// The state moved on without the mempool being told.
			nonce++
			h.state[tr.From] = nonce
		}
		got, err = h.m.Add(&tr, nonce)
		want, code = h.mod.add(tr, nonce)
		added = &d
	case 4, 5, 6:
		op = "validate"
		// Prefer the candidates, so that chains grow.
		d := h.pick(t)
		if rd := h.mod.ready(); len(rd) > 0 && rapid.Bool().Draw(t, "pickReady") {
			d = rapid.SampledFrom(rd).Draw(t, "ready")
		}
		got, err = h.m.MarkValidated(d)
		want, code = h.mod.validate(d)
	case 7, 8:
		op = "finalize"
		tr := h.genFinal(t)
		h.note(tr)
		got, err = h.m.MarkFinalized(&tr)
		want, code = h.mod.finalize(tr)
		if err == nil {
			h.state[tr.From] = max(h.state[tr.From], tr.Nonce+1)
		}
	case 9:
		op = "remove"
		d := h.pick(t)
		got, err = h.m.Remove(d)
		want, code = h.mod.remove(d)
	}
	if CodeOf(err) != code || (err == nil) != (code == 0) {
		t.Fatalf("%s: err %v, model code %v", op, err, code)
	}
	h.stats[fmt.Sprintf("%s:%v", op, code)]++
	for _, d := range got {
		h.stats["dropped:"+d.Outcome.String()]++
	}
	if !slices.Equal(got, want) {
		t.Fatalf("%s: dropped %+v, model %+v", op, got, want)
	}
	// The no-loss ledger, from return values only.
	if err == nil {
		if added != nil {
			if h.live[*added] {
				t.Fatalf("add accepted a transfer already pending")
			}
			h.live[*added] = true
			delete(h.gone, *added)
		}
		for _, d := range got {
			if !h.live[d.Digest] {
				t.Fatalf("%s dropped %x, which was not pending", op, d.Digest[:3])
			}
			delete(h.live, d.Digest)
			h.gone[d.Digest] = true
		}
	}
	h.check(t, op)
}

// genFinal draws a transfer to finalise at the simulated state nonce: the
// pending one there (validated or not), or a foreign one, sometimes one
// nonce ahead (a finalisation the mempool was not told about) or an old one.
func (h *harness) genFinal(t *rapid.T) tx.Transfer {
	from := rapid.SampledFrom(h.ids).Draw(t, "finalFrom")
	n := h.state[from]
	if b, ok := h.mod.base[from]; ok && b > n {
		n = b
	}
	var here []tx.Transfer
	for _, e := range h.mod.of(from) {
		if e.t.Nonce == n {
			here = append(here, e.t)
		}
	}
	switch k := rapid.IntRange(0, 9).Draw(t, "finalKind"); {
	case k < 6 && len(here) > 0:
		return rapid.SampledFrom(here).Draw(t, "here")
	case k == 6 && len(h.digests) > 0:
		return h.txs[rapid.SampledFrom(h.digests).Draw(t, "old")]
	case k == 7:
		n++
	}
	return tx.Transfer{From: from, To: h.ids[0], Amount: 1, Nonce: n, Signature: [64]byte{0xF0, byte(n)}}
}

func (h *harness) check(t *rapid.T, op string) {
	var err error
	h.m.Read(func(v View) {
		if err = checkInvariants(v); err != nil {
			return
		}
		if err = h.mod.compare(v, h.ids, h.digests); err != nil {
			return
		}
		// Ledger: every transfer ever accepted is pending, or was
		// dropped and is processed or evicted, never both or neither.
		for d := range h.live {
			if s, _ := v.Status(d); s != StatusWaiting && s != StatusValidated {
				err = fmt.Errorf("pending %x has status %v", d[:3], s)
				return
			}
		}
		for d := range h.gone {
			s, _ := v.Status(d)
			if s == StatusWaiting || s == StatusValidated || (s == StatusAbsent && !h.mod.evicted[d]) {
				err = fmt.Errorf("dropped %x has status %v", d[:3], s)
				return
			}
		}
		if v.Len() != len(h.live) {
			err = fmt.Errorf("%d pending, ledger says %d", v.Len(), len(h.live))
		}
	})
	if err != nil {
		t.Fatalf("after %s: %v", op, err)
	}
}

// TestModel checks FARM-4..7 against the reference model: same
// refusals with the same codes, same dropped transfers in the same order,
// same Pending {Count, Debits}, Base, Ready, Status, Seen and processed
// order after every operation; the structural invariants; and a ledger
// kept from return values alone: no transfer is lost or duplicated. After
// each Publish, a Reader sees exactly the writer's state.
func TestModel(t *testing.T) {
	stats := map[string]int{}
	defer func() {
		keys := slices.Sorted(func(yield func(string) bool) {
			for k := range stats {
				if !yield(k) {
					return
				}
			}
		})
		for _, k := range keys {
			t.Logf("%-28s %d", k, stats[k])
		}
	}()
	rapid.Check(t, func(t *rapid.T) { modelProperty(t, stats) })
}

// modelProperty is one random run of the harness (TestModel, FuzzModel).
func modelProperty(t *rapid.T, stats map[string]int) {
	h := newHarness(t, noBug)
	defer h.r.Close()
	for i := range 3 {
		h.state[user(i)] = uint64(rapid.IntRange(0, 3).Draw(t, "stateNonce"))
	}
	for range rapid.IntRange(1, 60).Draw(t, "steps") {
		h.step(t)
		if rapid.IntRange(0, 3).Draw(t, "publish") == 0 {
			h.m.Publish()
			var err error
			h.r.Read(func(v View) { err = h.mod.compare(v, h.ids, h.digests) })
			if err != nil {
				t.Fatalf("reader after publish: %v", err)
			}
		}
	}
	for k, v := range h.stats {
		stats[k] += v
	}
}

// FuzzModel runs the model comparison on fuzzer-chosen operation
// sequences (hostile orders of calls, digests, nonces).
//
//	go test -run '^$' -fuzz FuzzModel ./impl/mempool
func FuzzModel(f *testing.F) {
	f.Fuzz(rapid.MakeFuzz(func(t *rapid.T) { modelProperty(t, map[string]int{}) }))
}

// TestNeverReadyBeforePredecessor (FARM-4): transfers arrive in random
// nonce order with gaps; after every step no candidate has an unvalidated
// predecessor, and MarkValidated refuses every waiting transfer whose
// nonce is not its account's ready nonce.
func TestNeverReadyBeforePredecessor(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		m, err := New(Config{MaxPending: 100, MaxPerAccount: 20, MaxAhead: 10, ProcessedCap: 100})
		if err != nil {
			t.Fatal(err)
		}
		ids := []tx.AccountID{user(1), user(2)}
		var all []tx.Transfer
		for _, id := range ids {
			for n := range uint64(8) {
				all = append(all, tx.Transfer{From: id, To: user(9), Amount: 1, Nonce: n})
			}
		}
		all = rapid.Permutation(all).Draw(t, "arrival")
		validated := map[tx.AccountID]uint64{}
		for _, tr := range all {
			if _, err := m.Add(&tr, 0); err != nil {
				t.Fatal(err)
			}
			// Validate whatever is ready, some of the time.
			for _, c := range m.Ready() {
				if rapid.Bool().Draw(t, "validate") {
					if _, err := m.MarkValidated(c.Digest); err != nil {
						t.Fatalf("candidate refused: %v", err)
					}
					if c.Transfer.Nonce != validated[c.Transfer.From] {
						t.Fatalf("validated nonce %d, predecessor count %d", c.Transfer.Nonce, validated[c.Transfer.From])
					}
					validated[c.Transfer.From]++
				}
			}
			var err error
			var waiting []tx.Digest
			m.Read(func(v View) {
				err = checkInvariants(v)
				for _, a := range v.p.accounts {
					for n, es := range a.waiting {
						if n != a.ready() {
							for _, e := range es {
								waiting = append(waiting, e.digest)
							}
						}
					}
				}
			})
			if err != nil {
				t.Fatal(err)
			}
			for _, d := range waiting {
				if _, err := m.MarkValidated(d); !errors.Is(err, ErrNotReady) {
					t.Fatalf("MarkValidated of a transfer with a missing predecessor: %v", err)
				}
			}
		}
	})
}

// TestPlantedBugCaught: a readiness rule that takes the lowest waiting
// nonce ("next in queue") lets a transfer be validated before its
// predecessor; the invariant checker and the model comparison catch it.
func TestPlantedBugCaught(t *testing.T) {
	m, err := newWithBug(modelCfg, bugLowestWaiting)
	if err != nil {
		t.Fatal(err)
	}
	gap := tx.Transfer{From: user(1), To: user(2), Amount: 1, Nonce: 6}
	if _, err := m.Add(&gap, 5); err != nil { // nonce 5 missing
		t.Fatal(err)
	}
	var ierr error
	m.Read(func(v View) { ierr = checkInvariants(v) })
	if ierr == nil {
		t.Fatal("invariant checker missed a ready transfer with a missing predecessor")
	}
	t.Logf("caught: %v", ierr)
	if _, err := m.MarkValidated(gap.Digest()); err != nil {
		t.Fatalf("bug mode should accept: %v", err)
	}
	m.Read(func(v View) { ierr = checkInvariants(v) })
	if ierr == nil {
		t.Fatal("invariant checker missed a validated transfer with a gap")
	}
	t.Logf("caught: %v", ierr)
	// The same scenario through the model: it refuses.
	mod := newModel(modelCfg)
	mod.add(gap, 5)
	if _, code := mod.validate(gap.Digest()); code != CodeNotReady {
		t.Fatalf("model accepted: %v", code)
	}
}

// TestProcessedEviction (FARM-5): the cache keeps the last ProcessedCap
// digests in insertion order, evicts the oldest, and two mempools given
// the same calls hold the same digests in the same order.
func TestProcessedEviction(t *testing.T) {
	cfg := Config{MaxPending: 100, MaxPerAccount: 100, MaxAhead: 100, ProcessedCap: 4}
	run := func() []tx.Digest {
		m, _ := New(cfg)
		var ds []tx.Digest
		for i := range 7 {
			tr := tx.Transfer{From: user(1), To: user(2), Amount: 1, Nonce: uint64(i)}
			if _, err := m.Add(&tr, 0); err != nil {
				t.Fatal(err)
			}
			ds = append(ds, tr.Digest())
		}
		for _, d := range slices.Backward(ds) {
			if _, err := m.Remove(d); err != nil {
				t.Fatal(err)
			}
		}
		var out []tx.Digest
		m.Read(func(v View) {
			out = v.Processed()
			for i, d := range ds {
				s, _ := v.Status(d)
				if (i <= 3) != (s == StatusProcessed) || (i > 3) != (s == StatusAbsent) {
					t.Errorf("digest %d: status %v", i, s)
				}
			}
		})
		// Removed newest first: 6,5,4 evicted, 3,2,1,0 kept, oldest first.
		if want := []tx.Digest{ds[3], ds[2], ds[1], ds[0]}; !slices.Equal(out, want) {
			t.Fatalf("processed order wrong")
		}
		return out
	}
	if !slices.Equal(run(), run()) {
		t.Fatal("two runs differ")
	}
	// Capacity 0: nothing is cached; a removed transfer may come back.
	m, _ := New(Config{MaxPending: 1, MaxPerAccount: 1})
	tr := tx.Transfer{From: user(1), To: user(2), Amount: 1}
	m.Add(&tr, 0)
	m.Remove(tr.Digest())
	if _, err := m.Add(&tr, 0); err != nil {
		t.Fatalf("re-add without a cache: %v", err)
	}
}

// TestEveryCodeReachable gives each Code an input (FARM-6, FARM-7).
func TestEveryCodeReachable(t *testing.T) {
	seen := map[Code]bool{}
	note := func(err error) {
		if c := CodeOf(err); c != 0 {
			seen[c] = true
		}
	}
	_, err := New(Config{})
	note(err)
	_, err = New(Config{MaxPending: 1})
	note(err)
	_, err = New(Config{MaxPending: 1, MaxPerAccount: 1, ProcessedCap: -1})
	note(err)
	m, _ := New(Config{MaxPending: 3, MaxPerAccount: 2, MaxAhead: 2, ProcessedCap: 10})
	a, b, c := user(1), user(2), user(3)
	mk := func(from tx.AccountID, n, amt uint64) *tx.Transfer {
		return &tx.Transfer{From: from, To: user(9), Amount: amt, Nonce: n}
	}
	_, err = m.Add(nil, 0)
	note(err)
	_, err = m.MarkFinalized(nil)
	note(err)
	m.Add(mk(a, 0, math.MaxUint64/2+1), 0)
	_, err = m.Add(mk(a, 0, math.MaxUint64/2+1), 0)
	note(err) // duplicate
	_, err = m.Add(mk(a, math.MaxUint64, 1), 0)
	note(err) // exhausted
	m.MarkValidated(mk(a, 0, math.MaxUint64/2+1).Digest())
	_, err = m.MarkValidated(mk(a, 0, math.MaxUint64/2+1).Digest())
	note(err) // already validated
	_, err = m.Add(mk(a, 0, 7), 0)
	note(err) // nonce taken
	_, err = m.Add(mk(b, 1, 1), 2)
	note(err) // stale
	_, err = m.Add(mk(b, 9, 1), 0)
	note(err) // too far ahead
	m.Add(mk(a, 1, math.MaxUint64/2+1), 0)
	_, err = m.MarkValidated(mk(a, 1, math.MaxUint64/2+1).Digest())
	note(err) // debits overflow
	_, err = m.Add(mk(a, 2, 1), 0)
	note(err) // account full
	m.Add(mk(b, 0, 1), 0)
	_, err = m.Add(mk(c, 0, 1), 0)
	note(err) // full
	m2, _ := New(DefaultConfig())
	m2.Add(mk(b, 2, 1), 0)
	_, err = m2.MarkValidated(mk(b, 2, 1).Digest())
	note(err) // not ready: nonces 0 and 1 missing
	_, err = m.MarkValidated(tx.Digest{1})
	note(err) // unknown
	fin := mk(c, 0, 1)
	m.MarkFinalized(fin)
	_, err = m.MarkFinalized(fin)
	note(err) // already finalized
	_, err = m.MarkFinalized(mk(c, math.MaxUint64, 1))
	note(err)
	for _, code := range Codes() {
		if !seen[code] {
			t.Errorf("code %v never produced", code)
		}
		if code.String() == "" || CodeOf(&Error{Code: code}) != code || !errors.Is(&Error{Code: code, Detail: "x"}, &Error{Code: code}) {
			t.Errorf("code %v: names or matching broken", code)
		}
	}
}

// accounts is a map AccountView for the integration test.
type accounts map[tx.AccountID]tx.Account

func (a accounts) Account(id tx.AccountID) tx.Account { return a[id] }

// TestWithValidate wires the mempool's Reader into tx.Validate with real
// signatures: a waiting transfer is not a duplicate of itself (FARM-5),
// once validated it is (TX-15), its successor validates only with the
// pending count and debits (TX-17, TX-18), and a finalised chain leaves
// the mempool as the state advances.
func TestWithValidate(t *testing.T) {
	seed := [32]byte{1}
	priv := ed25519.NewKeyFromSeed(seed[:])
	var from, to tx.AccountID
	copy(from[:], priv.Public().(ed25519.PublicKey))
	seed[0] = 2
	copy(to[:], ed25519.NewKeyFromSeed(seed[:]).Public().(ed25519.PublicKey))
	state := accounts{from: {Balance: 100}}
	cfg := tx.Config{MinFee: 1}
	m, _ := New(DefaultConfig())
	r := m.NewReader()
	defer r.Close()
	var chain []tx.Transfer
	for n := range uint64(3) {
		tr := tx.Transfer{From: from, To: to, Amount: 30, Fee: 1, Nonce: n}
		tr.Sign(priv)
		chain = append(chain, tr)
		if _, err := m.Add(&tr, state[from].Nonce); err != nil {
			t.Fatal(err)
		}
	}
	m.Publish()
	for i, tr := range chain {
		rd := r.Ready()
		if len(rd) != 1 || rd[0].Digest != tr.Digest() {
			t.Fatalf("step %d: ready %v", i, rd)
		}
		if err := cfg.Validate(rd[0].Transfer, state, r); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		if _, err := m.MarkValidated(tr.Digest()); err != nil {
			t.Fatal(err)
		}
		m.Publish()
		if tx.ReasonOf(cfg.Validate(&tr, state, r)) != tx.ReasonDuplicate {
			t.Fatalf("step %d: validated transfer not seen", i)
		}
	}
	// A fourth transfer would overspend counting the pending debits.
	over := tx.Transfer{From: from, To: to, Amount: 30, Fee: 1, Nonce: 3}
	over.Sign(priv)
	if tx.ReasonOf(cfg.Validate(&over, state, r)) != tx.ReasonInsufficientFunds {
		t.Fatal("pending debits not counted")
	}
	// Finalise the chain: the state advances, the mempool empties.
	for _, tr := range chain {
		a := state[from]
		state[from] = tx.Account{Balance: a.Balance - tr.Amount - tr.Fee, Nonce: a.Nonce + 1}
		ds, err := m.MarkFinalized(&tr)
		if err != nil || len(ds) != 1 || ds[0].Outcome != OutcomeFinalized {
			t.Fatalf("finalize: %v %v", ds, err)
		}
	}
	m.Publish()
	if r.Pending(from) != (tx.Pending{}) || !r.Seen(chain[0].Digest()) {
		t.Fatal("after finalisation")
	}
}

// TestConcurrentReaders: a writer performs random operations and publishes
// while readers check the structural invariants inside each read; a torn
// or half-replayed copy would break them (FARM-1..3). Run with -race.
func TestConcurrentReaders(t *testing.T) {
	m, _ := New(Config{MaxPending: 200, MaxPerAccount: 20, MaxAhead: 8, ProcessedCap: 64})
	var stop atomic.Bool
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	base := m.NewReader()
	for ri := range 2 {
		r := base.Clone()
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer r.Close()
			for i := 0; !stop.Load() || i < 20; i++ {
				var err error
				r.Read(func(v View) { err = checkInvariants(v) })
				_ = r.Pending(user(i % 8))
				_ = r.Seen(tx.Digest{byte(i)})
				if err != nil {
					errs <- fmt.Errorf("reader %d: %v", ri, err)
					return
				}
				runtime.Gosched()
			}
		}()
	}
	rng := rand.New(rand.NewPCG(9, 9))
	state := map[tx.AccountID]uint64{}
	for i := range 3000 {
		from := user(rng.IntN(8))
		switch rng.IntN(4) {
		case 0, 1:
			tr := tx.Transfer{From: from, To: user(9), Amount: 1 + rng.Uint64N(9), Nonce: state[from] + rng.Uint64N(4), Signature: [64]byte{byte(rng.IntN(2))}}
			m.Add(&tr, state[from])
		case 2:
			for _, c := range m.Ready() {
				if rng.IntN(2) == 0 {
					m.MarkValidated(c.Digest)
				}
			}
		case 3:
			var head *tx.Transfer
			m.Read(func(v View) {
				if a := v.p.accounts[from]; a != nil && len(a.validated) > 0 {
					h := *a.validated[0].t
					head = &h
				}
			})
			if head != nil {
				m.MarkFinalized(head)
				state[from] = head.Nonce + 1
			}
		}
		if i%5 == 0 {
			m.Publish()
		}
	}
	m.Publish()
	stop.Store(true)
	wg.Wait()
	base.Close()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
