package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestSimulateDefaultSucceeds(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"simulate", "-subjects", "5"}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	for _, want := range []string{"summary: 5/5 slots certified", "rejected votes by reason", "invariants: CertificateUniqueness and CertificateValidity held"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}

func TestSimulateExitsNonZeroOnViolation(t *testing.T) {
	var out, errb bytes.Buffer
	code := run([]string{"simulate", "-byz", "6", "-crashed", "0", "-drop", "0", "-behaviours", "equivocate", "-quiet"}, &out, &errb)
	if code != 1 || !strings.Contains(out.String(), "VIOLATION") {
		t.Fatalf("exit %d, want 1 with a VIOLATION line:\n%s", code, out.String())
	}
}

func TestBadFlags(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"simulate", "-behaviours", "nonsense"}, &out, &errb); code != 2 {
		t.Fatalf("exit %d", code)
	}
	if code := run([]string{"frobnicate"}, &out, &errb); code != 2 {
		t.Fatalf("exit %d", code)
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
