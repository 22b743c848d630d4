package ledger

import (
	"bytes"
	"strings"
	"testing"
)

// TestHistoryChangesNothing: recording a client history (reads, probes and
// a planted read bug included) leaves the run as it was: the same NDJSON
// trace, the same simulated end times; and the report says so in one
// extra summary line.
func TestHistoryChangesNothing(t *testing.T) {
	t.Parallel()
	cfg := Small()
	cfg.Seed = 3
	cfg.Faults = FaultsAll
	var tr [2]bytes.Buffer
	var reps [2]*Report
	for i := range tr {
		c := cfg
		c.Trace = &tr[i]
		if i == 1 {
			c.History = &HistoryConfig{Mutations: HistoryMutations{StaleReads: true}}
		}
		reps[i] = mustHold(t, c)
	}
	if !bytes.Equal(tr[0].Bytes(), tr[1].Bytes()) {
		t.Fatalf("seed %d: recording a history changed the trace (%d and %d bytes)", cfg.Seed, tr[0].Len(), tr[1].Len())
	}
	a, b := reps[0], reps[1]
	if a.SimulatedTime != b.SimulatedTime || a.LedgerTime != b.LedgerTime || a.Farm.Messages != b.Farm.Messages {
		t.Fatalf("seed %d: end times %v/%v and %v/%v, messages %d and %d", cfg.Seed, a.SimulatedTime, a.LedgerTime, b.SimulatedTime, b.LedgerTime, a.Farm.Messages, b.Farm.Messages)
	}
	if a.History != nil {
		t.Fatalf("seed %d: a history without Config.History", cfg.Seed)
	}
	h := b.History
	if h == nil || len(h.Transfers) != b.Submitted || len(h.Reads) == 0 {
		t.Fatalf("seed %d: history %+v", cfg.Seed, h)
	}
	for _, r := range h.Reads {
		if r.Call > r.Return || r.Round > r.Index {
			t.Fatalf("seed %d: read %+v (StaleReads serves round index−1 at most)", cfg.Seed, r)
		}
	}
	for _, tr := range h.Transfers {
		if tr.Call > tr.Return || tr.Result == TransferFinalized && (tr.LastFinal < tr.Return || tr.Round == 0) {
			t.Fatalf("seed %d: transfer %+v", cfg.Seed, tr)
		}
	}
	var with, without strings.Builder
	a.WriteText(&without, true, false)
	b.WriteText(&with, true, false)
	if strings.Contains(without.String(), "client history") || !strings.Contains(with.String(), "client history: ") ||
		!strings.Contains(with.String(), "linearizability: not checked") {
		t.Fatalf("seed %d: summary lines:\n%s", cfg.Seed, with.String())
	}
}

func TestHistoryConfigValidate(t *testing.T) {
	cfg := Small()
	cfg.History = &HistoryConfig{MaxReads: -1}
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "history") {
		t.Fatalf("negative MaxReads accepted: %v", err)
	}
}
