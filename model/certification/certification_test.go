package certification

import (
	"errors"
	"slices"
	"testing"
)

// n4 is n4_q3_b1 with one slot: members 1..4, Byzantine {4}, Active {1,2,3}, q = 3.
var n4 = Config{Members: seq(1, 4), Byzantine: []int{4}, Active: seq(1, 3), Quorum: 3,
	Slots: []int{1}, Values: []int{1, 2}, HonestValues: []int{1, 2}}

// stepper returns a function that unwraps an enabled action's result.
func stepper(t *testing.T) func(State, bool) State {
	return func(s State, ok bool) State {
		t.Helper()
		if !ok {
			t.Fatal("action unexpectedly disabled")
		}
		return s
	}
}

func TestCastVote(t *testing.T) {
	mustStep := stepper(t)
	s0 := Init(n4)
	s1 := mustStep(CastVote(n4, s0, 1, 1, 2))
	if !s0.Equal(Init(n4)) || len(s0.Votes()) != 0 {
		t.Fatal("CastVote modified its input")
	}
	if got := s1.Votes(); !slices.Equal(got, []Vote{{1, 1, 2}}) {
		t.Fatalf("votes = %v", got)
	}
	for name, args := range map[string][3]int{
		"second vote in a slot (CERT-5)": {1, 1, 1},
		"same vote again":                {1, 1, 2},
		"Byzantine member":               {4, 1, 1},
		"unknown slot":                   {2, 2, 1},
		"value outside Values":           {2, 1, 3},
		"non-member":                     {9, 1, 1},
	} {
		if n, ok := CastVote(n4, s1, args[0], args[1], args[2]); ok || !n.Equal(s1) {
			t.Errorf("%s: CastVote%v enabled", name, args)
		}
	}
	crashed := n4
	crashed.Active = []int{1, 2}
	if _, ok := CastVote(crashed, s0, 3, 1, 1); ok {
		t.Error("an inactive honest member voted")
	}
	one := n4
	one.HonestValues = []int{1}
	if _, ok := CastVote(one, s0, 1, 1, 2); ok {
		t.Error("an honest member voted outside HonestValues")
	}
}

func TestByzantineVote(t *testing.T) {
	mustStep := stepper(t)
	s := mustStep(ByzantineVote(n4, Init(n4), 4, 1, 1))
	s = mustStep(ByzantineVote(n4, s, 4, 1, 2)) // equivocation is allowed
	if _, ok := ByzantineVote(n4, s, 4, 1, 2); ok {
		t.Error("the same Byzantine vote twice")
	}
	if _, ok := ByzantineVote(n4, s, 1, 1, 1); ok {
		t.Error("an honest member used ByzantineVote")
	}
	if got := Supporters(n4, s, 1, 2); !slices.Equal(got, []int{4}) {
		t.Errorf("Supporters = %v", got)
	}
}

func TestFormCertificate(t *testing.T) {
	mustStep := stepper(t)
	s := Init(n4)
	for _, m := range []int{1, 2} {
		s = mustStep(CastVote(n4, s, m, 1, 1))
	}
	if _, ok := FormCertificate(n4, s, 1, 1); ok {
		t.Fatal("certificate with q-1 supporters (CERT-9)")
	}
	s = mustStep(ByzantineVote(n4, s, 4, 1, 1))
	c := mustStep(FormCertificate(n4, s, 1, 1))
	if !slices.Equal(c.Certificates(), []Cert{{1, 1}}) || !slices.Equal(c.Votes(), s.Votes()) {
		t.Fatalf("FormCertificate: %v", c)
	}
	if _, ok := FormCertificate(n4, c, 1, 1); ok {
		t.Error("the same certificate formed twice")
	}
	if !TypeOK(n4, c) || !CertificateUniqueness(n4, c) || !CertificateValidity(n4, c) || !Termination(n4, c) {
		t.Errorf("invariants or goal fail on a legal state:\n%v", c)
	}
	if FairEnabled(n4, s) != true || FairEnabled(n4, c) != true { // member 3 can still vote
		t.Error("FairEnabled should hold")
	}
	done := mustStep(CastVote(n4, c, 3, 1, 2))
	if FairEnabled(n4, done) {
		t.Errorf("nothing fair is enabled in\n%v", done)
	}
}

