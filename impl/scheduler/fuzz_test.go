package scheduler

import (
	"encoding/binary"
	"testing"
	"time"
)

// FuzzStep drives the generator of the property tests from fuzz bytes:
// configuration and events, checked against the reference model, the
// conservation invariant and determinism. spec: SCHED-13, SCHED-14, SCHED-15
func FuzzStep(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20})
	f.Add([]byte("a scheduler whose backpressure is computed and never used"))
	f.Fuzz(func(t *testing.T, data []byte) {
		src := &byteSource{b: data}
		if _, err := runChecks(src, Mutations{}, 1000, src.done, checkAll); err != nil {
			t.Fatal(err)
		}
	})
}

// rawReader hands out fixed-width fields of the fuzz input, zeros once
// it is exhausted.
type rawReader struct{ b []byte }

func (r *rawReader) u8() uint8 {
	if len(r.b) == 0 {
		return 0
	}
	v := r.b[0]
	r.b = r.b[1:]
	return v
}

func (r *rawReader) u64() uint64 {
	var buf [8]byte
	n := copy(buf[:], r.b)
	r.b = r.b[n:]
	return binary.LittleEndian.Uint64(buf[:])
}

func (r *rawReader) u32() uint32 { return uint32(r.u64()) }

func (r *rawReader) task() Task {
	// IDs and peers from small ranges so that events meet held tasks and
	// real peers; every other field unconstrained.
	return Task{ID: id(int(r.u8() % 16)), Signer: acct(int(r.u8())), Cost: r.u32(),
		Dep: Dependency{Kind: DepKind(r.u8()), Peer: NodeID(r.u32()), Quorum: QuorumID(r.u32())}}
}

func (r *rawReader) stat() QueueStat { return QueueStat{r.u64(), r.u64()} }

// FuzzStepRaw decodes arbitrary bytes into events with unconstrained
// field values (any cost, count, total, epoch, Seq, time, kind, member,
// quorum) and checks the same properties: nothing panics, refusals are
// typed and change nothing, no task is lost or duplicated, and the
// decisions are the reference model's. spec: SCHED-13, SCHED-15
func FuzzStepRaw(f *testing.F) {
	f.Add([]byte{0, 1, 2, 5, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0})
	f.Add([]byte{5, 2, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 7})
	f.Add([]byte{7, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	f.Fuzz(runRaw)
}

func runRaw(t *testing.T, data []byte) {
	{
		c, err := newChecker(Config{Self: 1, Map: testMap, MaxQueued: 8, MaxReportAge: 40, ReportInterval: 3}, Mutations{}, checkAll)
		if err != nil {
			t.Fatal(err)
		}
		r := &rawReader{b: data}
		for i := 0; len(r.b) > 0 && i < 600; i++ {
			var ev Event
			switch r.u8() % 10 {
			case 0, 1:
				ev = TaskArrived{r.task()}
			case 2:
				ev = TaskDelegatedIn{From: NodeID(r.u8() % 8), Task: r.task()}
			case 3:
				ev = TaskCompleted{id(int(r.u8() % 16))}
			case 4:
				ev = HandoffAcked{id(int(r.u8() % 16))}
			case 5:
				ev = HandoffFailed{id(int(r.u8() % 16))}
			case 6:
				ev = PeerLoad{Peer: NodeID(r.u8() % 8), Epoch: Epoch(r.u8() % 3), Seq: r.u64(),
					Load: Stats{r.stat(), r.stat(), r.stat()}}
			case 7:
				ev = Tick{Now: time.Duration(r.u64())}
			case 8:
				m := QuorumMap{Epoch: Epoch(r.u8()), Quorum: QuorumID(r.u8() % 4 * 10)}
				for range r.u8() % 5 {
					m.Quorums = append(m.Quorums, QuorumID(r.u8()%5*10))
				}
				for range r.u8() % 6 {
					m.Peers = append(m.Peers, NodeID(r.u8()%8))
				}
				ev = QuorumMapChanged{m}
			default:
				ev = nil
			}
			if err := c.step(i, ev); err != nil {
				t.Fatal(err)
			}
		}
		if err := c.replay(); err != nil {
			t.Fatal(err)
		}
	}
}
