package mev

import (
	"fmt"
	"math"
	"strings"
	"testing"
)

// The three scenarios of seeds/000 ("Using MEV for Positive Network
// Outcomes"), spec MEV-4: 10 harvesters, 25 kB blocks, ~180-byte
// transfers, fee per byte in 10 buckets from 0.000001 to 0.01. The seed
// does not say how the buckets are spaced; we space them geometrically
// (×2.78 per bucket, 1e-6 … 1e-2). Fees are integers in units of 1e-9, so
// bucket 1 pays 180 000 units per 180-byte transfer. Every harvester sees
// the same pool and selects with MEV-3 for its position; a transfer is
// *served* if some block includes it, and its fee is credited to the least
// position that included it (CONV-3, MEV-5). All transfers are distinct
// slots of funded senders, so every served transfer is applied.

const (
	harvesters = 10
	blockBytes = 25_000
	txBytes    = 180
	buckets    = 10
	maxItems   = 1 << 20 // bytes bind, not the count
)

// rate is bucket b's fee per byte (b = 1 lowest … 10 highest).
func rate(b int) float64 { return 1e-6 * math.Pow(1e4, float64(b-1)/float64(buckets-1)) }

type entry struct {
	Item
	bucket int
}

// pool builds perBucket[b-1] transfers of bucket b; digests are distinct.
func pool(perBucket [buckets]int) ([]Item, map[[32]byte]int) {
	var items []Item
	bucketOf := map[[32]byte]int{}
	id := 0
	for b := 1; b <= buckets; b++ {
		for range perBucket[b-1] {
			it := Item{Digest: digest(id), Fee: uint64(math.Round(rate(b) * 1e9 * txBytes)), Size: txBytes}
			items = append(items, it)
			bucketOf[it.Digest] = b
			id++
		}
	}
	return items, bucketOf
}

// even spreads total bytes of transfers evenly over the buckets.
func even(totalBytes int) [buckets]int {
	var pb [buckets]int
	n := totalBytes / txBytes
	for i := range pb {
		pb[i] = n / buckets
		if i < n%buckets {
			pb[i]++
		}
	}
	return pb
}

type result struct {
	perPosition [harvesters][buckets + 1]int // position → bucket → count selected
	firstBy     map[[32]byte]int             // digest → least position including it
	served      [buckets + 1]int
	total       [buckets + 1]int
	revenue     [harvesters + 1]uint64 // MEV-5 by position
	bucketOf    map[[32]byte]int
}

func run(items []Item, bucketOf map[[32]byte]int) result {
	r := result{firstBy: map[[32]byte]int{}, bucketOf: bucketOf}
	for _, it := range items {
		r.total[bucketOf[it.Digest]]++
	}
	for p := 1; p <= harvesters; p++ {
		for _, it := range Select(items, p, blockBytes, maxItems) {
			r.perPosition[p-1][bucketOf[it.Digest]]++
			if _, ok := r.firstBy[it.Digest]; !ok {
				r.firstBy[it.Digest] = p
				r.served[bucketOf[it.Digest]]++
				r.revenue[p] += it.Fee
			}
		}
	}
	return r
}

// touched lists the buckets position p selected from, highest first.
func (r *result) touched(p int) []int {
	var bs []int
	for b := buckets; b >= 1; b-- {
		if r.perPosition[p-1][b] > 0 {
			bs = append(bs, b)
		}
	}
	return bs
}

// freshBuckets lists the buckets of the transfers credited to position p
// (it was the least position including them), highest first.
func (r *result) freshBuckets(p int) []int {
	var seen [buckets + 1]bool
	for d, q := range r.firstBy {
		if q == p {
			seen[r.bucketOf[d]] = true
		}
	}
	var bs []int
	for b := buckets; b >= 1; b-- {
		if seen[b] {
			bs = append(bs, b)
		}
	}
	return bs
}

