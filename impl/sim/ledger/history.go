package ledger

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/fhbft/fhbft/impl/certification"
	"github.com/fhbft/fhbft/impl/dag"
	farmsim "github.com/fhbft/fhbft/impl/sim/farmer"
	"github.com/fhbft/fhbft/impl/state"
	"github.com/fhbft/fhbft/impl/tx"
)

// Client history for a linearizability check (spec/dag.md FIN-1, FIN-2,
// FIN-4, CONV-6..CONV-9, CONV-14). With Config.History set, the run
// records what clients saw:
//
//   - one Transfer per distinct submitted transfer: called at its first
//     submission; its output is finalized in round r, rejected with a
//     reason (by a final block, or certified invalid by the farmers), or
//     unresolved; it returns when the client can know the outcome: at L_r,
//     the first finalization of round r by an honest harvester (the
//     canonical one) for a finalized or CONV-rejected transfer, at the first
//     invalid transaction certificate for one the farmers rejected, at the
//     end of the run for one never resolved;
//   - Reads of an account's balance and nonce at an honest harvester,
//     served from that harvester's own state store (FIN-2), issued every
//     HistoryConfig.ReadEvery of simulated time (a random client's own
//     account, half of the time one that changed in the last final round),
//     plus two probes after every round that applied a transfer: a read of
//     a changed account at the harvester that made the round final, then
//     one at the harvester furthest behind.
//
// Reads follow a read-index protocol (as Raft's ReadIndex): a read called at
// time c takes as its index m the number of rounds final at any honest
// harvester at c, and the harvester answers once its own final chain
// reaches round m, from its state at that moment. The simulator plays the
// oracle for m; how a client learns it is outside the protocol.
//
// Why the history is linearizable against the sequential ledger (initial
// state the genesis; a finalized transfer must be applicable, FARM-11, and
// moves amount and fee; a rejected one changes nothing; a read returns the
// account): place every operation resolved in round r at L_r, in the order
// of the round's final block (applied in CONV-7 order, each rejection at
// the point where CONV decided it), rounds in chain order (FIN-4 makes the
// chain the same at every honest harvester, FIN-2 makes their states equal
// to the chain's), each read at its call c, and each transfer the farmers
// rejected or nobody resolved anywhere in its interval (it changes
// nothing and constrains nothing the ledger holds). A transfer's point lies in
// its interval: it was submitted before it was certified, so before L_r.
// A read returns the chain's state after round m exactly: an answered read
// reflects the round its harvester just reached, m, and L_m ≤ c ≤ L_{m+1}.
// So the placement is a linearization. A read that did not wait (served
// from a harvester behind m) is not linearizable in general: a second read
// at a harvester ahead, earlier in real time, can already have seen the
// round (HistoryMutations.NoReadWait shows the checker rejects it). The
// ledger reasons are checked against the state at the placement: replay
// (CONV-6) needs nonce < the account's nonce, overdraft (CONV-8) nonce =
// the account's nonce and balance < amount + fee, gap-expired (CONV-9)
// nonce > the account's nonce; conflict (CONV-4) and the farmers' reasons
// constrain nothing the ledger holds.
//
// A transfer's return could also be F_r, the time the last honest
// harvester made round r final (TransferOp.LastFinal): that interval
// contains L_r, so it is linearizable too, but weaker. Instantaneous reads
// at any harvester with F_r returns would not be sound: in the window
// [L_r, F_r) a read at a harvester that has made round r final, then a
// read at one that has not, contradict each other whatever the transfers
// return (tests/ledger_porcupine_test.go builds such a history).

// HistoryConfig enables the client history (Config.History).
type HistoryConfig struct {
	// ReadEvery is the mean simulated time between random reads (0: 2ms).
	ReadEvery time.Duration
	// MaxReads bounds the reads issued, probes included (0: 600).
	MaxReads int
	// Mutations are planted bugs in how reads are served (tests: the
	// checker must reject the history).
	Mutations HistoryMutations
}

