package mev

import (
	"crypto/sha256"
	"encoding/binary"
	"math"
	"math/big"
	"slices"
	"testing"

	"github.com/fhbft/fhbft/impl/tx"
	"pgregory.net/rapid"
)

func digest(i int) tx.Digest { return sha256.Sum256(binary.BigEndian.AppendUint64(nil, uint64(i))) }

// ratio is fee/size as an exact rational, the reference for Less.
func ratio(it Item) *big.Rat {
	return new(big.Rat).SetFrac(new(big.Int).SetUint64(it.Fee), big.NewInt(int64(it.Size)))
}

// spec: MEV-1
func TestLessExact(t *testing.T) {
	// Ratios that differ by less than float64 can see: (2^64−1)/(2^62+1)
	// vs (2^64−2)/(2^62): the second is larger, while float64 division
	// rounds both to 4.0.
	a := Item{Digest: digest(1), Fee: math.MaxUint64, Size: 1<<62 + 1}
	b := Item{Digest: digest(2), Fee: math.MaxUint64 - 1, Size: 1 << 62}
	if float64(a.Fee)/float64(a.Size) != float64(b.Fee)/float64(b.Size) {
		t.Fatal("test premise: float64 should not distinguish these")
	}
	if want := ratio(b).Cmp(ratio(a)) > 0; Less(b, a) != want || Less(a, b) == want {
		t.Fatalf("Less(b, a) = %v, exact comparison says %v", Less(b, a), want)
	}
	// Equal ratios: digest ascending.
	c := Item{Digest: digest(3), Fee: 10, Size: 5}
	d := Item{Digest: digest(4), Fee: 20, Size: 10}
	if Less(c, d) != (string(c.Digest[:]) < string(d.Digest[:])) || Less(c, d) == Less(d, c) {
		t.Fatal("tie not broken by digest")
	}
	if Less(c, c) {
		t.Fatal("irreflexive")
	}
	// Unusable sizes come last.
	z := Item{Digest: digest(5), Fee: 1 << 40, Size: 0}
	if !Less(Item{Digest: digest(6), Fee: 0, Size: 1}, z) || Less(z, c) {
		t.Fatal("size 0 not last")
	}
}

// Less is a strict weak order that agrees with exact rationals. spec: MEV-1
func TestLessProperty(t *testing.T) {
	item := rapid.Custom(func(t *rapid.T) Item {
		return Item{
			Digest: digest(rapid.IntRange(0, 5).Draw(t, "d")),
			Fee:    rapid.OneOf(rapid.Uint64Range(0, 20), rapid.Uint64()).Draw(t, "fee"),
			Size:   rapid.OneOf(rapid.IntRange(-1, 20), rapid.IntRange(1, math.MaxInt)).Draw(t, "size"),
		}
	})
	rapid.Check(t, func(t *rapid.T) {
		a, b, c := item.Draw(t, "a"), item.Draw(t, "b"), item.Draw(t, "c")
		if Less(a, b) && Less(b, a) {
			t.Fatal("not asymmetric")
		}
		if Less(a, b) && Less(b, c) && !Less(a, c) {
			t.Fatal("not transitive")
		}
		// Incomparability is transitive too (strict weak order).
		inc := func(x, y Item) bool { return !Less(x, y) && !Less(y, x) }
		if inc(a, b) && inc(b, c) && !inc(a, c) {
			t.Fatal("incomparability not transitive")
		}
		if a.Size > 0 && b.Size > 0 {
			if r := ratio(a).Cmp(ratio(b)); r != 0 && Less(a, b) != (r > 0) {
				t.Fatalf("Less disagrees with the exact ratio: %+v %+v", a, b)
			}
		}
	})
}

