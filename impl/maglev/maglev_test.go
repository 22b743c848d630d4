package maglev

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"sync"
	"testing"
)

// testSeed fixes every random draw in this file; failures print it.
const testSeed = 0x6d61676c6576 // "maglev"

// accounts returns n pseudo-random signer accounts from a fixed seed.
func accounts(seed uint64, n int) [][32]byte {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	out := make([][32]byte, n)
	for i := range out {
		for j := 0; j < 4; j++ {
			binary.LittleEndian.PutUint64(out[i][8*j:], r.Uint64())
		}
	}
	return out
}

func seqQuorums(k int) []QuorumID {
	qs := make([]QuorumID, k)
	for i := range qs {
		qs[i] = QuorumID(i + 1)
	}
	return qs
}

func mustNew(t testing.TB, qs []QuorumID, m uint64) *Table {
	t.Helper()
	tab, err := New(qs, m)
	if err != nil {
		t.Fatalf("New(%d quorums, %d): %v", len(qs), m, err)
	}
	return tab
}

// Compile-time check of ENTRY-1: the lookup key is the signer account and
// nothing else; a signature that took a transaction would not compile here.
var _ func(*Table, [32]byte) QuorumID = (*Table).Lookup

func TestNewRejectsBadConfigurations(t *testing.T) { // spec: ENTRY-2, ENTRY-3
	big := make([]QuorumID, MaxQuorums+1)
	cases := []struct {
		name    string
		quorums []QuorumID
		size    uint64
		want    error
		quorum  QuorumID
	}{
		{"nil quorums", nil, DefaultTableSize, ErrNoQuorums, 0},
		{"empty quorums, bad size too", []QuorumID{}, 4, ErrNoQuorums, 0},
		{"too many quorums", big, MaxTableSize, ErrTooManyQuorums, 0},
		{"size too large", []QuorumID{1}, MaxTableSize + 1, ErrTableTooLarge, 0},
		{"size max uint64", []QuorumID{1}, math.MaxUint64, ErrTableTooLarge, 0},
		{"size zero", []QuorumID{1}, 0, ErrTableTooSmall, 0},
		{"size below 100K", seqQuorums(3), 293, ErrTableTooSmall, 0},
		{"size not prime", []QuorumID{1, 2}, 65536, ErrTableNotPrime, 0},
		{"size not prime (square)", []QuorumID{1}, 10201, ErrTableNotPrime, 0},
		{"duplicate", []QuorumID{5, 9, 5}, DefaultTableSize, ErrDuplicateQuorum, 5},
		{"smallest duplicate reported", []QuorumID{9, 9, 4, 4}, DefaultTableSize, ErrDuplicateQuorum, 4},
		{"duplicate but size checked first", []QuorumID{5, 5}, 65536, ErrTableNotPrime, 0},
	}
	for _, c := range cases {
		tab, err := New(c.quorums, c.size)
		if tab != nil || err == nil {
			t.Errorf("%s: New accepted, want %v", c.name, c.want)
			continue
		}
		if !errors.Is(err, c.want) {
			t.Errorf("%s: got %v, want %v", c.name, err, c.want)
		}
		var ce *ConfigError
		if !errors.As(err, &ce) {
			t.Errorf("%s: %T is not a *ConfigError", c.name, err)
			continue
		}
		if ce.Quorum != c.quorum {
			t.Errorf("%s: reported quorum %d, want %d", c.name, ce.Quorum, c.quorum)
		}
		if ce.Error() == "" {
			t.Errorf("%s: empty message", c.name)
		}
	}
	// The boundary itself is accepted: M = 101 >= 100·1 and prime.
	if _, err := New([]QuorumID{1}, 101); err != nil {
		t.Errorf("M=101, K=1: %v", err)
	}
	// New must not keep or reorder the caller's slice.
	in := []QuorumID{3, 1, 2}
	tab := mustNew(t, in, 1009)
	in[0] = 99
	if !slices.Equal(in, []QuorumID{99, 1, 2}) || !slices.Equal(tab.Quorums(), []QuorumID{1, 2, 3}) {
		t.Errorf("input aliasing: in=%v quorums=%v", in, tab.Quorums())
	}
}

