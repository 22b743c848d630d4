package maglev

import (
	"slices"
	"testing"

	"pgregory.net/rapid"
)

// genQuorums draws 1..maxK distinct quorum IDs over the whole uint32 range.
func genQuorums(maxK int) *rapid.Generator[[]QuorumID] {
	return rapid.SliceOfNDistinct(rapid.Custom(func(t *rapid.T) QuorumID {
		return QuorumID(rapid.Uint32().Draw(t, "id"))
	}), 1, maxK, rapid.ID[QuorumID])
}

// genSize draws a valid table size for k quorums: the smallest prime at or
// above a draw from [100k, 20000 + 100k], so small and odd sizes are covered.
func genSize(t *rapid.T, k int) uint64 {
	n := rapid.Uint64Range(uint64(k)*MinEntriesPerQuorum, 20000+uint64(k)*MinEntriesPerQuorum).Draw(t, "size floor")
	for !isPrime(n) {
		n++
	}
	return n
}

func genAccount(t *rapid.T, label string) [32]byte {
	var a [32]byte
	copy(a[:], rapid.SliceOfN(rapid.Byte(), 32, 32).Draw(t, label))
	return a
}

// Lookups always return a member, shares are exact, and the table does not
// depend on the order the quorums are given in. spec: ENTRY-1..ENTRY-4
func TestPropertyTable(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		qs := genQuorums(40).Draw(t, "quorums")
		m := genSize(t, len(qs))
		tab, err := New(qs, m)
		if err != nil {
			t.Fatalf("New(%v, %d): %v", qs, m, err)
		}
		perm := rapid.Permutation(qs).Draw(t, "order")
		tab2, err := New(perm, m)
		if err != nil || tab2.Digest() != tab.Digest() {
			t.Fatalf("order %v gives a different table (err %v)", perm, err)
		}
		k := uint64(len(qs))
		var total uint64
		for _, s := range tab.Shares() {
			if s.Entries != m/k && s.Entries != (m+k-1)/k {
				t.Fatalf("quorum %d owns %d of %d entries with K=%d", s.Quorum, s.Entries, m, k)
			}
			total += s.Entries
		}
		if total != m {
			t.Fatalf("shares sum to %d, want %d", total, m)
		}
		for i := 0; i < 20; i++ {
			a := genAccount(t, "account")
			if q := tab.Lookup(a); !slices.Contains(qs, q) || tab2.Lookup(a) != q {
				t.Fatalf("lookup of %x gave %d (other order: %d), members %v", a, q, tab2.Lookup(a), qs)
			}
		}
	})
}

// Removing quorum X moves every slot of X to a surviving quorum and leaves
// no slot on X (exact, every case). The excess, slots that move between
// two survivors, is a distributional claim (ENTRY-5, MaxExcessDisruption):
// the run asserts that at most 3 + n/500 of its n cases exceed the bound
// (4 of 20,000 did under this generator, so with the default 100 cases 4 or
// more has probability below 1e-7) and that the median stays under half of
// it.
// Adding X is the same comparison read the other way. Slots are compared
// rather than sampled accounts, so each fraction is exact. spec: ENTRY-5
func TestPropertyRemoveOneQuorum(t *testing.T) {
	type outlier struct {
		qs      []QuorumID
		removed QuorumID
		excess  float64
	}
	var excesses []float64
	var outliers []outlier
	rapid.Check(t, func(t *rapid.T) {
		qs := genQuorums(60).Filter(func(q []QuorumID) bool { return len(q) >= 2 }).Draw(t, "quorums")
		x := rapid.SampledFrom(qs).Draw(t, "removed")
		m, err := SizeFor(len(qs))
		if err != nil {
			t.Fatal(err)
		}
		before, err := New(qs, m)
		if err != nil {
			t.Fatal(err)
		}
		rest := slices.DeleteFunc(slices.Clone(qs), func(q QuorumID) bool { return q == x })
		after, err := New(rest, m)
		if err != nil {
			t.Fatal(err)
		}
		for s := range before.entries {
			if after.entries[s] == x {
				t.Fatalf("slot %d still maps to removed quorum %d", s, x)
			}
		}
		f := float64(excessSlots(before, after, x)) / float64(m)
		excesses = append(excesses, f)
		if f > MaxExcessDisruption {
			outliers = append(outliers, outlier{slices.Clone(qs), x, f})
		}
	})
	if len(excesses) == 0 {
		t.Fatal("no case ran")
	}
	slices.Sort(excesses)
	median := excesses[len(excesses)/2]
	t.Logf("%d cases: excess median %.4f, max %.4f, %d over %.2f", len(excesses), median, excesses[len(excesses)-1], len(outliers), MaxExcessDisruption)
	for _, o := range outliers {
		t.Logf("over the bound: quorums %v, removed %d, excess %.4f", o.qs, o.removed, o.excess)
	}
	if allowed := 3 + len(excesses)/500; len(outliers) > allowed || median > MaxExcessDisruption/2 {
		t.Errorf("excess median %.4f, %d cases over %.2f (at most %d allowed)", median, len(outliers), MaxExcessDisruption, allowed)
	}
}
