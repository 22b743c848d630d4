package scheduler

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"testing"
)

const benchQueued = 1000

func id64(i int) Digest {
	var d Digest
	binary.LittleEndian.PutUint64(d[:], uint64(i))
	d[31] = 0xbb
	return d
}

// benchPeerLoad spreads the peers' backpressure around this node's so
// that LN_self sits near θ and both outcomes of D3 occur: peer i holds
// 1000 tasks of cost 30..300, P from 7.56 to 9.56; this node holds 1000
// of cost 100, P = 8.60.
func benchPeerLoad(i, peers int) Stats {
	c := uint64(30 + 270*i/max(1, peers-1))
	return Stats{Local: QueueStat{benchQueued, benchQueued * c}}
}

func benchScheduler(b *testing.B, peers int, m Mutations) *Scheduler {
	ps := make([]NodeID, peers)
	for i := range ps {
		ps[i] = NodeID(i + 2)
	}
	s := mustNew(b, Config{Self: 1, Map: QuorumMap{Epoch: 1, Quorum: 1, Quorums: []QuorumID{1, 2}, Peers: ps},
		MaxQueued: 4 * benchQueued, Mutations: m})
	for i := range benchQueued {
		mustStep(b, s, TaskArrived{Task{ID: id64(1<<40 + i), Signer: acct(i), Cost: 100}})
	}
	for i, p := range ps {
		mustStep(b, s, PeerLoad{Peer: p, Epoch: 1, Seq: 1, Load: benchPeerLoad(i, peers)})
	}
	return s
}

// BenchmarkDecide measures one placement per op with 1000 tasks queued:
// TaskArrived (the decision tree, backpressure of this node and of every
// fresh peer, normalisation), then the event that retires the task so the
// queue stays at 1000, and every 8th op one peer's new report. Baselines in
// the same run: "always-local" is the same scheduler with the decision
// replaced by "local" (identical bookkeeping); "random" picks this node or
// a peer uniformly with a PRNG over a plain map.
func BenchmarkDecide(b *testing.B) {
	for _, peers := range []int{10, 50} {
		for _, policy := range []string{"backpressure", "always-local"} {
			b.Run(fmt.Sprintf("policy=%s/peers=%d", policy, peers), func(b *testing.B) {
				s := benchScheduler(b, peers, Mutations{IgnoreBackpressure: policy == "always-local"})
				seq := uint64(1)
				delegated := 0
				b.ReportAllocs()
				b.ResetTimer()
				for i := 0; b.Loop(); i++ {
					tk := Task{ID: id64(i), Signer: acct(i % 64), Cost: 100}
					effs, err := s.Step(TaskArrived{tk})
					if err != nil {
						b.Fatal(err)
					}
					var retire Event = TaskCompleted{tk.ID}
					if effs[0].Kind == EffectDelegate {
						retire = HandoffAcked{tk.ID}
						delegated++
					}
					if _, err := s.Step(retire); err != nil {
						b.Fatal(err)
					}
					if i%8 == 0 {
						p := (i / 8) % peers
						if p == 0 {
							seq++
						}
						if _, err := s.Step(PeerLoad{Peer: NodeID(p + 2), Epoch: 1, Seq: seq, Load: benchPeerLoad(p, peers)}); err != nil {
							b.Fatal(err)
						}
					}
				}
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "decisions/s")
				b.ReportMetric(100*float64(delegated)/float64(b.N), "%delegated")
			})
		}
		b.Run(fmt.Sprintf("policy=random/peers=%d", peers), func(b *testing.B) {
			type held struct {
				place Place
				cost  uint32
			}
			tasks := make(map[Digest]held, 2*benchQueued)
			var stats Stats
			for i := range benchQueued {
				tasks[id64(1<<40+i)] = held{PlaceLocal, 100}
				addStat(&stats.Local, 100)
			}
			r := rand.New(rand.NewPCG(1, 2))
			delegated := 0
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				tk := Task{ID: id64(i), Signer: acct(i % 64), Cost: 100}
				pl, q := PlaceLocal, &stats.Local
				if r.IntN(peers+1) > 0 {
					pl, q = PlaceRemote, &stats.Remote
					delegated++
				}
				tasks[tk.ID] = held{pl, tk.Cost}
				addStat(q, tk.Cost)
				h := tasks[tk.ID]
				delete(tasks, tk.ID)
				q.Count--
				q.Total -= uint64(h.cost)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "decisions/s")
			b.ReportMetric(100*float64(delegated)/float64(b.N), "%delegated")
		})
	}
}

// BenchmarkShedTo is the decision alone (SCHED-8 D3 with L over this node
// and every fresh peer), without bookkeeping.
func BenchmarkShedTo(b *testing.B) {
	for _, peers := range []int{10, 50} {
		b.Run(fmt.Sprintf("peers=%d", peers), func(b *testing.B) {
			s := benchScheduler(b, peers, Mutations{})
			n := 0
			for i := 0; b.Loop(); i++ {
				if _, ok := s.shedTo(acct(i % 64)); ok {
					n++
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "decisions/s")
		})
	}
}
