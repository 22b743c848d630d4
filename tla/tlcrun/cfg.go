package main

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode"
)

// Cfg is the part of a TLC .cfg file the runner cross-checks with the manifest.
type Cfg struct {
	Constants     map[string]string // name -> canonical value (see canonical)
	Order         []string          // constant names in file order
	Specification string
	Invariants    []string
	Properties    []string
}

// cfgKeywords start a section of a TLC configuration file.
var cfgKeywords = map[string]bool{
	"CONSTANT": true, "CONSTANTS": true, "SPECIFICATION": true, "INIT": true, "NEXT": true,
	"INVARIANT": true, "INVARIANTS": true, "PROPERTY": true, "PROPERTIES": true,
	"SYMMETRY": true, "VIEW": true, "CONSTRAINT": true, "CONSTRAINTS": true,
	"ACTION_CONSTRAINT": true, "ACTION_CONSTRAINTS": true, "CHECK_DEADLOCK": true,
	"POSTCONDITION": true, "ALIAS": true,
}

// parseCfg reads the sections the runner needs. Constant values may be
// integers, strings, TRUE/FALSE, model values, or (nested) sets of those.
func parseCfg(text string) (*Cfg, error) {
	toks, err := tokenizeCfg(text)
	if err != nil {
		return nil, err
	}
	p := &cfgParser{toks: toks}
	c := &Cfg{Constants: map[string]string{}}
	for !p.done() {
		kw := p.next()
		if !cfgKeywords[kw] {
			return nil, fmt.Errorf("unexpected %q, want a section keyword", kw)
		}
		switch kw {
		case "CONSTANT", "CONSTANTS":
			err = p.constants(c)
		case "SPECIFICATION":
			c.Specification = p.names()[0]
		case "INVARIANT", "INVARIANTS":
			c.Invariants = append(c.Invariants, p.names()...)
		case "PROPERTY", "PROPERTIES":
			c.Properties = append(c.Properties, p.names()...)
		default:
			p.names() // sections the runner does not check
		}
		if err != nil {
			return nil, err
		}
	}
	return c, nil
}

type cfgParser struct {
	toks []string
	pos  int
}

func (p *cfgParser) done() bool   { return p.pos >= len(p.toks) }
func (p *cfgParser) peek() string { return p.toks[p.pos] }

func (p *cfgParser) next() string {
	if p.done() {
		return ""
	}
	t := p.toks[p.pos]
	p.pos++
	return t
}

// names reads identifiers up to the next section keyword; it always returns
// at least one element so callers may index [0].
func (p *cfgParser) names() []string {
	var out []string
	for !p.done() && !cfgKeywords[p.peek()] {
		out = append(out, p.next())
	}
	if len(out) == 0 {
		out = []string{""}
	}
	return out
}

func (p *cfgParser) constants(c *Cfg) error {
	for !p.done() && !cfgKeywords[p.peek()] {
		name := p.next()
		if !isIdent(name) {
			return fmt.Errorf("CONSTANTS: %q is not a constant name", name)
		}
		op := p.next()
		if op == "<-" {
			return fmt.Errorf("constant %s: substitution (<-) is not supported, assign a value with =", name)
		}
		if op != "=" {
			return fmt.Errorf("constant %s: want =, got %q", name, op)
		}
		v, err := p.value()
		if err != nil {
			return fmt.Errorf("constant %s: %w", name, err)
		}
		if _, dup := c.Constants[name]; dup {
			return fmt.Errorf("constant %s assigned twice", name)
		}
		c.Constants[name] = v
		c.Order = append(c.Order, name)
	}
	return nil
}

// value reads one value and returns its canonical form.
func (p *cfgParser) value() (string, error) {
	t := p.next()
	switch {
	case t == "":
		return "", fmt.Errorf("missing value")
	case t == "{":
		var elems []string
		for !p.done() && p.peek() != "}" {
			if len(elems) > 0 {
				if sep := p.next(); sep != "," {
					return "", fmt.Errorf("in set: want , or }, got %q", sep)
				}
			}
			e, err := p.value()
			if err != nil {
				return "", err
			}
			elems = append(elems, e)
		}
		if p.next() != "}" {
			return "", fmt.Errorf("unterminated set")
		}
		return canonicalSet(elems), nil
	case strings.HasPrefix(t, `"`):
		return t, nil
	case isInt(t):
		n, _ := strconv.Atoi(t)
		return strconv.Itoa(n), nil
	case isIdent(t) && !cfgKeywords[t]:
		return t, nil // TRUE, FALSE or a model value
	}
	return "", fmt.Errorf("unsupported value %q (use integers, strings, model values or sets)", t)
}

// canonicalSet sorts and deduplicates elements, integers numerically.
func canonicalSet(elems []string) string {
	slices.SortFunc(elems, func(a, b string) int {
		ai, aerr := strconv.Atoi(a)
		bi, berr := strconv.Atoi(b)
		if aerr == nil && berr == nil {
			return ai - bi
		}
		return strings.Compare(a, b)
	})
	return "{" + strings.Join(slices.Compact(elems), ", ") + "}"
}