// HistoryMutations are planted read bugs.
type HistoryMutations struct {
	// StaleReads serves a read from the harvester's state one final round
	// behind its chain (as if it answered before applying its last block).
	StaleReads bool
	// NoReadWait answers a read at once from the harvester's current state,
	// even when it is behind the read index (a stale follower read).
	NoReadWait bool
}

func (c *HistoryConfig) readEvery() time.Duration {
	if c.ReadEvery > 0 {
		return c.ReadEvery
	}
	return 2 * time.Millisecond
}

func (c *HistoryConfig) maxReads() int {
	if c.MaxReads > 0 {
		return c.MaxReads
	}
	return 600
}

func (c *HistoryConfig) validate() error {
	if c.ReadEvery < 0 || c.MaxReads < 0 {
		return fmt.Errorf("ledger sim: negative history read interval or bound")
	}
	return nil
}

// TransferResult is a transfer's outcome as its client learns it.
type TransferResult uint8

const (
	TransferFinalized  TransferResult = iota + 1 // applied by the final block of Round (FIN-2)
	TransferRejected                             // rejected by the final block of Round, or certified invalid (ByFarmers)
	TransferUnresolved                           // neither by the end of the run (uncertified, or lost: FIN-6)
)

func (r TransferResult) String() string {
	switch r {
	case TransferFinalized:
		return "finalized"
	case TransferRejected:
		return "rejected"
	case TransferUnresolved:
		return "unresolved"
	}
	return "result?"
}

// TransferOp is one distinct submitted transfer in the history.
type TransferOp struct {
	Client    int // porcupine client: index of the sending account among the senders
	Tx        tx.Transfer
	Digest    tx.Digest
	Kind      farmsim.Kind
	Call      time.Duration // first submission
	Return    time.Duration // L_r (finalized or CONV-rejected), first invalid certificate (ByFarmers), end of run (unresolved)
	LastFinal time.Duration // F_r: the latest finalization of Round by an honest harvester in the run (0: unresolved or by the farmers)
	Result    TransferResult
	Round     dag.Round // finalized or rejected in (0: by the farmers, or unresolved)
	Reason    string    // CONV reason, or the farmers' reason
	ByFarmers bool
}

// ReadOp is one balance read at a harvester.
type ReadOp struct {
	Client    int // the account owner's porcupine client
	Account   tx.AccountID
	Harvester certification.Member
	Call      time.Duration
	Return    time.Duration
	Index     dag.Round // rounds final anywhere at Call (the read index)
	Round     dag.Round // the harvester's final round the answer reflects
	Value     tx.Account
	Probe     bool // one of the two reads after a round that applied transfers
}

// History is the recorded client history of a run.
type History struct {
	Genesis   []state.Change
	Senders   []tx.AccountID // porcupine client i sends from Senders[i]
	Transfers []TransferOp
	Reads     []ReadOp
	// Unanswered counts reads still waiting for their harvester to reach
	// the read index when the run ended (not in Reads: they constrain
	// nothing).
	Unanswered int
	// Lagged counts answered reads whose harvester was behind the index at
	// the call (the read waited, or with NoReadWait answered stale).
	Lagged int
	End    time.Duration
	// Verdict is set by Check ("" until checked).
	Verdict string
}

// Clone copies the history (tests corrupt copies).
func (h *History) Clone() *History {
	c := *h
	c.Genesis = slices.Clone(h.Genesis)
	c.Senders = slices.Clone(h.Senders)
	c.Transfers = slices.Clone(h.Transfers)
	c.Reads = slices.Clone(h.Reads)
	return &c
}

// Len is the number of operations.
func (h *History) Len() int { return len(h.Transfers) + len(h.Reads) }

type pendingRead struct {
	op    ReadOp
	hn    *hnode
	after time.Duration // probes: issue at the first event strictly after this time
	lag   bool          // second probe: pick the harvester furthest behind at issue time
}

