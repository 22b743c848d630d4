package ledger

import (
	"bufio"
	"encoding/hex"
	"encoding/json"
	"io"
	"time"
)

// traceEvent is one line of the NDJSON trace. Ev is one of certified (a
// harvester formed a transaction certificate), proposed, converged (a
// miner sent a convergence block), voted, certified-convergence (a
// harvester formed a convergence certificate and submitted it), committed
// (its pacemaker replica committed it), finalized (per harvester), rejected
// (by a final block, with its CONV reason, or by the farmers, by "farmers",
// at the time of the first invalid certificate), violation. T is the
// simulated time in nanoseconds; every other field is present only where
// it applies. Nothing in it depends on the wall
// clock, so two runs with one seed write identical traces.
type traceEvent struct {
	T         int64   `json:"t"`
	Ev        string  `json:"ev"`
	Harvester int     `json:"harvester,omitempty"`
	Miner     int     `json:"miner,omitempty"`
	Round     uint64  `json:"round,omitempty"`
	Rank      *uint32 `json:"rank,omitempty"`
	Hash      string  `json:"hash,omitempty"`
	Digest    string  `json:"digest,omitempty"`
	Verdict   string  `json:"verdict,omitempty"`
	Quorum    int     `json:"quorum,omitempty"`
	Txs       int     `json:"txs,omitempty"`
	Refs      int     `json:"refs,omitempty"`
	Applied   int     `json:"applied,omitempty"`
	Rejected  int     `json:"rejected,omitempty"`
	Deferred  int     `json:"deferred,omitempty"`
	Signers   int     `json:"signers,omitempty"`
	Reason    string  `json:"reason,omitempty"`
	By        string  `json:"by,omitempty"`
	Detail    string  `json:"detail,omitempty"`
}

// tracer writes the NDJSON trace; a nil tracer writes nothing.
type tracer struct {
	w   *bufio.Writer
	now func() time.Duration
	err error
	n   int
}

func newTracer(w io.Writer, now func() time.Duration) *tracer {
	if w == nil {
		return nil
	}
	return &tracer{w: bufio.NewWriterSize(w, 1<<16), now: now}
}

func (t *tracer) emit(e traceEvent) {
	if t == nil || t.err != nil {
		return
	}
	if e.T == 0 {
		e.T = int64(t.now())
	}
	b, err := json.Marshal(e)
	if err != nil {
		t.err = err
		return
	}
	b = append(b, '\n')
	if _, err := t.w.Write(b); err != nil {
		t.err = err
	}
	t.n++
}

func (t *tracer) flush() error {
	if t == nil {
		return nil
	}
	if err := t.w.Flush(); err != nil && t.err == nil {
		t.err = err
	}
	return t.err
}

func hexd(b []byte) string { return hex.EncodeToString(b) }
