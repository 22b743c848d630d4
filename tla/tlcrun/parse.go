package main

import (
	"regexp"
	"strconv"
	"strings"
)

// Verdicts parseTLC can return besides "violates:<invariant>".
const (
	verdictOK       = "ok"
	verdictTemporal = "violates:temporal" // TLC does not name the violated property
	verdictError    = "error"
)

// Outcome is what one TLC run reported.
type Outcome struct {
	Version     string // TLC's banner line, e.g. "TLC2 Version 2.20 of ... (rev: 2ec6b5f)"
	Verdict     string // verdictOK, "violates:<name>", verdictTemporal or verdictError
	Detail      string // the first error line, when Verdict is verdictError
	Generated   int    // states generated
	Distinct    int    // distinct states found
	TraceStates int    // distinct states in the printed counterexample, initial included
}

var (
	reInvariant = regexp.MustCompile(`^Error: Invariant (\S+) is violated`)
	// An action property ([][A]_v in PROPERTIES) is checked on every step
	// during the breadth-first search, and named.
	reActionProperty = regexp.MustCompile(`^Error: Action property (\S+) is violated`)
	// Anchored at the line start so "Progress(n) at ...:" lines do not match;
	// the final summary is the last match.
	reStates = regexp.MustCompile(`^([\d,]+) states generated, ([\d,]+) distinct states found`)
	// Counterexample states; "Back to state k" lasso lines do not start with "State".
	reTraceState = regexp.MustCompile(`^State \d+: (.*)$`)
)

// Lines that introduce a counterexample rather than report a failure.
var traceHeaders = []string{
	"Error: The behavior up to this point is:",
	"Error: The following behavior constitutes a counter-example:",
}

// parseTLC reads TLC's plain (non -tool) output.
func parseTLC(out string) Outcome {
	var o Outcome
	var violation, firstError string
	completed := false
	for _, line := range strings.Split(out, "\n") {
		line = strings.TrimRight(line, "\r")
		switch {
		case strings.HasPrefix(line, "TLC2 Version "):
			o.Version = line
		case line == "Model checking completed. No error has been found.":
			completed = true
		case line == "Error: Temporal properties were violated.":
			violation = first(violation, verdictTemporal)
		case line == "Error: Deadlock reached.":
			violation = first(violation, "violates:Deadlock")
		case reInvariant.MatchString(line):
			violation = first(violation, "violates:"+reInvariant.FindStringSubmatch(line)[1])
		case reActionProperty.MatchString(line):
			violation = first(violation, "violates:"+reActionProperty.FindStringSubmatch(line)[1])
		case isTraceHeader(line):
		case strings.HasPrefix(line, "Error:"):
			firstError = first(firstError, line)
		case reStates.MatchString(line):
			m := reStates.FindStringSubmatch(line)
			o.Generated, o.Distinct = atoi(m[1]), atoi(m[2])
		case reTraceState.MatchString(line):
			// A lasso may end in a "Stuttering" step, which repeats the last state.
			if !strings.HasPrefix(reTraceState.FindStringSubmatch(line)[1], "Stuttering") {
				o.TraceStates++
			}
		}
	}
	switch {
	case violation != "":
		o.Verdict = violation
	case firstError != "":
		o.Verdict, o.Detail = verdictError, firstError
	case completed:
		o.Verdict = verdictOK
	default:
		o.Verdict, o.Detail = verdictError, "TLC printed no verdict"
	}
	return o
}

func first(cur, s string) string {
	if cur != "" {
		return cur
	}
	return s
}

func isTraceHeader(line string) bool {
	for _, h := range traceHeaders {
		if line == h {
			return true
		}
	}
	return false
}

func atoi(s string) int {
	n, _ := strconv.Atoi(strings.ReplaceAll(s, ",", ""))
	return n
}