// spec: MEV-3
func TestSelectBasics(t *testing.T) {
	var pool []Item
	for i := range 20 {
		pool = append(pool, Item{Digest: digest(i), Fee: uint64(100 - i), Size: 10})
	}
	orig := slices.Clone(pool)
	rev := slices.Clone(pool)
	slices.Reverse(rev)
	p1 := Select(pool, 1, 50, 100)
	if len(p1) != 5 || p1[0].Fee != 100 || p1[4].Fee != 96 {
		t.Fatalf("position 1: %+v", p1)
	}
	if !slices.Equal(pool, orig) {
		t.Fatal("pool modified")
	}
	if !slices.Equal(Select(rev, 3, 50, 100), Select(pool, 3, 50, 100)) {
		t.Fatal("depends on pool order")
	}
	// Position 3 starts after the first 2·C bytes.
	if p3 := Select(pool, 3, 50, 100); p3[0].Fee != 90 || len(p3) != 5 {
		t.Fatalf("position 3: %+v", p3)
	}
	// Position 4 gets the last 5... position 5 finds the pool exhausted and
	// wraps to the top.
	if p5 := Select(pool, 5, 50, 100); p5[0].Fee != 100 {
		t.Fatalf("position 5 should wrap to the top: %+v", p5)
	}
	// Partly exhausted: position 4 takes the last 5, position 4 of a pool
	// of 18 takes 3 then wraps for 2.
	p := Select(pool[:18], 4, 50, 100)
	if len(p) != 5 || p[0].Fee != 85 || p[3].Fee != 100 || p[4].Fee != 99 {
		t.Fatalf("wrap after exhaustion: %+v", p)
	}
	// maxItems, capacity, oversize, empty, position < 1.
	if got := Select(pool, 1, 1000, 3); len(got) != 3 {
		t.Fatalf("maxItems: %d", len(got))
	}
	big := append(slices.Clone(pool), Item{Digest: digest(99), Fee: 1 << 40, Size: 60})
	if got := Select(big, 1, 50, 100); got[0].Fee != 100 {
		t.Fatal("an item larger than the block was selected")
	}
	if Select(nil, 1, 50, 10) != nil || Select(pool, 1, 0, 10) != nil || Select(pool, 1, 50, 0) != nil {
		t.Fatal("empty selections")
	}
	if !slices.Equal(Select(pool, 0, 50, 100), p1) || !slices.Equal(Select(pool, -3, 50, 100), p1) {
		t.Fatal("position < 1 is position 1")
	}
	// Duplicated digest is one item.
	dup := append(slices.Clone(pool[:3]), pool[0])
	if got := Select(dup, 1, 1000, 100); len(got) != 3 {
		t.Fatalf("duplicate selected twice: %+v", got)
	}
	// Mixed sizes: a too-large item is skipped, the next smaller taken.
	mixed := []Item{{digest(1), 100, 30}, {digest(2), 90, 30}, {digest(3), 10, 10}}
	if got := Select(mixed, 1, 40, 10); len(got) != 2 || got[1].Digest != digest(3) {
		t.Fatalf("skip-and-continue: %+v", got)
	}
}

// Select fits the block, never repeats, and depends only on the pool's
// set. spec: MEV-3
func TestSelectProperty(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		n := rapid.IntRange(0, 40).Draw(t, "n")
		var pool []Item
		for i := range n {
			pool = append(pool, Item{Digest: digest(i), Fee: rapid.Uint64Range(0, 50).Draw(t, "fee"), Size: rapid.IntRange(1, 30).Draw(t, "size")})
		}
		pos := rapid.IntRange(1, 12).Draw(t, "pos")
		capacity := rapid.IntRange(1, 200).Draw(t, "cap")
		maxItems := rapid.IntRange(1, 20).Draw(t, "max")
		got := Select(pool, pos, capacity, maxItems)
		bytes, seen := 0, map[tx.Digest]bool{}
		for _, it := range got {
			bytes += it.Size
			if seen[it.Digest] {
				t.Fatal("duplicate")
			}
			seen[it.Digest] = true
		}
		if bytes > capacity || len(got) > maxItems {
			t.Fatalf("%d bytes, %d items", bytes, len(got))
		}
		if !slices.Equal(Select(rapid.Permutation(pool).Draw(t, "perm"), pos, capacity, maxItems), got) {
			t.Fatal("depends on pool order")
		}
	})
}
