package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// Manifest is tla/manifest.json: every TLC model with its expected verdict and
// the figures measured the last time it was run with -update.
type Manifest struct {
	TLC    TLCInfo `json:"tlc"`
	Models []Model `json:"models"`
}

// TLCInfo records which TLC produced the measured figures.
type TLCInfo struct {
	Version string `json:"version"`
	Workers int    `json:"workers"`
}

// Model is one MC_<name>.cfg run. "expect" is written by people only;
// -update rewrites the measured fields (distinct_states, trace_states,
// tlc_trace_states, tlc_seconds).
type Model struct {
	Name      string    `json:"name"`
	Spec      string    `json:"spec"`
	Cfg       string    `json:"cfg"`
	Constants Constants `json:"constants"`
	Check     string    `json:"check"`  // "safety" or "liveness"
	Expect    string    `json:"expect"` // "ok" or "violates:<invariant or property>"
	// Invariants and Properties, when given, must equal the cfg's
	// INVARIANTS and PROPERTIES (in order): they tell the Go explorer what
	// to check. A safety model may list properties only here, as action
	// properties ([][A]_v), which TLC checks during its breadth-first search.
	Invariants []string `json:"invariants,omitempty"`
	Properties []string `json:"properties,omitempty"`
	// DistinctStates must match exactly for "ok" models; for violations it is
	// where TLC stopped and is informational.
	DistinctStates int `json:"distinct_states"`
	// TraceStates is the number of states in the shortest counterexample,
	// initial state included (violations only).
	TraceStates int `json:"trace_states,omitempty"`
	// TLCTraceStates is set only when TLC's counterexample is longer than the
	// shortest one: TLC's liveness checker prints some lasso, not a shortest one.
	TLCTraceStates int     `json:"tlc_trace_states,omitempty"`
	TLCSeconds     float64 `json:"tlc_seconds"`
	Note           string  `json:"note,omitempty"`
}

const expectOK = "ok"

// expectedTrace is the trace length TLC itself must print for a violation.
func (m Model) expectedTrace() int {
	if m.TLCTraceStates != 0 {
		return m.TLCTraceStates
	}
	return m.TraceStates
}

// Constant is one CONSTANT assignment as written in the manifest.
type Constant struct {
	Name  string
	Value json.RawMessage
}

// Constants keeps the manifest's key order, so -update does not reshuffle it.
type Constants []Constant

// UnmarshalJSON reads a JSON object, keeping key order.
func (c *Constants) UnmarshalJSON(b []byte) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return errors.New(`"constants" must be a JSON object`)
	}
	var out Constants
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		name := tok.(string) // object keys are always strings
		if seen[name] {
			return fmt.Errorf("constant %s given twice", name)
		}
		seen[name] = true
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return fmt.Errorf("constant %s: %w", name, err)
		}
		out = append(out, Constant{Name: name, Value: raw})
	}
	*c = out
	return nil
}

// MarshalJSON writes the constants in their original order.
func (c Constants) MarshalJSON() ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteByte('{')
	for i, k := range c {
		if i > 0 {
			buf.WriteByte(',')
		}
		name, err := json.Marshal(k.Name)
		if err != nil {
			return nil, err
		}
		buf.Write(name)
		buf.WriteByte(':')
		if err := json.Compact(&buf, k.Value); err != nil {
			return nil, fmt.Errorf("constant %s: %w", k.Name, err)
		}
	}
	buf.WriteByte('}')
	return buf.Bytes(), nil
}

func loadManifest(path string) (*Manifest, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	// Unknown fields would be dropped by -update, so refuse them instead.
	dec.DisallowUnknownFields()
	var m Manifest
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if err := m.validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &m, nil
}

