package dag

import (
	"bytes"
	"crypto/ed25519"
	"flag"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"

	"github.com/fhbft/fhbft/impl/certification"
	"github.com/fhbft/fhbft/impl/crypto/bls"
	"github.com/fhbft/fhbft/impl/crypto/threshold"
	"github.com/fhbft/fhbft/impl/state"
	"github.com/fhbft/fhbft/impl/tx"
	"pgregory.net/rapid"
)

// ---- keys and rosters (dealt once; deterministic seeds) ----

type quorumKeys struct {
	roster certification.Roster
	shares []threshold.SecretShare
}

type world struct {
	harvesters quorumKeys
	farmers    []quorumKeys // quorums 1 and 2
	accounts   []ed25519.PrivateKey
	verifier   RosterVerifier
}

var (
	worldOnce sync.Once
	theWorld  *world
)

func deal(t testing.TB, quorum certification.QuorumID, n, q int, seed byte) quorumKeys {
	t.Helper()
	gk, shares, err := threshold.TrustedDealerForTesting(n, q, rand.NewChaCha8([32]byte{'d', 'a', 'g', seed, byte(n), byte(q)}))
	if err != nil {
		t.Fatal(err)
	}
	return quorumKeys{roster: certification.Roster{Quorum: quorum, Epoch: 7, Key: gk}, shares: shares}
}

// testWorld: a harvester quorum of 4 (q = 3), farmer quorums 1 and 2 of 4
// (q = 3), eight funded account keys; the entry quorum of an account is 1
// + (first byte mod 2).
func testWorld(t testing.TB) *world {
	t.Helper()
	worldOnce.Do(func() {
		w := &world{harvesters: deal(t, 100, 4, 3, 'h')}
		w.farmers = []quorumKeys{deal(t, 1, 4, 3, 'a'), deal(t, 2, 4, 3, 'b')}
		for i := range 8 {
			var seed [32]byte
			seed[0], seed[1] = 'k', byte(i)
			w.accounts = append(w.accounts, ed25519.NewKeyFromSeed(seed[:]))
		}
		w.verifier = RosterVerifier{
			Rosters: []certification.Roster{w.farmers[0].roster, w.farmers[1].roster},
			Entry:   entryOf,
		}
		theWorld = w
	})
	return theWorld
}

func entryOf(id tx.AccountID) certification.QuorumID { return certification.QuorumID(1 + id[0]%2) }

func (w *world) id(i int) tx.AccountID {
	var a tx.AccountID
	copy(a[:], w.accounts[i].Public().(ed25519.PublicKey))
	return a
}

func (w *world) transfer(from, to int, amount, fee, nonce uint64) tx.Transfer {
	t := tx.Transfer{To: w.id(to), Amount: amount, Fee: fee, Nonce: nonce}
	t.Sign(w.accounts[from])
	return t
}

// certify makes a real transaction certificate from the entry quorum.
func (w *world) certify(t testing.TB, tr tx.Transfer, verdict certification.Verdict) certification.Certificate {
	t.Helper()
	q := w.farmers[entryOf(tr.From)-1]
	d := certification.Digest(tr.Digest())
	st := certification.Statement{Quorum: q.roster.Quorum, Epoch: q.roster.Epoch,
		Slot: certification.Slot{Kind: certification.KindTx, ID: d}, Value: certification.Value{Subject: d, Verdict: verdict}}
	return w.certifyStatement(t, q, st)
}

func (w *world) certifyStatement(t testing.TB, q quorumKeys, st certification.Statement) certification.Certificate {
	t.Helper()
	bm := certification.NewBitmap(q.roster.N())
	var parts []threshold.Partial
	for _, s := range q.shares[:q.roster.Q()] {
		v := certification.SignVote(s, st)
		parts = append(parts, threshold.Partial{Index: v.Member, Sig: v.Partial})
		bm.Set(v.Member)
	}
	sig, err := threshold.Combine(q.roster.Q(), parts)
	if err != nil {
		t.Fatal(err)
	}
	return certification.Certificate{Statement: st, Signers: bm, Signature: sig}
}

func (w *world) certified(t testing.TB, from, to int, amount, fee, nonce uint64) CertifiedTx {
	tr := w.transfer(from, to, amount, fee, nonce)
	return CertifiedTx{Transfer: tr, Cert: w.certify(t, tr, certification.Accept)}
}

func (w *world) genesis() []state.Change {
	var g []state.Change
	for i := range w.accounts {
		g = append(g, state.Change{ID: w.id(i), Account: tx.Account{Balance: 1000}})
	}
	return g
}

// ---- cheap fixtures for Converge (no crypto: Converge checks none) ----

