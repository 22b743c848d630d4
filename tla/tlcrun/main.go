// Command tlcrun model-checks every TLA+ model listed in tla/manifest.json with
// TLC and compares the verdict, the number of distinct states and the
// counterexample length with the manifest (see tla/README.md).
//
// Run it from the repository root:
//
//	go run ./tla/tlcrun [-only name] [-update] [-v] [-skip-if-unavailable] [-timeout 10m] [-manifest tla/manifest.json]
//
// tla2tools.jar is taken from $TLA2TOOLS_JAR, else ~/.cache/tla/tla2tools.jar,
// else downloaded into that cache.
//
// Exit codes: 0 every model passed; 1 a model failed or a cfg file disagrees
// with the manifest; 2 bad usage or an unreadable manifest; 3 TLC is not
// available (no java or no tla2tools.jar), which `make test` treats as a skip.
// `go run` reports every non-zero exit as 1, so callers that need to tell 3
// apart build the binary first, or pass -skip-if-unavailable.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"
)

const (
	exitOK    = 0
	exitFail  = 1
	exitUsage = 2
	exitNoTLC = 3
)

type options struct {
	manifest string
	only     string
	update   bool
	verbose  bool
	skip     bool
	timeout  time.Duration
}

func main() {
	var o options
	flag.StringVar(&o.manifest, "manifest", filepath.Join("tla", "manifest.json"), "manifest listing the models")
	flag.StringVar(&o.only, "only", "", "run only the model with this name")
	flag.BoolVar(&o.update, "update", false, "rewrite the manifest's measured fields (never \"expect\")")
	flag.BoolVar(&o.verbose, "v", false, "print TLC's full output for every model")
	flag.BoolVar(&o.skip, "skip-if-unavailable", false,
		"when TLC is not available, say so and exit 0 instead of 3 (for `go run`, which turns every non-zero exit into 1)")
	flag.DurationVar(&o.timeout, "timeout", 10*time.Minute, "time limit per model")
	flag.Parse()
	if flag.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "tlcrun: unexpected arguments %v\n", flag.Args())
		os.Exit(exitUsage)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	code := run(ctx, o)
	stop()
	os.Exit(code)
}

// result is one model's run and how it compares with the manifest.
type result struct {
	model  *Model // entry in the manifest, updated in place by -update
	out    Outcome
	got    string // verdict with the temporal property named
	run    *tlcRun
	status string // PASS, FAIL or UPDATED
	why    []string
}

func run(ctx context.Context, o options) int {
	man, err := loadManifest(o.manifest)
	if err != nil {
		fmt.Fprintf(os.Stderr, "tlcrun: %v\n", err)
		return exitUsage
	}
	dir := filepath.Dir(o.manifest)
	models, err := selectModels(man, o.only)
	if err != nil {
		fmt.Fprintf(os.Stderr, "tlcrun: %v\n", err)
		return exitUsage
	}
	// Drift is checked before looking for TLC, so it is caught even where
	// TLC cannot run.
	cfgs, ok := loadCfgs(dir, models)
	if !ok {
		return exitFail
	}
	java, jar, err := findTLC(ctx)
	if err != nil {
		fmt.Println(err)
		var na *unavailableError
		switch {
		case errors.As(err, &na) && o.skip:
			fmt.Println("SKIPPED: TLC model checking (see the line above)")
			return exitOK
		case errors.As(err, &na):
			return exitNoTLC
		}
		return exitFail
	}

	var results []*result
	for _, m := range models {
		r, err := checkModel(ctx, o, java, jar, dir, m, cfgs[m.Name], man.TLC.Workers)
		if err != nil {
			fmt.Fprintf(os.Stderr, "tlcrun: %s: %v\n", m.Name, err)
			return exitFail
		}
		results = append(results, r)
	}
	printTable(results)
	printFailures(dir, jar, results, man.TLC.Workers)
	reportVersion(man, results, o.update)

	if o.update {
		if err := saveManifest(o.manifest, man); err != nil {
			fmt.Fprintf(os.Stderr, "tlcrun: writing %s: %v\n", o.manifest, err)
			return exitFail
		}
		fmt.Printf("updated %s\n", o.manifest)
	}
	for _, r := range results {
		if r.status == "FAIL" {
			return exitFail
		}
	}
	return exitOK
}

