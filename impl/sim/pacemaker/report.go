package pacemaker

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	pm "github.com/fhbft/fhbft/impl/pacemaker"
	"github.com/fhbft/fhbft/impl/sim/network"
)

// Phase is a stretch of the run between scheduled events (start, a
// partition change, a crash or recovery, GST).
type Phase struct {
	Name               string
	Start, End         time.Duration
	ViewStart, ViewEnd pm.View // highest honest view at the start and end
	QCs, TCs           int     // formed by honest replicas
	Commits            int     // distinct blocks newly committed by honest replicas
	Delivered, Dropped int
}

// CrashReport measures the view change after CrashLeaderAt. The stall
// view is the first view an honest replica complained about after the
// crash; latency runs from the first honest entry into that view to the
// first QC an honest replica forms for a later view (the new leader's
// progress). Times are absolute simulated times (-1: never happened).
type CrashReport struct {
	Leader       pm.ReplicaID
	View         pm.View // highest honest view when the leader crashed
	At           time.Duration
	StallView    pm.View
	StallStart   time.Duration
	FirstTimeout time.Duration // first complaint (timer expiry) after the crash
	FirstTC      time.Duration
	FirstQC      time.Duration // first QC of a view above the stall view
	QCView       pm.View
	FirstCommit  time.Duration // first honest commit after that QC
	Hops         int           // message delays on the causal chain from the first timeout to that QC
	measuring    bool
}

// Latency is FirstQC − StallStart (0 if there was no QC).
func (c *CrashReport) Latency() time.Duration {
	if c == nil || c.FirstQC < 0 {
		return 0
	}
	return c.FirstQC - c.StallStart
}

// TimeoutWait is FirstTimeout − StallStart.
func (c *CrashReport) TimeoutWait() time.Duration {
	if c == nil || c.FirstTimeout < 0 {
		return 0
	}
	return c.FirstTimeout - c.StallStart
}

// GSTReport measures progress after GST (PM-29): the views from GST to
// the first block newly committed by an honest replica.
type GSTReport struct {
	At          time.Duration
	View        pm.View       // highest honest view at GST
	Ahead       pm.View       // most views an honest up replica had complained ahead of its view at GST (PM-32)
	FirstCommit time.Duration // -1: none
	CommitView  pm.View       // highest honest view then
}

// Views is the number of views from GST to the first commit after it
// (-1 if none).
func (g *GSTReport) Views() int {
	if g == nil || g.FirstCommit < 0 {
		return -1
	}
	return int(g.CommitView) - int(g.View)
}

// Crypto is the honest replicas' crypto work.
type Crypto struct {
	CertVerifies, CertCacheHits, ProposalVerifies, PartialVerifies, Combines int
	VotesSigned, ComplaintsSigned                                            int
	Steps                                                                    int
	StepWall                                                                 time.Duration // wall time inside Replica.Step (all nodes)
	CheckerWall                                                              time.Duration // wall time of the safety checks
	CheckerVerifies                                                          int           // pairings the checker spent
}

// Report is what a run did.
type Report struct {
	Config           Config
	Q                int
	Steps            int
	SimTime          time.Duration
	MaxView          pm.View
	Net              network.Stats
	Nodes            []*Node
	DistinctCommits  int // blocks on the longest honest committed chain
	MinCommits       int // fewest blocks committed by an honest up replica
	CommitsPerView   float64
	QCs, TCs         int
	EnteredByCause   map[pm.Cause]int // honest replicas
	Phases           []Phase
	Crash            *CrashReport
	GST              *GSTReport
	Crypto           Crypto
	Rejected         [32]int // honest replicas, by pm.Reason
	Evidence         int     // equivocation evidence found by honest replicas
	Submissions      []Submission
	Violations       []Violation
	WireErrors       int
	CheckedEveryStep bool
}

func (s *Sim) curPhase() *Phase { return &s.phases[len(s.phases)-1] }

