package farmer

import (
	"crypto/sha256"
	"encoding/binary"
	"math"
	"slices"
	"testing"

	"github.com/fhbft/fhbft/impl/certification"
)

// TestOrderMatchesSpec: Score is the formula of FARM-28, re-derived here,
// and Order sorts by it (descending, ties by index). spec: FARM-28
func TestOrderMatchesSpec(t *testing.T) {
	key := sha256.Sum256([]byte("some digest"))
	var buf []byte
	buf = append(buf, "FHBFT/farm/alloc/v1"...)
	buf = binary.BigEndian.AppendUint32(buf, 7)
	buf = binary.BigEndian.AppendUint64(buf, 9)
	buf = append(buf, key[:]...)
	buf = binary.BigEndian.AppendUint32(buf, 3)
	h := sha256.Sum256(buf)
	if got, want := Score(7, 9, key, 3), binary.BigEndian.Uint64(h[:8]); got != want {
		t.Fatalf("Score %x, formula %x", got, want)
	}
	o := Order(7, 9, key, 10)
	for i := 1; i < len(o); i++ {
		if Score(7, 9, key, o[i-1]) < Score(7, 9, key, o[i]) {
			t.Fatalf("order %v not by descending score", o)
		}
	}
}

// TestOrderBalance: over many digests Order is a permutation of 1..n and
// every member is assigned (in the first q) about q/n of the time: the work
// is spread evenly (perfect allocation needs no coordinator).
func TestOrderBalance(t *testing.T) {
	const n, trials = 7, 20000
	q := certification.DefaultThreshold(n)
	count := make([]int, n+1)
	for i := 0; i < trials; i++ {
		var key [32]byte
		binary.BigEndian.PutUint64(key[:], uint64(i))
		key = sha256.Sum256(key[:])
		o := Order(1, 1, key, n)
		s := slices.Clone(o)
		slices.Sort(s)
		for j, m := range s {
			if int(m) != j+1 {
				t.Fatalf("order %v is not a permutation of 1..%d", o, n)
			}
		}
		for _, m := range o[:q] {
			count[m]++
		}
	}
	p := float64(q) / n
	sigma := math.Sqrt(trials * p * (1 - p))
	for m := 1; m <= n; m++ {
		if d := math.Abs(float64(count[m]) - trials*p); d > 6*sigma {
			t.Errorf("member %d assigned %d times, expected %.0f ± %.0f", m, count[m], trials*p, 6*sigma)
		}
	}
}
