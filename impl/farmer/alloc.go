package farmer

import (
	"cmp"
	"crypto/sha256"
	"encoding/binary"
	"slices"

	"github.com/fhbft/fhbft/impl/certification"
)

// AllocDomain separates allocation hashes from every other hash in FHBFT.
const AllocDomain = "FHBFT/farm/alloc/v1"

// Score is member m's rendezvous score for key in a quorum's epoch:
// the first 8 bytes, big-endian, of
// SHA-256(AllocDomain ‖ u32be(quorum) ‖ u64be(epoch) ‖ key ‖ u32be(m)).
// spec: FARM-28
func Score(quorum certification.QuorumID, epoch certification.Epoch, key [32]byte, m certification.Member) uint64 {
	var buf [len(AllocDomain) + 4 + 8 + 32 + 4]byte
	n := copy(buf[:], AllocDomain)
	binary.BigEndian.PutUint32(buf[n:], uint32(quorum))
	binary.BigEndian.PutUint64(buf[n+4:], uint64(epoch))
	copy(buf[n+12:], key[:])
	binary.BigEndian.PutUint32(buf[n+44:], uint32(m))
	h := sha256.Sum256(buf[:])
	return binary.BigEndian.Uint64(h[:8])
}

// Order ranks the members 1..n of a quorum for key by descending Score,
// ties by ascending index. The first q are the assigned members; the rest
// take over in this order. Every member computes the same order from public
// data. spec: FARM-28
func Order(quorum certification.QuorumID, epoch certification.Epoch, key [32]byte, n int) []certification.Member {
	type ranked struct {
		m certification.Member
		s uint64
	}
	rs := make([]ranked, n)
	for i := range rs {
		m := certification.Member(i + 1)
		rs[i] = ranked{m, Score(quorum, epoch, key, m)}
	}
	slices.SortFunc(rs, func(a, b ranked) int {
		return cmp.Or(cmp.Compare(b.s, a.s), cmp.Compare(a.m, b.m))
	})
	out := make([]certification.Member, n)
	for i, r := range rs {
		out[i] = r.m
	}
	return out
}

// rankOf returns m's 0-based position in Order.
func rankOf(order []certification.Member, m certification.Member) int {
	for i, o := range order {
		if o == m {
			return i
		}
	}
	return len(order)
}
