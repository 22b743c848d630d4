package scheduler

import "math"

// Backpressure is the seed's weighted backpressure of one node:
//
//	P = 1 + log10(x),  x = W_l·T_l·avg_l + W_r·T_r·avg_r + W_f·T_f
//
// with the edge cases of SCHED-5: an empty queue's term is 0 (avg of no
// tasks is 0, never 0/0); x = 0 (all queues empty) gives P = 0 instead of
// log10(0) = −∞. For valid stats and weights x is 0 or at least 1 (SCHED-5
// lemma), so P is 0 or in [1, ∞) and never negative, infinite or NaN. The
// guard below makes the function total for any input: x < 1 or NaN gives
// 0, and x is clamped to the largest finite float64.
//
// Evaluation order is fixed by SCHED-4 and every intermediate is rounded
// by an explicit conversion, so the compiler cannot fuse a multiply and an
// add and the result is the same bits on every platform.
// spec: SCHED-3, SCHED-4, SCHED-5
func Backpressure(s Stats, w Weights) float64 {
	return pOf(argument(s, w))
}

// argument is x, the argument of log10 in SCHED-4.
func argument(s Stats, w Weights) float64 {
	tl := queueTerm(s.Local, w.Local)
	tr := queueTerm(s.Remote, w.Remote)
	tf := float64(w.Forward * float64(s.Forward.Total)) // the seed's forwarding term has no average
	return float64(float64(tl+tr) + tf)
}

// queueTerm is W·T·avg, or 0 for an empty queue.
func queueTerm(q QueueStat, w float64) float64 {
	if q.Count == 0 {
		return 0
	}
	avg := float64(float64(q.Total) / float64(q.Count))
	wt := float64(w * float64(q.Total))
	return float64(wt * avg)
}

// pOf is P as a function of x (SCHED-5).
func pOf(x float64) float64 {
	if !(x >= 1) {
		return 0
	}
	if x > math.MaxFloat64 {
		x = math.MaxFloat64
	}
	return float64(1 + Log10(x))
}

// Normalise is the seed's min-max normalisation of the backpressure list L:
// LN_b = (P_b − min L) / (max L − min L) for every b. When max L = min L
// (one node, or all equal) every LN_b is 0: no node is more loaded than
// another, so none should shed work. For inputs from Backpressure (finite,
// ≥ 0) every result is in [0, 1]. spec: SCHED-6
func Normalise(L []float64) []float64 {
	out := make([]float64, len(L))
	lo, hi := minMax(L)
	for i, v := range L {
		out[i] = normalised(v, lo, hi)
	}
	return out
}

func minMax(L []float64) (lo, hi float64) {
	for i, v := range L {
		if i == 0 || v < lo {
			lo = v
		}
		if i == 0 || v > hi {
			hi = v
		}
	}
	return lo, hi
}

// normalised is one LN_b. Rounding is monotone, so v ≤ hi gives
// fl(v−lo) ≤ fl(hi−lo) and the quotient is at most 1.
func normalised(v, lo, hi float64) float64 {
	if !(hi > lo) {
		return 0
	}
	return float64(v-lo) / float64(hi-lo)
}

// Constants of Log10. log10Of2Hi is log10(2) truncated to 32 significant
// bits (low 21 mantissa bits clear), so e·log10Of2Hi is exact for every
// binary exponent e of a float64 (|e| < 2^11); log10Of2Lo is the rest,
// rounded once. With this split log10(10^k) is exactly k for 0 ≤ k ≤ 22.
const (
	log10Of2   = 0.30102999566398119521373889472449302676818988146210854131
	log10Of2Hi = 0x1.34413508p-02
	log10Of2Lo = log10Of2 - log10Of2Hi
	invLn10    = 0.43429448190325182765112891891660508229439700580366656611
	sqrtHalf   = 0.70710678118654752440084436210484903928483593768847403658833987
)

// atanhCoef[k] = 1/(2k+1): ln(m) = 2s·Σ s^(2k)/(2k+1) with s = (m−1)/(m+1).
// For m in [√½, √2), |s| ≤ 0.1716 and s² ≤ 0.0295, so twelve terms leave a
// remainder below 2^-60 of the sum.
var atanhCoef = [12]float64{1, 1.0 / 3, 1.0 / 5, 1.0 / 7, 1.0 / 9, 1.0 / 11, 1.0 / 13, 1.0 / 15,
	1.0 / 17, 1.0 / 19, 1.0 / 21, 1.0 / 23}

// Log10 is log10(x) for finite x > 0, computed from +, −, ×, ÷ and exact
// scaling only, with every intermediate rounded explicitly, so it gives
// the same bits on every platform (math.Log has an assembly version on
// some architectures and not on others). With x = m·2^e, m in [√½, √2):
// log10(x) = e·log10(2) + ln(m)/ln(10), ln(m) by the atanh series. It
// agrees with math.Log10 to a few units in the last place
// (TestLog10AgreesWithMath). Non-positive, infinite or NaN x gives NaN;
// the scheduler never passes those (SCHED-5).
func Log10(x float64) float64 {
	if !(x > 0) || x > math.MaxFloat64 {
		return math.NaN()
	}
	m, e := math.Frexp(x) // x = m·2^e, m in [0.5, 1)
	if m < sqrtHalf {
		m *= 2 // exact
		e--
	}
	f := m - 1 // exact (Sterbenz): m in [√½, √2)
	s := float64(f / float64(2+f))
	s2 := float64(s * s)
	p := atanhCoef[len(atanhCoef)-1]
	for k := len(atanhCoef) - 2; k >= 0; k-- {
		p = float64(float64(p*s2) + atanhCoef[k])
	}
	lnm := float64(float64(2*s) * p)
	fe := float64(e)
	return float64(float64(fe*log10Of2Hi) + float64(float64(fe*log10Of2Lo)+float64(lnm*invLn10)))
}