// recorder records the history during a run; nil when Config.History is
// nil (every method is then a no-op).
type recorder struct {
	cfg       HistoryConfig
	rng       *rand.Rand
	senders   []tx.AccountID
	clientOf  map[tx.AccountID]int
	next      time.Duration
	issued    int
	probes    []pendingRead // not yet issued
	waiting   []pendingRead // issued, waiting for the harvester to reach the index
	reads     []ReadOp
	lagged    int
	prev      map[int]state.Tree // per harvester: its state one round back
	lastFinal map[dag.Round]time.Duration
	recent    []tx.AccountID // senders changed by the last final round
}

func newRecorder(cfg *HistoryConfig, seed uint64) *recorder {
	if cfg == nil {
		return nil
	}
	return &recorder{cfg: *cfg, rng: rand.New(rand.NewChaCha8(seedBytes(seed, "history reads"))), clientOf: map[tx.AccountID]int{},
		prev: map[int]state.Tree{}, lastFinal: map[dag.Round]time.Duration{}}
}

// attach learns the clients from the workload: one per sending account,
// in order of first submission.
func (r *recorder) attach(s *sim) {
	if r == nil {
		return
	}
	for _, sub := range s.host.Workload() {
		if _, ok := r.clientOf[sub.Tx.From]; !ok {
			r.clientOf[sub.Tx.From] = len(r.senders)
			r.senders = append(r.senders, sub.Tx.From)
		}
	}
	for _, hn := range s.hs {
		r.prev[hn.idx] = s.genesis
	}
	r.next = r.cfg.readEvery()
}

// readable reports whether reads may go to hn: honest and following the
// canonical chain.
func readable(hn *hnode) bool { return !hn.byz && !hn.halted && !hn.forked }

// tick issues the reads due at the current event. Reads happen at the
// simulated times of existing events, so that recording adds no events
// and changes nothing the protocol does.
func (r *recorder) tick(s *sim) {
	if r == nil || s.done {
		return
	}
	now := s.host.Now()
	keep := r.probes[:0]
	for _, p := range r.probes {
		if now <= p.after || r.issued >= r.cfg.maxReads() {
			keep = append(keep, p)
			continue
		}
		if p.lag {
			p.hn = nil
			for _, hn := range s.hs {
				if readable(hn) && len(hn.chain)-1 < len(s.canon) && (p.hn == nil || len(hn.chain) < len(p.hn.chain)) {
					p.hn = hn
				}
			}
			if p.hn == nil {
				continue // nobody is behind
			}
		}
		if !readable(p.hn) {
			continue
		}
		r.issue(s, p, now)
		if !p.lag {
			// The second probe goes strictly later, to the harvester
			// furthest behind, for the same account.
			keep = append(keep, pendingRead{op: ReadOp{Client: p.op.Client, Account: p.op.Account, Probe: true}, after: now, lag: true})
		}
	}
	r.probes = keep
	if now < r.next || r.issued >= r.cfg.maxReads() || len(r.senders) == 0 {
		return
	}
	// A random read: a random client's own account (half of the time one
	// that changed in the last final round), at a random readable
	// harvester.
	acct := r.senders[r.rng.IntN(len(r.senders))]
	if len(r.recent) > 0 && r.rng.IntN(2) == 0 {
		acct = r.recent[r.rng.IntN(len(r.recent))]
	}
	var hs []*hnode
	for _, hn := range s.hs {
		if readable(hn) {
			hs = append(hs, hn)
		}
	}
	gap := r.cfg.readEvery()
	r.next = now + gap/2 + time.Duration(r.rng.Int64N(int64(gap)+1))
	if len(hs) == 0 {
		return
	}
	hn := hs[r.rng.IntN(len(hs))]
	r.issue(s, pendingRead{op: ReadOp{Client: r.clientOf[acct], Account: acct}, hn: hn}, now)
}

