package ledger

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/fhbft/fhbft/impl/certification"
	"github.com/fhbft/fhbft/impl/dag"
	farmsim "github.com/fhbft/fhbft/impl/sim/farmer"
	"github.com/fhbft/fhbft/impl/sim/network"
	"github.com/fhbft/fhbft/impl/tx"
)

// RoundRow is one final round.
type RoundRow struct {
	Round         dag.Round
	Hash          dag.Hash
	Refs          int // proposal blocks counted (CONV-2)
	Equivocations int
	Applied       int
	Rejected      int
	Deferred      int
	Fees          uint64
	Miner         dag.MinerID
	Rank          uint32
	At            time.Duration          // simulated time of the first finalization
	Proposers     []certification.Member // of the counted blocks
	Equivocators  []certification.Member // with evidence in the block
}

// Proposal is a proposal block as sent (the equivocator's two included).
type Proposal struct {
	Proposer certification.Member
	Hash     dag.Hash
	Digests  []tx.Digest
}

// Fate is what became of a distinct submitted transfer.
type Fate uint8

const (
	FateUncertified    Fate = iota + 1 // no transaction certificate at all
	FateFarmerRejected                 // certified invalid (farmers' reason)
	FateFinalized                      // applied by a final block (FIN-2)
	FateRejected                       // dropped by a final block with a CONV reason
	FateLost                           // certified valid, neither finalized nor rejected (FIN-6)
)

func (f Fate) String() string {
	switch f {
	case FateUncertified:
		return "uncertified"
	case FateFarmerRejected:
		return "rejected by farmers"
	case FateFinalized:
		return "finalized"
	case FateRejected:
		return "rejected"
	case FateLost:
		return "lost"
	}
	return "fate?"
}

// Outcome is one distinct submitted transfer's history.
type Outcome struct {
	Digest       tx.Digest
	Kind         farmsim.Kind
	Fate         Fate
	Round        dag.Round // finalized or rejected in
	Reason       string    // farmers' or CONV reason
	FirstSubmit  time.Duration
	FinalAt      time.Duration
	LatencyRound int
}

// Dist is a distribution summary.
type Dist struct {
	N              int
	Mean, P50, P99 float64
}