func TestIsPrimeMatchesSieve(t *testing.T) {
	const n = 200000
	composite := make([]bool, n)
	for i := 2; i*i < n; i++ {
		if !composite[i] {
			for j := i * i; j < n; j += i {
				composite[j] = true
			}
		}
	}
	for i := 0; i < n; i++ {
		want := i >= 2 && !composite[i]
		if isPrime(uint64(i)) != want {
			t.Fatalf("isPrime(%d) = %v", i, !want)
		}
	}
	if !isPrime(16777213) || isPrime(MaxTableSize) || !isPrime(DefaultTableSize) {
		t.Fatal("isPrime wrong near the table-size limits")
	}
}

func TestSizeFor(t *testing.T) { // spec: ENTRY-2
	cases := []struct {
		k    int
		want uint64
	}{{1, 65537}, {65, 65537}, {66, 66029}, {100, 100003}}
	for _, c := range cases {
		got, err := SizeFor(c.k)
		if err != nil || got != c.want {
			t.Errorf("SizeFor(%d) = %d, %v; want %d", c.k, got, err, c.want)
		}
		if _, err := New(seqQuorums(c.k), got); err != nil {
			t.Errorf("SizeFor(%d) = %d refused by New: %v", c.k, got, err)
		}
	}
	for _, c := range []struct {
		k    int
		want error
	}{{0, ErrNoQuorums}, {-1, ErrNoQuorums}, {MaxQuorums + 1, ErrTooManyQuorums}, {MaxQuorums, ErrTableTooLarge}} {
		if _, err := SizeFor(c.k); !errors.Is(err, c.want) {
			t.Errorf("SizeFor(%d): %v, want %v", c.k, err, c.want)
		}
	}
}

// Every quorum's preference list is a permutation of the M slots (M prime,
// 1 <= skip < M), which is what makes populate terminate.
func TestPreferenceListIsPermutation(t *testing.T) { // spec: ENTRY-2
	for _, m := range []uint64{101, 1009, DefaultTableSize} {
		for _, q := range []QuorumID{0, 1, 2, 0xFFFFFFFF} {
			offset, skip := permutation(q, m)
			if offset >= m || skip < 1 || skip >= m {
				t.Fatalf("q=%d m=%d: offset %d skip %d out of range", q, m, offset, skip)
			}
			seen := make([]bool, m)
			c := cursor{pos: offset, skip: skip}
			for j := uint64(0); j < m; j++ {
				if seen[c.pos] {
					t.Fatalf("q=%d m=%d: slot %d visited twice", q, m, c.pos)
				}
				seen[c.pos] = true
				c.advance(m)
			}
		}
	}
}

// referencePopulate is the paper's pseudocode written as literally as
// possible (explicit permutation rows, next[] indices, -1 for empty),
// with the hashes re-derived from the ENTRY-3 text rather than shared with
// the implementation, so an optimisation of populate cannot drift unseen.
func referencePopulate(quorums []QuorumID, m uint64) []QuorumID {
	sorted := slices.Clone(quorums)
	slices.Sort(sorted)
	n := len(sorted)
	perm := make([][]uint64, n)
	for i, q := range sorted {
		msg := append([]byte("FHBFT/maglev/v1/quorum"), byte(q>>24), byte(q>>16), byte(q>>8), byte(q))
		d := sha256.Sum256(msg)
		offset := binary.BigEndian.Uint64(d[0:8]) % m
		skip := binary.BigEndian.Uint64(d[8:16])%(m-1) + 1
		perm[i] = make([]uint64, m)
		for j := uint64(0); j < m; j++ {
			perm[i][j] = (offset + j*skip) % m
		}
	}
	next := make([]uint64, n)
	entry := make([]int, m)
	for j := range entry {
		entry[j] = -1
	}
	filled := uint64(0)
	for {
		for i := 0; i < n; i++ {
			c := perm[i][next[i]]
			for entry[c] >= 0 {
				next[i]++
				c = perm[i][next[i]]
			}
			entry[c] = i
			next[i]++
			filled++
			if filled == m {
				out := make([]QuorumID, m)
				for j, e := range entry {
					out[j] = sorted[e]
				}
				return out
			}
		}
	}
}