func (s *Sim) beginPhase(name string) {
	if n := len(s.phases); n > 0 && name != "end" {
		// Several changes at one instant make one phase.
		if p := &s.phases[n-1]; p.Start == s.Now() && p.QCs+p.TCs+p.Commits == 0 {
			p.Name += "; " + name
			return
		}
	}
	st := s.net.Stats()
	drop := st.DroppedRandom + st.DroppedPartition + st.DroppedCrashed
	if len(s.phases) > 0 {
		p := s.curPhase()
		p.End = s.Now()
		p.ViewEnd = s.maxView
		p.Delivered = st.Delivered - p.Delivered
		p.Dropped = drop - p.Dropped
	}
	s.phases = append(s.phases, Phase{Name: name, Start: s.Now(), ViewStart: s.maxView, ViewEnd: s.maxView, Delivered: st.Delivered, Dropped: drop})
}

func (s *Sim) report() *Report {
	s.beginPhase("end")
	s.phases = s.phases[:len(s.phases)-1]
	r := &Report{
		Config: s.cfg, Q: s.q, Steps: s.step, SimTime: s.Now(), MaxView: s.maxView, Net: s.net.Stats(),
		Nodes: s.nodes, DistinctCommits: s.DistinctCommitted(), MinCommits: s.MinCommitted(),
		QCs: s.qcs, TCs: s.tcs, EnteredByCause: map[pm.Cause]int{}, Phases: s.phases, Crash: s.crash, GST: s.gst,
		Submissions: s.subs, Violations: s.chk.Violations(), WireErrors: s.wireErrs, CheckedEveryStep: true,
	}
	if s.maxView > 0 {
		r.CommitsPerView = float64(r.DistinctCommits) / float64(s.maxView)
	}
	if c := r.Crash; c != nil && c.StallView > 0 {
		c.StallStart = s.firstIn[c.StallView]
	}
	r.Crypto.StepWall = s.stepWall
	r.Crypto.CheckerWall = s.checkWall
	r.Crypto.CheckerVerifies = s.chk.Verifies
	r.Crypto.Steps = s.step
	for _, nd := range s.nodes {
		nd.Up = s.net.Up(nd.NID)
		if !nd.Honest {
			continue
		}
		st := nd.Rep.Stats()
		r.Crypto.CertVerifies += st.CertVerifies
		r.Crypto.CertCacheHits += st.CertCacheHits
		r.Crypto.ProposalVerifies += st.ProposalVerifies
		r.Crypto.PartialVerifies += st.PartialVerifies
		r.Crypto.Combines += st.Combines
		r.Crypto.VotesSigned += st.VotesSigned
		r.Crypto.ComplaintsSigned += st.ComplaintsSigned
		for i, n := range nd.Rejected {
			r.Rejected[i] += n
		}
		r.Evidence += nd.Evidence
		for c, n := range nd.Entered {
			r.EnteredByCause[c] += n
		}
	}
	return r
}

// Safe reports whether no invariant was violated.
func (r *Report) Safe() bool { return len(r.Violations) == 0 }

// PerView divides a count by the views the run went through.
func (r *Report) PerView(x int) float64 {
	if r.MaxView == 0 {
		return 0
	}
	return float64(x) / float64(r.MaxView)
}