func TestInvariantsDetectBadStates(t *testing.T) {
	conflict := FromSets(n4, nil, []Cert{{1, 1}, {1, 2}})
	if CertificateUniqueness(n4, conflict) {
		t.Error("CertificateUniqueness accepts two values in one slot")
	}
	// One honest supporter and the Byzantine one: 1 < q - b = 2.
	weak := FromSets(n4, []Vote{{1, 1, 1}, {4, 1, 1}}, []Cert{{1, 1}})
	if CertificateValidity(n4, weak) {
		t.Error("CertificateValidity accepts a certificate with 1 honest supporter")
	}
	for _, bad := range []State{
		FromSets(n4, []Vote{{5, 1, 1}}, nil),
		FromSets(n4, []Vote{{1, 2, 1}}, nil),
		FromSets(n4, []Vote{{1, 1, 3}}, nil),
		FromSets(n4, nil, []Cert{{1, 0}}),
	} {
		if TypeOK(n4, bad) {
			t.Errorf("TypeOK accepts\n%v", bad)
		}
	}
	if Termination(n4, Init(n4)) {
		t.Error("Termination holds initially")
	}
}

func TestFromSetsIsCanonical(t *testing.T) {
	a := FromSets(n4, []Vote{{4, 1, 2}, {1, 1, 1}, {-3, 1, 1}, {4, 1, 2}, {2, 1, 1}}, []Cert{{1, 2}, {1, 1}})
	b := FromSets(n4, []Vote{{2, 1, 1}, {-3, 1, 1}, {4, 1, 2}, {1, 1, 1}}, []Cert{{1, 1}, {1, 2}, {1, 1}})
	if !a.Equal(b) || a != b {
		t.Fatalf("same sets, different states:\n%v\n%v", a, b)
	}
	wantVotes := []Vote{{-3, 1, 1}, {1, 1, 1}, {2, 1, 1}, {4, 1, 2}}
	if got := a.Votes(); !slices.Equal(got, wantVotes) {
		t.Errorf("Votes() = %v, want %v", got, wantVotes)
	}
	want := "/\\ votes = {<<-3, 1, 1>>, <<1, 1, 1>>, <<2, 1, 1>>, <<4, 1, 2>>}\n/\\ certificates = {<<1, 1>>, <<1, 2>>}"
	if a.String() != want {
		t.Errorf("String() =\n%s\nwant\n%s", a, want)
	}
	if FromSets(n4, nil, nil) != Init(n4) || Init(n4).String() != "/\\ votes = {}\n/\\ certificates = {}" {
		t.Error("empty FromSets is not Init")
	}
	// Votes and certificates must not be confused by the encoding.
	sp, _ := NewSpec(n4, Mutations{})
	x := FromSets(n4, []Vote{{1, 1, 1}}, nil)
	y := FromSets(n4, nil, []Cert{{1, 1}})
	if string(sp.Encode(nil, x)) == string(sp.Encode(nil, y)) {
		t.Error("distinct states share an encoding")
	}
}

func TestLegalStep(t *testing.T) {
	mustStep := stepper(t)
	s := Init(n4)
	v := mustStep(CastVote(n4, s, 2, 1, 1))
	if l, ok := LegalStep(n4, s, v); !ok || l != "CastVote(m=2, s=1, v=1)" {
		t.Errorf("LegalStep = %q, %v", l, ok)
	}
	if l, ok := LegalStep(n4, v, v); !ok || l != "stutter" {
		t.Errorf("stutter: %q, %v", l, ok)
	}
	two := FromSets(n4, []Vote{{1, 1, 1}, {2, 1, 1}}, nil)
	if _, ok := LegalStep(n4, s, two); ok {
		t.Error("two votes in one step accepted")
	}
	if _, ok := LegalStep(n4, v, s); ok {
		t.Error("removing a vote accepted")
	}
}

func TestValidate(t *testing.T) {
	if err := n4.Validate(); err != nil {
		t.Fatal(err)
	}
	if got := n4.Honest(); !slices.Equal(got, []int{1, 2, 3}) {
		t.Errorf("Honest() = %v", got)
	}
	for field, mutate := range map[string]func(*Config){
		"Members":      func(c *Config) { c.Members = []int{1, 2, 2, 4} },
		"Byzantine":    func(c *Config) { c.Byzantine = []int{7} },
		"Active":       func(c *Config) { c.Active = []int{1, 4} },
		"HonestValues": func(c *Config) { c.HonestValues = []int{3} },
		"Quorum":       func(c *Config) { c.Quorum = 0 },
	} {
		c := n4
		mutate(&c)
		var ce *ConfigError
		if err := c.Validate(); !errors.As(err, &ce) || ce.Field != field {
			t.Errorf("%s: got %v", field, err)
		}
	}
	big := n4
	big.Quorum = 5
	if err := big.Validate(); err == nil {
		t.Error("Quorum > n accepted")
	}
}

func BenchmarkExploreN4Q3B1(b *testing.B) {
	cfg := definedModels[0].cfg
	for b.Loop() {
		res, err := Explore(cfg, Options{})
		if err != nil || res.Distinct != 19600 {
			b.Fatal(err, res.Distinct)
		}
	}
}
