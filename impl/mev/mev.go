// Package mev implements a harvester's transaction selection (spec/dag.md
// §7, MEV-1..MEV-3): pool entries ordered by fee per byte, compared exactly,
// and a block filled with the knowledge of the proposer's position in the
// round's conflict-resolution order (ORD-2), since a transfer included by
// several proposers is credited to the least position (CONV-3, MEV-2).
//
// Everything is a pure, deterministic function of its arguments.
package mev

import (
	"bytes"
	"math/bits"
	"slices"

	"github.com/fhbft/fhbft/impl/tx"
)

// Item is a pool entry as selection sees it: Size is the bytes the entry
// takes in a proposal block (dag.CertifiedTx.Size). spec: MEV-1
type Item struct {
	Digest tx.Digest
	Fee    uint64
	Size   int
}

// Less orders pool entries best first: higher fee per byte first, compared
// exactly by cross-multiplication in 128 bits (a.Fee·b.Size vs b.Fee·a.Size,
// no division, no rounding), ties by digest ascending. Entries with Size ≤ 0
// cannot be in a block; they come after every other entry, by digest, so
// that Less stays a strict weak order on any input. spec: MEV-1
func Less(a, b Item) bool {
	av, bv := a.Size > 0, b.Size > 0
	if av != bv {
		return av
	}
	if av {
		ah, al := bits.Mul64(a.Fee, uint64(b.Size))
		bh, bl := bits.Mul64(b.Fee, uint64(a.Size))
		if ah != bh {
			return ah > bh
		}
		if al != bl {
			return al > bl
		}
	}
	return bytes.Compare(a.Digest[:], b.Digest[:]) < 0
}

// compare is Less as a three-way comparison for slices.SortFunc.
func compare(a, b Item) int {
	switch {
	case Less(a, b):
		return -1
	case Less(b, a):
		return 1
	}
	return 0
}

// Select returns the block of the proposer at position (1-based, ORD-2)
// for blocks of capacityBytes bytes and at most maxItems entries, best
// first (MEV-1). The pool need not be sorted and is not modified.
//
// MEV-3: with the pool sorted by MEV-1, positions 1..position−1 are
// expected to take the first (position−1)·C bytes. That expectation is
// computed exactly, by letting each earlier position fill its block
// greedily from the best entry none before it took (an entry that does not
// fit in the bytes left is skipped, the next one tried). This position then
// fills its own block the same way from what follows; if the pool runs out
// before its block is full, it continues from the top of the pool (entries
// an earlier position is expected to take: duplicates lose to the earlier
// position under CONV-4, but cost nothing to offer and cover a proposer
// that did not show up). Cost O(position · |pool|) after the sort.
//
// position < 1 is treated as 1; a non-positive capacity or maxItems, or an
// empty pool, selects nothing. spec: MEV-3
func Select(pool []Item, position int, capacityBytes int, maxItems int) []Item {
	if capacityBytes <= 0 || maxItems <= 0 || len(pool) == 0 {
		return nil
	}
	position = max(position, 1)
	// A digest listed twice is one transfer: keep its best entry.
	sorted := slices.Clone(pool)
	slices.SortFunc(sorted, func(a, b Item) int {
		if c := bytes.Compare(a.Digest[:], b.Digest[:]); c != 0 {
			return c
		}
		return compare(a, b)
	})
	sorted = slices.CompactFunc(sorted, func(a, b Item) bool { return a.Digest == b.Digest })
	slices.SortFunc(sorted, compare)
	// Entries that can never fit in a block are never taken by anyone.
	sorted = slices.DeleteFunc(sorted, func(it Item) bool { return it.Size <= 0 || it.Size > capacityBytes })

	taken := make([]bool, len(sorted)) // by earlier positions
	for p := 1; p < position; p++ {
		if !fill(sorted, taken, capacityBytes, maxItems) {
			break // everything is taken
		}
	}
	mine := make([]bool, len(sorted))
	var out []Item
	left, count := capacityBytes, 0
	pick := func(i int) {
		mine[i] = true
		out = append(out, sorted[i])
		left -= sorted[i].Size
		count++
	}
	for i := range sorted {
		if count == maxItems {
			break
		}
		if !taken[i] && sorted[i].Size <= left {
			pick(i)
		}
	}
	for i := range sorted { // the pool ended first: wrap to the top
		if count == maxItems {
			break
		}
		if !mine[i] && sorted[i].Size <= left {
			pick(i)
		}
	}
	return out
}

// fill simulates one earlier position: greedily take untaken entries in
// order while they fit. It reports whether it took anything.
func fill(sorted []Item, taken []bool, capacity, maxItems int) bool {
	left, count := capacity, 0
	for i := range sorted {
		if count == maxItems || left == 0 {
			break
		}
		if !taken[i] && sorted[i].Size <= left {
			taken[i] = true
			left -= sorted[i].Size
			count++
		}
	}
	return count > 0
}