// Format prints the report for people.
func (r *Report) Format(w io.Writer) {
	c := r.Config
	fmt.Fprintf(w, "fhbft pacemaker: seed=%d n=%d q=%d timeout=%v (T0 %v) delay=%v..%v drop=%.2f gst=%s\n",
		c.Seed, c.N, r.Q, c.Timeout.Mode, c.Timeout.Base, c.MinDelay, c.MaxDelay, c.Drop, gstString(c.GST))
	var byz []string
	for id := pm.ReplicaID(1); int(id) <= c.N; id++ {
		if b := c.Byzantine[id]; b != Honest {
			byz = append(byz, fmt.Sprintf("%d:%s", id, b))
		}
	}
	for _, id := range c.Twins {
		byz = append(byz, fmt.Sprintf("%d:twins", id))
	}
	bound := 2*r.Q - c.N
	fmt.Fprintf(w, "faulty: [%s] b=%d; safety needs b < 2q-n = %d (%s); mutations: %s\n",
		strings.Join(byz, " "), c.Faulty(), bound, boundWord(c.Faulty() < bound), mutString(c.Mutations))

	fmt.Fprintf(w, "\nphases:\n")
	fmt.Fprintf(w, "  %-34s %9s %9s  %-9s %5s %5s %7s %9s %7s\n", "phase", "from", "to", "views", "QCs", "TCs", "commits", "delivered", "dropped")
	for _, p := range r.Phases {
		fmt.Fprintf(w, "  %-34s %9s %9s  %4d-%-4d %5d %5d %7d %9d %7d\n", trunc(p.Name, 34), ms(p.Start), ms(p.End),
			p.ViewStart, p.ViewEnd, p.QCs, p.TCs, p.Commits, p.Delivered, p.Dropped)
	}

	fmt.Fprintf(w, "\nreplicas:\n")
	for _, nd := range r.Nodes {
		st := nd.Rep.State()
		role := "honest"
		switch {
		case nd.Twin:
			role = "twin copy"
		case slices.Contains(c.Twins, nd.ID):
			role = "twin"
		case nd.Behaviour != Honest:
			role = string(nd.Behaviour)
		}
		if !nd.Up {
			role += ", down"
		}
		fmt.Fprintf(w, "  node %d (replica %d, %s): view %d, committed %d blocks / %d commands, lock v%d, qcHigh v%d, evidence %d\n",
			nd.NID, nd.ID, role, st.CurView, nd.Committed, len(nd.Executed), st.BLock.View, st.QCHigh.View(), nd.Evidence)
	}

	fmt.Fprintf(w, "\nsummary: %d steps, simulated %v, views reached %d, %d messages delivered (mean delay %v), %d dropped\n",
		r.Steps, r.SimTime.Round(time.Millisecond), r.MaxView, r.Net.Delivered, r.Net.MeanDelay().Round(10*time.Microsecond),
		r.Net.DroppedRandom+r.Net.DroppedPartition+r.Net.DroppedCrashed)
	fmt.Fprintf(w, "commits: %d distinct blocks (%.2f per view), fewest at an honest replica %d; %d client commands submitted\n",
		r.DistinctCommits, r.CommitsPerView, r.MinCommits, len(r.Submissions))
	fmt.Fprintf(w, "view changes: %d TCs formed; views entered by proposal %d, by QC %d, by TC %d (honest replicas)\n",
		r.TCs, r.EnteredByCause[pm.CauseProposal], r.EnteredByCause[pm.CauseQC], r.EnteredByCause[pm.CauseTC])
	if cr := r.Crash; cr != nil {
		fmt.Fprintf(w, "leader crash: replica %d at %v (view %d); stall view %d entered at %v\n",
			cr.Leader, ms(cr.At), cr.View, cr.StallView, ms(cr.StallStart))
		if cr.FirstQC >= 0 {
			md := r.Net.MeanDelay()
			fmt.Fprintf(w, "  view-change latency %v = timeout wait %v + %v after the timeout (%.1f mean message delays; %d hops on the causal chain); first TC %s, QC of view %d, first commit %s\n",
				ms(cr.Latency()), ms(cr.TimeoutWait()), ms(cr.FirstQC-cr.FirstTimeout), ratio(cr.FirstQC-cr.FirstTimeout, md), cr.Hops,
				msOrNever(cr.FirstTC), cr.QCView, msOrNever(cr.FirstCommit))
		} else {
			fmt.Fprintf(w, "  no progress after the crash (first timeout %s, first TC %s)\n", msOrNever(cr.FirstTimeout), msOrNever(cr.FirstTC))
		}
	}
	if g := r.GST; g != nil {
		if g.FirstCommit >= 0 {
			fmt.Fprintf(w, "after GST (%v, view %d, replicas up to %d views complained ahead): first new commit at %v, %d views later\n",
				ms(g.At), g.View, g.Ahead, ms(g.FirstCommit), g.Views())
		} else {
			fmt.Fprintf(w, "after GST (%v, view %d): no new commit\n", ms(g.At), g.View)
		}
	}
	k := r.Crypto
	fmt.Fprintf(w, "crypto per view (honest replicas): %.1f certificate verifies (+%.1f cache hits), %.1f proposal signature verifies, %.1f partial verifies, %.2f combines, %.1f votes + %.1f complaints signed; Step wall time %v per view (%v total), checker %v (%d pairings)\n",
		r.PerView(k.CertVerifies), r.PerView(k.CertCacheHits), r.PerView(k.ProposalVerifies), r.PerView(k.PartialVerifies), r.PerView(k.Combines),
		r.PerView(k.VotesSigned), r.PerView(k.ComplaintsSigned), perView(k.StepWall, r.MaxView), k.StepWall.Round(time.Millisecond),
		k.CheckerWall.Round(time.Millisecond), k.CheckerVerifies)
	fmt.Fprintf(w, "rejected by honest replicas:")
	benign, hostile := 0, 0
	for reason := pm.Reason(1); int(reason) < len(r.Rejected); reason++ {
		if n := r.Rejected[reason]; n > 0 {
			fmt.Fprintf(w, " %s=%d", reason, n)
			if reason.Benign() {
				benign += n
			} else {
				hostile += n
			}
		}
	}
	fmt.Fprintf(w, " (benign %d, fault or attack %d); equivocation evidence %d\n", benign, hostile, r.Evidence)
	if r.WireErrors > 0 {
		fmt.Fprintf(w, "WIRE: %d messages failed to encode or decode\n", r.WireErrors)
	}
	if r.Safe() {
		fmt.Fprintf(w, "safety: %s held at every step over all honest replicas\n", strings.Join(allInvariants, ", "))
	}
	for i, v := range r.Violations {
		if i == 20 {
			fmt.Fprintf(w, "... %d more violations\n", len(r.Violations)-i)
			break
		}
		fmt.Fprintln(w, "VIOLATION:", v)
	}
}

