package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	pm "github.com/fhbft/fhbft/impl/pacemaker"
	"github.com/fhbft/fhbft/impl/pacemaker/timeout"
	"github.com/fhbft/fhbft/impl/sim/network"
	pmsim "github.com/fhbft/fhbft/impl/sim/pacemaker"
)

// pacemakerCmd runs the pacemaker simulator (impl/sim/pacemaker) and prints
// a per-phase summary, commits per view, the view-change latency after a
// leader crash, crypto cost per view and rejected messages; it exits 1 if a
// safety invariant was violated.
func pacemakerCmd(args []string, stdout, stderr io.Writer) int {
	cfg := pmsim.Default()
	fs := flag.NewFlagSet("pacemaker", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Uint64Var(&cfg.Seed, "seed", cfg.Seed, "simulation seed; the same seed gives the same run")
	fs.IntVar(&cfg.N, "n", cfg.N, "replicas n")
	fs.IntVar(&cfg.Q, "q", 0, "threshold q (0: ceil(0.6·n))")
	byz := fs.String("byz", "none", "Byzantine preset: none, twins, "+behaviourList2())
	byzCount := fs.Int("byz-count", 1, "Byzantine replicas (the last ones) running the preset")
	mut := fs.String("mutations", "", "planted bugs in honest replicas (tests/demos): comma list of NoConsecutiveCheck, AcceptUnverifiedQC, LockDoesNotMove, VoteTwice")
	crashed := fs.String("crash", "", "comma list of replicas that are down from the start")
	fs.DurationVar(&cfg.CrashLeaderAt, "crash-leader-at", cfg.CrashLeaderAt, "crash the leader of the highest view at this simulated time (0: no crash)")
	fs.DurationVar(&cfg.RecoverAfter, "recover-after", 0, "recover the crashed leader this long after the crash (0: never)")
	fs.IntVar(&cfg.ViewsPerLeader, "r", 1, "views per leader R (PM-34)")
	mode := fs.String("timeout", "adaptive", "view timeout: fixed, adaptive, or both (runs twice and compares)")
	fs.DurationVar(&cfg.Timeout.Base, "t0", cfg.Timeout.Base, "fixed timeout, and the adaptive one before -window views")
	fs.DurationVar(&cfg.Timeout.Min, "tmin", cfg.Timeout.Min, "adaptive lower clamp")
	fs.DurationVar(&cfg.Timeout.Max, "tmax", cfg.Timeout.Max, "adaptive upper clamp and backoff cap")
	fs.IntVar(&cfg.Timeout.Window, "window", cfg.Timeout.Window, "adaptive window W (successful views)")
	gst := fs.String("gst", "0", "global stabilisation time (duration, or \"never\"); before it drops and partitions apply")
	fs.DurationVar(&cfg.Delta, "delta", 0, "delay bound after GST (0: -max-delay)")
	fs.Float64Var(&cfg.Drop, "drop", 0, "probability that a message is lost before GST")
	fs.DurationVar(&cfg.MinDelay, "min-delay", cfg.MinDelay, "minimum link delay")
	fs.DurationVar(&cfg.MaxDelay, "max-delay", cfg.MaxDelay, "maximum link delay (before GST)")
	parts := fs.String("partitions", "", "partition schedule, e.g. \"200ms:1,2,5/3,4,6;v30:heal\" (time or vVIEW, groups of network nodes separated by /; twin copies are nodes n+1…)")
	fs.DurationVar(&cfg.CommandInterval, "cmd-interval", cfg.CommandInterval, "submit a client command every interval (0: none)")
	views := fs.Uint64("views", uint64(cfg.MaxViews), "stop when an honest replica reaches this view (0: no limit)")
	fs.DurationVar(&cfg.MaxTime, "time", cfg.MaxTime, "stop at this simulated time (0: no limit)")
	fs.BoolVar(&cfg.Wire, "wire", cfg.Wire, "send every message through its wire encoding")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	fail := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "fhbft pacemaker: "+format+"\n", a...)
		return 2
	}
	cfg.MaxViews = pm.View(*views)
	switch *gst {
	case "never":
		cfg.GST = network.Never
	default:
		d, err := time.ParseDuration(*gst)
		if err != nil {
			return fail("-gst: %v", err)
		}
		cfg.GST = d
	}
	if *byz != "none" {
		if *byzCount < 1 || *byzCount > cfg.N {
			return fail("-byz-count %d outside 1..%d", *byzCount, cfg.N)
		}
		cfg.Byzantine = map[pm.ReplicaID]pmsim.Behaviour{}
		for i := 0; i < *byzCount; i++ {
			id := pm.ReplicaID(cfg.N - i)
			switch b := pmsim.Behaviour(*byz); {
			case *byz == "twins":
				cfg.Twins = append(cfg.Twins, id)
			case pmsim.Known(b) && b != pmsim.Honest:
				cfg.Byzantine[id] = b
			default:
				return fail("unknown -byz %q (none, twins, %s)", *byz, behaviourList2())
			}
		}
	}
	if *crashed != "" {
		for _, f := range strings.Split(*crashed, ",") {
			id, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil || id < 1 || id > cfg.N {
				return fail("-crash: bad replica %q", f)
			}
			cfg.Crashes = append(cfg.Crashes, pmsim.CrashSpec{Replica: pm.ReplicaID(id)})
		}
	}
	if *mut != "" {
		for _, m := range strings.Split(*mut, ",") {
			switch strings.TrimSpace(m) {
			case "NoConsecutiveCheck":
				cfg.Mutations.NoConsecutiveCheck = true
			case "AcceptUnverifiedQC":
				cfg.Mutations.AcceptUnverifiedQC = true
			case "LockDoesNotMove":
				cfg.Mutations.LockDoesNotMove = true
			case "VoteTwice":
				cfg.Mutations.VoteTwice = true
			default:
				return fail("unknown mutation %q", m)
			}
		}
	}
	if *parts != "" {
		ps, err := parsePartitions(*parts)
		if err != nil {
			return fail("-partitions: %v", err)
		}
		cfg.Actions = ps
	}
	var modes []timeout.Mode
	switch *mode {
	case "fixed":
		modes = []timeout.Mode{timeout.Fixed}
	case "adaptive":
		modes = []timeout.Mode{timeout.Adaptive}
	case "both":
		modes = []timeout.Mode{timeout.Fixed, timeout.Adaptive}
	default:
		return fail("-timeout %q: fixed, adaptive or both", *mode)
	}
	code := 0
	var reps []*pmsim.Report
	for i, m := range modes {
		c := cfg
		c.Timeout.Mode = m
		s, err := pmsim.New(c)
		if err != nil {
			return fail("%v", err)
		}
		r := s.Run()
		if i > 0 {
			fmt.Fprintln(stdout)
		}
		r.Format(stdout)
		reps = append(reps, r)
		if !r.Safe() {
			fmt.Fprintf(stderr, "fhbft pacemaker: %d safety violations (seed %d, timeout %v)\n", len(r.Violations), c.Seed, m)
			code = 1
		}
	}
	if len(reps) == 2 {
		fmt.Fprintf(stdout, "\ncomparison of view-change latency after the leader crash:\n")
		for _, r := range reps {
			cr := r.Crash
			if cr == nil || cr.FirstQC < 0 {
				fmt.Fprintf(stdout, "  %-8v no view change measured\n", r.Config.Timeout.Mode)
				continue
			}
			fmt.Fprintf(stdout, "  %-8v %9.1fms (timeout wait %.1fms, then %d message delays / %.1fms)\n", r.Config.Timeout.Mode,
				msf(cr.Latency()), msf(cr.TimeoutWait()), cr.Hops, msf(cr.FirstQC-cr.FirstTimeout))
		}
	}
	return code
}

