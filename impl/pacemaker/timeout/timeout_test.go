package timeout

import (
	"testing"
	"time"
)

const ms = time.Millisecond

func mustNew(t *testing.T, cfg Config) *Policy {
	t.Helper()
	p, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestEstimate(t *testing.T) {
	cases := []struct {
		in   []time.Duration
		want time.Duration
	}{
		{nil, 0},
		{[]time.Duration{100 * ms}, 100 * ms},
		{[]time.Duration{100 * ms, 100 * ms, 100 * ms, 100 * ms}, 100 * ms},
		// mean 100, σ 10 → 130
		{[]time.Duration{90 * ms, 110 * ms, 90 * ms, 110 * ms}, 130 * ms},
		// samples 10,20,30 ms: μ = 20 ms, σ² = 200/3 ms², μ + 3σ = 44.4948974… ms → ceil 44494898 ns
		{[]time.Duration{10 * ms, 20 * ms, 30 * ms}, 44494898},
		{[]time.Duration{-5, 5}, 10},  // negatives count as 0: μ 2.5, σ 2.5 → 10
		{[]time.Duration{1, 2}, 3},    // μ 1.5, σ 0.5 → exactly 3
		{[]time.Duration{0, 1}, 2},    // μ 0.5, σ 0.5 → exactly 2
		{[]time.Duration{1, 1, 2}, 3}, // μ 4/3, σ = √2/3: 1.333 + 1.414 = 2.747 → 3
	}
	for _, c := range cases {
		if got := Estimate(c.in); got != c.want {
			t.Errorf("Estimate(%v) = %d, want %d", c.in, got, c.want)
		}
	}
}

func TestFixedIgnoresEverything(t *testing.T) {
	p := mustNew(t, Config{Mode: Fixed, Base: 200 * ms})
	for range 5 {
		p.TimedOut()
	}
	p.ObserveView(time.Millisecond)
	p.TimedOut()
	if got := p.Timeout(); got != 200*ms {
		t.Fatalf("fixed timeout %v, want 200ms", got)
	}
}

func TestAdaptive(t *testing.T) {
	p := mustNew(t, Config{Mode: Adaptive, Base: 500 * ms, Min: 20 * ms, Max: 2 * time.Second, Window: 4})
	// Before W observations: T0.
	if got := p.Timeout(); got != 500*ms {
		t.Fatalf("initial %v, want 500ms", got)
	}
	for _, d := range []time.Duration{90, 110, 90} {
		p.ObserveView(d * ms)
	}
	if got := p.Timeout(); got != 500*ms {
		t.Fatalf("3 of 4 samples: %v, want T0 500ms", got)
	}
	p.ObserveView(110 * ms)
	if got := p.Timeout(); got != 130*ms {
		t.Fatalf("mean+3σ: %v, want 130ms", got)
	}
	// Backoff ×2 per consecutive timeout, capped at Max.
	want := []time.Duration{260 * ms, 520 * ms, 1040 * ms, 2 * time.Second, 2 * time.Second}
	for i, w := range want {
		p.TimedOut()
		if got := p.Timeout(); got != w {
			t.Fatalf("after %d timeouts: %v, want %v", i+1, got, w)
		}
	}
	if p.Backoffs() != 5 {
		t.Fatalf("backoffs %d", p.Backoffs())
	}
	// A sample does not reset the backoff; a commit does.
	p.ObserveView(50 * ms) // window 110, 90, 110, 50: S=360, mean 90, σ = √600 → 90 + 73.48 = 163.48 ms
	if p.Backoffs() != 5 || p.Timeout() != 2*time.Second {
		t.Fatal("a sample reset the backoff")
	}
	p.Committed()
	if p.Backoffs() != 0 {
		t.Fatal("commit did not reset backoff")
	}
	if got, want := p.Timeout(), Estimate([]time.Duration{110 * ms, 90 * ms, 110 * ms, 50 * ms}); got != want || got/ms != 163 {
		t.Fatalf("after sliding: %v, want %v (≈163ms)", got, want)
	}
	if s := p.Samples(); len(s) != 4 || s[0] != 110*ms || s[3] != 50*ms {
		t.Fatalf("samples %v", s)
	}
	// Shrink on progress: fast views pull the timeout down to the clamp.
	for range 4 {
		p.ObserveView(1 * ms)
	}
	if got := p.Timeout(); got != 20*ms {
		t.Fatalf("fast views: %v, want Min 20ms", got)
	}
	p.TimedOut()
	if got := p.Timeout(); got != 40*ms {
		t.Fatalf("one backoff: %v", got)
	}
	p.Committed()
	if got := p.Timeout(); got != 20*ms {
		t.Fatalf("Committed did not reset: %v", got)
	}
}

func TestBackoffSaturates(t *testing.T) {
	p := mustNew(t, Config{Mode: Adaptive, Base: time.Second, Min: time.Millisecond, Max: 1<<62 - 1, Window: 2})
	for range 200 {
		p.TimedOut()
	}
	if got := p.Timeout(); got != 1<<62-1 {
		t.Fatalf("saturated timeout %v", got)
	}
}

func TestValidate(t *testing.T) {
	bad := []Config{
		{Mode: 7, Base: 1, Min: 1, Max: 1, Window: 2},
		{Mode: Adaptive, Base: -1, Min: 1, Max: 1, Window: 2},
		{Mode: Adaptive, Base: 1, Min: 5, Max: 10, Window: 2},  // base below min
		{Mode: Adaptive, Base: 20, Min: 5, Max: 10, Window: 2}, // base above max
		{Mode: Adaptive, Base: 1, Min: 1, Max: 1, Window: 1},   // W ≥ 2
		{Mode: Adaptive, Base: 1, Min: 1, Max: 1, Window: -3},
	}
	for _, c := range bad {
		if _, err := New(c); err == nil {
			t.Errorf("accepted %+v", c)
		}
	}
	p := mustNew(t, Config{})
	if c := p.Config(); c.Base != DefaultBase || c.Window != DefaultWindow || c.Mode != Fixed {
		t.Fatalf("defaults %+v", c)
	}
}
