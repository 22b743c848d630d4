package scheduler

import (
	"math"
	"math/rand/v2"
	"testing"

	"pgregory.net/rapid"
)

func st(ln, lt, rn, rt, fn, ft uint64) Stats {
	return Stats{Local: QueueStat{ln, lt}, Remote: QueueStat{rn, rt}, Forward: QueueStat{fn, ft}}
}

// TestBackpressureHandComputed checks P against numbers worked out by hand
// from SCHED-4 with the default weights W = (4, 2, 1).
// spec: SCHED-3, SCHED-4, SCHED-5
func TestBackpressureHandComputed(t *testing.T) {
	w := DefaultWeights
	for _, c := range []struct {
		name string
		s    Stats
		w    Weights
		x    float64 // argument of log10, by hand
		p    float64 // P, by hand
	}{
		// local: costs 3, 5 → T=8, n=2, avg=4, 4·8·4 = 128; remote: cost 10 → 2·10·10 = 200;
		// forward: T=72 → 1·72 = 72. x = 400, P = 1 + log10(400) = 1 + 2 + log10(4).
		{"mixed", st(2, 8, 1, 10, 3, 72), w, 400, 3 + 0.6020599913279624},
		// 4·10·10 + 2·10·10 + 400 = 1000 → P = 4 exactly.
		{"power of ten", st(1, 10, 1, 10, 5, 400), w, 1000, 4},
		// SCHED-5: all queues empty → x = 0 → P = 0 (not log10(0) = −∞).
		{"empty", Stats{}, w, 0, 0},
		// SCHED-5: the smallest load, one task of cost 1 with weight 1 → x = 1 → P = 1.
		{"minimal local", st(1, 1, 0, 0, 0, 0), Weights{1, 1, 1}, 1, 1},
		{"minimal forward", st(0, 0, 0, 0, 1, 1), Weights{1, 1, 1}, 1, 1},
		// Only the forwarding queue: W_f·T_f, no average (the seed's third term).
		{"forward only", st(0, 0, 0, 0, 4, 100), w, 100, 3},
		// Only the remote queue: 2 · 30 · 15 = 900.
		{"remote only", st(0, 0, 2, 30, 0, 0), w, 900, 1 + 2 + 0.9542425094393249},
		// An empty queue's term is 0 even if its total is (invalidly) non-zero: no 0/0.
		{"count zero", st(0, 50, 0, 0, 0, 0), w, 0, 0},
		// Consequence of the seed's T·avg = T²/n: adding a cheap task can LOWER P.
		// One task of 10: 4·10·10 = 400. Add a task of 1: 4·11·5.5 = 242.
		{"one expensive", st(1, 10, 0, 0, 0, 0), w, 400, 1 + 2.6020599913279624},
		{"plus one cheap", st(2, 11, 0, 0, 0, 0), w, 242, 1 + 2.383815365980431},
	} {
		t.Run(c.name, func(t *testing.T) {
			if x := argument(c.s, c.w); x != c.x {
				t.Errorf("x = %v, by hand %v", x, c.x)
			}
			if p := Backpressure(c.s, c.w); math.Abs(p-c.p) > 1e-15*math.Max(1, c.p) {
				t.Errorf("P = %.17g, by hand %.17g", p, c.p)
			}
		})
	}
	if Backpressure(st(1, 10, 1, 10, 5, 400), w) != 4 {
		t.Error("P at x = 1000 is not exactly 4")
	}
}

// TestBackpressureGuards: outside valid weights the function stays total
// and finite, never negative or NaN. spec: SCHED-5
func TestBackpressureGuards(t *testing.T) {
	// Weights below 1 (refused by Validate) could give 0 < x < 1 → log negative; the guard gives 0.
	if p := Backpressure(st(1, 1, 0, 0, 0, 0), Weights{0.01, 1, 1}); p != 0 {
		t.Errorf("x = 0.01: P = %v, want 0", p)
	}
	if p := Backpressure(st(1, 1, 0, 0, 0, 0), Weights{math.NaN(), 1, 1}); p != 0 {
		t.Errorf("NaN weight: P = %v, want 0", p)
	}
	p := Backpressure(st(1, 1, 0, 0, 0, 0), Weights{math.Inf(1), 1, 1})
	if want := 1 + Log10(math.MaxFloat64); p != want || math.IsInf(p, 0) {
		t.Errorf("infinite weight: P = %v, want clamp %v", p, want)
	}
	// The largest valid figures stay finite.
	big := QueueStat{HardMaxQueued, HardMaxQueued * MaxCost}
	p = Backpressure(Stats{big, big, big}, Weights{MaxWeight, MaxWeight, MaxWeight})
	if math.IsInf(p, 0) || math.IsNaN(p) || p < 1 {
		t.Errorf("max load: P = %v", p)
	}
	// Saturated view figures (SCHED-7) stay finite.
	sat := QueueStat{math.MaxUint64, math.MaxUint64}
	if p := Backpressure(Stats{sat, sat, sat}, Weights{MaxWeight, MaxWeight, MaxWeight}); math.IsInf(p, 0) || math.IsNaN(p) {
		t.Errorf("saturated: P = %v", p)
	}
	for _, w := range []Weights{{0, 1, 1}, {1, 0.5, 1}, {1, 1, math.NaN()}, {1, 1, math.Inf(1)}, {1, 1, 2e6}} {
		if w.Validate() == nil {
			t.Errorf("weights %v accepted", w)
		}
	}
	if DefaultWeights.Validate() != nil {
		t.Error("default weights refused")
	}
}

