package main

import "testing"

// The snippets below are trimmed from runs of TLC 2.20 (rev 2ec6b5f) on this
// repository's models (and, for the lasso, a three-state cycle written for
// the purpose); "Parsing file" and "Semantic processing" lines are dropped.

const outOK = `TLC2 Version 2.20 of Day Month 20?? (rev: 2ec6b5f)
Running breadth-first search Model-Checking with fp 1 and seed 42 with 1 worker on 2 cores with 5358MB heap and 64MB offheap memory [pid: 4430] (Linux 6.18.44-fc-v657 amd64, Debian 17.0.15 x86_64, MSBDiskFPSet, DiskStateQueue).
Starting... (2026-11-21 14:26:23)
Computing initial states...
Finished computing initial states: 1 distinct state generated at 2026-11-21 14:26:24.
Model checking completed. No error has been found.
  Estimates of the probability that TLC did not check all reachable states
  because two distinct states had the same fingerprint:
  calculated (optimistic):  val = 2.2E-14
1501 states generated, 345 distinct states found, 0 states left on queue.
The depth of the complete state graph search is 7.
Finished in 00s at (2026-11-21 14:26:24)
`

const outInvariant = `TLC2 Version 2.20 of Day Month 20?? (rev: 2ec6b5f)
Finished computing initial states: 1 distinct state generated at 2026-11-21 14:26:25.
Error: Invariant CertificateUniqueness is violated.
Error: The behavior up to this point is:
State 1: <Initial predicate>
/\ certificates = {}
/\ votes = {}

State 2: <CastVote(1,1,1) line 60, col 5 to line 64, col 29 of module HarvesterCertification>
/\ certificates = {}
/\ votes = {<<1, 1, 1>>}

State 3: <FormCertificate(1,1) line 78, col 5 to line 81, col 22 of module HarvesterCertification>
/\ certificates = {<<1, 1>>}
/\ votes = {<<1, 1, 1>>}

2406 states generated, 493 distinct states found, 18 states left on queue.
The depth of the complete state graph search is 9.
Finished in 00s at (2026-11-21 14:26:25)
`

// The progress line reports fewer states than the final summary; the
// counterexample ends in a stuttering step that repeats state 3.
const outTemporalStutter = `TLC2 Version 2.20 of Day Month 20?? (rev: 2ec6b5f)
Progress(3) at 2026-11-21 14:26:19: 2 states generated, 2 distinct states found, 0 states left on queue.
Checking temporal properties for the complete state space with 4 total distinct states at (2026-11-21 14:26:19)
Error: Temporal properties were violated.

Error: The following behavior constitutes a counter-example:

State 1: <Initial predicate>
/\ certificates = {}
/\ votes = {}

State 2: <CastVote(1,1,1) line 60, col 5 to line 64, col 29 of module HarvesterCertification>
/\ certificates = {}
/\ votes = {<<1, 1, 1>>}

State 3: <CastVote(2,1,1) line 60, col 5 to line 64, col 29 of module HarvesterCertification>
/\ certificates = {}
/\ votes = {<<1, 1, 1>>, <<2, 1, 1>>}

State 4: Stuttering
Finished checking temporal properties in 00s at 2026-11-21 14:26:19
5 states generated, 4 distinct states found, 0 states left on queue.
Finished in 00s at (2026-11-21 14:26:19)
`

const outTemporalLasso = `TLC2 Version 2.20 of Day Month 20?? (rev: 2ec6b5f)
Error: Temporal properties were violated.

Error: The following behavior constitutes a counter-example:

State 1: <Initial predicate>
x = 0

State 2: <Next line 5, col 9 to line 5, col 24 of module L>
x = 1

State 3: <Next line 5, col 9 to line 5, col 24 of module L>
x = 2

Back to state 1: <Next line 5, col 9 to line 5, col 24 of module L>

Finished checking temporal properties in 00s at 2026-11-21 14:27:02
4 states generated, 3 distinct states found, 0 states left on queue.
`