var allInvariants = []string{InvNoConflictingCommits, InvConflictRefused, InvUniqueQCPerView, InvLockMonotonic, InvCommitOnConsecutive3,
	InvViewMonotonic, InvNextViewNeedsComplaint, InvVoteOncePerView, InvQCVerified, InvViewBound}

func gstString(g time.Duration) string {
	if g == network.Never {
		return "never"
	}
	return g.String()
}

func boundWord(ok bool) string {
	if ok {
		return "within"
	}
	return "AT OR ABOVE: conflicting commits possible"
}

func mutString(m pm.Mutations) string {
	var s []string
	if m.NoConsecutiveCheck {
		s = append(s, "NoConsecutiveCheck")
	}
	if m.AcceptUnverifiedQC {
		s = append(s, "AcceptUnverifiedQC")
	}
	if m.LockDoesNotMove {
		s = append(s, "LockDoesNotMove")
	}
	if m.VoteTwice {
		s = append(s, "VoteTwice")
	}
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ",")
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1fms", float64(d)/float64(time.Millisecond)) }

func msOrNever(d time.Duration) string {
	if d < 0 {
		return "never"
	}
	return ms(d)
}

func ratio(a, b time.Duration) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

func perView(d time.Duration, v pm.View) time.Duration {
	if v == 0 {
		return 0
	}
	return (d / time.Duration(v)).Round(time.Microsecond)
}

func trunc(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}