// issue calls a read at now with the current read index and answers it at
// once if the harvester has reached the index.
func (r *recorder) issue(s *sim, p pendingRead, now time.Duration) {
	r.issued++
	p.op.Harvester, p.op.Call, p.op.Index = p.hn.id, now, dag.Round(len(s.canon))
	if dag.Round(len(p.hn.chain)-1) >= p.op.Index || r.cfg.Mutations.NoReadWait {
		r.answer(p, now)
		return
	}
	r.waiting = append(r.waiting, p)
}

func (r *recorder) answer(p pendingRead, now time.Duration) {
	hn := p.hn
	tree, round := hn.store.Tree(), dag.Round(len(hn.chain)-1)
	if round < p.op.Index || p.op.Call < now {
		r.lagged++
	}
	if r.cfg.Mutations.StaleReads && round > 0 {
		tree, round = r.prev[hn.idx], round-1
	}
	a, _ := tree.Get(p.op.Account)
	p.op.Return, p.op.Round, p.op.Value = now, round, a
	r.reads = append(r.reads, p.op)
}

// beforeApply remembers hn's state before it applies its next final block
// (for StaleReads).
func (r *recorder) beforeApply(hn *hnode) {
	if r == nil {
		return
	}
	r.prev[hn.idx] = hn.store.Tree()
}

// finalized is called after honest harvester hn applied its final block
// of round rd: the last finalization time of the round, and the reads
// waiting for hn.
func (r *recorder) finalized(s *sim, hn *hnode, rd dag.Round) {
	if r == nil || !readable(hn) {
		return
	}
	now := s.host.Now()
	r.lastFinal[rd] = max(r.lastFinal[rd], now)
	keep := r.waiting[:0]
	for _, p := range r.waiting {
		if p.hn == hn && dag.Round(len(hn.chain)-1) >= p.op.Index {
			r.answer(p, now)
			continue
		}
		keep = append(keep, p)
	}
	r.waiting = keep
}

// canonical is called when round rd becomes final (first honest
// finalization, by hn): it queues the first probe.
func (r *recorder) canonical(hn *hnode, applied []tx.Transfer, now time.Duration) {
	if r == nil {
		return
	}
	r.recent = r.recent[:0]
	for i := range applied {
		if !slices.Contains(r.recent, applied[i].From) {
			r.recent = append(r.recent, applied[i].From)
		}
	}
	if len(r.recent) == 0 {
		return
	}
	acct := r.recent[r.rng.IntN(len(r.recent))]
	r.probes = append(r.probes, pendingRead{op: ReadOp{Client: r.clientOf[acct], Account: acct, Probe: true}, hn: hn, after: now})
}

// build assembles the history at the end of the run from the outcomes.
func (r *recorder) build(s *sim, rep *Report) *History {
	if r == nil {
		return nil
	}
	end := s.doneAt
	if end == 0 {
		end = s.host.Now()
	}
	h := &History{Genesis: s.host.Genesis(), Senders: slices.Clone(r.senders), Reads: r.reads, Unanswered: len(r.waiting), Lagged: r.lagged, End: end}
	txs := map[tx.Digest]tx.Transfer{}
	for _, sub := range s.host.Workload() {
		txs[sub.Digest] = sub.Tx
	}
	for _, o := range rep.Outcomes {
		t := txs[o.Digest]
		op := TransferOp{Client: r.clientOf[t.From], Tx: t, Digest: o.Digest, Kind: o.Kind, Call: o.FirstSubmit, Return: end, Result: TransferUnresolved}
		switch o.Fate {
		case FateFinalized, FateRejected:
			op.Result, op.Round, op.Reason = TransferFinalized, o.Round, o.Reason
			if o.Fate == FateRejected {
				op.Result = TransferRejected
			}
			op.Return = s.canon[o.Round-1].at
			op.LastFinal = r.lastFinal[o.Round]
		case FateFarmerRejected:
			op.Result, op.Reason, op.ByFarmers = TransferRejected, o.Reason, true
			op.Return = s.certs[o.Digest].first
		}
		op.Return = max(op.Return, op.Call)
		h.Transfers = append(h.Transfers, op)
	}
	return h
}