func dist(xs []float64) Dist {
	if len(xs) == 0 {
		return Dist{}
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	sum := 0.0
	for _, x := range s {
		sum += x
	}
	at := func(p float64) float64 {
		i := int(p*float64(len(s))+0.999999) - 1
		return s[min(max(i, 0), len(s)-1)]
	}
	return Dist{N: len(s), Mean: sum / float64(len(s)), P50: at(0.50), P99: at(0.99)}
}

// Report is what a run did.
type Report struct {
	Config Config
	QH     int
	Farm   *farmsim.Report
	Rounds []RoundRow
	// Per distinct submitted transfer, in submission order.
	Outcomes []Outcome
	// Proposal blocks sent per round; equivocation evidence in final blocks
	// per proposer (the rounds).
	Proposed  map[dag.Round][]Proposal
	Evidence  map[certification.Member][]dag.Round
	EquivRnds []dag.Round // rounds in which the equivocator signed two blocks
	// Byzantine roles.
	Equivocators        []certification.Member
	OmitMiner, Silent   dag.MinerID
	Corrupt             dag.MinerID // Config.CorruptBlocks
	Submitted           int
	CertifiedValid      int
	CertifiedInvalid    int
	Uncertified         int
	Finalized           int
	RejectedByFarmers   map[string]int
	RejectedByConverge  map[string]int
	Lost                []tx.Digest
	Conflicts           ConflictOutcome
	LatencyRounds       Dist
	LatencySim          Dist     // milliseconds
	MEV                 []uint64 // fees credited per position (index 0: carried over from a deferral)
	MEVCount            []int
	HarvesterRejections map[string]int // typed drops by harvesters (* = not benign)
	MinerRejections     map[string]int
	Commits             int           // commands committed by all replicas
	SimulatedTime       time.Duration // until the farmer layer quiesced
	LedgerTime          time.Duration // when the ledger's part ended (everything settled, budget or stall)
	Wall, CPU           time.Duration
	TraceEvents         int
	Violations          []string
	// History is the client history (Config.History; nil: not recorded).
	History *History
}

// ConflictOutcome counts the conflicting pairs by how many of the pair
// were finalized.
type ConflictOutcome struct{ Pairs, None, One, Both int }

// FinalizedPerCPUSecond is finalized transfers per second of process CPU
// time (all goroutines: validator units included).
func (r *Report) FinalizedPerCPUSecond() float64 {
	if r.CPU <= 0 {
		return 0
	}
	return float64(r.Finalized) / r.CPU.Seconds()
}

// LastFinalization is the simulated time of the last final round that
// applied a transfer (0 if none did).
func (r *Report) LastFinalization() time.Duration {
	for i := len(r.Rounds) - 1; i >= 0; i-- {
		if r.Rounds[i].Applied > 0 {
			return r.Rounds[i].At
		}
	}
	return 0
}

// FinalizedPerSimSecond is finalized transfers per simulated second, from
// time 0 (the first submissions) to the last finalization; empty rounds
// while the run waits for clients to give up on uncertified transfers do
// not count.
func (r *Report) FinalizedPerSimSecond() float64 {
	last := r.LastFinalization()
	if last <= 0 {
		return 0
	}
	return float64(r.Finalized) / last.Seconds()
}

// Outcome looks a transfer up.
func (r *Report) Outcome(d tx.Digest) (Outcome, bool) {
	for _, o := range r.Outcomes {
		if o.Digest == d {
			return o, true
		}
	}
	return Outcome{}, false
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return -1
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// Run executes a whole-protocol simulation. The report is returned even
// when an invariant failed; the error is then a *ViolationError.
func Run(cfg Config) (*Report, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	s := &sim{cfg: cfg, qH: cfg.hq(), byNode: map[network.NodeID]any{}, finalized: map[tx.Digest]dag.Round{}, slots: map[slotKey]tx.Digest{},
		rejected: map[tx.Digest]dag.Reason{}, rejRound: map[tx.Digest]dag.Round{}, deferred: map[tx.Digest]bool{}, certs: map[tx.Digest]*certInfo{},
		proposed: map[dag.Round][]Proposal{}, mev: make([]uint64, cfg.Harvesters+1), mevCount: make([]int, cfg.Harvesters+1),
		evidence: map[certification.Member][]dag.Round{}, hRejected: map[string]int{}, mRejected: map[string]int{},
		equivRnds: map[dag.Round]bool{}, archive: dag.NewStore(), proposals: map[dag.Hash]*dag.ProposalBlock{},
		built: map[dag.Hash]*dag.ConvergenceBlock{}, voteCheck: map[dag.Hash]error{}, rejSet: dag.NewRejectedSet()}
	s.nextProg = cfg.ProgressEvery
	s.hist = newRecorder(cfg.History, cfg.Seed)
	s.trace = newTracer(cfg.Trace, func() time.Duration {
		if s.host == nil {
			return 0
		}
		return s.host.Now()
	})
	fc := cfg.Farm
	fc.Seed, fc.Harvesters, fc.Layer = cfg.Seed, cfg.Harvesters, s
	if cfg.Faults.has(FaultsConflicts) {
		fc.Invalid.Conflict = max(4*fc.Invalid.Conflict, 8)
	}
	cpu0, wall0 := cpuTime(), time.Now()
	frep, err := farmsim.Run(fc)
	cpu1, wall1 := cpuTime(), time.Now()
	if err != nil {
		return nil, err
	}
	rep := &Report{Config: cfg, QH: s.qH, Farm: frep, Rounds: s.rows, Proposed: s.proposed, Evidence: s.evidence,
		RejectedByFarmers: map[string]int{}, RejectedByConverge: map[string]int{}, MEV: s.mev, MEVCount: s.mevCount,
		HarvesterRejections: s.hRejected, MinerRejections: s.mRejected, Commits: s.commits,
		SimulatedTime: frep.SimulatedTime, LedgerTime: s.doneAt, Wall: wall1.Sub(wall0), CPU: cpu1 - cpu0}
	if cpu0 < 0 || cpu1 < 0 {
		rep.CPU = rep.Wall
	}
	for _, hn := range s.hs {
		if hn.byz {
			rep.Equivocators = append(rep.Equivocators, hn.id)
		}
	}
	for _, mn := range s.ms {
		if mn.corrupt {
			rep.Corrupt = mn.id
		}
		if mn.omits {
			rep.OmitMiner = mn.id
		}
		if mn.silent {
			rep.Silent = mn.id
		}
	}
	rep.EquivRnds = slices.Sorted(maps.Keys(s.equivRnds))
	s.finish(rep)
	rep.History = s.hist.build(s, rep)
	if err := s.trace.flush(); err != nil {
		s.violation("trace: %v", err)
	}
	if s.trace != nil {
		rep.TraceEvents = s.trace.n
	}
	if cfg.DOT != nil {
		if err := s.archive.WriteDOT(cfg.DOT); err != nil {
			s.viol = append(s.viol, fmt.Sprintf("DOT: %v", err))
		}
	}
	for _, v := range frep.Violations {
		s.viol = append(s.viol, "farmer layer: "+v)
	}
	rep.Violations = s.viol
	return rep, errorsOf(rep.Violations)
}

// finish classifies every distinct submitted transfer and checks FIN-6.
func (s *sim) finish(rep *Report) {
	roundAt := func(t time.Duration) dag.Round {
		r := dag.Round(1)
		for _, f := range s.canon {
			if f.at <= t {
				r++
			}
		}
		return r
	}
	var latR, latS []float64
	seen := map[tx.Digest]bool{}
	for _, sub := range s.host.Workload() {
		if sub.Dup || seen[sub.Digest] {
			continue
		}
		seen[sub.Digest] = true
		d := sub.Digest
		o := Outcome{Digest: d, Kind: sub.Kind}
		o.FirstSubmit, _ = s.host.FirstSubmitted(d)
		ci := s.certs[d]
		switch {
		case ci == nil:
			o.Fate = FateUncertified
			rep.Uncertified++
		case !ci.valid:
			o.Fate = FateFarmerRejected
			o.Reason = s.host.Reason(d).String()
			if s.host.Reason(d) == 0 {
				o.Reason = "unknown"
			}
			rep.CertifiedInvalid++
			rep.RejectedByFarmers[o.Reason]++
			s.trace.emit(traceEvent{T: max(int64(ci.first), 1), Ev: "rejected", Digest: hexd(d[:]), Reason: o.Reason, By: "farmers"})
		default:
			rep.CertifiedValid++
			if r, ok := s.finalized[d]; ok {
				o.Fate, o.Round = FateFinalized, r
				o.FinalAt = s.canon[r-1].at
				o.LatencyRound = int(r-roundAt(o.FirstSubmit)) + 1
				rep.Finalized++
				latR = append(latR, float64(o.LatencyRound))
				latS = append(latS, float64(o.FinalAt-o.FirstSubmit)/float64(time.Millisecond))
			} else if reason, ok := s.rejected[d]; ok {
				o.Fate, o.Round, o.Reason = FateRejected, s.rejRound[d], reason.String()
				rep.RejectedByConverge[o.Reason]++
			} else {
				o.Fate = FateLost
				rep.Lost = append(rep.Lost, d)
				where := "not in any final block"
				if s.deferred[d] {
					where = "still deferred"
				}
				s.violation("FIN-6: %v transfer %x (nonce %d) certified valid but neither finalized nor rejected (%s)", sub.Kind, d[:8], sub.Tx.Nonce, where)
			}
		}
		if ci != nil && ci.valid && ci.invalid {
			s.violation("%x certified both valid and invalid (CERT-11)", d[:8])
		}
		rep.Outcomes = append(rep.Outcomes, o)
	}
	rep.Submitted = len(rep.Outcomes)
	rep.LatencyRounds, rep.LatencySim = dist(latR), dist(latS)
	for _, p := range s.host.ConflictPairs() {
		rep.Conflicts.Pairs++
		n := 0
		for _, d := range p {
			if _, ok := s.finalized[d]; ok {
				n++
			}
		}
		switch n {
		case 0:
			rep.Conflicts.None++
		case 1:
			rep.Conflicts.One++
		default:
			rep.Conflicts.Both++
			s.violation("conflicting pair %x / %x: both finalized (FIN-5)", p[0][:8], p[1][:8])
		}
	}
	switch {
	case s.budgetHit:
		s.violation("round budget %d reached with transfers unsettled", s.cfg.Rounds)
	case s.stalled:
	case !s.done:
		s.violation("the run ended in round %d without settling every transfer", len(s.canon))
	}
	// Every honest harvester ends on a prefix of the canonical chain of
	// the same length (FIN-4 at the end, not only at each finalization).
	for _, hn := range s.hs {
		if hn.byz || hn.halted || hn.forked {
			continue
		}
		if got := len(hn.chain) - 1; got < len(s.canon) && s.done && !s.budgetHit {
			s.violation("harvester %d ended at round %d, the chain has %d rounds", hn.id, got, len(s.canon))
		}
	}
}

// WriteText prints the report: a per-round table (unless quiet) and the
// summary.
func (r *Report) WriteText(w io.Writer, quiet, verbose bool) {
	c := r.Config
	f := c.Farm
	fmt.Fprintf(w, "fhbft simulate: seed=%d faults=%s; farmers: %d quorums × %d (q=%d, %d Byzantine each); harvesters nH=%d qH=%d; miners M=%d; clients %d × %d transfers (+ invalid, duplicate, conflicting)\n",
		c.Seed, c.Faults, f.Quorums, f.N, (3*f.N+4)/5, f.Byzantine, c.Harvesters, r.QH, c.Miners, f.Clients, f.Transfers)
	var byz []string
	for _, m := range r.Equivocators {
		byz = append(byz, fmt.Sprintf("harvester %d equivocates", m))
	}
	if r.OmitMiner != 0 {
		byz = append(byz, fmt.Sprintf("miner %d omits blocks", r.OmitMiner))
	}
	if r.Silent != 0 {
		byz = append(byz, fmt.Sprintf("miner %d is silent", r.Silent))
	}
	if r.Corrupt != 0 {
		byz = append(byz, fmt.Sprintf("miner %d sends blocks with a wrong state root", r.Corrupt))
	}
	if len(byz) == 0 {
		byz = []string{"none"}
	}
	fmt.Fprintf(w, "Byzantine harvesters/miners: %s (safety bound: Byzantine harvesters < 2qH−nH = %d)\n", strings.Join(byz, ", "), 2*r.QH-c.Harvesters)
	if !quiet {
		fmt.Fprintf(w, "\n%6s %6s %5s %8s %9s %9s %7s %6s %5s %12s\n", "round", "blocks", "equiv", "applied", "rejected", "deferred", "fees", "miner", "rank", "final at")
		for _, row := range r.Rounds {
			fmt.Fprintf(w, "%6d %6d %5d %8d %9d %9d %7d %6d %5d %12s\n", row.Round, row.Refs, row.Equivocations, row.Applied, row.Rejected, row.Deferred, row.Fees, row.Miner, row.Rank, fmtMS(row.At))
		}
	}
	fmt.Fprintf(w, "\nsummary:\n")
	fmt.Fprintf(w, "  submitted %d distinct transfers; certified valid %d, certified invalid %d, uncertified %d\n", r.Submitted, r.CertifiedValid, r.CertifiedInvalid, r.Uncertified)
	fmt.Fprintf(w, "  finalized %d in %d rounds\n", r.Finalized, len(r.Rounds))
	fmt.Fprintf(w, "  rejected by farmers (certified invalid): %s\n", counts(r.RejectedByFarmers))
	fmt.Fprintf(w, "  rejected by convergence (CONV): %s\n", counts(r.RejectedByConverge))
	fmt.Fprintf(w, "  lost: %d\n", len(r.Lost))
	fmt.Fprintf(w, "  conflicting pairs: %d (one finalized %d, none %d, both %d)\n", r.Conflicts.Pairs, r.Conflicts.One, r.Conflicts.None, r.Conflicts.Both)
	fmt.Fprintf(w, "  finality latency (first submission → final): rounds mean %.2f p50 %.0f p99 %.0f; simulated mean %.1fms p50 %.1fms p99 %.1fms\n",
		r.LatencyRounds.Mean, r.LatencyRounds.P50, r.LatencyRounds.P99, r.LatencySim.Mean, r.LatencySim.P50, r.LatencySim.P99)
	fmt.Fprintf(w, "  throughput: %.0f finalized transfers per CPU-second (CPU %v, wall %v); %.0f per simulated second (last finalization at %s)\n",
		r.FinalizedPerCPUSecond(), r.CPU.Round(time.Millisecond), r.Wall.Round(time.Millisecond), r.FinalizedPerSimSecond(), fmtMS(r.LastFinalization()))
	var mev []string
	for p := 1; p < len(r.MEV); p++ {
		mev = append(mev, fmt.Sprintf("%d:%d/%d", p, r.MEV[p], r.MEVCount[p]))
	}
	fmt.Fprintf(w, "  MEV revenue by position (fees/transfers, MEV-5): %s; carried over from deferral %d/%d\n", strings.Join(mev, " "), r.MEV[0], r.MEVCount[0])
	if len(r.Evidence) > 0 {
		var ev []string
		for _, m := range slices.Sorted(maps.Keys(r.Evidence)) {
			ev = append(ev, fmt.Sprintf("harvester %d in %d rounds", m, len(r.Evidence[m])))
		}
		fmt.Fprintf(w, "  equivocation evidence in final blocks: %s\n", strings.Join(ev, ", "))
	}
	fmt.Fprintf(w, "  simulated: ledger done at %s, farmers quiescent at %s; %d messages (farmers and ledger); %d commands committed by all replicas; trace %d events\n",
		fmtMS(r.LedgerTime), fmtMS(r.SimulatedTime), r.Farm.Messages, r.Commits, r.TraceEvents)
	fmt.Fprintf(w, "  typed drops by harvesters (* = not benign): %s; by miners: %s\n", counts(r.HarvesterRejections), counts(r.MinerRejections))
	if h := r.History; h != nil {
		verdict := h.Verdict
		if verdict == "" {
			verdict = "not checked"
		}
		fmt.Fprintf(w, "  client history: %d operations (%d transfers, %d reads, %d of them at a harvester behind the read index, %d unanswered at the end); linearizability: %s\n",
			h.Len(), len(h.Transfers), len(h.Reads), h.Lagged, h.Unanswered, verdict)
	}
	if verbose {
		for _, o := range r.Outcomes {
			if o.Fate == FateFinalized {
				continue
			}
			where := ""
			if o.Round > 0 {
				where = fmt.Sprintf(" in round %d", o.Round)
			}
			fmt.Fprintf(w, "  %x %-13s %s%s %s\n", o.Digest[:8], o.Kind, o.Fate, where, o.Reason)
		}
	}
	if len(r.Violations) == 0 {
		fmt.Fprintln(w, "invariants: FIN-4 chains agree; FIN-5 once per digest and slot; CONV-14 no rejected transfer applied later; every final transfer certified valid; MINE-3 honest votes only for blocks that recompute; FIN-2/FIN-7 state roots match at harvesters, reference ledger and farmers; FIN-8 supply and fee sink; FIN-6 none lost")
	}
	for _, v := range r.Violations {
		fmt.Fprintln(w, "VIOLATION:", v)
	}
}

func counts(m map[string]int) string {
	if len(m) == 0 {
		return "none"
	}
	var out []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		out = append(out, fmt.Sprintf("%s=%d", k, m[k]))
	}
	return strings.Join(out, " ")
}

func fmtMS(d time.Duration) string {
	return fmt.Sprintf("%.1fms", float64(d)/float64(time.Millisecond))
}
