package tests

// Linearizability of the ledger as clients see it (spec/dag.md FIN-1,
// FIN-2, FIN-4, CONV-6..CONV-9) with porcupine. Whole-protocol simulations
// (impl/sim/ledger with Config.History) record every distinct transfer
// (called at its first submission, returning at L_r, the first honest
// finalization of the round that resolved it, with its outcome) and
// balance reads at honest harvesters that follow a read index (called at
// c, answered once the harvester has finalized every round final anywhere
// at c, from its own state store). The sequential model is the ledger from
// genesis (ledger.History.Model): a finalized transfer must be applicable
// and moves amount and fee, a rejected one changes nothing (and must fit
// its CONV reason), a read returns balance and nonce. impl/sim/ledger's
// history.go says why a correct run is linearizable; the history is
// checked per account, which Model shows is exact here because no
// account that receives is ever a sender or read.
//
// Planted bugs must make porcupine answer Illegal and write the HTML
// visualisation: reads served one round stale, reads answered at once by
// a lagging harvester (the follower read the read index exists to avoid),
// and corrupted outputs (a rejected transfer reported finalized, a
// finalized one reported rejected, a read off by one). Hand-built
// histories show the model's reason checks and why reads must wait.

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"

	"github.com/fhbft/fhbft/impl/dag"
	"github.com/fhbft/fhbft/impl/sim/ledger"
	"github.com/fhbft/fhbft/impl/state"
	"github.com/fhbft/fhbft/impl/tx"
)

// porcupineTimeout bounds one check; a check that times out fails the test
// (Unknown is never taken as a pass).
const porcupineTimeout = 30 * time.Second

// ledgerHistoryRun runs cfg with a client history and fails on any
// invariant violation; the seed is in every message.
func ledgerHistoryRun(t *testing.T, cfg ledger.Config) *ledger.Report {
	t.Helper()
	if cfg.History == nil {
		cfg.History = &ledger.HistoryConfig{}
	}
	rep, err := ledger.Run(cfg)
	if rep == nil {
		t.Fatalf("seed %d faults %s: %v", cfg.Seed, cfg.Faults, err)
	}
	if len(rep.Violations) > 0 {
		var b strings.Builder
		rep.WriteText(&b, true, true)
		t.Fatalf("seed %d faults %s: %d violations:\n%s", cfg.Seed, cfg.Faults, len(rep.Violations), b.String())
	}
	if rep.History == nil {
		t.Fatalf("seed %d: no history recorded", cfg.Seed)
	}
	return rep
}

// checkLedgerHistory runs porcupine. On an illegal history it writes the
// visualisation into dir (a fresh temporary file when dir is "", so that
// it outlives the test) and returns its path. A timeout fails the test.
func checkLedgerHistory(t *testing.T, seed uint64, h *ledger.History, dir string) (porcupine.CheckResult, string) {
	t.Helper()
	res, info := h.Check(porcupineTimeout)
	switch res {
	case porcupine.Unknown:
		t.Fatalf("seed %d: porcupine gave no verdict within %v on %d operations", seed, porcupineTimeout, h.Len())
	case porcupine.Ok:
		return res, ""
	}
	var path string
	if dir == "" {
		f, err := os.CreateTemp("", "fhbft-ledger-porcupine-*.html")
		if err != nil {
			t.Fatal(err)
		}
		f.Close()
		path = f.Name()
	} else {
		path = filepath.Join(dir, "ledger-porcupine.html")
	}
	if err := h.WriteVisualization(info, path); err != nil {
		t.Fatalf("seed %d: visualisation: %v", seed, err)
	}
	return res, path
}

