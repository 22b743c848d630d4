package pacemaker

import (
	"encoding/binary"
	"testing"
	"time"
)

// Records for FuzzStep: kind u8 ‖ from u8 ‖ len u16 ‖ data.
const (
	recMessage = iota // data: an encoded message from replica `from`
	recTimer          // data: u64 view
	recTick           // data: u64 milliseconds
	recClient         // data: u64 id ‖ payload
)

func appendRecord(b []byte, kind, from byte, data []byte) []byte {
	b = append(b, kind, from)
	b = binary.BigEndian.AppendUint16(b, uint16(len(data)))
	return append(b, data...)
}

// honestTranscript is what replica 1 received in a short fault-free run of
// four replicas, as FuzzStep records: a seed the fuzzer mutates into
// near-valid inputs (real signatures in odd places, reordered views).
func honestTranscript(tb testing.TB) []byte {
	c := newCluster(tb, 4, 3, Config{Timeout: fixedTimeout(50 * time.Millisecond)})
	var out []byte
	c.drop = func(from, to ReplicaID, m Message) bool {
		if to == 1 && len(out) < 1<<15 {
			enc, _ := m.MarshalBinary()
			out = appendRecord(out, recMessage, byte(from), enc)
		}
		return false
	}
	c.start()
	c.run(400, func() bool { return c.minCommitted() >= 4 })
	return out
}

// FuzzStep feeds a replica decoded garbage and checks it never panics and
// never breaks its monotonic state (PM-25, PM-27, PM-7).
func FuzzStep(f *testing.F) {
	fx := newFixture(f, 4, 3)
	f.Add(honestTranscript(f))
	f.Add(appendRecord(appendRecord(nil, recTimer, 0, binary.BigEndian.AppendUint64(nil, 1)), recClient, 0, []byte{0, 0, 0, 0, 0, 0, 0, 1, 'x'}))
	f.Fuzz(func(t *testing.T, in []byte) {
		r, err := New(Config{Timeout: fixedTimeout(50 * time.Millisecond)}, 1, fx.shares[0], fx.roster)
		if err != nil {
			t.Fatal(err)
		}
		r.Step(Start{})
		prev := r.State()
		for len(in) >= 4 {
			kind, from, n := in[0], ReplicaID(in[1]), int(binary.BigEndian.Uint16(in[2:4]))
			in = in[4:]
			data := in[:min(n, len(in))]
			in = in[len(data):]
			var ev Event
			switch kind % 4 {
			case recMessage:
				m, err := DecodeMessage(data)
				if err != nil {
					continue
				}
				ev = Deliver(from, m)
			case recTimer:
				if len(data) < 8 {
					continue
				}
				ev = TimerFired{View: View(binary.BigEndian.Uint64(data))}
			case recTick:
				if len(data) < 8 {
					continue
				}
				ev = Tick{Now: time.Duration(binary.BigEndian.Uint64(data)%(1<<40)) * time.Millisecond}
			case recClient:
				if len(data) < 8 {
					continue
				}
				ev = ClientCommand{Cmd: Command{ID: CommandID(binary.BigEndian.Uint64(data)), Payload: data[8:]}}
			}
			r.Step(ev)
			st := r.State()
			if st.CurView < prev.CurView || st.BLock.Height < prev.BLock.Height || st.VHeight < prev.VHeight {
				t.Fatalf("state went backwards: %+v → %+v", prev, st)
			}
			if len(st.Committed) < len(prev.Committed) {
				t.Fatal("commits lost")
			}
			for i := range prev.Committed {
				if st.Committed[i] != prev.Committed[i] {
					t.Fatal("committed prefix changed")
				}
			}
			prev = st
		}
	})
}