// TestBackpressureLemma: for valid figures and weights, x = 0 exactly when
// every queue is empty and x ≥ 1 otherwise, so P is 0 or in [1, ∞),
// finite. spec: SCHED-5
func TestBackpressureLemma(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		q := func(label string) QueueStat {
			n := rapid.Uint64Range(0, HardMaxQueued).Draw(t, label+".n")
			if n == 0 {
				return QueueStat{}
			}
			return QueueStat{n, rapid.Uint64Range(n, n*MaxCost).Draw(t, label+".T")}
		}
		s := Stats{q("l"), q("r"), q("f")}
		wt := func(label string) float64 { return rapid.Float64Range(1, MaxWeight).Draw(t, label) }
		w := Weights{wt("wl"), wt("wr"), wt("wf")}
		x := argument(s, w)
		empty := s.Local.Count == 0 && s.Remote.Count == 0 && s.Forward.Count == 0
		if empty != (x == 0) || (!empty && !(x >= 1)) || math.IsInf(x, 0) {
			t.Fatalf("stats %+v weights %+v: x = %v", s, w, x)
		}
		p := Backpressure(s, w)
		if math.IsNaN(p) || math.IsInf(p, 0) || (p != 0 && p < 1) || (p == 0) != empty {
			t.Fatalf("stats %+v: P = %v", s, p)
		}
	})
}

// TestNormaliseHandComputed: LN_b = (P_b − min L)/(max L − min L), with
// single-node and all-equal lists giving 0. spec: SCHED-6
func TestNormaliseHandComputed(t *testing.T) {
	for _, c := range []struct {
		name string
		in   []float64
		want []float64
	}{
		{"spread", []float64{3, 1, 2, 5}, []float64{0.5, 0, 0.25, 1}},
		{"idle and loaded", []float64{0, 4.5}, []float64{0, 1}},
		{"single node", []float64{7}, []float64{0}},
		{"all equal", []float64{2, 2, 2}, []float64{0, 0, 0}},
		{"all idle", []float64{0, 0}, []float64{0, 0}},
		{"empty", nil, []float64{}},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := Normalise(c.in)
			if len(got) != len(c.want) {
				t.Fatalf("got %v, want %v", got, c.want)
			}
			for i := range got {
				if got[i] != c.want[i] {
					t.Fatalf("got %v, want %v", got, c.want)
				}
			}
		})
	}
}

// TestNormaliseRange: results lie in [0, 1] with 0 at the minimum and 1 at
// the maximum when they differ. spec: SCHED-6
func TestNormaliseRange(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		L := rapid.SliceOfN(rapid.Float64Range(0, 400), 1, 60).Draw(t, "L")
		ln := Normalise(L)
		lo, hi := minMax(L)
		for i, v := range ln {
			if !(v >= 0 && v <= 1) {
				t.Fatalf("LN[%d] = %v", i, v)
			}
			if L[i] == lo && v != 0 || hi > lo && L[i] == hi && v != 1 {
				t.Fatalf("L %v → %v", L, ln)
			}
		}
	})
}

// TestLog10AgreesWithMath compares the portable logarithm with math.Log10
// over many magnitudes. spec: SCHED-14
func TestLog10AgreesWithMath(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 11))
	worst, worstX := 0.0, 0.0
	for i := range 300000 {
		var x float64
		switch i % 3 {
		case 0:
			x = float64(r.Uint64N(1<<53) + 1)
		case 1:
			x = 1 + r.Float64()*1e-3
		default:
			x = math.Exp2(r.Float64() * 250)
		}
		a, b := Log10(x), math.Log10(x)
		if b == 0 {
			if a != 0 {
				t.Fatalf("Log10(%v) = %v, want 0", x, a)
			}
			continue
		}
		ulp := math.Nextafter(math.Abs(b), math.Inf(1)) - math.Abs(b)
		if d := math.Abs(a-b) / ulp; d > worst {
			worst, worstX = d, x
		}
	}
	t.Logf("worst difference from math.Log10: %.0f ulp at x = %v", worst, worstX)
	if worst > 8 {
		t.Fatalf("Log10 off by %v ulp at %v", worst, worstX)
	}
	for k := 0; k <= 22; k++ {
		if got := Log10(math.Pow10(k)); got != float64(k) {
			t.Errorf("Log10(1e%d) = %v", k, got)
		}
	}
	for _, x := range []float64{0, -1, math.NaN(), math.Inf(1), math.Inf(-1)} {
		if !math.IsNaN(Log10(x)) {
			t.Errorf("Log10(%v) = %v, want NaN", x, Log10(x))
		}
	}
}

// TestBackpressureKnownBits pins exact bit patterns so that a platform or
// compiler that evaluated SCHED-4 differently (fused operations, another
// logarithm) fails here. spec: SCHED-14
func TestBackpressureKnownBits(t *testing.T) {
	for _, c := range []struct {
		s    Stats
		bits uint64
	}{
		{st(2, 8, 1, 10, 3, 72), 0x400cd104d427de80},
		{st(7, 9001, 3, 77, 5, 123457), 0x4021555e8eae73ee},
		{st(1000, 100000, 13, 1300, 40, 4000), 0x402135b7ab91f76c},
	} {
		if got := math.Float64bits(Backpressure(c.s, DefaultWeights)); got != c.bits {
			t.Errorf("P(%+v) bits %#x, pinned %#x", c.s, got, c.bits)
		}
	}
}
