package farmer

import (
	"bytes"
	"cmp"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/fhbft/fhbft/impl/certification"
	farm "github.com/fhbft/fhbft/impl/farmer"
	"github.com/fhbft/fhbft/impl/tx"
)

// KindResult is what happened to the distinct transfers of one kind.
type KindResult struct {
	Submitted, CertifiedValid, CertifiedInvalid, Uncertified int
}

// QuorumLoad is one farmer quorum's share of the work.
type QuorumLoad struct {
	Quorum        int
	Entered       int // distinct transfers whose entry quorum this is
	Certified     int
	Received      int // transfers accepted by its members (relays, forwards in, clients)
	Forwarded     int // forwards sent by its members to other quorums (first attempts)
	Validations   int // validations by its honest members (Byzantine ones excluded)
	Shadow        int // of which shadow (no vote)
	MinValidation int // per honest member
	MaxValidation int
	TakenOver     int
	DelegatedOut  int
	Votes         int
}

// Conflicts is what happened to the conflicting pairs.
type Conflicts struct {
	Pairs, OneValid, NoneValid, BothValid, Uncertified int
}

// LogKind says what a trace entry records.
type LogKind uint8

const (
	LogHeld    LogKind = iota + 1 // the role accepted a transfer
	LogRequest                    // the role asked for a validation (EffectValidate)
	LogVerdict                    // a verdict was delivered (Validated)
)

// LogEntry is one line of an honest farmer's trace.
type LogEntry struct {
	At      time.Duration
	Kind    LogKind
	Digest  tx.Digest
	From    tx.AccountID
	Nonce   uint64
	Shadow  bool
	Verdict certification.Verdict
	Reason  tx.Reason
	// Unfinal lists, for a request, the held lower-nonce transfers of the
	// sender that had no final verdict at that moment (FARM-31: none).
	Unfinal []tx.Digest
}

// NodeTrace is one honest farmer's trace.
type NodeTrace struct {
	Quorum     int
	Member     farm.Member
	Log        []LogEntry
	Placements []farm.Placement
	Remaining  int // scheduler tasks held at the end
}

// Trace holds every honest farmer's trace (Config.Trace).
type Trace struct{ Nodes []*NodeTrace }

// Report summarises a run.
type Report struct {
	Config Config
	Q      int
	// Transfers.
	Submitted        int // distinct transfers
	Submissions      int // client sends that reached a farmer (duplicates and retries included)
	Retries          int // client resubmissions after ClientTimeout
	ByKind           map[Kind]*KindResult
	CertifiedValid   int
	CertifiedInvalid int
	InvalidByReason  map[tx.Reason]int // certified invalid, by the honest farmers' reason
	Lost             []tx.Digest       // transfers of honest clients without a certificate
	Conflicts        Conflicts
	RefusedByFarmers map[string]int // typed refusals by farmer roles (duplicates, misroutes, ...)
	// Certification.
	Certificates  int // by all harvesters
	Votes         int
	RejectedVotes map[certification.Reason]int
	Evidence      int // equivocation evidence recorded by collectors
	// Load.
	Quorums            []QuorumLoad
	ValidationsPerCert float64 // honest validations per certified transfer (perfect allocation: at most q)
	// Time and throughput.
	SimulatedTime   time.Duration
	FirstSubmission time.Duration
	LastCertificate time.Duration
	LastValid       time.Duration // last certificate of a transfer certified valid
	LatencyMean     time.Duration // first submission → first certificate, certified transfers
	LatencyMax      time.Duration
	Messages        int
	Dropped         int
	// Wall clock (varies between runs).
	ValidateWall  time.Duration // inside validator units
	Validated     int
	ValidateCalls int
	Workers       int
	CollectTime   time.Duration
	CollectSteps  int
	VerifyTime    time.Duration
	Verifies      int
	Violations    []string
	Trace         *Trace
}

// SimulatedTPS is certified transfers per simulated second, from the first
// submission to the last certificate.
func (r *Report) SimulatedTPS() float64 {
	span := r.LastCertificate - r.FirstSubmission
	if span <= 0 {
		return 0
	}
	return float64(r.CertifiedValid+r.CertifiedInvalid) / span.Seconds()
}