func (r *result) log(t *testing.T, title string) {
	t.Helper()
	var sb strings.Builder
	fmt.Fprintf(&sb, "%s\n  pos | buckets selected (count per bucket 10..1)          | new | revenue\n", title)
	for p := 1; p <= harvesters; p++ {
		var cells []string
		for b := buckets; b >= 1; b-- {
			cells = append(cells, fmt.Sprintf("%3d", r.perPosition[p-1][b]))
		}
		fresh := 0
		for _, q := range r.firstBy {
			if q == p {
				fresh++
			}
		}
		fmt.Fprintf(&sb, "  %3d | %s | %3d | %.4f\n", p, strings.Join(cells, " "), fresh, float64(r.revenue[p])/1e9)
	}
	var srv []string
	for b := buckets; b >= 1; b-- {
		srv = append(srv, fmt.Sprintf("%d/%d", r.served[b], r.total[b]))
	}
	fmt.Fprintf(&sb, "  served per bucket (10..1): %s", strings.Join(srv, " "))
	t.Log(sb.String())
}

func (r *result) allServed() bool {
	for b := 1; b <= buckets; b++ {
		if r.served[b] != r.total[b] {
			return false
		}
	}
	return true
}

// Scenario 1 (balanced): 180 kB over 1000 transfers, 10 buckets.
// Claim: every fee bucket is served. Holds: the pool (180 kB) is below the
// round's capacity (10 × 25 kB), and MEV-3 gives position p the p-th
// 25 kB of the fee-sorted pool. The seed's "Harvester 8 takes 25
// transactions from the 0.01 bucket, Harvester 3 from the 0.009 bucket"
// is off by the block size: a 25 kB block holds 138 such transfers, so
// position 1 takes all 100 of the top bucket and 38 of the next.
func TestScenario1Balanced(t *testing.T) {
	items, bucketOf := pool(even(180_000))
	if len(items) != 1000 {
		t.Fatalf("%d transfers", len(items))
	}
	r := run(items, bucketOf)
	r.log(t, "scenario 1: 180 kB, 1000 transfers, even buckets")
	if !r.allServed() {
		t.Fatal("claim fails: a bucket is not fully served")
	}
	// Position p's fresh transfers come from a contiguous run of buckets
	// below position p−1's: the top bucket goes to position 1.
	if got := r.touched(1); got[0] != 10 || r.perPosition[0][10] != 100 {
		t.Fatalf("position 1 touched %v", got)
	}
	for p := 2; p <= 7; p++ {
		if r.touched(p)[0] > r.touched(p - 1)[len(r.touched(p-1))-1] {
			t.Fatalf("position %d takes a higher bucket than position %d", p, p-1)
		}
	}
	// Positions 8..10 find the pool exhausted and wrap to the top.
	if r.touched(9)[0] != 10 {
		t.Fatalf("position 9 should wrap to the top bucket: %v", r.touched(9))
	}
}

// Scenario 2 (high volume, low fee): 180 kB, 70 % in the lowest bucket.
// Claim: low-fee transfers are not starved. Holds, because capacity (250
// kB) exceeds the pool, not because position 1 abstains from the top: the
// seed says the first harvester "might opt" for the second or third
// bucket, but under CONV-3 the first position wins every conflict, so a
// revenue-maximising first position takes the TOP bucket (spec/dag.md §9
// item 4). The test checks both facts.
func TestScenario2LowFeeVolume(t *testing.T) {
	var pb [buckets]int
	pb[0] = 700
	for i := 1; i < buckets; i++ {
		pb[i] = 300 / 9
	}
	pb[buckets-1] += 300 - 9*(300/9)
	items, bucketOf := pool(pb)
	r := run(items, bucketOf)
	r.log(t, "scenario 2: 180 kB, 70% in the lowest bucket")
	if r.served[1] != r.total[1] || !r.allServed() {
		t.Fatal("claim fails: low-fee transfers starved")
	}
	if got := r.touched(1); got[0] != 10 || r.perPosition[0][1] != 0 {
		t.Fatalf("position 1 should take the top buckets and no low-fee transfer: %v", got)
	}
	// The seed's alternative (position 1 skipping to bucket 8/9) would earn
	// less: position 1's revenue is the maximum any 25 kB block can earn.
	best := uint64(0)
	for _, it := range Select(items, 1, blockBytes, maxItems) {
		best += it.Fee
	}
	if r.revenue[1] != best {
		t.Fatalf("position 1 revenue %d, its block's fees %d", r.revenue[1], best)
	}
	t.Logf("seed claim 'the first harvester might opt for the 2nd/3rd bucket' does NOT hold under CONV-3: position 1 takes buckets %v", r.touched(1))
}