// acct is a synthetic account ID, never the fee sink.
func acct(i int) tx.AccountID {
	var a tx.AccountID
	a[0], a[1] = 0xA0, byte(i)
	return a
}

// dummyCert is a certificate-shaped value (Converge never verifies it).
func dummyCert(d tx.Digest) certification.Certificate {
	return certification.Certificate{
		Statement: certification.Statement{Quorum: 1, Epoch: 7,
			Slot: certification.Slot{Kind: certification.KindTx, ID: certification.Digest(d)}, Value: certification.Value{Subject: certification.Digest(d), Verdict: certification.Accept}},
		Signers:   certification.NewBitmap(4),
		Signature: placeholderSig,
	}
}

func ctx(from, to int, amount, fee, nonce uint64, tag uint32) CertifiedTx {
	t := tx.Transfer{From: acct(from), To: acct(to), Amount: amount, Fee: fee, Nonce: nonce}
	t.Signature[0], t.Signature[1], t.Signature[2], t.Signature[3] = byte(tag>>24), byte(tag>>16), byte(tag>>8), byte(tag)
	return CertifiedTx{Transfer: t, Cert: dummyCert(t.Digest())}
}

// placeholderSig is a valid subgroup point that verifies for nothing in
// this package: blocks built by block() carry it so that their encodings
// (and evidence made from them) decode, without the cost of signing.
var placeholderSig = func() bls.Signature {
	sk, err := bls.SecretKeyFromBytes(bytes.Repeat([]byte{1}, bls.SecretKeySize))
	if err != nil {
		panic(err)
	}
	return bls.Sign(sk, []byte("FHBFT/dag/test-placeholder/v1"), nil)
}()

func block(prev *ConvergenceBlock, proposer certification.Member, txs ...CertifiedTx) ProposalBlock {
	return ProposalBlock{Quorum: prev.Quorum, Epoch: prev.Epoch, Round: prev.Round + 1, Proposer: proposer, Prev: prev.Hash(), Txs: txs, Signature: placeholderSig}
}

func testParams(n int) Params {
	return Params{Harvesters: n, MaxBlockBytes: 1 << 20, MaxBlockTxs: 1 << 12, MinRefs: 1, MaxDeferRounds: 4, Fallbacks: 3}
}

func treeOf(accts map[int]tx.Account) ([]state.Change, state.Tree) {
	var g []state.Change
	for i, a := range accts {
		g = append(g, state.Change{ID: acct(i), Account: a})
	}
	slices.SortFunc(g, func(a, b state.Change) int { return bytes.Compare(a.ID[:], b.ID[:]) })
	return g, state.NewTree(g)
}

func reasonOf(b *ConvergenceBlock, d tx.Digest) (Reason, bool) {
	for _, r := range b.Rejected {
		if r.Digest == d {
			return r.Reason, true
		}
	}
	return 0, false
}

func isDeferred(b *ConvergenceBlock, d tx.Digest) (Round, bool) {
	for _, x := range b.Deferred {
		if x.Tx.Digest() == d {
			return x.Since, true
		}
	}
	return 0, false
}

// ---- rapid scenario ----

type scenario struct {
	p       Params
	prev    ConvergenceBlock
	beacon  Hash
	genesis []state.Change
	st      state.Tree
	in      Input
	pool    []CertifiedTx
}

const scenarioAccounts = 5