// ValidTPS is transfers certified valid per simulated second, from the
// first submission to the last valid certificate (the nonce-gap transfers'
// park timeout does not stretch it).
func (r *Report) ValidTPS() float64 {
	span := r.LastValid - r.FirstSubmission
	if span <= 0 {
		return 0
	}
	return float64(r.CertifiedValid) / span.Seconds()
}

// ValidatorTPS is transfers validated per wall-clock second inside the
// validator units (with their goroutines), and per worker.
func (r *Report) ValidatorTPS() (total, perWorker float64) {
	if r.ValidateWall <= 0 {
		return 0, 0
	}
	total = float64(r.Validated) / r.ValidateWall.Seconds()
	return total, total / float64(max(r.Workers, 1))
}

// finish computes the figures and checks the invariants.
func (s *sim) finish() {
	r := s.rep
	for _, k := range Kinds() {
		r.ByKind[k] = &KindResult{}
	}
	if len(s.farmers) > 0 && s.farmers[0].unit != nil {
		r.Workers = s.farmers[0].unit.Workers()
	} else {
		for _, f := range s.farmers {
			if f.unit != nil {
				r.Workers = f.unit.Workers()
			}
		}
	}
	// Distinct transfers, in submission order (deterministic).
	var distinct []submission
	seen := map[tx.Digest]bool{}
	for _, sub := range s.work.subs {
		if !sub.dup && !seen[sub.d] {
			seen[sub.d] = true
			distinct = append(distinct, sub)
		}
	}
	r.Submitted = len(distinct)
	inPair := map[tx.Digest]bool{}
	for _, p := range s.work.pairs {
		inPair[p[0]], inPair[p[1]] = true, true
	}
	r.FirstSubmission = -1
	var latSum time.Duration
	latN := 0
	accepted := map[tx.Digest]bool{}
	for _, sub := range distinct {
		kr := r.ByKind[sub.kind]
		kr.Submitted++
		cs := s.certs[sub.d]
		if t, ok := s.firstSub[sub.d]; ok && (r.FirstSubmission < 0 || t < r.FirstSubmission) {
			r.FirstSubmission = t
		}
		if len(cs) == 0 {
			kr.Uncertified++
			if !inPair[sub.d] {
				r.Lost = append(r.Lost, sub.d)
				s.violation("lost: %v transfer %x (nonce %d) has no certificate", sub.kind, sub.d[:8], sub.t.Nonce)
			}
			continue
		}
		first := cs[0]
		for _, c := range cs[1:] {
			if c.verdict != first.verdict {
				s.violation("conflicting certificates for %x: %v by harvester %d, %v by harvester %d", sub.d[:8], first.verdict, first.harvester, c.verdict, c.harvester)
			}
			if c.at < first.at {
				first = c
			}
		}
		if want := s.table.Lookup(sub.t.From); int(want) != first.quorum+1 {
			s.violation("%x certified by quorum %d, its entry quorum is %d", sub.d[:8], first.quorum+1, want)
		}
		if lat := first.at - s.firstSub[sub.d]; lat >= 0 {
			latSum += lat
			latN++
			r.LatencyMax = max(r.LatencyMax, lat)
		}
		r.LastCertificate = max(r.LastCertificate, first.at)
		r.Certificates += len(cs)
		if first.verdict == certification.Accept {
			r.LastValid = max(r.LastValid, first.at)
			kr.CertifiedValid++
			r.CertifiedValid++
			accepted[sub.d] = true
		} else {
			kr.CertifiedInvalid++
			r.CertifiedInvalid++
			r.InvalidByReason[s.honestReason(sub.d)]++
		}
	}
	if latN > 0 {
		r.LatencyMean = latSum / time.Duration(latN)
	}
	for _, p := range s.work.pairs {
		r.Conflicts.Pairs++
		a, b := accepted[p[0]], accepted[p[1]]
		switch {
		case a && b:
			r.Conflicts.BothValid++
		case a || b:
			r.Conflicts.OneValid++
		default:
			r.Conflicts.NoneValid++
		}
		if len(s.certs[p[0]]) == 0 || len(s.certs[p[1]]) == 0 {
			r.Conflicts.Uncertified++
		}
	}
	s.checkValidity(accepted)
	s.load()
	for _, f := range s.farmers {
		if f.table.Digest() != s.table.Digest() {
			s.violation("farmer %d/%d built a different entry table (ENTRY-3)", f.quorum+1, f.member)
		}
		if f.behaviour != "" {
			continue
		}
		for _, d := range sortedDigests(f.twice) {
			s.violation("honest farmer %d/%d voted two verdicts on %x (CERT-5)", f.quorum+1, f.member, d[:8])
		}
		tasks, agree := f.role.Tasks()
		if !agree {
			s.violation("honest farmer %d/%d: role and scheduler disagree on the tasks held (SCHED-13)", f.quorum+1, f.member)
		}
		for _, t := range tasks {
			s.violation("honest farmer %d/%d: task %x left in the %v queue at the end (%v, entry %v)", f.quorum+1, f.member, t.Digest[:8], t.Place, s.work.kinds[t.Digest], t.Entry)
		}
		if f.trace != nil {
			f.trace.Remaining = f.role.SchedulerLen()
		}
	}
}

