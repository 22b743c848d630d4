// Package maglev computes a transaction's entry quorum: the farmer quorum
// named by a Maglev lookup table (Eisenbud et al., "Maglev: A Fast and
// Reliable Software Network Load Balancer", NSDI 2016, §3.4) keyed on the
// transaction's signer account, never on the transaction itself, so every
// transaction of one account enters at one quorum and can be ordered there
// by nonce (seeds/000 "Maglevs Hash Ring"; BRIEF §7).
//
// It implements spec/farmer.md rules ENTRY-1..ENTRY-5. The table is a pure
// function of (sorted quorum IDs, table size): the hashes are SHA-256 with
// fixed domain-separation strings, the quorums are sorted before building,
// and nothing depends on map order, runtime hash seeds or the order in which
// the caller lists the quorums, so every node of an epoch builds the same
// table byte for byte (Table.Digest lets nodes and tests compare).
//
// The package is written here rather than imported: the Go Maglev packages
// we examined either panic or loop forever on empty input, pick their own
// prime table size, order backends by a hash instead of a documented
// canonical order, depend on a non-standard hash, or are untagged and
// unmaintained.
package maglev

import (
	"crypto/sha256"
	"encoding/binary"
	"slices"

	"github.com/fhbft/fhbft/impl/certification"
)

// QuorumID names a farmer quorum; it is the certification package's ID so
// the entry quorum can be handed straight to the quorum's roster.
type QuorumID = certification.QuorumID

const (
	// DefaultTableSize is the paper's table size M = 65537 (prime).
	// spec: ENTRY-2
	DefaultTableSize uint64 = 65537

	// MinEntriesPerQuorum is the smallest M/K New accepts. Round-robin
	// filling gives every quorum floor(M/K) or ceil(M/K) entries, so with
	// M >= 100·K the largest share exceeds the smallest by at most 1%
	// (the paper's sizing rule). spec: ENTRY-2, ENTRY-4
	MinEntriesPerQuorum = 100

	// RecommendedEntriesPerQuorum is the M/K that SizeFor aims for: the
	// balance is exact at any M >= 100·K, but the excess disruption when a
	// quorum joins or leaves shrinks as M/K grows (measured in the tests;
	// ENTRY-5 is stated for this ratio).
	RecommendedEntriesPerQuorum = 1000

	// MaxTableSize bounds M so a hostile configuration cannot make New
	// allocate without limit (the table holds 4 bytes per entry: 64 MiB).
	MaxTableSize uint64 = 1 << 24

	// MaxQuorums is the largest K any accepted table size allows.
	MaxQuorums = int(MaxTableSize / MinEntriesPerQuorum)
)

// Domain-separation strings: the version tag changes whenever the mapping
// does, so two builds that disagree cannot both claim the same name.
const (
	quorumDST = "FHBFT/maglev/v1/quorum"
	signerDST = "FHBFT/maglev/v1/signer"
	tableDST  = "FHBFT/maglev/v1/table"
)

// Table is an immutable Maglev lookup table; it is safe for concurrent
// lookups. Obtain one from New; the zero Table is not usable.
type Table struct {
	size    uint64
	quorums []QuorumID // ascending, distinct
	entries []QuorumID // len size; entries[slot] is the quorum owning slot
	counts  []uint64   // counts[i] = number of entries owned by quorums[i]
}

// Share is one quorum's part of the table.
type Share struct {
	Quorum   QuorumID
	Entries  uint64  // table entries owned
	Fraction float64 // Entries / table size: the expected share of accounts
}

// New builds the table for one epoch's farmer quorums and table size.
// The order of quorums does not matter. Checks run in a fixed order so that
// every node refuses a bad configuration with the same error:
// no quorums, too many quorums, size too large, size below
// MinEntriesPerQuorum·K, size not prime, duplicate ID (the smallest one).
// spec: ENTRY-2, ENTRY-3
func New(quorums []QuorumID, tableSize uint64) (*Table, error) {
	k := len(quorums)
	switch {
	case k == 0:
		return nil, &ConfigError{Err: ErrNoQuorums, Size: tableSize}
	case k > MaxQuorums:
		return nil, &ConfigError{Err: ErrTooManyQuorums, Quorums: k, Size: tableSize}
	case tableSize > MaxTableSize:
		return nil, &ConfigError{Err: ErrTableTooLarge, Quorums: k, Size: tableSize}
	case tableSize < uint64(k)*MinEntriesPerQuorum:
		return nil, &ConfigError{Err: ErrTableTooSmall, Quorums: k, Size: tableSize}
	case !isPrime(tableSize):
		return nil, &ConfigError{Err: ErrTableNotPrime, Quorums: k, Size: tableSize}
	}
	// spec: ENTRY-3 — the canonical backend order is ascending quorum ID;
	// round-robin filling breaks ties by this order, so it must not be the
	// caller's order.
	sorted := slices.Clone(quorums)
	slices.Sort(sorted)
	for i := 1; i < k; i++ {
		if sorted[i] == sorted[i-1] {
			return nil, &ConfigError{Err: ErrDuplicateQuorum, Quorums: k, Size: tableSize, Quorum: sorted[i]}
		}
	}
	t := &Table{size: tableSize, quorums: sorted}
	t.entries, t.counts = populate(sorted, tableSize)
	return t, nil
}

// cursor walks one quorum's preference list permutation[j] =
// (offset + j·skip) mod M; M is prime and 1 <= skip < M, so the walk visits
// every slot exactly once per M steps.
type cursor struct{ pos, skip uint64 }