func TestMatchesPaperPseudocode(t *testing.T) { // spec: ENTRY-2, ENTRY-3
	configs := []struct {
		qs []QuorumID
		m  uint64
	}{
		{seqQuorums(1), 101},
		{seqQuorums(3), 307},
		{[]QuorumID{0xFFFFFFFF, 0, 77, 12345}, 1009},
		{seqQuorums(10), 10007},
		{seqQuorums(50), DefaultTableSize},
	}
	for _, c := range configs {
		tab := mustNew(t, c.qs, c.m)
		if want := referencePopulate(c.qs, c.m); !slices.Equal(tab.entries, want) {
			t.Errorf("K=%d M=%d: table differs from the paper's pseudocode", len(c.qs), c.m)
		}
	}
}

func TestDeterministicInAnyOrder(t *testing.T) { // spec: ENTRY-3
	r := rand.New(rand.NewPCG(testSeed, 1))
	qs := make([]QuorumID, 37)
	for i := range qs {
		qs[i] = QuorumID(r.Uint32())
	}
	ref := mustNew(t, qs, DefaultTableSize)
	refDigest := ref.Digest()
	for trial := 0; trial < 20; trial++ {
		shuffled := slices.Clone(qs)
		r.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
		tab := mustNew(t, shuffled, DefaultTableSize)
		if tab.Digest() != refDigest || !slices.Equal(tab.entries, ref.entries) {
			t.Fatalf("seed %#x trial %d: order %v gives a different table", testSeed, trial, shuffled)
		}
	}
}

// Independently built tables (separate goroutines standing in for separate
// nodes, each with its own copy of the configuration) agree on the digest
// and on every lookup of 100k accounts.
func TestIndependentBuildsAgree(t *testing.T) { // spec: ENTRY-3
	qs := seqQuorums(10)
	const nodes = 4
	tables := make([]*Table, nodes)
	errs := make([]error, nodes)
	var wg sync.WaitGroup
	for i := 0; i < nodes; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			mine := slices.Clone(qs)
			slices.Reverse(mine[:i+1])
			tables[i], errs[i] = New(mine, DefaultTableSize)
		}(i)
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("node %d: %v", i, err)
		}
	}
	for _, a := range accounts(testSeed, 100000) {
		want := tables[0].Lookup(a)
		for i := 1; i < nodes; i++ {
			if got := tables[i].Lookup(a); got != want {
				t.Fatalf("seed %#x: node %d maps %x to %d, node 0 to %d", testSeed, i, a, got, want)
			}
		}
	}
	for i := 1; i < nodes; i++ {
		if tables[i].Digest() != tables[0].Digest() {
			t.Fatalf("node %d digest differs", i)
		}
	}
}

// goldenSigner is a fixed, documented account: SHA-256("fhbft golden signer i").
func goldenSigner(i int) [32]byte {
	return sha256.Sum256([]byte(fmt.Sprintf("fhbft golden signer %d", i)))
}

// Golden values pin the mapping across versions: a change to a hash, the
// domain strings, the canonical order or populate changes them, and such a
// change must come with a new version tag in the domain strings.
func TestGolden(t *testing.T) { // spec: ENTRY-3
	cases := []struct {
		qs      []QuorumID
		m       uint64
		digest  string
		lookups []QuorumID // of goldenSigner(0..7)
	}{
		{seqQuorums(10), DefaultTableSize,
			"42091a9ff6c6c053a2e4311d3ed9aa6a96eb18bc64ad8cc53b2698f28cfaa81a",
			[]QuorumID{2, 4, 2, 9, 10, 8, 1, 8}},
		{[]QuorumID{0xFFFFFFFF, 0, 77, 12345, 3}, 1009,
			"84956f30c1c0f0567c6941d534a6793d5fcacc6eeed8fcc9b77b27b70b3f9f55",
			[]QuorumID{12345, 0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 12345, 3, 12345, 12345}},
	}
	for _, c := range cases {
		tab := mustNew(t, c.qs, c.m)
		d := tab.Digest()
		got := make([]QuorumID, 8)
		for i := range got {
			got[i] = tab.Lookup(goldenSigner(i))
		}
		if hex.EncodeToString(d[:]) != c.digest || !slices.Equal(got, c.lookups) {
			t.Errorf("K=%d M=%d: digest %x lookups %v; golden %s %v", len(c.qs), c.m, d, got, c.digest, c.lookups)
		}
	}
}