// drawScenario draws a round: a few accounts, a pool of transfers with
// many slot conflicts, nonce gaps and stale nonces, carried deferred
// transfers, and harvesters that are honest, silent, equivocating (with
// or without explicit evidence) or whose blocks are delivered twice.
func drawScenario(t *rapid.T) *scenario {
	n := rapid.IntRange(1, 6).Draw(t, "harvesters")
	s := &scenario{p: testParams(n)}
	s.p.MaxDeferRounds = Round(rapid.IntRange(1, 4).Draw(t, "maxDefer"))
	accts := map[int]tx.Account{}
	for i := range scenarioAccounts {
		accts[i] = tx.Account{
			Balance: rapid.Uint64Range(0, 120).Draw(t, fmt.Sprintf("balance%d", i)),
			Nonce:   rapid.Uint64Range(0, 2).Draw(t, fmt.Sprintf("nonce%d", i)),
		}
	}
	var sinkBal uint64 = rapid.Uint64Range(0, 10).Draw(t, "sink")
	s.genesis, _ = treeOf(accts)
	if sinkBal > 0 {
		s.genesis = append([]state.Change{{ID: state.FeeSink, Account: tx.Account{Balance: sinkBal}}}, s.genesis...)
	}
	s.st = state.NewTree(s.genesis)

	s.prev = ConvergenceBlock{Quorum: 100, Epoch: 7, Round: Round(rapid.IntRange(0, 6).Draw(t, "prevRound"))}
	s.prev.Beacon[0] = 1
	s.beacon = Hash{byte(rapid.IntRange(0, 255).Draw(t, "beacon"))}

	poolSize := rapid.IntRange(0, 24).Draw(t, "pool")
	for i := range poolSize {
		from := rapid.IntRange(0, 2).Draw(t, "from") // three senders: many conflicts
		to := rapid.IntRange(0, scenarioAccounts-2).Draw(t, "to")
		if to >= from {
			to++
		}
		base := accts[from].Nonce
		nonce := uint64(rapid.IntRange(0, int(base)+3).Draw(t, "nonce"))
		amount := rapid.Uint64Range(1, 60).Draw(t, "amount")
		fee := rapid.Uint64Range(0, 5).Draw(t, "fee")
		s.pool = append(s.pool, ctx(from, to, amount, fee, nonce, uint32(i)))
	}
	// Carried deferred transfers: distinct pool entries, Since in prev's past.
	carried := rapid.SliceOfNDistinct(rapid.IntRange(0, max(poolSize-1, 0)), 0, min(poolSize, 4), rapid.ID[int]).Draw(t, "carried")
	if poolSize > 0 {
		for _, i := range carried {
			since := Round(rapid.IntRange(0, int(s.prev.Round)).Draw(t, "since"))
			s.prev.Deferred = append(s.prev.Deferred, Deferred{Tx: s.pool[i], Since: since})
		}
		slices.SortFunc(s.prev.Deferred, func(a, b Deferred) int {
			da, db := a.Tx.Digest(), b.Tx.Digest()
			return bytes.Compare(da[:], db[:])
		})
	}
	// CONV-14: the node's rejected set: some pool entries (slot open or
	// already closed by the state, carried or not) and one transfer no
	// input holds; or no set at all.
	if rapid.Bool().Draw(t, "hasRejectedSet") {
		s.in.Rejected = NewRejectedSet()
		foreign := ctx(1, 3, 7, 1, 1, 9999)
		s.in.Rejected.Add(RejectedTx{Transfer: foreign.Transfer, Digest: foreign.Digest(), Reason: ReasonConflict})
		if poolSize > 0 {
			for _, i := range rapid.SliceOfNDistinct(rapid.IntRange(0, poolSize-1), 0, min(poolSize, 6), rapid.ID[int]).Draw(t, "rejected") {
				why := rapid.SampledFrom(Reasons()).Draw(t, "rejectedReason")
				s.in.Rejected.Add(RejectedTx{Transfer: s.pool[i].Transfer, Digest: s.pool[i].Digest(), Reason: why})
			}
		}
	}
	subset := func(label string) []CertifiedTx {
		if poolSize == 0 {
			return nil
		}
		idx := rapid.SliceOfNDistinct(rapid.IntRange(0, poolSize-1), 0, poolSize, rapid.ID[int]).Draw(t, label)
		out := make([]CertifiedTx, len(idx))
		for k, i := range idx {
			out[k] = s.pool[i]
		}
		return out
	}
	honest := rapid.IntRange(1, n).Draw(t, "honestOne") // at least one proposer counts
	for m := 1; m <= n; m++ {
		kind := "honest"
		if m != honest {
			kind = rapid.SampledFrom([]string{"honest", "honest", "silent", "equivocate", "evidence-only", "twice"}).Draw(t, "kind")
		}
		pm := certification.Member(m)
		switch kind {
		case "honest":
			s.in.Blocks = append(s.in.Blocks, block(&s.prev, pm, subset("txs")...))
		case "twice":
			b := block(&s.prev, pm, subset("txs")...)
			s.in.Blocks = append(s.in.Blocks, b, b)
		case "equivocate", "evidence-only":
			b1 := block(&s.prev, pm, subset("txs1")...)
			b2 := block(&s.prev, pm, subset("txs2")...)
			b2.Txs = append(b2.Txs, ctx(0, 1, 1, 0, 0, uint32(1000+m))) // surely different
			if kind == "equivocate" {
				s.in.Blocks = append(s.in.Blocks, b1, b2)
			} else if rapid.Bool().Draw(t, "oneBlockToo") {
				s.in.Blocks = append(s.in.Blocks, b1)
			}
			if kind == "evidence-only" || rapid.Bool().Draw(t, "explicitEvidence") {
				e, err := NewEquivocation(&b1, &b2)
				if err != nil {
					t.Fatal(err)
				}
				s.in.Evidence = append(s.in.Evidence, e)
			}
		}
	}
	return s
}