// populate is the paper's Populate (§3.4, Pseudocode 1): quorums take turns
// in canonical order, each claiming its next preferred slot that is still
// empty, until all M slots are owned. Each turn fills exactly one slot, so
// after r full rounds every quorum owns r slots; hence the floor/ceil shares.
// spec: ENTRY-2, ENTRY-4
func populate(sorted []QuorumID, m uint64) ([]QuorumID, []uint64) {
	cur := make([]cursor, len(sorted))
	for i, q := range sorted {
		offset, skip := permutation(q, m)
		cur[i] = cursor{pos: offset, skip: skip}
	}
	entries := make([]QuorumID, m)
	taken := make([]bool, m)
	counts := make([]uint64, len(sorted))
	var filled uint64
	for {
		for i := range cur {
			c := &cur[i]
			for taken[c.pos] {
				c.advance(m)
			}
			taken[c.pos] = true
			entries[c.pos] = sorted[i]
			counts[i]++
			c.advance(m)
			filled++
			if filled == m {
				return entries, counts
			}
		}
	}
}

func (c *cursor) advance(m uint64) {
	// pos, skip < m <= 2^24, so the sum cannot overflow.
	c.pos += c.skip
	if c.pos >= m {
		c.pos -= m
	}
}

// permutation derives a quorum's (offset, skip) from two independent 64-bit
// words of one SHA-256 digest of its ID (the paper's h1 and h2 of the
// backend name). spec: ENTRY-3
func permutation(q QuorumID, m uint64) (offset, skip uint64) {
	var buf [len(quorumDST) + 4]byte
	copy(buf[:], quorumDST)
	binary.BigEndian.PutUint32(buf[len(quorumDST):], uint32(q))
	d := sha256.Sum256(buf[:])
	offset = binary.BigEndian.Uint64(d[0:8]) % m
	skip = binary.BigEndian.Uint64(d[8:16])%(m-1) + 1
	return offset, skip
}

// slotOf hashes a signer account to a table slot. The modulo bias is below
// m/2^64 < 2^-40 and is ignored. spec: ENTRY-1, ENTRY-3
func slotOf(signer *[32]byte, m uint64) uint64 {
	var buf [len(signerDST) + 32]byte
	copy(buf[:], signerDST)
	copy(buf[len(signerDST):], signer[:])
	d := sha256.Sum256(buf[:])
	return binary.BigEndian.Uint64(d[0:8]) % m
}

// Lookup returns the entry quorum of a transaction signed by signer: the
// owner of the signer's slot. It takes the signer account (the Ed25519
// public key in the transaction's from field) and nothing else, so a
// transaction's nonce, recipient or digest cannot move it to another
// quorum. spec: ENTRY-1
func (t *Table) Lookup(signer [32]byte) QuorumID {
	return t.entries[slotOf(&signer, t.size)]
}

// Size returns the table size M.
func (t *Table) Size() uint64 { return t.size }

// Quorums returns the quorum IDs in canonical (ascending) order.
func (t *Table) Quorums() []QuorumID { return slices.Clone(t.quorums) }

// Contains reports whether q is one of the table's quorums.
func (t *Table) Contains(q QuorumID) bool {
	_, ok := slices.BinarySearch(t.quorums, q)
	return ok
}

// Shares returns each quorum's part of the table, in canonical order.
// spec: ENTRY-4
func (t *Table) Shares() []Share {
	out := make([]Share, len(t.quorums))
	for i, q := range t.quorums {
		out[i] = Share{Quorum: q, Entries: t.counts[i], Fraction: float64(t.counts[i]) / float64(t.size)}
	}
	return out
}

// Digest is SHA-256 over the table's canonical encoding (domain tag, M, K,
// the sorted quorum IDs, then every entry), all big-endian. Two nodes agree
// on every lookup iff their digests agree. spec: ENTRY-3
func (t *Table) Digest() [32]byte {
	h := sha256.New()
	buf := make([]byte, 0, len(tableDST)+12+4*(len(t.quorums)+len(t.entries)))
	buf = append(buf, tableDST...)
	buf = binary.BigEndian.AppendUint64(buf, t.size)
	buf = binary.BigEndian.AppendUint32(buf, uint32(len(t.quorums)))
	for _, q := range t.quorums {
		buf = binary.BigEndian.AppendUint32(buf, uint32(q))
	}
	for _, q := range t.entries {
		buf = binary.BigEndian.AppendUint32(buf, uint32(q))
	}
	h.Write(buf)
	var d [32]byte
	h.Sum(d[:0])
	return d
}

// SizeFor returns the table size an epoch with k quorums should use: the
// smallest prime that is at least DefaultTableSize and at least
// RecommendedEntriesPerQuorum·k. spec: ENTRY-2, ENTRY-5
func SizeFor(k int) (uint64, error) {
	switch {
	case k <= 0:
		return 0, &ConfigError{Err: ErrNoQuorums}
	case k > MaxQuorums:
		return 0, &ConfigError{Err: ErrTooManyQuorums, Quorums: k}
	}
	n := max(DefaultTableSize, uint64(k)*RecommendedEntriesPerQuorum)
	for !isPrime(n) {
		n++
	}
	if n > MaxTableSize {
		return 0, &ConfigError{Err: ErrTableTooLarge, Quorums: k, Size: n}
	}
	return n, nil
}

// isPrime is trial division; New calls it only for n <= MaxTableSize, where
// at most ~2048 odd divisors are tried.
func isPrime(n uint64) bool {
	if n < 2 {
		return false
	}
	if n%2 == 0 {
		return n == 2
	}
	for d := uint64(3); d*d <= n; d += 2 {
		if n%d == 0 {
			return false
		}
	}
	return true
}