func TestLookupReturnsMember(t *testing.T) { // spec: ENTRY-1
	qs := []QuorumID{4, 8, 15, 16, 23, 42}
	tab := mustNew(t, qs, DefaultTableSize)
	for _, a := range accounts(testSeed+1, 20000) {
		if q := tab.Lookup(a); !tab.Contains(q) || !slices.Contains(qs, q) {
			t.Fatalf("seed %#x: lookup %x returned non-member %d", testSeed+1, a, q)
		}
	}
	if tab.Contains(5) {
		t.Fatal("Contains(5) on a table without quorum 5")
	}
	if tab.Size() != DefaultTableSize {
		t.Fatalf("Size() = %d", tab.Size())
	}
}

// Balance (ENTRY-4). Round-robin filling makes the table shares exact:
// every quorum owns floor(M/K) or ceil(M/K) entries, so
// max/min <= ceil(M/K)/floor(M/K) <= 1 + 1/floor(M/K); the test asserts
// exactly that (for M = 65537 and K = 50 the bound is 1.00076). Account
// shares then deviate from 1/K only by sampling noise, asserted within 6σ.
func TestBalance(t *testing.T) {
	const nAccounts = 100000
	accts := accounts(testSeed+2, nAccounts)
	for _, k := range []int{3, 10, 50} {
		for _, qs := range [][]QuorumID{seqQuorums(k), randomQuorums(testSeed+uint64(k), k)} {
			tab := mustNew(t, qs, DefaultTableSize)
			m := tab.Size()
			lo, hi := m/uint64(k), (m+uint64(k)-1)/uint64(k)
			var total, minE, maxE uint64 = 0, math.MaxUint64, 0
			for _, s := range tab.Shares() {
				if s.Entries != lo && s.Entries != hi {
					t.Errorf("K=%d: quorum %d owns %d entries, want %d or %d", k, s.Quorum, s.Entries, lo, hi)
				}
				total += s.Entries
				minE, maxE = min(minE, s.Entries), max(maxE, s.Entries)
			}
			if total != m {
				t.Errorf("K=%d: shares sum to %d, want %d", k, total, m)
			}
			ratio := float64(maxE) / float64(minE)
			if bound := 1 + 1/float64(lo); ratio > bound {
				t.Errorf("K=%d: table max/min %.5f > %.5f", k, ratio, bound)
			}

			counts := map[QuorumID]int{}
			for _, a := range accts {
				counts[tab.Lookup(a)]++
			}
			minA, maxA := nAccounts, 0
			p := 1 / float64(k)
			sigma := math.Sqrt(nAccounts * p * (1 - p))
			for _, q := range qs {
				c := counts[q]
				minA, maxA = min(minA, c), max(maxA, c)
				if math.Abs(float64(c)-nAccounts*p) > 6*sigma {
					t.Errorf("seed %#x K=%d: quorum %d got %d accounts, expected %.0f ± %.0f", testSeed+2, k, q, c, nAccounts*p, 6*sigma)
				}
			}
			t.Logf("K=%2d M=%d: table entries min %d max %d (max/min %.5f); 100k accounts min %d max %d (max/min %.4f)",
				k, m, minE, maxE, ratio, minA, maxA, float64(maxA)/float64(minA))
		}
	}
}

func randomQuorums(seed uint64, k int) []QuorumID {
	r := rand.New(rand.NewPCG(seed, 7))
	seen := map[QuorumID]bool{}
	out := make([]QuorumID, 0, k)
	for len(out) < k {
		q := QuorumID(r.Uint32())
		if !seen[q] {
			seen[q] = true
			out = append(out, q)
		}
	}
	return out
}