func msf(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func behaviourList2() string {
	var s []string
	for _, b := range pmsim.Behaviours {
		s = append(s, string(b))
	}
	return strings.Join(s, ", ")
}

// parsePartitions reads "WHEN:GROUPS;WHEN:GROUPS", WHEN a duration or
// vVIEW, GROUPS "heal" or node lists separated by "/".
func parsePartitions(s string) ([]pmsim.Action, error) {
	var out []pmsim.Action
	for _, item := range strings.Split(s, ";") {
		when, groups, ok := strings.Cut(strings.TrimSpace(item), ":")
		if !ok {
			return nil, fmt.Errorf("%q: want WHEN:GROUPS", item)
		}
		p := pmsim.Action{Partition: true}
		if v, isView := strings.CutPrefix(when, "v"); isView {
			n, err := strconv.ParseUint(v, 10, 64)
			if err != nil || n == 0 {
				return nil, fmt.Errorf("%q: bad view", when)
			}
			p.AtView = pm.View(n)
		} else {
			d, err := time.ParseDuration(when)
			if err != nil {
				return nil, err
			}
			p.At = d
		}
		if groups != "heal" {
			for _, g := range strings.Split(groups, "/") {
				var grp []network.NodeID
				for _, f := range strings.Split(g, ",") {
					n, err := strconv.Atoi(strings.TrimSpace(f))
					if err != nil || n < 1 {
						return nil, fmt.Errorf("%q: bad node %q", g, f)
					}
					grp = append(grp, network.NodeID(n))
				}
				p.Groups = append(p.Groups, grp)
			}
		}
		out = append(out, p)
	}
	return out, nil
}