func selectModels(man *Manifest, only string) ([]*Model, error) {
	var out []*Model
	for i := range man.Models {
		if only == "" || man.Models[i].Name == only {
			out = append(out, &man.Models[i])
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no model named %q in the manifest", only)
	}
	return out, nil
}

// loadCfgs parses each model's cfg and prints every disagreement with the manifest.
func loadCfgs(dir string, models []*Model) (map[string]*Cfg, bool) {
	cfgs := map[string]*Cfg{}
	ok := true
	for _, m := range models {
		text, err := os.ReadFile(filepath.Join(dir, m.Cfg))
		if err != nil {
			fmt.Fprintf(os.Stderr, "tlcrun: %s: %v\n", m.Name, err)
			ok = false
			continue
		}
		c, err := parseCfg(string(text))
		if err != nil {
			fmt.Fprintf(os.Stderr, "tlcrun: %s: %s: %v\n", m.Name, m.Cfg, err)
			ok = false
			continue
		}
		for _, e := range checkDrift(*m, c) {
			fmt.Fprintf(os.Stderr, "tlcrun: %s: %s\n", m.Name, e)
			ok = false
		}
		cfgs[m.Name] = c
	}
	return cfgs, ok
}

func findTLC(ctx context.Context) (java, jar string, err error) {
	if java, err = findJava(); err != nil {
		return "", "", err
	}
	if jar, err = findJar(ctx); err != nil {
		return "", "", err
	}
	return java, jar, nil
}

func checkModel(ctx context.Context, o options, java, jar, dir string, m *Model, c *Cfg, workers int) (*result, error) {
	fmt.Fprintf(os.Stderr, "tlcrun: checking %s ...\n", m.Name)
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	run, err := runTLC(ctx, java, jar, dir, *m, workers)
	if err != nil {
		return nil, err
	}
	if o.verbose {
		fmt.Printf("---- %s (exit %d)\n%s\n", m.Name, run.ExitCode, run.Output)
	}
	r := &result{model: m, run: run, out: parseTLC(run.Output)}
	r.got = nameTemporal(r.out.Verdict, c.Properties)
	r.judge(o.update)
	return r, nil
}

// nameTemporal names the violated property: TLC only says "Temporal
// properties were violated", which is unambiguous when the cfg has one.
func nameTemporal(verdict string, props []string) string {
	if verdict == verdictTemporal && len(props) == 1 {
		return "violates:" + props[0]
	}
	return verdict
}

// judge compares the run with the manifest and, with update, records the
// measured figures in the manifest entry (never its "expect").
func (r *result) judge(update bool) {
	m := r.model
	if r.got != m.Expect {
		r.fail("expected %s, got %s", m.Expect, r.got)
		if r.out.Detail != "" {
			r.why = append(r.why, r.out.Detail)
		}
		return
	}
	if r.got == verdictOK && r.run.ExitCode != 0 {
		r.fail("TLC reported no error but exited with code %d", r.run.ExitCode)
		return
	}
	var diffs []string
	if r.got == verdictOK && r.out.Distinct != m.DistinctStates {
		diffs = append(diffs, fmt.Sprintf("distinct states %d, manifest has %d", r.out.Distinct, m.DistinctStates))
	}
	if r.got != verdictOK && r.out.TraceStates != m.expectedTrace() {
		diffs = append(diffs, fmt.Sprintf("trace of %d states, manifest has %d", r.out.TraceStates, m.expectedTrace()))
	}
	switch {
	case update:
		r.status, r.why = "UPDATED", diffs
		r.record()
	case len(diffs) > 0:
		r.status, r.why = "FAIL", diffs
	default:
		r.status = "PASS"
	}
}

func (r *result) fail(format string, args ...any) {
	r.status = "FAIL"
	r.why = append(r.why, fmt.Sprintf(format, args...))
}

// record writes the measured figures into the manifest entry.
func (r *result) record() {
	m := r.model
	m.DistinctStates = r.out.Distinct
	m.TLCSeconds = math.Round(r.run.Seconds*100) / 100
	switch {
	case r.got == verdictOK:
		m.TraceStates, m.TLCTraceStates = 0, 0
	case m.Check == "liveness" && m.TraceStates != 0 && r.out.TraceStates != m.TraceStates:
		// TLC's lasso need not be shortest; trace_states keeps the shortest
		// (the Go explorer's BFS) and TLC's length is kept beside it.
		m.TLCTraceStates = r.out.TraceStates
	default:
		// Safety traces come from TLC's breadth-first search: shortest.
		m.TraceStates, m.TLCTraceStates = r.out.TraceStates, 0
	}
}

func printTable(results []*result) {
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "MODEL\tEXPECTED\tGOT\tSTATES\tTRACE\tSECONDS\tRESULT")
	for _, r := range results {
		trace := "-"
		if r.got != verdictOK {
			trace = fmt.Sprint(r.out.TraceStates)
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%d\t%s\t%.2f\t%s\n",
			r.model.Name, r.model.Expect, r.got, r.out.Distinct, trace, r.run.Seconds, r.status)
	}
	w.Flush()
}

func printFailures(dir, jar string, results []*result, workers int) {
	for _, r := range results {
		if len(r.why) == 0 {
			continue
		}
		fmt.Printf("\n%s %s:\n", r.model.Name, r.status)
		for _, w := range r.why {
			fmt.Printf("  %s\n", w)
		}
		if r.status == "FAIL" {
			fmt.Printf("  reproduce: %s\n", commandLine(dir, jar, *r.model, workers))
			if r.got == verdictError {
				fmt.Printf("  last lines of TLC output:\n%s\n", tail(r.run.Output, 15))
			}
		}
	}
}

func reportVersion(man *Manifest, results []*result, update bool) {
	version := ""
	for _, r := range results {
		version = first(version, r.out.Version)
	}
	switch {
	case version == "":
	case update:
		man.TLC.Version = version
	case version != man.TLC.Version:
		fmt.Printf("\nnote: the manifest was measured with %q; this run used %q\n", man.TLC.Version, version)
	}
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return "    " + strings.Join(lines, "\n    ")
}