// MaxExcessDisruption is ENTRY-5's bound on the excess: the fraction of
// all accounts that move between two quorums present in both the old and
// the new table. Maglev makes the balance exact but disruption only
// near-minimal (paper §3.4), and with offset/skip preference lists
// the excess has a thin but long tail: two quorums whose walks are
// correlated (equal or small-ratio skips, or unlucky offsets) couple under
// round-robin filling. Measured at M = SizeFor(K) over 2,400 random quorum
// sets with K = 2..61 (random 32-bit IDs): median 0.39%, 99th percentile
// 0.54%, 99.9th 0.94%, maximum 1.00%; under rapid's generator (small IDs
// favoured) 4 sets in 20,000 exceeded 2%, the worst reaching 3.1%. Tables
// built from hand-picked equal skips (K = 3) reach 36%.
// TestDisruption asserts the bound on its fixed sets, TestExcessDistribution
// and TestPropertyRemoveOneQuorum assert it for all but a small fraction of
// random sets, and TestExcessTail pins two sets beyond it.
const MaxExcessDisruption = 0.02

// excessSlots counts the slots that change owner between before and after
// although neither owner is the quorum that was added or removed.
func excessSlots(before, after *Table, changed QuorumID) uint64 {
	var n uint64
	for s := range before.entries {
		b, a := before.entries[s], after.entries[s]
		if b != changed && a != changed && a != b {
			n++
		}
	}
	return n
}

// remapStats compares two tables over a set of accounts.
func remapStats(before, after *Table, accts [][32]byte, changed QuorumID) (moved, ideal, excess float64) {
	var nMoved, nIdeal, nExcess int
	for _, a := range accts {
		b, c := before.Lookup(a), after.Lookup(a)
		involved := b == changed || c == changed
		if involved {
			nIdeal++
		}
		if b != c {
			nMoved++
			if !involved {
				nExcess++
			}
		}
	}
	n := float64(len(accts))
	return float64(nMoved) / n, float64(nIdeal) / n, float64(nExcess) / n
}

// Minimal disruption (ENTRY-5) over 100k random accounts. "ideal" is the
// fraction that has to move: the accounts of the removed quorum, or those
// the added quorum takes (about 1/K). Every account of a removed quorum
// must move (it is gone); accounts that move between two surviving quorums
// are the excess, bounded by MaxExcessDisruption.
func TestDisruption(t *testing.T) {
	accts := accounts(testSeed+3, 100000)
	for _, k := range []int{3, 10, 50} {
		qs := seqQuorums(k)
		m := DefaultTableSize
		full := mustNew(t, qs, m)
		for _, x := range []QuorumID{1, QuorumID(k/2 + 1), QuorumID(k)} {
			rest := slices.DeleteFunc(slices.Clone(qs), func(q QuorumID) bool { return q == x })
			after := mustNew(t, rest, m)
			moved, ideal, excess := remapStats(full, after, accts, x)
			t.Logf("K=%2d remove quorum %2d: moved %.4f, ideal %.4f (1/K = %.4f), excess %.4f", k, x, moved, ideal, 1/float64(k), excess)
			checkDisruption(t, k, moved, ideal, excess)
		}
		for _, x := range []QuorumID{QuorumID(k + 1), 0xFFFFFFFF} {
			after := mustNew(t, append(slices.Clone(qs), x), m)
			moved, ideal, excess := remapStats(full, after, accts, x)
			t.Logf("K=%2d add quorum %#x: moved %.4f, ideal %.4f (1/(K+1) = %.4f), excess %.4f", k, x, moved, ideal, 1/float64(k+1), excess)
			checkDisruption(t, k+1, moved, ideal, excess)
		}
	}
}

func checkDisruption(t *testing.T, k int, moved, ideal, excess float64) {
	t.Helper()
	// The accounts that must move are about 1/K of all (balance, ENTRY-4);
	// 0.01 allows > 10σ of sampling noise at 100k accounts.
	if math.Abs(ideal-1/float64(k)) > 0.01 {
		t.Errorf("seed %#x K=%d: changed quorum's share %.4f far from 1/K", testSeed+3, k, ideal)
	}
	if excess > MaxExcessDisruption || moved > ideal+MaxExcessDisruption {
		t.Errorf("seed %#x K=%d: moved %.4f, ideal %.4f, excess %.4f > %.2f", testSeed+3, k, moved, ideal, excess, MaxExcessDisruption)
	}
}