func tokenizeCfg(s string) ([]string, error) {
	var toks []string
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case strings.HasPrefix(s[i:], `\*`):
			for i < len(s) && s[i] != '\n' {
				i++
			}
		case strings.HasPrefix(s[i:], "(*"):
			end := strings.Index(s[i+2:], "*)")
			if end < 0 {
				return nil, fmt.Errorf("unterminated (* comment")
			}
			i += end + 4
		case unicode.IsSpace(rune(c)):
			i++
		case strings.HasPrefix(s[i:], "<-"):
			toks = append(toks, "<-")
			i += 2
		case strings.ContainsRune("{},=", rune(c)):
			toks = append(toks, string(c))
			i++
		case c == '"':
			end := strings.IndexByte(s[i+1:], '"')
			if end < 0 {
				return nil, fmt.Errorf("unterminated string")
			}
			toks = append(toks, s[i:i+end+2])
			i += end + 2
		default:
			j := i
			for j < len(s) && (isWordByte(s[j]) || (j == i && s[j] == '-')) {
				j++
			}
			if j == i {
				return nil, fmt.Errorf("unexpected character %q", c)
			}
			toks = append(toks, s[i:j])
			i = j
		}
	}
	return toks, nil
}

func isWordByte(c byte) bool {
	return c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

func isInt(t string) bool {
	_, err := strconv.Atoi(t)
	return err == nil
}

func isIdent(t string) bool {
	if t == "" || t[0] >= '0' && t[0] <= '9' {
		return false
	}
	for i := range len(t) {
		if !isWordByte(t[i]) {
			return false
		}
	}
	return true
}

// canonicalJSON turns a manifest constant into the same canonical form as
// parseCfg: integers, strings, booleans, and arrays as sets.
func canonicalJSON(raw json.RawMessage) (string, error) {
	var v any
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		return "", err
	}
	return canonicalValue(v)
}

func canonicalValue(v any) (string, error) {
	switch x := v.(type) {
	case json.Number:
		n, err := strconv.Atoi(x.String())
		if err != nil {
			return "", fmt.Errorf("%s is not an integer", x)
		}
		return strconv.Itoa(n), nil
	case string:
		return strconv.Quote(x), nil
	case bool:
		if x {
			return "TRUE", nil
		}
		return "FALSE", nil
	case []any:
		elems := make([]string, 0, len(x))
		for _, e := range x {
			s, err := canonicalValue(e)
			if err != nil {
				return "", err
			}
			if slices.Contains(elems, s) {
				return "", fmt.Errorf("set lists %s twice", s)
			}
			elems = append(elems, s)
		}
		return canonicalSet(elems), nil
	}
	return "", fmt.Errorf("unsupported JSON value %v (use integers, strings, booleans or arrays)", v)
}

// checkDrift reports every way a cfg file disagrees with its manifest entry.
func checkDrift(m Model, c *Cfg) []string {
	var errs []string
	want := map[string]bool{}
	for _, k := range m.Constants {
		want[k.Name] = true
		mv, err := canonicalJSON(k.Value)
		if err != nil {
			errs = append(errs, fmt.Sprintf("manifest constant %s: %v", k.Name, err))
			continue
		}
		cv, ok := c.Constants[k.Name]
		switch {
		case !ok:
			errs = append(errs, fmt.Sprintf("constant %s is in the manifest but not in %s", k.Name, m.Cfg))
		case cv != mv:
			errs = append(errs, fmt.Sprintf("constant %s: %s has %s, manifest has %s", k.Name, m.Cfg, cv, mv))
		}
	}
	for _, name := range c.Order {
		if !want[name] {
			errs = append(errs, fmt.Sprintf("constant %s is in %s but not in the manifest", name, m.Cfg))
		}
	}
	// Liveness models check properties; safety models only action
	// properties, which the manifest must then name (see Model.Properties).
	if (m.Check == "liveness" && len(c.Properties) == 0) ||
		(m.Check == "safety" && len(c.Properties) > 0 && m.Properties == nil) {
		errs = append(errs, fmt.Sprintf("check is %s but %s lists properties %v", m.Check, m.Cfg, c.Properties))
	}
	if m.Invariants != nil && !slices.Equal(m.Invariants, c.Invariants) {
		errs = append(errs, fmt.Sprintf("invariants: %s has %v, manifest has %v", m.Cfg, c.Invariants, m.Invariants))
	}
	if m.Properties != nil && !slices.Equal(m.Properties, c.Properties) {
		errs = append(errs, fmt.Sprintf("properties: %s has %v, manifest has %v", m.Cfg, c.Properties, m.Properties))
	}
	if name, ok := strings.CutPrefix(m.Expect, "violates:"); ok &&
		!slices.Contains(c.Invariants, name) && !slices.Contains(c.Properties, name) {
		errs = append(errs, fmt.Sprintf("expected violation of %s, which %s does not check", name, m.Cfg))
	}
	return errs
}
