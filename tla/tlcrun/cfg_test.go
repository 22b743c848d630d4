package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const sampleCfg = `\* a comment
CONSTANTS
    Members = {3, 1, 2, 2}   (* unordered, with a duplicate *)
    Byzantine = {}
    Quorum = 2
    Name = "x"
    Nil = Nil
SPECIFICATION FairSpec
INVARIANTS TypeOK Safe
PROPERTY Live
`

func TestParseCfg(t *testing.T) {
	c, err := parseCfg(sampleCfg)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"Members": "{1, 2, 3}", "Byzantine": "{}", "Quorum": "2", "Name": `"x"`, "Nil": "Nil"}
	for k, v := range want {
		if c.Constants[k] != v {
			t.Errorf("constant %s = %q, want %q", k, c.Constants[k], v)
		}
	}
	if c.Specification != "FairSpec" || !slices.Equal(c.Invariants, []string{"TypeOK", "Safe"}) ||
		!slices.Equal(c.Properties, []string{"Live"}) {
		t.Errorf("sections: %+v", c)
	}
}

func TestParseCfgRejects(t *testing.T) {
	for _, bad := range []string{
		"CONSTANTS Members = {1, 2",
		"CONSTANTS Members <- Other",
		"CONSTANTS Quorum = 1 Quorum = 2",
		"CONSTANTS Members = {1 2}",
		"SPECIFICATION Spec (* open",
		"Members = {1}",
	} {
		if _, err := parseCfg(bad); err == nil {
			t.Errorf("parseCfg(%q) accepted bad input", bad)
		}
	}
}

// The repository's cfg files agree with the manifest, and a changed constant,
// a missing one or a wrong check kind is reported.
func TestManifestMatchesCfgs(t *testing.T) {
	man, err := loadManifest(filepath.Join("..", "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range man.Models {
		c := readCfg(t, m)
		if errs := checkDrift(m, c); len(errs) > 0 {
			t.Errorf("%s: %v", m.Name, errs)
		}
	}

	m := man.Models[0]
	c := readCfg(t, m)
	c.Constants["Quorum"] = "2"
	expectDrift(t, m, c, "constant Quorum")

	c = readCfg(t, m)
	delete(c.Constants, "Slots")
	expectDrift(t, m, c, "constant Slots is in the manifest but not in")

	c = readCfg(t, m)
	m.Check = "liveness"
	expectDrift(t, m, c, "check is liveness")

	// A model that names its invariants and properties: the Pacemaker
	// safety models list action properties, which a safety model may only
	// do when the manifest names them.
	var pm Model
	for _, x := range man.Models {
		if x.Spec == "Pacemaker" && x.Check == "safety" && x.Properties != nil {
			pm = x
		}
	}
	if pm.Name == "" {
		t.Fatal("no Pacemaker safety model with properties in the manifest")
	}
	c = readCfg(t, pm)
	if errs := checkDrift(pm, c); len(errs) > 0 {
		t.Fatalf("%s: %v", pm.Name, errs)
	}
	unnamed := pm
	unnamed.Properties = nil
	expectDrift(t, unnamed, c, "check is safety")
	reordered := pm
	reordered.Invariants = slices.Clone(pm.Invariants)
	slices.Reverse(reordered.Invariants)
	expectDrift(t, reordered, c, "invariants:")
	c.Properties = c.Properties[:1]
	expectDrift(t, pm, c, "properties:")
}

func readCfg(t *testing.T, m Model) *Cfg {
	t.Helper()
	text, err := os.ReadFile(filepath.Join("..", m.Cfg))
	if err != nil {
		t.Fatal(err)
	}
	c, err := parseCfg(string(text))
	if err != nil {
		t.Fatalf("%s: %v", m.Cfg, err)
	}
	return c
}

func expectDrift(t *testing.T, m Model, c *Cfg, want string) {
	t.Helper()
	errs := checkDrift(m, c)
	if !slices.ContainsFunc(errs, func(e string) bool { return strings.Contains(e, want) }) {
		t.Errorf("drift %q not reported; got %v", want, errs)
	}
}

// -update must not lose or reorder anything it does not measure.
func TestManifestRoundTrip(t *testing.T) {
	orig, err := os.ReadFile(filepath.Join("..", "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	var man Manifest
	if err := json.Unmarshal(orig, &man); err != nil {
		t.Fatal(err)
	}
	compact, err := json.Marshal(&man)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := prettyJSON(&out, compact, 100); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out.Bytes(), orig) {
		t.Errorf("re-encoded manifest differs from tla/manifest.json:\n%s", out.String())
	}
}