// honestReason is the most frequent last reason delivered to honest
// farmers for a transfer (ties: the smaller reason).
func (s *sim) honestReason(d tx.Digest) tx.Reason {
	count := map[tx.Reason]int{}
	for _, f := range s.farmers {
		if f.behaviour == "" {
			if rs, ok := f.reasons[d]; ok && rs != 0 {
				count[rs]++
			}
		}
	}
	best, n := tx.Reason(0), 0
	for _, rs := range tx.Reasons() {
		if count[rs] > n {
			best, n = rs, count[rs]
		}
	}
	return best
}

// checkValidity replays the certified-valid transfers on the genesis state,
// sender by sender in nonce order: each must pass tx.Config.Validate given
// its certified predecessors as pending. A failure is an invalid transfer
// certified valid (VOTE-6).
func (s *sim) checkValidity(accepted map[tx.Digest]bool) {
	genesis := map[tx.AccountID]tx.Account{}
	for _, c := range s.work.genesis {
		genesis[c.ID] = c.Account
	}
	o := &oracle{accounts: genesis, pending: map[tx.AccountID]tx.Pending{}, seen: map[tx.Digest]bool{}}
	var ts []tx.Transfer
	for _, d := range sortedDigests(accepted) {
		ts = append(ts, s.work.txs[d])
	}
	slices.SortFunc(ts, func(a, b tx.Transfer) int {
		return cmp.Or(bytes.Compare(a.From[:], b.From[:]), cmp.Compare(a.Nonce, b.Nonce))
	})
	admit := func(t *tx.Transfer) {
		p := o.pending[t.From]
		p.Count++
		p.Debits += t.Amount + t.Fee
		o.pending[t.From] = p
		o.seen[t.Digest()] = true
	}
	for i := range ts {
		t := &ts[i]
		err := txConfig.Validate(t, o, o)
		// A gap left by a transfer that has no certificate at all (lost,
		// reported as such) is not a wrong acceptance: count the lost
		// transfer as pending if it is valid there, and try again.
		for tx.ReasonOf(err) == tx.ReasonNonceGap {
			l, ok := s.lostAt(t.From, o.accounts[t.From].Nonce+o.pending[t.From].Count, o)
			if !ok {
				break
			}
			admit(l)
			err = txConfig.Validate(t, o, o)
		}
		if err != nil {
			d := t.Digest()
			s.violation("invalid transfer certified valid: %v %x: %v", s.work.kinds[d], d[:8], err)
			continue
		}
		admit(t)
	}
}

// lostAt finds a submitted transfer of sender from with this nonce that has
// no certificate and is valid against o.
func (s *sim) lostAt(from tx.AccountID, nonce uint64, o *oracle) (*tx.Transfer, bool) {
	for _, d := range sortedDigests(s.work.txs) {
		t := s.work.txs[d]
		if t.From == from && t.Nonce == nonce && len(s.certs[d]) == 0 && txConfig.Validate(&t, o, o) == nil {
			return &t, true
		}
	}
	return nil, false
}

type oracle struct {
	accounts map[tx.AccountID]tx.Account
	pending  map[tx.AccountID]tx.Pending
	seen     map[tx.Digest]bool
}

func (o *oracle) Account(id tx.AccountID) tx.Account { return o.accounts[id] }
func (o *oracle) Pending(id tx.AccountID) tx.Pending { return o.pending[id] }
func (o *oracle) Seen(d tx.Digest) bool              { return o.seen[d] }

