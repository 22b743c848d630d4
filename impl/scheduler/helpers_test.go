package scheduler

import (
	"errors"
	"fmt"
	"testing"
	"time"
)

var testMap = QuorumMap{Epoch: 1, Quorum: 10, Quorums: []QuorumID{30, 10, 20}, Peers: []NodeID{4, 2, 3}}

func testConfig() Config {
	return Config{Self: 1, Map: testMap, MaxReportAge: 50 * time.Millisecond, ReportInterval: 10 * time.Millisecond}
}

func mustNew(t testing.TB, cfg Config) *Scheduler {
	t.Helper()
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func id(n int) Digest {
	var d Digest
	d[0], d[1], d[2] = byte(n), byte(n>>8), byte(n>>16)
	d[31] = 0xee
	return d
}

func acct(n int) Account {
	var a Account
	a[0], a[9], a[31] = byte(n), byte(n*7), 0xaa
	return a
}

func task(n int, cost uint32, dep Dependency) Task {
	return Task{ID: id(n), Signer: acct(n % 5), Cost: cost, Dep: dep}
}

func mustStep(t testing.TB, s *Scheduler, ev Event) []Effect {
	t.Helper()
	effs, err := s.Step(ev)
	if err != nil {
		t.Fatalf("Step(%#v): %v", ev, err)
	}
	return effs
}

// one runs an event expected to produce exactly one effect.
func one(t testing.TB, s *Scheduler, ev Event) Effect {
	t.Helper()
	effs := mustStep(t, s, ev)
	if len(effs) != 1 {
		t.Fatalf("Step(%#v): %d effects %v, want 1", ev, len(effs), effs)
	}
	return effs[0]
}

func report(peer NodeID, seq uint64, l Stats) PeerLoad {
	return PeerLoad{Peer: peer, Epoch: 1, Seq: seq, Load: l}
}

func wantErr(t testing.TB, s *Scheduler, ev Event, sentinel error) {
	t.Helper()
	before := snapshot(s)
	effs, err := s.Step(ev)
	if !errors.Is(err, sentinel) || effs != nil {
		t.Fatalf("Step(%#v) = %v, %v; want %v", ev, effs, err, sentinel)
	}
	var ie *InputError
	if !errors.As(err, &ie) || ie.Event == "" {
		t.Fatalf("error %v (%T) is not a complete *InputError", err, err)
	}
	if after := snapshot(s); after != before {
		t.Fatalf("refused %#v changed the state:\n%s\n%s", ev, before, after)
	}
}

// snapshot renders everything observable about a scheduler.
func snapshot(s *Scheduler) string {
	return fmt.Sprintf("epoch %d now %v load %+v len %d loads %+v peers %+v seq %d",
		s.epoch, s.now, s.stats, len(s.tasks), s.Loads(), s.peers, s.reportSeq)
}