// Lookup is the owner of slot BE64(SHA-256("FHBFT/maglev/v1/signer" ||
// signer)[0:8]) mod M, re-derived here from the ENTRY-3 text.
func TestLookupMatchesSpecHash(t *testing.T) { // spec: ENTRY-1, ENTRY-3
	qs := []QuorumID{0xFFFFFFFF, 0, 77, 12345, 3}
	const m = 1009
	tab := mustNew(t, qs, m)
	ref := referencePopulate(qs, m)
	for i, a := range accounts(testSeed+4, 2000) {
		d := sha256.Sum256(append([]byte("FHBFT/maglev/v1/signer"), a[:]...))
		want := ref[binary.BigEndian.Uint64(d[:8])%m]
		if got := tab.Lookup(a); got != want {
			t.Fatalf("seed %#x account %d: Lookup %d, spec %d", testSeed+4, i, got, want)
		}
	}
}

// The tail of ENTRY-5, pinned. At M = 65537 quorum 0x37d4's skip is the
// negation of quorum 1's (65537 - 22542): the two walk one progression in
// opposite directions, and removing 0x37d4 moves 3.5% of the table between
// the survivors. {3, 7, 8} has no short relation between its skips (no
// q·skip(b) = ±p·skip(a) with p, q < 59) and still moves 3.4% when 3
// leaves. Both exceed MaxExcessDisruption, which is why ENTRY-5 is a
// statement about most quorum sets rather than all of them.
func TestExcessTail(t *testing.T) { // spec: ENTRY-5
	m := DefaultTableSize
	if _, s1 := permutation(1, m); s1 != 22542 {
		t.Fatalf("skip(1) = %d, want 22542", s1)
	}
	if _, sx := permutation(0x37d4, m); sx != m-22542 {
		t.Fatalf("skip(0x37d4) = %d, want %d", sx, m-22542)
	}
	for _, c := range []struct {
		qs      []QuorumID
		removed QuorumID
		slots   uint64
	}{
		{[]QuorumID{0, 1, 0x37d4}, 0x37d4, 2303},
		{[]QuorumID{3, 7, 8}, 3, 2252},
	} {
		before := mustNew(t, c.qs, m)
		rest := slices.DeleteFunc(slices.Clone(c.qs), func(q QuorumID) bool { return q == c.removed })
		ex := excessSlots(before, mustNew(t, rest, m), c.removed)
		f := float64(ex) / float64(m)
		t.Logf("set %v, removing %#x: excess %.4f (%d slots)", c.qs, c.removed, f, ex)
		if ex != c.slots || f <= MaxExcessDisruption {
			t.Errorf("set %v: excess %d slots, pinned %d (> %.0f%% of the table)", c.qs, ex, c.slots, 100*MaxExcessDisruption)
		}
	}
}

// A fixed-seed sweep over random quorum sets (K = 2..60, random 32-bit
// IDs, M = SizeFor(K), one random quorum removed): the median excess stays
// under half the bound and at most 1% of sets exceed it. spec: ENTRY-5
func TestExcessDistribution(t *testing.T) {
	const sets = 300
	r := rand.New(rand.NewPCG(testSeed, 5))
	ex := make([]float64, 0, sets)
	for i := 0; i < sets; i++ {
		k := 2 + r.IntN(59)
		qs := randomQuorums(r.Uint64(), k)
		m, err := SizeFor(k)
		if err != nil {
			t.Fatal(err)
		}
		x := qs[r.IntN(k)]
		rest := slices.DeleteFunc(slices.Clone(qs), func(q QuorumID) bool { return q == x })
		before, after := mustNew(t, qs, m), mustNew(t, rest, m)
		ex = append(ex, float64(excessSlots(before, after, x))/float64(m))
	}
	slices.Sort(ex)
	median, p99, worst := ex[len(ex)/2], ex[len(ex)*99/100], ex[len(ex)-1]
	over := len(ex) - sort.SearchFloat64s(ex, math.Nextafter(MaxExcessDisruption, 1))
	t.Logf("seed %#x, %d sets: excess median %.4f, p99 %.4f, max %.4f, %d over %.2f", testSeed, sets, median, p99, worst, over, MaxExcessDisruption)
	if median > MaxExcessDisruption/2 || over > sets/100 {
		t.Errorf("seed %#x: excess median %.4f, %d of %d sets over %.2f", testSeed, median, over, sets, MaxExcessDisruption)
	}
}