func (s *scenario) converge(t interface{ Fatalf(string, ...any) }, miner MinerID, rank uint32, in Input) Outcome {
	out, err := Converge(s.p, &s.prev, s.beacon, s.st, miner, rank, in)
	if err != nil {
		t.Fatalf("Converge: %v", err)
	}
	return out
}

func encode(t interface{ Fatalf(string, ...any) }, b *ConvergenceBlock) []byte {
	e, err := b.MarshalBinary()
	if err != nil {
		t.Fatalf("encode: %v", err)
	}
	return e
}

// ---- the spec-literal oracle (and the benchmark's naive baseline) ----

type oracleResult struct {
	counted  []certification.Member
	applied  []tx.Digest
	rejected map[tx.Digest]Reason
	deferred map[tx.Digest]Round
	fees     uint64
	root     state.Hash
	cands    map[tx.Digest]bool
}

// naiveConverge follows spec/dag.md §5 sentence by sentence with maps and
// a quadratic application loop (scan every winner for the ready one with
// the least key), sharing no code with Converge except Order.
func naiveConverge(p Params, prev *ConvergenceBlock, beacon Hash, st state.Tree, in Input) oracleResult {
	round := prev.Round + 1
	// CONV-2
	hashes := map[certification.Member]map[Hash]*ProposalBlock{}
	for i := range in.Blocks {
		b := &in.Blocks[i]
		if hashes[b.Proposer] == nil {
			hashes[b.Proposer] = map[Hash]*ProposalBlock{}
		}
		hashes[b.Proposer][b.Hash()] = b
	}
	evid := map[certification.Member]bool{}
	for _, e := range in.Evidence {
		evid[e.Proposer] = true
	}
	res := oracleResult{rejected: map[tx.Digest]Reason{}, deferred: map[tx.Digest]Round{}, cands: map[tx.Digest]bool{}}
	var counted []*ProposalBlock
	for m, hs := range hashes {
		if len(hs) == 1 && !evid[m] {
			for _, b := range hs {
				counted = append(counted, b)
			}
			res.counted = append(res.counted, m)
		}
	}
	slices.Sort(res.counted)
	// CONV-3
	order := Order(beacon, p.Harvesters)
	type cand struct {
		t     tx.Transfer
		rank  int
		d     tx.Digest
		since Round
	}
	cands := map[tx.Digest]*cand{}
	for _, d := range prev.Deferred {
		cands[d.Tx.Digest()] = &cand{t: d.Tx.Transfer, rank: 0, d: d.Tx.Digest(), since: d.Since}
	}
	for _, b := range counted {
		pos := Position(order, b.Proposer)
		for _, c := range b.Txs {
			d := c.Digest()
			if x, ok := cands[d]; ok {
				x.rank = min(x.rank, pos)
				continue
			}
			cands[d] = &cand{t: c.Transfer, rank: pos, d: d, since: round}
		}
	}
	// CONV-14: less the rejected set, whose entries with a closed slot
	// (nonce below the sender's) CONV-14 has dropped.
	for _, e := range in.Rejected.Entries() {
		if a, _ := st.Get(e.From); e.Nonce >= a.Nonce {
			delete(cands, e.Digest)
		}
	}
	less := func(a, b *cand) bool {
		if a.rank != b.rank {
			return a.rank < b.rank
		}
		return bytes.Compare(a.d[:], b.d[:]) < 0
	}
	// CONV-4
	type slot struct {
		from  tx.AccountID
		nonce uint64
	}
	best := map[slot]*cand{}
	for d, c := range cands {
		res.cands[d] = true
		s := slot{c.t.From, c.t.Nonce}
		if b, ok := best[s]; !ok || less(c, b) {
			best[s] = c
		}
	}
	accounts := map[tx.AccountID]tx.Account{}
	st.Each(func(id tx.AccountID, a tx.Account) { accounts[id] = a })
	var pending []*cand
	for _, c := range cands {
		if best[slot{c.t.From, c.t.Nonce}] != c {
			res.rejected[c.d] = ReasonConflict
		} else if c.t.Nonce < accounts[c.t.From].Nonce { // CONV-6
			res.rejected[c.d] = ReasonReplay
		} else {
			pending = append(pending, c)
		}
	}
	// CONV-7, CONV-8: quadratic ready scan.
	for {
		var next *cand
		at := -1
		for i, c := range pending {
			if c != nil && c.t.Nonce == accounts[c.t.From].Nonce && (next == nil || less(c, next)) {
				next, at = c, i
			}
		}
		if next == nil {
			break
		}
		pending[at] = nil
		from := accounts[next.t.From]
		if from.Balance < next.t.Amount+next.t.Fee {
			res.rejected[next.d] = ReasonOverdraft
			continue
		}
		from.Balance -= next.t.Amount + next.t.Fee
		from.Nonce++
		accounts[next.t.From] = from
		to := accounts[next.t.To]
		to.Balance += next.t.Amount
		accounts[next.t.To] = to
		sink := accounts[state.FeeSink]
		sink.Balance += next.t.Fee
		accounts[state.FeeSink] = sink
		res.fees += next.t.Fee
		res.applied = append(res.applied, next.d)
	}
	// CONV-9
	for _, c := range pending {
		if c == nil {
			continue
		}
		if round-c.since < p.MaxDeferRounds {
			res.deferred[c.d] = c.since
		} else {
			res.rejected[c.d] = ReasonGapExpired
		}
	}
	var all []state.Change
	for id, a := range accounts {
		all = append(all, state.Change{ID: id, Account: a})
	}
	res.root = state.NewTree(all).Root()
	return res
}

