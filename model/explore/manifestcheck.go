package explore

import (
	"fmt"
	"slices"
	"testing"
)

// CheckManifest is the body of a Go twin's TestManifestVerdicts (BRIEF §5):
// it explores every model of spec in the manifest at path and requires
// TLC's verdicts (Disagreements: the same state count for "ok" models, the
// same violated property and trace length otherwise).
//
// defined is the twin's shared definition of models by name: a defined
// model's constants must equal the manifest's, and every defined model must
// be in the manifest. run explores one model, liveness telling a "liveness"
// check from a "safety" one (any other check fails the model); it may check
// spec-specific manifest fields first. onViolation, if not nil, re-checks a
// counterexample whose verdict is the expected one (replay through the
// twin's Next, typically).
func CheckManifest[C fmt.Stringer, S any](t *testing.T, path, spec string, defined map[string]C,
	run func(t *testing.T, m ManifestModel[C], liveness bool) (Result[S], error),
	onViolation func(t *testing.T, m ManifestModel[C], trace []Step[S])) {
	t.Helper()
	man, err := ReadManifest[C](path, spec)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("manifest: TLC %q, %d workers", man.TLC.Version, man.TLC.Workers)
	seen := map[string]bool{}
	for _, m := range man.Models {
		seen[m.Name] = true
		t.Run(m.Name, func(t *testing.T) {
			if d, ok := defined[m.Name]; ok && d.String() != m.Constants.String() {
				t.Errorf("manifest constants differ from the shared definition:\n manifest: %v\n defined:  %v", m.Constants, d)
			}
			var liveness bool
			switch m.Check {
			case "safety":
			case "liveness":
				liveness = true
			default:
				t.Fatalf("unknown check %q", m.Check)
			}
			res, err := run(t, m, liveness)
			if err != nil {
				t.Fatal(err)
			}
			got := Verdict(res)
			t.Logf("%s (%s): Go %s, %d distinct states, depth %d, %v; TLC %d distinct states, %.2fs",
				m.Name, m.Check, got, res.Distinct, res.Depth, res.Duration, m.DistinctStates, m.TLCSeconds)
			for _, d := range Disagreements(m, res) {
				t.Error(d)
			}
			if got == m.Expect && res.Violation != nil && onViolation != nil {
				onViolation(t, m, res.Violation.Trace)
			}
		})
	}
	names := make([]string, 0, len(defined))
	for name := range defined {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		if !seen[name] {
			t.Errorf("manifest lacks model %s", name)
		}
	}
}
