// Command fhbft is the command-line front end of the fhbft reference
// implementation. `simulate` runs the whole protocol (impl/sim/ledger:
// farmers, harvesters, pacemaker, miners, convergence and finality, spec/dag.md);
// `certify`, `pacemaker` and `farm` run the simulators of the slices beneath
// it (threshold certification, the harvester pacemaker, the farmer pipeline).
// Every run is deterministic from its seed and exits 1 if an invariant failed.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/fhbft/fhbft/impl/certification"
	"github.com/fhbft/fhbft/impl/sim"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprintln(stdout, "usage: fhbft simulate [flags]   the whole protocol: transfers to final ledger rounds (fhbft simulate --help lists the flags)")
		fmt.Fprintln(stdout, "       fhbft certify [flags]    threshold certification only (fhbft certify --help)")
		fmt.Fprintln(stdout, "       fhbft pacemaker [flags]  the harvester pacemaker only (fhbft pacemaker --help)")
		fmt.Fprintln(stdout, "       fhbft farm [flags]       farmer quorums to transaction certificates (fhbft farm --help)")
		return 0
	}
	switch args[0] {
	case "simulate":
		return simulateCmd(args[1:], stdout, stderr)
	case "certify":
		return certify(args[1:], stdout, stderr)
	case "pacemaker":
		return pacemakerCmd(args[1:], stdout, stderr)
	case "farm":
		return farmCmd(args[1:], stdout, stderr)
	}
	fmt.Fprintf(stderr, "fhbft: unknown command %q\n", args[0])
	return 2
}