// An action property ([][A]_v in PROPERTIES) broken by the last step; the
// run is the toy spec x' = IF x = 3 THEN 1 ELSE x + 1 with [][x' >= x]_x.
const outActionProperty = `TLC2 Version 2.20 of Day Month 20?? (rev: 2ec6b5f)
Finished computing initial states: 1 distinct state generated at 2026-11-21 14:44:10.
Error: Action property Mono is violated.
Error: The behavior up to this point is:
State 1: <Initial predicate>
x = 0

State 2: <Next line 5, col 9 to line 5, col 39 of module T>
x = 1

State 3: <Next line 5, col 9 to line 5, col 39 of module T>
x = 2

State 4: <Next line 5, col 9 to line 5, col 39 of module T>
x = 3

State 5: <Next line 5, col 9 to line 5, col 39 of module T>
x = 1

5 states generated, 4 distinct states found, 0 states left on queue.
The depth of the complete state graph search is 4.
Finished in 01s at (2026-11-21 14:44:10)
`

const outAssumeFalse = `TLC2 Version 2.20 of Day Month 20?? (rev: 2ec6b5f)
Starting... (2026-11-21 14:29:13)
Error: Assumption line 40, col 5 to line 44, col 41 of module HarvesterCertification is false.
Finished in 00s at (2026-11-21 14:29:13)
`

const outBadOption = `TLC2 Version 2.20 of Day Month 20?? (rev: 2ec6b5f)
Error: Error: unrecognized option: -Djava.io.tmpdir=/tmp/fq
Usage: java tlc2.TLC [-help] [-option] inputfile
`

func TestParseTLC(t *testing.T) {
	const version = "TLC2 Version 2.20 of Day Month 20?? (rev: 2ec6b5f)"
	tests := []struct {
		name string
		out  string
		want Outcome
	}{
		{"ok", outOK, Outcome{Version: version, Verdict: verdictOK, Generated: 1501, Distinct: 345}},
		{"invariant", outInvariant, Outcome{Version: version, Verdict: "violates:CertificateUniqueness",
			Generated: 2406, Distinct: 493, TraceStates: 3}},
		{"temporal stuttering", outTemporalStutter, Outcome{Version: version, Verdict: verdictTemporal,
			Generated: 5, Distinct: 4, TraceStates: 3}},
		{"temporal lasso", outTemporalLasso, Outcome{Version: version, Verdict: verdictTemporal,
			Generated: 4, Distinct: 3, TraceStates: 3}},
		{"action property", outActionProperty, Outcome{Version: version, Verdict: "violates:Mono",
			Generated: 5, Distinct: 4, TraceStates: 5}},
		{"assumption false", outAssumeFalse, Outcome{Version: version, Verdict: verdictError,
			Detail: "Error: Assumption line 40, col 5 to line 44, col 41 of module HarvesterCertification is false."}},
		{"bad option", outBadOption, Outcome{Version: version, Verdict: verdictError,
			Detail: "Error: Error: unrecognized option: -Djava.io.tmpdir=/tmp/fq"}},
		{"no output", "", Outcome{Verdict: verdictError, Detail: "TLC printed no verdict"}},
		{"crlf and thousands separators", "Model checking completed. No error has been found.\r\n" +
			"1,234 states generated, 1,000 distinct states found, 0 states left on queue.\r\n",
			Outcome{Verdict: verdictOK, Generated: 1234, Distinct: 1000}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := parseTLC(tc.out); got != tc.want {
				t.Errorf("parseTLC:\n got %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func TestNameTemporal(t *testing.T) {
	if got := nameTemporal(verdictTemporal, []string{"Termination"}); got != "violates:Termination" {
		t.Errorf("one property: got %s", got)
	}
	// With two properties TLC's message does not say which one failed.
	if got := nameTemporal(verdictTemporal, []string{"A", "B"}); got != verdictTemporal {
		t.Errorf("two properties: got %s", got)
	}
	if got := nameTemporal("violates:Inv", []string{"Termination"}); got != "violates:Inv" {
		t.Errorf("invariant: got %s", got)
	}
}
