package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/anishathalye/porcupine"
	"github.com/fhbft/fhbft/impl/sim/ledger"
)

// simulateCmd runs the whole protocol (impl/sim/ledger): clients' transfers
// through farmer quorums to transaction certificates, harvesters' proposal
// blocks, miners' convergence blocks, harvester certificates ordered by the
// pacemaker, and final ledger rounds applied to every state store. It
// prints a per-round table and a summary and exits 1 if an invariant
// failed (a transfer lost, chains that disagree, a state root or the
// supply off, ...).
func simulateCmd(args []string, stdout, stderr io.Writer) int {
	cfg := ledger.Default()
	fs := flag.NewFlagSet("simulate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: fhbft simulate [flags]")
		fmt.Fprintln(stderr, "\nRuns the whole protocol on a deterministic simulated network: clients submit transfers to")
		fmt.Fprintln(stderr, "farmer quorums, farmers validate and vote, harvesters form transaction certificates, propose")
		fmt.Fprintln(stderr, "blocks each round, a miner builds the round's convergence block, harvesters recompute and")
		fmt.Fprintln(stderr, "certify it, the pacemaker orders the certificates, and the first committed one is final.")
		fmt.Fprintln(stderr, "Invariants are checked after every finalization; the exit status is 1 if any failed.")
		fmt.Fprintln(stderr, "\nflags:")
		fs.PrintDefaults()
	}
	fs.Uint64Var(&cfg.Seed, "seed", cfg.Seed, "simulation seed: keys, workload and network delays; the same seed gives the same run")
	fs.IntVar(&cfg.Farm.Quorums, "quorums", cfg.Farm.Quorums, "farmer quorums K")
	fs.IntVar(&cfg.Farm.N, "farmers", cfg.Farm.N, "farmers per quorum (threshold ceil(0.6·n))")
	fs.IntVar(&cfg.Farm.Byzantine, "byz-farmers", cfg.Farm.Byzantine, "Byzantine farmers per quorum (flip, equivocate, silent in rotation)")
	fs.IntVar(&cfg.Harvesters, "harvesters", cfg.Harvesters, "harvesters nH: the harvester quorum, also the pacemaker roster")
	fs.IntVar(&cfg.HQ, "hq", 0, "harvester threshold qH (0: ceil(0.6·nH))")
	fs.IntVar(&cfg.Miners, "miners", cfg.Miners, "miners M (ranked per round from the beacon; rank 0 builds, the next ones are fallbacks)")
	fs.IntVar(&cfg.Farm.Clients, "clients", cfg.Farm.Clients, "honest clients, each sending a nonce chain of -transfers transfers")
	fs.IntVar(&cfg.Farm.Transfers, "transfers", cfg.Farm.Transfers, "transfers per honest client (invalid, duplicate and conflicting ones come on top)")
	fs.IntVar(&cfg.Rounds, "rounds", cfg.Rounds, "round budget: stop after this many final rounds even if transfers are unsettled (they are then reported lost)")
	fs.IntVar(&cfg.MaxBlockTxs, "block-txs", cfg.MaxBlockTxs, "transfers per proposal block (PB-4 MaxBlockTxs)")
	faults := fs.String("faults", string(cfg.Faults), "fault preset: none; equivocate (a harvester signs two proposal blocks per round); "+
		"omit (round 1's elected miner leaves out proposal blocks); silent-miner (round 1's elected miner never builds); "+
		"conflicts (many pairs of conflicting transfers sent to different farmers); all")
	traceFile := fs.String("trace", "", "write an NDJSON trace (one JSON object per event) to this file")
	dotFile := fs.String("dot", "", "write the DAG (proposal and convergence blocks) as Graphviz DOT to this file")
	quiet := fs.Bool("quiet", false, "print only the summary (no per-round table, no progress lines)")
	verbose := fs.Bool("verbose", false, "also list every transfer that was not finalized, with its fate and reason")
	progress := fs.Int("progress", 25, "print a progress line to stderr every this many rounds (0: never)")
	linear := fs.Bool("linearizability", true, "record client transfers and balance reads and check them with porcupine against a sequential ledger")
	htmlFile := fs.String("porcupine-html", "", "where to write porcupine's visualisation if the history is not linearizable (default: a file in the temp directory)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "fhbft simulate: unexpected arguments %s\n", strings.Join(fs.Args(), " "))
		return 2
	}
	f, err := ledger.ParseFaults(*faults)
	if err != nil {
		fmt.Fprintln(stderr, "fhbft simulate:", err)
		return 2
	}
	cfg.Faults = f
	if !*quiet && *progress > 0 {
		cfg.Progress, cfg.ProgressEvery = stderr, *progress
	}
	var closers []func() error
	create := func(name string) (io.Writer, bool) {
		fh, err := os.Create(name)
		if err != nil {
			fmt.Fprintln(stderr, "fhbft simulate:", err)
			return nil, false
		}
		closers = append(closers, fh.Close)
		return fh, true
	}
	if *traceFile != "" {
		w, ok := create(*traceFile)
		if !ok {
			return 2
		}
		cfg.Trace = w
	}
	if *dotFile != "" {
		w, ok := create(*dotFile)
		if !ok {
			return 2
		}
		cfg.DOT = w
	}
	if *linear {
		cfg.History = &ledger.HistoryConfig{}
	}
	rep, err := ledger.Run(cfg)
	for _, c := range closers {
		if cerr := c(); cerr != nil {
			fmt.Fprintln(stderr, "fhbft simulate:", cerr)
			return 2
		}
	}
	var ve *ledger.ViolationError
	if err != nil && !errors.As(err, &ve) {
		fmt.Fprintln(stderr, "fhbft simulate:", err)
		return 2
	}
	linearizable := true
	if rep.History != nil {
		res, info := rep.History.Check(30 * time.Second)
		if res != porcupine.Ok {
			linearizable = false
			path := *htmlFile
			if path == "" {
				path = filepath.Join(os.TempDir(), fmt.Sprintf("fhbft-linearizability-seed%d.html", cfg.Seed))
			}
			if werr := rep.History.WriteVisualization(info, path); werr != nil {
				fmt.Fprintln(stderr, "fhbft simulate: writing the porcupine visualisation:", werr)
			} else {
				fmt.Fprintln(stderr, "fhbft simulate: porcupine visualisation written to", path)
			}
		}
	}
	rep.WriteText(stdout, *quiet, *verbose)
	if !linearizable {
		fmt.Fprintf(stderr, "fhbft simulate: the client history is %s (seed %d)\n", rep.History.Verdict, cfg.Seed)
		return 1
	}
	if len(rep.Violations) > 0 {
		fmt.Fprintf(stderr, "fhbft simulate: %d invariant violations (seed %d)\n", len(rep.Violations), cfg.Seed)
		return 1
	}
	return 0
}