// requireLinearizable checks a run's history and that it is big enough to
// mean something.
func requireLinearizable(t *testing.T, cfg ledger.Config, rep *ledger.Report) {
	t.Helper()
	h := rep.History
	probes := 0
	for _, r := range h.Reads {
		if r.Probe {
			probes++
		}
	}
	finalized := 0
	for _, tr := range h.Transfers {
		if tr.Result == ledger.TransferFinalized {
			finalized++
		}
	}
	if len(h.Transfers) != rep.Submitted || finalized != rep.Finalized || len(h.Reads) < 40 || probes == 0 {
		t.Fatalf("seed %d faults %s: history of %d transfers (%d submitted), %d finalized (%d), %d reads (%d probes): too small",
			cfg.Seed, cfg.Faults, len(h.Transfers), rep.Submitted, finalized, rep.Finalized, len(h.Reads), probes)
	}
	start := time.Now()
	res, path := checkLedgerHistory(t, cfg.Seed, h, "")
	t.Logf("seed %d faults %s: %d operations (%d transfers, %d finalized; %d reads, %d probes, %d at a harvester behind the index, %d unanswered) over %d rounds: %s in %v",
		cfg.Seed, cfg.Faults, h.Len(), len(h.Transfers), finalized, len(h.Reads), probes, h.Lagged, h.Unanswered, len(rep.Rounds), res, time.Since(start).Round(time.Millisecond))
	if res != porcupine.Ok {
		t.Fatalf("seed %d faults %s: client history not linearizable; visualisation: %s", cfg.Seed, cfg.Faults, path)
	}
}

// requireIllegal checks that porcupine rejects h and writes a non-empty
// visualisation.
func requireIllegal(t *testing.T, seed uint64, what string, h *ledger.History) {
	t.Helper()
	res, path := checkLedgerHistory(t, seed, h, t.TempDir())
	if res != porcupine.Illegal {
		t.Fatalf("seed %d: %s: history of %d operations accepted (%s)", seed, what, h.Len(), res)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Size() == 0 {
		t.Fatalf("seed %d: %s: no visualisation at %s (%v)", seed, what, path, err)
	}
	t.Logf("seed %d: %s: rejected; visualisation %d bytes", seed, what, fi.Size())
}

// TestLedgerHistoryLinearizable: the quick network, fault-free and with
// every fault preset at once, gives linearizable client histories; the
// default network with every fault too, unless -short.
func TestLedgerHistoryLinearizable(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		cfg   func() ledger.Config
		heavy bool
	}{
		{"small", ledger.Small, false},
		{"small-all-faults", func() ledger.Config { c := ledger.Small(); c.Faults = ledger.FaultsAll; return c }, false},
		{"default-all-faults", func() ledger.Config { c := ledger.Default(); c.Faults = ledger.FaultsAll; return c }, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			if c.heavy && testing.Short() {
				t.Skip("the default network takes several CPU-seconds")
			}
			cfg := c.cfg()
			requireLinearizable(t, cfg, ledgerHistoryRun(t, cfg))
		})
	}
}

// TestLedgerHistoryCatchesCorruptOutputs: outputs of a correct run's
// history changed one at a time.
func TestLedgerHistoryCatchesCorruptOutputs(t *testing.T) {
	t.Parallel()
	cfg := ledger.Small()
	rep := ledgerHistoryRun(t, cfg)
	h := rep.History
	seed := cfg.Seed
	if res, path := checkLedgerHistory(t, seed, h, ""); res != porcupine.Ok {
		t.Fatalf("seed %d: the uncorrupted history is not linearizable; visualisation: %s", seed, path)
	}
	type slot struct {
		from  tx.AccountID
		nonce uint64
	}
	final := map[slot]int{}
	for i, tr := range h.Transfers {
		if tr.Result == ledger.TransferFinalized {
			final[slot{tr.Tx.From, tr.Tx.Nonce}] = i
		}
	}

	// A rejected transfer whose slot another transfer took (one of a
	// conflicting pair) reported finalized in the winner's round.
	bad := h.Clone()
	found := false
	for i, tr := range bad.Transfers {
		if w, ok := final[slot{tr.Tx.From, tr.Tx.Nonce}]; ok && tr.Result == ledger.TransferRejected {
			bad.Transfers[i].Result, bad.Transfers[i].Round, bad.Transfers[i].Reason, bad.Transfers[i].ByFarmers = ledger.TransferFinalized, bad.Transfers[w].Round, "", false
			bad.Transfers[i].Return = bad.Transfers[w].Return
			found = true
			break
		}
	}
	if !found {
		t.Fatalf("seed %d: no rejected transfer lost its slot to a finalized one (conflicting pairs %+v)", seed, rep.Conflicts)
	}
	requireIllegal(t, seed, "rejected conflicting transfer reported finalized", bad)

	// A finalized transfer whose sender's next nonce was finalized too,
	// reported rejected.
	bad = h.Clone()
	found = false
	for i, tr := range bad.Transfers {
		if _, ok := final[slot{tr.Tx.From, tr.Tx.Nonce + 1}]; ok && tr.Result == ledger.TransferFinalized {
			bad.Transfers[i].Result, bad.Transfers[i].Reason = ledger.TransferRejected, dag.ReasonConflict.String()
			found = true
			break
		}
	}
	if !found {
		t.Fatalf("seed %d: no sender with two finalized transfers", seed)
	}
	requireIllegal(t, seed, "finalized transfer reported rejected", bad)

	// A read one unit off (no set of transfers moves a balance by 1:
	// amount and fee are each at least 1).
	bad = h.Clone()
	bad.Reads[len(bad.Reads)/2].Value.Balance++
	requireIllegal(t, seed, "read balance off by one", bad)
}