// ---- expected-failure rapid checks ----

// recordTB is a rapid.TB that records failure instead of failing the test,
// so a test can assert that a property FAILS on a planted bug.
type recordTB struct {
	name   string
	mu     sync.Mutex
	failed bool
	msgs   []string
}

func (r *recordTB) Helper()      {}
func (r *recordTB) Name() string { return r.name }
func (r *recordTB) Logf(f string, a ...any) {
	r.mu.Lock()
	r.msgs = append(r.msgs, fmt.Sprintf(f, a...))
	r.mu.Unlock()
}
func (r *recordTB) Log(a ...any)             { r.Logf("%s", fmt.Sprint(a...)) }
func (r *recordTB) Skipf(f string, a ...any) { r.Logf(f, a...); r.stop() }
func (r *recordTB) Skip(a ...any)            { r.Log(a...); r.stop() }
func (r *recordTB) SkipNow()                 { r.stop() }
func (r *recordTB) Errorf(f string, a ...any) {
	r.Logf(f, a...)
	r.Fail()
}
func (r *recordTB) Error(a ...any)            { r.Log(a...); r.Fail() }
func (r *recordTB) Fatalf(f string, a ...any) { r.Errorf(f, a...); r.stop() }
func (r *recordTB) Fatal(a ...any)            { r.Error(a...); r.stop() }
func (r *recordTB) FailNow()                  { r.Fail(); r.stop() }
func (r *recordTB) Fail() {
	r.mu.Lock()
	r.failed = true
	r.mu.Unlock()
}
func (r *recordTB) Failed() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.failed
}

type stopSignal struct{}

func (r *recordTB) stop() { panic(stopSignal{}) }

var flagMu sync.Mutex

// expectFailure runs rapid.Check on prop with the planted bug mut and
// fails t unless the property fails. Fail files are not written (the
// failure is expected), up to 2000 cases are tried so a rare bug is still
// found, and shrinking is capped at a second so the test stays fast.
func expectFailure(t *testing.T, mut mutationKind, prop func(*rapid.T)) {
	t.Helper()
	flagMu.Lock()
	defer flagMu.Unlock()
	restore := setFlags(t, map[string]string{"rapid.nofailfile": "true", "rapid.shrinktime": "1s", "rapid.checks": "2000"})
	defer restore()
	mutation = mut
	defer func() { mutation = mutNone }()
	rec := &recordTB{name: t.Name() + "/expected-failure"}
	func() {
		defer func() {
			if r := recover(); r != nil {
				if _, ok := r.(stopSignal); !ok {
					panic(r)
				}
			}
		}()
		rapid.Check(rec, prop)
	}()
	if !rec.Failed() {
		t.Fatalf("property passed with the planted bug %d: it cannot catch it", mut)
	}
	// The first message is rapid's report, naming the seed.
	if len(rec.msgs) > 0 {
		msg := rec.msgs[0]
		if i := bytes.IndexByte([]byte(msg), '\n'); i > 0 {
			msg = msg[:i]
		}
		t.Logf("caught as expected: %s", msg)
	}
}

func setFlags(t *testing.T, kv map[string]string) func() {
	t.Helper()
	old := map[string]string{}
	for k, v := range kv {
		f := flag.Lookup(k)
		if f == nil {
			t.Fatalf("no flag %s", k)
		}
		old[k] = f.Value.String()
		if err := f.Value.Set(v); err != nil {
			t.Fatal(err)
		}
	}
	return func() {
		for k, v := range old {
			_ = flag.Lookup(k).Value.Set(v)
		}
	}
}