func sortedDigests[V any](m map[tx.Digest]V) []tx.Digest {
	out := make([]tx.Digest, 0, len(m))
	for d := range m {
		out = append(out, d)
	}
	slices.SortFunc(out, func(a, b tx.Digest) int { return bytes.Compare(a[:], b[:]) })
	return out
}

// load fills the per-quorum figures.
func (s *sim) load() {
	r := s.rep
	r.Quorums = make([]QuorumLoad, s.cfg.Quorums)
	for k := range r.Quorums {
		r.Quorums[k].Quorum = k + 1
		r.Quorums[k].MinValidation = -1
	}
	seen := map[tx.Digest]bool{}
	for _, sub := range s.work.subs {
		if sub.dup || seen[sub.d] {
			continue
		}
		seen[sub.d] = true
		k := int(s.table.Lookup(sub.t.From)) - 1
		r.Quorums[k].Entered++
		if len(s.certs[sub.d]) > 0 {
			r.Quorums[k].Certified++
		}
	}
	validations := 0
	for _, f := range s.farmers {
		if f.behaviour != "" {
			continue
		}
		st := f.role.Stats()
		ql := &r.Quorums[f.quorum]
		ql.Received += st.Received
		ql.Forwarded += st.Forwarded
		ql.Validations += st.Validations
		ql.Shadow += st.Shadow
		ql.TakenOver += st.TakenOver
		ql.DelegatedOut += st.DelegatedOut
		ql.Votes += st.Votes
		if ql.MinValidation < 0 || st.Validations < ql.MinValidation {
			ql.MinValidation = st.Validations
		}
		ql.MaxValidation = max(ql.MaxValidation, st.Validations)
		validations += st.Validations
	}
	if c := r.CertifiedValid + r.CertifiedInvalid; c > 0 {
		r.ValidationsPerCert = float64(validations) / float64(c)
	}
}

