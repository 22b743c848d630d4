package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	farm "github.com/fhbft/fhbft/impl/farmer"
	farmsim "github.com/fhbft/fhbft/impl/sim/farmer"
)

// farmCmd runs the farmer-pipeline simulator (impl/sim/farmer): clients'
// transfers through entry quorums, schedulers, validator units and votes to
// transaction certificates. It prints what was certified, what was rejected
// and why, the load per quorum and the throughput, and exits 1 if an
// invariant failed (a transfer lost, an invalid transfer certified valid
// while the Byzantine farmers are under the bound, two verdicts certified for
// one transfer, ...).
func farmCmd(args []string, stdout, stderr io.Writer) int {
	cfg := farmsim.Default()
	fs := flag.NewFlagSet("farm", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Uint64Var(&cfg.Seed, "seed", cfg.Seed, "simulation seed; the same seed gives the same run")
	fs.IntVar(&cfg.Quorums, "quorums", cfg.Quorums, "farmer quorums K")
	fs.IntVar(&cfg.N, "n", cfg.N, "farmers per quorum")
	fs.IntVar(&cfg.Q, "q", 0, "threshold tF (0: ceil(0.6·n))")
	fs.IntVar(&cfg.Harvesters, "harvesters", cfg.Harvesters, "harvesters, each with a collector per farmer quorum")
	fs.IntVar(&cfg.Clients, "clients", cfg.Clients, "honest clients")
	fs.IntVar(&cfg.Transfers, "transfers", cfg.Transfers, "transfers per honest client (a nonce chain)")
	fs.IntVar(&cfg.Invalid.BadSignature, "bad-sig", cfg.Invalid.BadSignature, "transfers with a bad signature")
	fs.IntVar(&cfg.Invalid.Overdraft, "overdraft", cfg.Invalid.Overdraft, "overdrafts")
	fs.IntVar(&cfg.Invalid.NonceGap, "gap", cfg.Invalid.NonceGap, "transfers with a nonce gap")
	fs.IntVar(&cfg.Invalid.Replay, "replay", cfg.Invalid.Replay, "replays (nonce below the account's)")
	fs.IntVar(&cfg.Invalid.Duplicate, "dup", cfg.Invalid.Duplicate, "duplicate submissions to other farmers")
	fs.IntVar(&cfg.Invalid.Conflict, "conflict", cfg.Invalid.Conflict, "pairs of conflicting transfers (same sender and nonce) sent to different farmers")
	fs.IntVar(&cfg.Byzantine, "byz", cfg.Byzantine, "Byzantine farmers per quorum (the last members)")
	behaviours := fs.String("behaviours", "", "comma-separated Byzantine behaviours rotated over quorums and members (default: flip,equivocate,silent)")
	alloc := fs.String("alloc", "digest", "allocation key: digest (each transfer to its own q members) or signer")
	fs.DurationVar(&cfg.Timeout, "timeout", cfg.Timeout, "takeover step: when assigned farmers stay silent, the next one takes over after this")
	fs.IntVar(&cfg.FallbackStep, "step", 1, "farmers added per takeover timeout (n-q: all remaining at once)")
	fs.DurationVar(&cfg.ParkTimeout, "park", cfg.ParkTimeout, "how long a transfer with a nonce gap waits for its predecessor")
	fs.DurationVar(&cfg.MinDelay, "min-delay", cfg.MinDelay, "minimum message delay")
	fs.DurationVar(&cfg.MaxDelay, "max-delay", cfg.MaxDelay, "maximum message delay")
	fs.Float64Var(&cfg.Drop, "drop", cfg.Drop, "probability that a message is lost")
	fs.IntVar(&cfg.Workers, "workers", 0, "validator unit worker goroutines per farmer (0: GOMAXPROCS)")
	verbose := fs.Bool("v", false, "list lost transfers")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	switch *alloc {
	case "digest":
		cfg.Alloc = farm.AllocDigest
	case "signer":
		cfg.Alloc = farm.AllocSigner
	default:
		fmt.Fprintf(stderr, "fhbft farm: unknown -alloc %q (digest or signer)\n", *alloc)
		return 2
	}
	if *behaviours != "" {
		for _, b := range strings.Split(*behaviours, ",") {
			cfg.Behaviours = append(cfg.Behaviours, farmsim.Behaviour(b))
		}
	}
	rep, err := farmsim.Run(cfg)
	if err != nil {
		fmt.Fprintln(stderr, "fhbft farm:", err)
		return 2
	}
	rep.WriteText(stdout, *verbose)
	if len(rep.Violations) > 0 {
		fmt.Fprintf(stderr, "fhbft farm: %d invariant violations (seed %d)\n", len(rep.Violations), cfg.Seed)
		return 1
	}
	return 0
}