// TestLedgerHistoryCatchesStaleReads: harvesters serve reads from their
// state one final round behind. The probe at the harvester that made a
// round final, just after, reads an account the round changed.
func TestLedgerHistoryCatchesStaleReads(t *testing.T) {
	t.Parallel()
	cfg := ledger.Small()
	cfg.History = &ledger.HistoryConfig{Mutations: ledger.HistoryMutations{StaleReads: true}}
	rep := ledgerHistoryRun(t, cfg)
	requireIllegal(t, cfg.Seed, "reads one round stale", rep.History)
}

// TestLedgerHistoryCatchesFollowerReads: a harvester behind the read index
// answers at once from its own state. The second probe after a round goes
// to the harvester furthest behind, after the first probe saw the round at
// the harvester that made it final; the two reads contradict each other
// whatever the transfers return, so the history is rejected with returns
// at L_r (the recorded ones) and at F_r (the last honest finalization).
// This is why reads wait for the index: instantaneous reads at any honest
// harvester are not linearizable even when the protocol is correct.
func TestLedgerHistoryCatchesFollowerReads(t *testing.T) {
	t.Parallel()
	cfg := ledger.Small()
	cfg.History = &ledger.HistoryConfig{Mutations: ledger.HistoryMutations{NoReadWait: true}}
	rep := ledgerHistoryRun(t, cfg)
	h := rep.History
	if h.Lagged == 0 {
		t.Fatalf("seed %d: no read found a harvester behind the read index; nothing to catch", cfg.Seed)
	}
	requireIllegal(t, cfg.Seed, "reads answered by lagging harvesters without waiting (returns at L_r)", h)
	late := h.Clone()
	for i, tr := range late.Transfers {
		if tr.Result == ledger.TransferFinalized && tr.LastFinal > tr.Return {
			late.Transfers[i].Return = tr.LastFinal
		}
	}
	requireIllegal(t, cfg.Seed, "reads answered by lagging harvesters without waiting (returns at F_r)", late)
}