// WriteText prints the report for `fhbft farm`.
func (r *Report) WriteText(w io.Writer, verbose bool) {
	c := r.Config
	fmt.Fprintf(w, "fhbft farm: seed=%d quorums=%d n=%d q=%d harvesters=%d clients=%d×%d alloc=%v timeout=%v step=%d park=%v delay=%v..%v drop=%.2f\n",
		c.Seed, c.Quorums, c.N, r.Q, c.Harvesters, c.Clients, c.Transfers, c.Alloc, c.Timeout, max(c.FallbackStep, 1), c.ParkTimeout, c.MinDelay, c.MaxDelay, c.Drop)
	bound := 2*r.Q - c.N
	var bs []string
	for _, b := range c.Behaviours {
		bs = append(bs, string(b))
	}
	fmt.Fprintf(w, "byzantine farmers: %d per quorum (%s); safety needs < 2q-n = %d: %s; liveness needs q=%d honest active (have %d)\n",
		c.Byzantine, strings.Join(bs, ","), bound, within(c.Byzantine < bound), r.Q, c.N-c.Byzantine)
	fmt.Fprintf(w, "\ntransfers: %d distinct submitted (%d sends reached farmers, %d client retries)\n", r.Submitted, r.Submissions, r.Retries)
	fmt.Fprintf(w, "  %-14s %9s %10s %10s %11s\n", "kind", "submitted", "valid", "invalid", "uncertified")
	for _, k := range Kinds() {
		kr := r.ByKind[k]
		fmt.Fprintf(w, "  %-14s %9d %10d %10d %11d\n", k, kr.Submitted, kr.CertifiedValid, kr.CertifiedInvalid, kr.Uncertified)
	}
	fmt.Fprintf(w, "certified valid: %d; certified invalid: %d, by reason:", r.CertifiedValid, r.CertifiedInvalid)
	for _, reason := range append([]tx.Reason{0}, tx.Reasons()...) {
		if n := r.InvalidByReason[reason]; n > 0 {
			name := reason.String()
			if reason == 0 {
				name = "unknown"
			}
			fmt.Fprintf(w, " %s=%d", name, n)
		}
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "lost: %d\n", len(r.Lost))
	fmt.Fprintf(w, "conflicting pairs: %d (one certified valid %d, none %d, both %d; pairs with an uncertified member %d)\n",
		r.Conflicts.Pairs, r.Conflicts.OneValid, r.Conflicts.NoneValid, r.Conflicts.BothValid, r.Conflicts.Uncertified)
	fmt.Fprintf(w, "typed refusals by farmer roles (duplicates, late notices and refused delegations are benign):")
	if len(r.RefusedByFarmers) == 0 {
		fmt.Fprint(w, " none")
	}
	keys := make([]string, 0, len(r.RefusedByFarmers))
	for k := range r.RefusedByFarmers {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		fmt.Fprintf(w, " [%s]=%d", strings.TrimPrefix(k, "farmer: "), r.RefusedByFarmers[k])
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "\nvotes sent: %d; certificates: %d (all harvesters); rejected votes:", r.Votes, r.Certificates)
	if len(r.RejectedVotes) == 0 {
		fmt.Fprint(w, " none")
	}
	for reason := certification.Reason(1); reason <= certification.ReasonEncoding; reason++ {
		if n := r.RejectedVotes[reason]; n > 0 {
			fmt.Fprintf(w, " %s=%d", reason, n)
		}
	}
	fmt.Fprintf(w, "; equivocation evidence: %d\n", r.Evidence)
	fmt.Fprintf(w, "\nper quorum (work of honest members): \n            %7s %9s %8s %9s %11s %7s %13s %9s %9s %6s\n", "entered", "certified", "received", "forwarded", "validations", "shadow", "per member", "takeovers", "delegated", "votes")
	for _, q := range r.Quorums {
		fmt.Fprintf(w, "  quorum %-3d %7d %9d %8d %9d %11d %7d %6d..%-6d %9d %9d %6d\n", q.Quorum, q.Entered, q.Certified, q.Received, q.Forwarded,
			q.Validations, q.Shadow, q.MinValidation, q.MaxValidation, q.TakenOver, q.DelegatedOut, q.Votes)
	}
	fmt.Fprintf(w, "honest validations per certified transfer: %.2f (perfect allocation: at most q = %d with %d honest of n = %d; every member: %d)\n", r.ValidationsPerCert, r.Q, c.N-c.Byzantine, c.N, c.N-c.Byzantine)
	fmt.Fprintf(w, "\nsimulated: %v total; last certificate %v (%.0f certificates/s), last valid one %v (%.0f valid transfers/s); latency mean %v, max %v; %d messages (%d dropped)\n",
		r.SimulatedTime.Round(time.Millisecond), r.LastCertificate.Round(time.Millisecond), r.SimulatedTPS(),
		r.LastValid.Round(time.Millisecond), r.ValidTPS(), r.LatencyMean.Round(time.Microsecond), r.LatencyMax.Round(time.Microsecond), r.Messages, r.Dropped)
	tot, per := r.ValidatorTPS()
	fmt.Fprintf(w, "wall clock: validator units %d transfers in %d calls, %v (%.0f transfers/s, %.0f per worker, %d workers; small batches: see BenchmarkValidator for the unit's throughput)\n",
		r.Validated, r.ValidateCalls, r.ValidateWall.Round(time.Millisecond), tot, per, r.Workers)
	fmt.Fprintf(w, "            collectors %d steps %v (%v each); certificate checks %d, %v (%v each)\n",
		r.CollectSteps, r.CollectTime.Round(time.Millisecond), avg(r.CollectTime, r.CollectSteps), r.Verifies, r.VerifyTime.Round(time.Millisecond), avg(r.VerifyTime, r.Verifies))
	if verbose {
		for _, d := range r.Lost {
			fmt.Fprintf(w, "lost transfer %x\n", d[:8])
		}
	}
	if len(r.Violations) == 0 {
		fmt.Fprintln(w, "invariants: no transfer lost; one verdict per transfer; every certificate verifies and comes from the entry quorum; certified-valid set replays on genesis; honest farmers voted once per transfer; schedulers drained")
	}
	for _, v := range r.Violations {
		fmt.Fprintln(w, "VIOLATION:", v)
	}
}

func within(ok bool) string {
	if ok {
		return "within the bound"
	}
	return "AT OR ABOVE THE BOUND: conflicting or invalid certificates are possible"
}

func avg(d time.Duration, n int) time.Duration {
	if n == 0 {
		return 0
	}
	return (d / time.Duration(n)).Round(time.Microsecond)
}