func (m *Manifest) validate() error {
	if m.TLC.Workers < 1 {
		return errors.New(`"tlc.workers" must be at least 1`)
	}
	if len(m.Models) == 0 {
		return errors.New("no models")
	}
	names := map[string]bool{}
	for _, x := range m.Models {
		switch {
		case x.Name == "" || x.Spec == "" || x.Cfg == "":
			return fmt.Errorf("model %q: name, spec and cfg are required", x.Name)
		case names[x.Name]:
			return fmt.Errorf("model %s listed twice", x.Name)
		case x.Check != "safety" && x.Check != "liveness":
			return fmt.Errorf("model %s: check must be safety or liveness, not %q", x.Name, x.Check)
		case x.Expect != expectOK && !strings.HasPrefix(x.Expect, "violates:"):
			return fmt.Errorf("model %s: expect must be ok or violates:<name>, not %q", x.Name, x.Expect)
		}
		names[x.Name] = true
	}
	return nil
}

func saveManifest(path string, m *Manifest) error {
	compact, err := json.Marshal(m)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := prettyJSON(&buf, compact, 100); err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, buf.Bytes(), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// jsonNode is a parsed JSON value that keeps object key order.
type jsonNode struct {
	scalar   string // encoded scalar; empty for containers
	open     byte   // '{' or '[' for containers
	keys     []string
	children []*jsonNode
}

// prettyJSON re-indents compact JSON, putting any container that fits in
// width columns on one line, so constant sets stay readable.
func prettyJSON(w io.Writer, compact []byte, width int) error {
	dec := json.NewDecoder(bytes.NewReader(compact))
	dec.UseNumber()
	root, err := readNode(dec)
	if err != nil {
		return err
	}
	var b strings.Builder
	writeNode(&b, root, 0, 0, width)
	b.WriteByte('\n')
	_, err = io.WriteString(w, b.String())
	return err
}

func readNode(dec *json.Decoder) (*jsonNode, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch t := tok.(type) {
	case json.Delim:
		n := &jsonNode{open: byte(t.String()[0])}
		for dec.More() {
			if n.open == '{' {
				k, err := dec.Token()
				if err != nil {
					return nil, err
				}
				n.keys = append(n.keys, k.(string))
			}
			child, err := readNode(dec)
			if err != nil {
				return nil, err
			}
			n.children = append(n.children, child)
		}
		_, err := dec.Token() // closing delimiter
		return n, err
	case string:
		return &jsonNode{scalar: quote(t)}, nil
	case json.Number:
		return &jsonNode{scalar: t.String()}, nil
	case bool:
		return &jsonNode{scalar: fmt.Sprint(t)}, nil
	default:
		return &jsonNode{scalar: "null"}, nil
	}
}

// quote encodes a string without HTML escaping, so notes stay legible.
func quote(s string) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s) // cannot fail for a string
	return strings.TrimSuffix(b.String(), "\n")
}

func closer(open byte) byte {
	if open == '{' {
		return '}'
	}
	return ']'
}

func oneLine(n *jsonNode) string {
	if n.open == 0 {
		return n.scalar
	}
	parts := make([]string, len(n.children))
	for i, c := range n.children {
		parts[i] = oneLine(c)
		if n.open == '{' {
			parts[i] = quote(n.keys[i]) + ": " + parts[i]
		}
	}
	return string(n.open) + strings.Join(parts, ", ") + string(closer(n.open))
}

// writeNode writes n at nesting depth; col is the column n starts at.
func writeNode(b *strings.Builder, n *jsonNode, depth, col, width int) {
	flat := oneLine(n)
	if n.open == 0 || col+len(flat) <= width || len(n.children) == 0 {
		b.WriteString(flat)
		return
	}
	pad := strings.Repeat("  ", depth+1)
	b.WriteByte(n.open)
	for i, c := range n.children {
		b.WriteString("\n" + pad)
		prefix := ""
		if n.open == '{' {
			prefix = quote(n.keys[i]) + ": "
			b.WriteString(prefix)
		}
		writeNode(b, c, depth+1, len(pad)+len(prefix), width)
		if i < len(n.children)-1 {
			b.WriteByte(',')
		}
	}
	b.WriteString("\n" + pad[2:])
	b.WriteByte(closer(n.open))
}
