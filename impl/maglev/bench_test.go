package maglev

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"slices"
	"sort"
	"testing"
)

// Baselines for the benchmarks only: rendezvous (highest-random-weight)
// hashing and a consistent-hash ring with virtual nodes. Both hash the
// signer with the same SHA-256 call as Maglev, so the comparison isolates
// the cost of choosing a quorum from that key hash.

func keyHash(signer *[32]byte) uint64 {
	var buf [len(signerDST) + 32]byte
	copy(buf[:], signerDST)
	copy(buf[len(signerDST):], signer[:])
	d := sha256.Sum256(buf[:])
	return binary.BigEndian.Uint64(d[:8])
}

func quorumSeed(tag string, q QuorumID, v uint32) uint64 {
	var buf [64]byte
	b := append(buf[:0], tag...)
	b = binary.BigEndian.AppendUint32(b, uint32(q))
	b = binary.BigEndian.AppendUint32(b, v)
	d := sha256.Sum256(b)
	return binary.BigEndian.Uint64(d[:8])
}

// mix64 is the SplitMix64 finaliser: a fast, fixed 64-bit bijection.
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	return x ^ x>>31
}

type rendezvous struct {
	quorums []QuorumID
	seeds   []uint64
}

func newRendezvous(qs []QuorumID) *rendezvous {
	r := &rendezvous{quorums: slices.Sorted(slices.Values(qs))}
	r.seeds = make([]uint64, len(r.quorums))
	for i, q := range r.quorums {
		r.seeds[i] = quorumSeed("bench/rendezvous", q, 0)
	}
	return r
}

func (r *rendezvous) lookup(signer [32]byte) QuorumID {
	h := keyHash(&signer)
	best, bestW := 0, uint64(0)
	for i, s := range r.seeds {
		if w := mix64(h ^ s); w > bestW || i == 0 {
			best, bestW = i, w
		}
	}
	return r.quorums[best]
}

type ringPoint struct {
	at    uint64
	owner QuorumID
}

type ring struct{ points []ringPoint }

const ringVnodes = 100

func newRing(qs []QuorumID) *ring {
	r := &ring{points: make([]ringPoint, 0, len(qs)*ringVnodes)}
	for _, q := range qs {
		for v := uint32(0); v < ringVnodes; v++ {
			r.points = append(r.points, ringPoint{quorumSeed("bench/ring", q, v), q})
		}
	}
	sort.Slice(r.points, func(i, j int) bool {
		pi, pj := r.points[i], r.points[j]
		return pi.at < pj.at || (pi.at == pj.at && pi.owner < pj.owner)
	})
	return r
}

func (r *ring) lookup(signer [32]byte) QuorumID {
	h := keyHash(&signer)
	i := sort.Search(len(r.points), func(i int) bool { return r.points[i].at >= h })
	if i == len(r.points) {
		i = 0
	}
	return r.points[i].owner
}

var sink QuorumID

func BenchmarkLookup(b *testing.B) {
	accts := accounts(testSeed, 4096)
	for _, k := range []int{10, 100} {
		qs := seqQuorums(k)
		m, _ := SizeFor(k)
		tab := mustNew(b, qs, m)
		rv, rg := newRendezvous(qs), newRing(qs)
		impls := []struct {
			name   string
			lookup func([32]byte) QuorumID
		}{
			{"maglev", tab.Lookup},
			{"rendezvous", rv.lookup},
			{"ring", rg.lookup},
			{"hash-only", func(a [32]byte) QuorumID { return QuorumID(keyHash(&a)) }},
		}
		for _, im := range impls {
			b.Run(fmt.Sprintf("%s/K=%d", im.name, k), func(b *testing.B) {
				i := 0
				for b.Loop() {
					sink = im.lookup(accts[i&4095])
					i++
				}
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "lookups/s")
			})
		}
	}
}

func BenchmarkBuild(b *testing.B) {
	for _, k := range []int{10, 100} {
		qs := seqQuorums(k)
		m, _ := SizeFor(k)
		b.Run(fmt.Sprintf("maglev/K=%d/M=%d", k, m), func(b *testing.B) {
			for b.Loop() {
				if _, err := New(qs, m); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("rendezvous/K=%d", k), func(b *testing.B) {
			for b.Loop() {
				_ = newRendezvous(qs)
			}
		})
		b.Run(fmt.Sprintf("ring/K=%d/vnodes=%d", k, ringVnodes), func(b *testing.B) {
			for b.Loop() {
				_ = newRing(qs)
			}
		})
	}
}
