package pacemaker

import (
	"crypto/sha256"
	"encoding/binary"
)

// LeaderMode selects GETLEADER. spec: PM-11
type LeaderMode uint8

const (
	// LeaderRoundRobin is the seed's rule with R views per leader (PM-34):
	// leader(v) = 1 + ((v div R) mod n).
	LeaderRoundRobin LeaderMode = iota
	// LeaderBeacon draws leader(v) = 1 + (u64(H("FHBFT/leader/v1" ‖ beacon ‖ (v div R))[0..8]) mod n)
	// from the epoch beacon fixed in the configuration (seeds/004's random
	// leader, without its VRF and local health check, which replicas could
	// not agree on); round robin when there is no beacon.
	LeaderBeacon
)

func (m LeaderMode) String() string {
	switch m {
	case LeaderRoundRobin:
		return "round-robin"
	case LeaderBeacon:
		return "beacon"
	}
	return "leader-mode(" + itoa(uint64(m)) + ")"
}

// Schedule is GETLEADER: a deterministic function of the configuration and
// the view alone, never of local state. spec: PM-11, PM-34
type Schedule struct {
	N              int
	ViewsPerLeader int   // R ≥ 1
	Beacon         *Hash // nil: round robin
}

// Leader is leader(v). spec: PM-11, PM-34
func (s Schedule) Leader(v View) ReplicaID {
	if s.N < 1 {
		return 0
	}
	r := uint64(max(s.ViewsPerLeader, 1))
	slot := uint64(v) / r
	if s.Beacon == nil {
		return ReplicaID(slot%uint64(s.N) + 1)
	}
	buf := append([]byte(leaderPrefix), s.Beacon[:]...)
	buf = binary.BigEndian.AppendUint64(buf, slot)
	h := sha256.Sum256(buf)
	return ReplicaID(binary.BigEndian.Uint64(h[:8])%uint64(s.N) + 1)
}

const leaderPrefix = "FHBFT/leader/v1"

// RoundRobinLeader is the seed's leader(v) = (v mod n) + 1 (R = 1). spec: PM-11
func RoundRobinLeader(v View, n int) ReplicaID { return Schedule{N: n, ViewsPerLeader: 1}.Leader(v) }

// BeaconLeader is the beacon rule with R = 1 (the modulo bias is below
// n/2^64). spec: PM-11
func BeaconLeader(beacon Hash, v View, n int) ReplicaID {
	return Schedule{N: n, ViewsPerLeader: 1, Beacon: &beacon}.Leader(v)
}
