package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// small is a quick whole-protocol network for the command's tests.
var small = []string{"--quorums", "2", "--farmers", "4", "--harvesters", "4", "--miners", "3", "--clients", "6", "--transfers", "2", "--block-txs", "8"}

func TestSimulateSmallSucceeds(t *testing.T) {
	dir := t.TempDir()
	trace, dot := filepath.Join(dir, "trace.ndjson"), filepath.Join(dir, "dag.dot")
	var out, errb bytes.Buffer
	args := append([]string{"simulate", "--trace", trace, "--dot", dot, "--faults", "equivocate"}, small...)
	if code := run(args, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s\n%s", code, errb.String(), out.String())
	}
	for _, want := range []string{"round blocks equiv", "summary:", "lost: 0", "finalized transfers per CPU-second", "MEV revenue by position", "invariants: FIN-4"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	tb, err := os.ReadFile(trace)
	if err != nil || !bytes.Contains(tb, []byte(`"ev":"finalized"`)) {
		t.Errorf("trace: %v, %d bytes", err, len(tb))
	}
	db, err := os.ReadFile(dot)
	if err != nil || !bytes.HasPrefix(db, []byte("digraph")) {
		t.Errorf("dot: %v, %d bytes", err, len(db))
	}
}

// TestSimulateExitsNonZeroOnViolation: a round budget of one leaves
// certified transfers unsettled, which the checker reports (FIN-6).
func TestSimulateExitsNonZeroOnViolation(t *testing.T) {
	var out, errb bytes.Buffer
	code := run(append([]string{"simulate", "--rounds", "1", "--quiet"}, small...), &out, &errb)
	if code != 1 || !strings.Contains(out.String(), "VIOLATION") {
		t.Fatalf("exit %d, want 1 with a VIOLATION line:\n%s", code, out.String())
	}
}

func TestCertifySucceeds(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"certify", "-subjects", "5"}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	for _, want := range []string{"summary: 5/5 slots certified", "rejected votes by reason", "invariants: CertificateUniqueness and CertificateValidity held"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}

func TestCertifyExitsNonZeroOnViolation(t *testing.T) {
	var out, errb bytes.Buffer
	code := run([]string{"certify", "-byz", "6", "-crashed", "0", "-drop", "0", "-behaviours", "equivocate", "-quiet"}, &out, &errb)
	if code != 1 || !strings.Contains(out.String(), "VIOLATION") {
		t.Fatalf("exit %d, want 1 with a VIOLATION line:\n%s", code, out.String())
	}
}

func TestBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"certify", "-behaviours", "nonsense"},
		{"simulate", "--faults", "nonsense"},
		{"simulate", "--harvesters", "0"},
		{"simulate", "extra"},
		{"frobnicate"},
	} {
		var out, errb bytes.Buffer
		if code := run(args, &out, &errb); code != 2 {
			t.Errorf("fhbft %v: exit %d, want 2", args, code)
		}
	}
}

func TestHelp(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"simulate", "--help"}, &out, &errb); code != 0 {
		t.Fatalf("exit %d", code)
	}
	for _, want := range []string{"-faults", "-seed", "-quorums", "-farmers", "-harvesters", "-miners", "-clients", "-transfers", "-rounds", "-trace", "-dot", "-quiet", "-verbose"} {
		if !strings.Contains(errb.String(), want) {
			t.Errorf("help lacks %s", want)
		}
	}
	out.Reset()
	if code := run(nil, &out, &errb); code != 0 || !strings.Contains(out.String(), "fhbft certify") {
		t.Fatalf("usage: exit %d\n%s", code, out.String())
	}
}

func TestPacemakerAndFarmRun(t *testing.T) {
	for _, args := range [][]string{{"pacemaker", "-views", "30"}, {"farm"}} {
		var out, errb bytes.Buffer
		if code := run(args, &out, &errb); code != 0 {
			t.Fatalf("fhbft %v: exit %d: %s\n%s", args, code, errb.String(), out.String())
		}
		if out.Len() == 0 {
			t.Fatalf("fhbft %v printed nothing", args)
		}
	}
}