// Hand-built histories over one sender A (balance 100, nonce 3) sending to
// B: the model's rules one at a time, including the brief's read design
// (transfers return at the first finalization, reads instantaneous at any
// harvester) failing on a lagging harvester.
func TestLedgerModelConstructed(t *testing.T) {
	t.Parallel()
	var a, b tx.AccountID
	a[0], b[0] = 0xa, 0xb
	genesis := []state.Change{{ID: a, Account: tx.Account{Balance: 100, Nonce: 3}}, {ID: b}}
	tr := func(amount, nonce uint64, call, ret time.Duration, res ledger.TransferResult, reason string) ledger.TransferOp {
		return ledger.TransferOp{Tx: tx.Transfer{From: a, To: b, Amount: amount, Fee: 1, Nonce: nonce}, Call: call, Return: ret, Result: res, Round: 1, Reason: reason}
	}
	read := func(at, ret time.Duration, bal, nonce uint64) ledger.ReadOp {
		return ledger.ReadOp{Client: 1, Account: a, Call: at, Return: ret, Value: tx.Account{Balance: bal, Nonce: nonce}}
	}
	cases := []struct {
		name  string
		txs   []ledger.TransferOp
		reads []ledger.ReadOp
		ok    bool
	}{
		{"finalized then read", []ledger.TransferOp{tr(10, 3, 0, 10, ledger.TransferFinalized, "")}, []ledger.ReadOp{read(11, 11, 89, 4)}, true},
		{"read misses a returned transfer", []ledger.TransferOp{tr(10, 3, 0, 10, ledger.TransferFinalized, "")}, []ledger.ReadOp{read(11, 11, 100, 3)}, false},
		{"read concurrent with the transfer", []ledger.TransferOp{tr(10, 3, 0, 10, ledger.TransferFinalized, "")}, []ledger.ReadOp{read(5, 5, 100, 3), read(6, 6, 89, 4)}, true},
		// The brief's design: the transfer returns when the first
		// harvester finalizes (10); a harvester that has not yet answers
		// instantly at 12.
		{"instantaneous read at a lagging harvester", []ledger.TransferOp{tr(10, 3, 0, 10, ledger.TransferFinalized, "")}, []ledger.ReadOp{read(12, 12, 100, 3)}, false},
		// Even with the return at the last finalization (20): a fast
		// harvester's read at 11 saw it, a lagging one's at 12 did not.
		{"two instantaneous reads straddle a round", []ledger.TransferOp{tr(10, 3, 0, 20, ledger.TransferFinalized, "")}, []ledger.ReadOp{read(11, 11, 89, 4), read(12, 12, 100, 3)}, false},
		// With a read index the lagging harvester's read (called at 12,
		// index 1) is answered when it catches up (15), with the round.
		{"read index", []ledger.TransferOp{tr(10, 3, 0, 10, ledger.TransferFinalized, "")}, []ledger.ReadOp{read(11, 11, 89, 4), read(12, 15, 89, 4)}, true},
		{"double spend of one nonce", []ledger.TransferOp{tr(10, 3, 0, 10, ledger.TransferFinalized, ""), tr(20, 3, 0, 10, ledger.TransferFinalized, "")}, nil, false},
		{"overdraft finalized", []ledger.TransferOp{tr(100, 3, 0, 10, ledger.TransferFinalized, "")}, nil, false},
		{"overdraft rejected", []ledger.TransferOp{tr(100, 3, 0, 10, ledger.TransferRejected, "overdraft")}, nil, true},
		{"overdraft reason without an overdraft", []ledger.TransferOp{tr(10, 3, 0, 10, ledger.TransferRejected, "overdraft")}, nil, false},
		{"replay reason for the next nonce", []ledger.TransferOp{tr(10, 3, 0, 10, ledger.TransferRejected, "replay")}, nil, false},
		{"replay after the slot closed", []ledger.TransferOp{tr(10, 3, 0, 10, ledger.TransferFinalized, ""), tr(20, 3, 11, 20, ledger.TransferRejected, "replay")}, nil, true},
		{"gap-expired reason for the next nonce", []ledger.TransferOp{tr(10, 3, 0, 10, ledger.TransferRejected, "gap-expired")}, nil, false},
		{"gap-expired", []ledger.TransferOp{tr(10, 5, 0, 10, ledger.TransferRejected, "gap-expired")}, nil, true},
		{"nonce gap finalized", []ledger.TransferOp{tr(10, 4, 0, 10, ledger.TransferFinalized, "")}, nil, false},
		{"unresolved changes nothing", []ledger.TransferOp{tr(10, 3, 0, 30, ledger.TransferUnresolved, "")}, []ledger.ReadOp{read(20, 20, 100, 3)}, true},
	}
	for _, c := range cases {
		h := &ledger.History{Genesis: genesis, Transfers: c.txs, Reads: c.reads}
		res, _ := h.Check(porcupineTimeout)
		if want := map[bool]porcupine.CheckResult{true: porcupine.Ok, false: porcupine.Illegal}[c.ok]; res != want {
			t.Errorf("%s: %s, want %s", c.name, res, want)
		}
	}
	// The lagging-harvester case with its visualisation.
	h := &ledger.History{Genesis: genesis, Transfers: cases[3].txs, Reads: cases[3].reads}
	requireIllegal(t, 0, "constructed: instantaneous read at a lagging harvester", h)
}
