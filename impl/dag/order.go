package dag

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"encoding/binary"
	"slices"

	"github.com/fhbft/fhbft/impl/certification"
	"github.com/fhbft/fhbft/impl/state"
)

// Domain tags of the beacon and of the orders drawn from it (spec: DAG-1,
// ORD-1, ORD-2, ORD-3).
const (
	tagBeaconGenesis = "FHBFT/beacon/genesis/v1"
	tagBeacon        = "FHBFT/beacon/v1"
	tagOrder         = "FHBFT/order/v1"
	tagMiner         = "FHBFT/miner/v1"
)

// GenesisBeacon is beacon_1 = H("FHBFT/beacon/genesis/v1" ‖ quorum ‖ epoch
// ‖ genesis state root). spec: DAG-1, tla: DAGConvergence!Init
func GenesisBeacon(quorum certification.QuorumID, epoch certification.Epoch, root state.Hash) Hash {
	b := make([]byte, 0, len(tagBeaconGenesis)+4+8+32)
	b = append(b, tagBeaconGenesis...)
	b = binary.BigEndian.AppendUint32(b, uint32(quorum))
	b = binary.BigEndian.AppendUint64(b, uint64(epoch))
	b = append(b, root[:]...)
	return sha256.Sum256(b)
}

// NextBeacon is beacon_{r+1} = H("FHBFT/beacon/v1" ‖ σ_r), σ_r the
// compressed threshold signature of the certificate that made round r
// final. BLS signatures are unique per message and group key, so no
// coalition below the threshold can bias or predict it. The caller has
// verified c (FIN-1). spec: ORD-1, FIN-3, tla: DAGConvergence!Finalize
func NextBeacon(c certification.Certificate) Hash {
	sig := c.Signature.Bytes()
	b := make([]byte, 0, len(tagBeacon)+len(sig))
	b = append(b, tagBeacon...)
	b = append(b, sig[:]...)
	return sha256.Sum256(b)
}

type scored struct {
	score Hash
	id    uint32
}

func sortScored(s []scored) {
	slices.SortFunc(s, func(a, b scored) int {
		if c := bytes.Compare(a.score[:], b.score[:]); c != 0 {
			return c
		}
		return cmp.Compare(a.id, b.id)
	})
}

// Order is order_r: members 1..n sorted by (H("FHBFT/order/v1" ‖ beacon ‖
// member), member); order[0] holds position 1. spec: ORD-2,
// tla: DAGConvergence!Pos (abstracted there as a rotation per round)
func Order(beacon Hash, n int) []certification.Member {
	if n <= 0 {
		return nil
	}
	s := make([]scored, n)
	buf := make([]byte, 0, len(tagOrder)+32+4)
	for i := range s {
		m := uint32(i + 1)
		buf = append(buf[:0], tagOrder...)
		buf = append(buf, beacon[:]...)
		buf = binary.BigEndian.AppendUint32(buf, m)
		s[i] = scored{sha256.Sum256(buf), m}
	}
	sortScored(s)
	out := make([]certification.Member, n)
	for i := range s {
		out[i] = certification.Member(s[i].id)
	}
	return out
}

// Position is pos_r(m), 1-based, or 0 if m is not in the order. spec: ORD-2
func Position(order []certification.Member, m certification.Member) int {
	for i, x := range order {
		if x == m {
			return i + 1
		}
	}
	return 0
}

// positions maps member m to pos_r(m) at index m (index 0 unused).
func positions(order []certification.Member) []int {
	pos := make([]int, len(order)+1)
	for i, m := range order {
		if int(m) < len(pos) {
			pos[m] = i + 1
		}
	}
	return pos
}

// MinerRanking ranks miners 1..miners for a round by (H("FHBFT/miner/v1" ‖
// beacon ‖ round ‖ miner), miner): element 0 is the elected miner, 1..F−1
// the fallbacks. spec: ORD-3, tla: DAGConvergence!Certify (which miners may build)
func MinerRanking(beacon Hash, round Round, miners int) []MinerID {
	if miners <= 0 {
		return nil
	}
	s := make([]scored, miners)
	buf := make([]byte, 0, len(tagMiner)+32+8+4)
	for i := range s {
		m := uint32(i + 1)
		buf = append(buf[:0], tagMiner...)
		buf = append(buf, beacon[:]...)
		buf = binary.BigEndian.AppendUint64(buf, uint64(round))
		buf = binary.BigEndian.AppendUint32(buf, m)
		s[i] = scored{sha256.Sum256(buf), m}
	}
	sortScored(s)
	out := make([]MinerID, miners)
	for i := range s {
		out[i] = MinerID(s[i].id)
	}
	return out
}