// certify runs the certification-only simulator (impl/sim), which was
// `fhbft simulate` before the whole protocol existed.
func certify(args []string, stdout, stderr io.Writer) int {
	cfg := sim.Default()
	fs := flag.NewFlagSet("certify", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Uint64Var(&cfg.Seed, "seed", cfg.Seed, "simulation seed; the same seed gives the same run")
	fs.IntVar(&cfg.N, "n", cfg.N, "quorum size n")
	fs.IntVar(&cfg.Q, "q", 0, "threshold q (0: ceil(0.6·n))")
	fs.IntVar(&cfg.Collectors, "collectors", cfg.Collectors, "harvesters collecting votes")
	fs.IntVar(&cfg.Subjects, "subjects", cfg.Subjects, "subjects (slots) to certify")
	fs.IntVar(&cfg.Byzantine, "byz", cfg.Byzantine, "Byzantine members (the last ones of the roster)")
	behaviours := fs.String("behaviours", "", "comma-separated Byzantine behaviours, rotated over Byzantine members (default: all of "+behaviourList()+")")
	fs.IntVar(&cfg.Crashed, "crashed", cfg.Crashed, "honest members that crash at -crash-at")
	fs.DurationVar(&cfg.CrashAt, "crash-at", cfg.CrashAt, "simulated time of the crashes")
	fs.DurationVar(&cfg.MinDelay, "min-delay", cfg.MinDelay, "minimum message delay")
	fs.DurationVar(&cfg.MaxDelay, "max-delay", cfg.MaxDelay, "maximum message delay")
	fs.Float64Var(&cfg.DropRate, "drop", cfg.DropRate, "probability that a message is lost")
	fs.DurationVar(&cfg.Interval, "interval", cfg.Interval, "simulated time between subjects")
	quiet := fs.Bool("quiet", false, "print only the summary")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if *behaviours != "" {
		for _, b := range strings.Split(*behaviours, ",") {
			if !known(sim.Behaviour(b)) {
				fmt.Fprintf(stderr, "fhbft certify: unknown behaviour %q (known: %s)\n", b, behaviourList())
				return 2
			}
			cfg.Behaviours = append(cfg.Behaviours, sim.Behaviour(b))
		}
	}
	rep, err := sim.Run(cfg)
	if err != nil {
		fmt.Fprintln(stderr, "fhbft certify:", err)
		return 2
	}
	printReport(stdout, rep, *quiet)
	if len(rep.Violations) > 0 {
		fmt.Fprintf(stderr, "fhbft certify: %d invariant violations (seed %d)\n", len(rep.Violations), cfg.Seed)
		return 1
	}
	return 0
}

func known(b sim.Behaviour) bool {
	for _, k := range sim.AllBehaviours {
		if k == b {
			return true
		}
	}
	return false
}

func behaviourList() string {
	var s []string
	for _, b := range sim.AllBehaviours {
		s = append(s, string(b))
	}
	return strings.Join(s, ",")
}

func printReport(w io.Writer, r *sim.Report, quiet bool) {
	c := r.Config
	fmt.Fprintf(w, "fhbft certify: seed=%d n=%d q=%d collectors=%d subjects=%d byzantine=%d crashed=%d (at %v) delay=%v..%v drop=%.2f\n",
		c.Seed, c.N, r.Q, c.Collectors, c.Subjects, c.Byzantine, c.Crashed, c.CrashAt, c.MinDelay, c.MaxDelay, c.DropRate)
	bound := 2*r.Q - c.N
	fmt.Fprintf(w, "fault bounds: safety needs byzantine < 2q-n = %d (have %d: %s); liveness needs q=%d honest active (have %d at the end)\n",
		bound, c.Byzantine, okWord(c.Byzantine < bound), r.Q, c.N-c.Byzantine-c.Crashed)
	if !quiet {
		fmt.Fprintf(w, "\n%5s  %-16s  %-7s  %-10s  %-10s  %s\n", "slot", "subject", "certs", "first", "last", "signers of first certificate")
		for _, s := range r.Slots {
			first, last := "-", "-"
			if s.First >= 0 {
				first, last = fmtMS(s.First), fmtMS(s.Last)
			}
			fmt.Fprintf(w, "%5d  %x  %d/%d      %-10s  %-10s  %v\n", s.Slot, s.Subject[:8], s.Certified, c.Collectors, first, last, s.Signers)
		}
	}
	certified, full := 0, 0
	for _, s := range r.Slots {
		if s.Certified > 0 {
			certified++
		}
		if s.Certified == c.Collectors {
			full++
		}
	}
	fmt.Fprintf(w, "\nsummary: %d/%d slots certified (%d by every collector), %d messages (%d dropped), %d votes counted, simulated time %v\n",
		certified, len(r.Slots), full, r.Messages, r.Dropped, r.Counted, r.SimulatedTime)
	fmt.Fprintf(w, "rejected votes by reason:")
	if len(r.Rejected) == 0 {
		fmt.Fprint(w, " none")
	}
	for reason := certification.Reason(1); reason <= certification.ReasonEncoding; reason++ {
		if n := r.Rejected[reason]; n > 0 {
			fmt.Fprintf(w, " %s=%d", reason, n)
		}
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "equivocation evidence against members: %v\n", sortedMembers(r.Evidence))
	fmt.Fprintf(w, "crypto (wall clock): sign %d votes %v (%v each); %d collector steps %v (%v each; %d partial verifies, %d combines); verify %d certificates %v (%v each)\n",
		r.Signs, r.SignTime.Round(time.Millisecond), avg(r.SignTime, r.Signs),
		r.Steps, r.StepTime.Round(time.Millisecond), avg(r.StepTime, r.Steps), r.Stats.PartialVerifies, r.Stats.Combines,
		r.CertVerifies, r.CertVerifyTime.Round(time.Millisecond), avg(r.CertVerifyTime, r.CertVerifies))
	if len(r.Violations) == 0 {
		fmt.Fprintln(w, "invariants: CertificateUniqueness and CertificateValidity held across all collectors")
	}
	for _, v := range r.Violations {
		fmt.Fprintln(w, "VIOLATION:", v)
	}
}

func okWord(ok bool) string {
	if ok {
		return "within the bound"
	}
	return "AT OR ABOVE THE BOUND: conflicting certificates are possible"
}

func fmtMS(d time.Duration) string {
	return fmt.Sprintf("%.1fms", float64(d)/float64(time.Millisecond))
}

func avg(d time.Duration, n int) time.Duration {
	if n == 0 {
		return 0
	}
	return (d / time.Duration(n)).Round(time.Microsecond)
}

func sortedMembers(m map[certification.Member]bool) []certification.Member {
	return slices.Sorted(maps.Keys(m))
}
