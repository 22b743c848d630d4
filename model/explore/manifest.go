package explore

import (
	"encoding/json"
	"fmt"
	"os"
)

// Manifest is tla/manifest.json: every TLC model with its constants, its
// expected verdict and TLC's measured figures. The Go twins of the TLA+
// specs read it so that the explorer must reach the same verdicts (BRIEF
// §5). C is the spec's Config type, decoded from "constants".
type Manifest[C any] struct {
	TLC struct {
		Version string `json:"version"`
		Workers int    `json:"workers"`
	} `json:"tlc"`
	Models []ManifestModel[C] `json:"models"`
}

// ManifestModel is one entry of the manifest.
type ManifestModel[C any] struct {
	Name           string   `json:"name"`
	Spec           string   `json:"spec"`
	Cfg            string   `json:"cfg"`
	Constants      C        `json:"constants"`
	Check          string   `json:"check"`  // "safety" or "liveness"
	Expect         string   `json:"expect"` // "ok" or "violates:<name>"
	Invariants     []string `json:"invariants"`
	Properties     []string `json:"properties"`
	DistinctStates int      `json:"distinct_states"`
	TraceStates    int      `json:"trace_states"`
	TLCTraceStates int      `json:"tlc_trace_states"`
	TLCSeconds     float64  `json:"tlc_seconds"`
	Note           string   `json:"note"`
}

// ReadManifest loads the manifest at path and keeps the models of spec.
func ReadManifest[C any](path, spec string) (Manifest[C], error) {
	var man Manifest[C]
	data, err := os.ReadFile(path)
	if err != nil {
		return man, fmt.Errorf("cannot read %s (written with TLC's results; see tla/README.md): %w", path, err)
	}
	if err := json.Unmarshal(data, &man); err != nil {
		return man, fmt.Errorf("%s: %w", path, err)
	}
	kept := man.Models[:0]
	for _, m := range man.Models {
		if m.Spec == spec {
			kept = append(kept, m)
		}
	}
	man.Models = kept
	return man, nil
}

// Verdict names a result the way the manifest does: "ok" or
// "violates:<invariant or property>".
func Verdict[S any](res Result[S]) string {
	if res.Violation == nil {
		return "ok"
	}
	return "violates:" + res.Violation.Name
}

// Disagreements compares an exploration with its manifest entry: the
// verdict, then the distinct-state count of a model that holds, or the
// counterexample length of one that does not. It returns what differs.
func Disagreements[S, C any](m ManifestModel[C], res Result[S]) []string {
	if got := Verdict(res); got != m.Expect {
		return []string{fmt.Sprintf("verdict %s, manifest expects %s\n%v", got, m.Expect, res.Violation)}
	}
	if res.Violation == nil {
		if res.Distinct != m.DistinctStates {
			return []string{fmt.Sprintf("%d distinct states, TLC found %d", res.Distinct, m.DistinctStates)}
		}
		return nil
	}
	if len(res.Violation.Trace) != m.TraceStates {
		return []string{fmt.Sprintf("counterexample has %d states, manifest says %d\n%s", len(res.Violation.Trace), m.TraceStates, res.Violation)}
	}
	return nil
}