// Scenario 3 (near capacity): 240 kB spread evenly. Claims: position 1 "a
// mix of high and mid", position 2 "a mix of mid and low", overall "a
// diverse set". Under MEV-3 each position takes a contiguous ~25 kB slice
// of the fee-sorted pool, i.e. about one bucket (24 kB per bucket here):
// position 1 takes the top bucket and a few of the next, not a high/mid
// mix. What holds: every bucket is served (240 kB ≤ 250 kB), and each
// position is credited with transfers of at most two adjacent buckets (the
// last position also wraps to the top, adding nothing new).
func TestScenario3NearCapacity(t *testing.T) {
	items, bucketOf := pool(even(240_000))
	r := run(items, bucketOf)
	r.log(t, "scenario 3: 240 kB even buckets")
	if !r.allServed() {
		t.Fatal("claim fails: not every bucket served near capacity")
	}
	mix := true
	for p := 1; p <= harvesters; p++ {
		bs, fresh := r.touched(p), r.freshBuckets(p)
		t.Logf("position %2d touches %d bucket(s) %v; credited with transfers of %v", p, len(bs), bs, fresh)
		if len(fresh) > 2 || (len(fresh) == 2 && fresh[0]-fresh[1] != 1) {
			t.Fatalf("position %d is credited with buckets %v: not a contiguous slice of at most two", p, fresh)
		}
		if p == 1 && (len(bs) < 2 || bs[len(bs)-1] > 6) {
			mix = false
		}
	}
	if mix {
		t.Fatal("position 1 took a high-and-mid mix: update the recorded finding")
	}
	t.Log("seed claim 'position 1 selects a mix of high and mid fee-per-byte' does NOT hold under MEV-3: it takes the top bucket and a few of the next; diversity comes from the positions together")
}

// Beyond capacity: where low-fee starvation begins (spec/dag.md §9 item 4).
// With the pool above nH·C, exactly the best nH·C bytes are served in the
// round and the rest waits, lowest buckets first.
func TestPoolExceedsCapacity(t *testing.T) {
	var sb strings.Builder
	sb.WriteString("pool kB | served per bucket (10..1, %)                       | lowest bucket served\n")
	capTx := harvesters * (blockBytes / txBytes)
	for _, kb := range []int{180, 240, 250, 300, 400, 600} {
		items, bucketOf := pool(even(kb * 1000))
		r := run(items, bucketOf)
		var cells []string
		lowest := 0
		servedTotal := 0
		for b := buckets; b >= 1; b-- {
			cells = append(cells, fmt.Sprintf("%3.0f", 100*float64(r.served[b])/float64(max(r.total[b], 1))))
			servedTotal += r.served[b]
			if r.served[b] > 0 {
				lowest = b
			}
		}
		fmt.Fprintf(&sb, "%7d | %s | %d\n", kb, strings.Join(cells, " "), lowest)
		if len(items) <= capTx {
			if !r.allServed() {
				t.Fatalf("%d kB fits the round but is not all served", kb)
			}
			continue
		}
		if servedTotal != capTx {
			t.Fatalf("%d kB: %d served, capacity %d transfers", kb, servedTotal, capTx)
		}
		// Served = the top of the fee order: no bucket is served while a
		// higher one waits.
		for b := 2; b <= buckets; b++ {
			if r.served[b-1] > 0 && r.served[b] != r.total[b] {
				t.Fatalf("%d kB: bucket %d served while bucket %d waits", kb, b-1, b)
			}
		}
		if r.served[1] != 0 && kb >= 300 {
			t.Fatalf("%d kB: lowest bucket served despite %d kB above capacity", kb, kb-250)
		}
	}
	t.Log("\n" + sb.String())
}
