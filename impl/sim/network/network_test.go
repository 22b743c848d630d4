package network

import (
	"fmt"
	"hash/fnv"
	"math"
	"testing"
	"time"
)

const ms = time.Millisecond

func mustNew(t *testing.T, cfg Config, nodes ...NodeID) *Network[string] {
	t.Helper()
	n, err := New[string](cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range nodes {
		if err := n.AddNode(id); err != nil {
			t.Fatal(err)
		}
	}
	return n
}

// pingPong runs a little protocol: every delivery is answered until a hop
// limit, every node keeps a periodic timer. It returns a fingerprint of
// every event.
func pingPong(t *testing.T, cfg Config) (string, Stats) {
	n := mustNew(t, cfg, 1, 2, 3, 4)
	for _, id := range n.Nodes() {
		n.SetTimer(id, 0, 7*ms, uint64(id))
		for _, to := range n.Nodes() {
			if to != id {
				n.Send(id, to, "0")
			}
		}
	}
	h := fnv.New64a()
	for steps := 0; steps < 5000; steps++ {
		ev, ok := n.Next()
		if !ok {
			break
		}
		fmt.Fprintf(h, "%v|%d|%d|%d|%s|%d;", ev.Kind, ev.At, ev.From, ev.To, ev.Msg, ev.Tag)
		switch ev.Kind {
		case Delivery:
			var hop int
			fmt.Sscan(ev.Msg, &hop)
			if hop < 6 {
				n.Send(ev.To, ev.From, fmt.Sprint(hop+1))
			}
		case Timer:
			if n.Now() < 200*ms {
				n.SetTimer(ev.To, 0, 7*ms, ev.Tag)
			}
		}
	}
	return fmt.Sprintf("%x", h.Sum64()), n.Stats()
}

func TestDeterministicBySeed(t *testing.T) {
	cfg := Config{Seed: 42, Default: LinkConfig{MinDelay: 1 * ms, MaxDelay: 9 * ms, Drop: 0.1}}
	a, sa := pingPong(t, cfg)
	b, sb := pingPong(t, cfg)
	if a != b || sa != sb {
		t.Fatalf("seed 42 twice: %s %+v vs %s %+v", a, sa, b, sb)
	}
	cfg.Seed = 43
	c, _ := pingPong(t, cfg)
	if c == a {
		t.Fatalf("seeds 42 and 43 gave the same trace %s", a)
	}
}

func TestEventOrderTimeThenSeq(t *testing.T) {
	n := mustNew(t, Config{Default: LinkConfig{MinDelay: 5 * ms, MaxDelay: 5 * ms}}, 1, 2)
	n.Send(1, 2, "a")
	n.SetTimer(2, 0, 5*ms, 9) // same time, scheduled later
	n.Send(2, 1, "b")         // same time again
	n.Schedule(2*ms, 0, 1)    // earlier
	var got []string
	for {
		ev, ok := n.Next()
		if !ok {
			break
		}
		got = append(got, fmt.Sprintf("%v@%v:%s", ev.Kind, ev.At, ev.Msg))
	}
	want := []string{"alarm@2ms:", "delivery@5ms:a", "timer@5ms:", "delivery@5ms:b"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("order %v, want %v", got, want)
	}
}

func TestDelaysWithinLinkBounds(t *testing.T) {
	n := mustNew(t, Config{Seed: 3, Default: LinkConfig{MinDelay: 2 * ms, MaxDelay: 4 * ms}}, 1, 2, 3)
	if err := n.SetLink(1, 3, LinkConfig{MinDelay: 50 * ms, MaxDelay: 60 * ms}); err != nil {
		t.Fatal(err)
	}
	for range 200 {
		n.Send(1, 2, "fast")
		n.Send(1, 3, "slow")
	}
	seen := map[string][2]time.Duration{}
	for {
		ev, ok := n.Next()
		if !ok {
			break
		}
		d := ev.At - ev.SentAt
		r, ok := seen[ev.Msg]
		if !ok {
			r = [2]time.Duration{d, d}
		}
		seen[ev.Msg] = [2]time.Duration{min(r[0], d), max(r[1], d)}
	}
	if r := seen["fast"]; r[0] < 2*ms || r[1] > 4*ms || r[0] == r[1] {
		t.Fatalf("default link delays %v outside [2ms, 4ms] or constant", r)
	}
	if r := seen["slow"]; r[0] < 50*ms || r[1] > 60*ms {
		t.Fatalf("overridden link delays %v outside [50ms, 60ms]", r)
	}
}

func TestDropProbability(t *testing.T) {
	n := mustNew(t, Config{Seed: 5, Default: LinkConfig{MinDelay: ms, MaxDelay: ms, Drop: 0.3}, GST: Never}, 1, 2)
	const total = 4000
	put := 0
	for range total {
		if n.Send(1, 2, "x") {
			put++
		}
	}
	got := 0
	for {
		if _, ok := n.Next(); !ok {
			break
		}
		got++
	}
	st := n.Stats()
	if got != put || st.DroppedRandom != total-put || st.Delivered != got {
		t.Fatalf("put %d, got %d, stats %+v", put, got, st)
	}
	// Deterministic for seed 5; the band is only a sanity check of the rate.
	if rate := float64(st.DroppedRandom) / total; math.Abs(rate-0.3) > 0.05 {
		t.Fatalf("drop rate %.3f, want about 0.3 (seed 5)", rate)
	}
}

func TestGSTStopsDropsAndBoundsDelays(t *testing.T) {
	const gst = 100 * ms
	n := mustNew(t, Config{Seed: 9, Default: LinkConfig{MinDelay: ms, MaxDelay: 500 * ms, Drop: 0.5}, GST: gst, Delta: 10 * ms}, 1, 2)
	for range 100 {
		n.Send(1, 2, "pre") // at time 0: may be lost; if not, arrives by GST + Delta
	}
	n.Schedule(gst, 0, 1)
	after := 0
	for {
		ev, ok := n.Next()
		if !ok {
			break
		}
		switch {
		case ev.Kind == Alarm:
			for range 100 {
				if !n.Send(1, 2, "post") {
					t.Fatal("a message sent after GST was dropped")
				}
			}
		case ev.Msg == "pre" && ev.At > gst+10*ms:
			t.Fatalf("pre-GST message arrived at %v, after GST + Delta", ev.At)
		case ev.Msg == "post":
			after++
			if d := ev.At - ev.SentAt; d > 10*ms {
				t.Fatalf("post-GST delay %v > Delta", d)
			}
		}
	}
	if after != 100 || n.Stats().DroppedRandom == 0 {
		t.Fatalf("after GST %d/100 delivered; %d dropped before", after, n.Stats().DroppedRandom)
	}
}

func TestPartitionsCutAndHeal(t *testing.T) {
	n := mustNew(t, Config{Seed: 1, Default: LinkConfig{MinDelay: 10 * ms, MaxDelay: 10 * ms}, GST: Never}, 1, 2, 3)
	n.Send(1, 3, "in flight when cut") // arrives at 10ms
	if err := n.SchedulePartition(5*ms, [][]NodeID{{1, 2}}); err != nil {
		t.Fatal(err)
	}
	n.ScheduleHeal(50 * ms)
	n.Schedule(20*ms, 0, 1)
	n.Schedule(60*ms, 0, 2)
	var got []string
	for {
		ev, ok := n.Next()
		if !ok {
			break
		}
		switch ev.Kind {
		case Alarm:
			n.Send(1, 2, fmt.Sprint("same group ", ev.Tag))
			n.Send(1, 3, fmt.Sprint("to 3 ", ev.Tag))
			if ev.Tag == 1 && n.Connected(1, 3) {
				t.Fatal("3 is isolated but Connected(1, 3)")
			}
		case Delivery:
			got = append(got, ev.Msg)
		}
	}
	want := []string{"same group 1", "same group 2", "to 3 2"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("delivered %q, want %q", got, want)
	}
	if st := n.Stats(); st.DroppedPartition != 2 {
		t.Fatalf("dropped by partition %d, want 2 (one in flight, one at send)", st.DroppedPartition)
	}
	if err := n.SetPartition([][]NodeID{{1}, {1, 2}}); err == nil {
		t.Fatal("overlapping groups accepted")
	}
}

func TestPartitionIgnoredAfterGST(t *testing.T) {
	n := mustNew(t, Config{Default: LinkConfig{MinDelay: ms, MaxDelay: ms}, GST: 10 * ms}, 1, 2)
	if err := n.SetPartition([][]NodeID{{1}, {2}}); err != nil {
		t.Fatal(err)
	}
	if n.Send(1, 2, "before") {
		t.Fatal("sent across a partition before GST")
	}
	n.Schedule(10*ms, 0, 0)
	n.Next()
	if !n.Send(1, 2, "after") {
		t.Fatal("partition still cuts after GST")
	}
}

func TestCrashRecoverHoldsTimers(t *testing.T) {
	n := mustNew(t, Config{Default: LinkConfig{MinDelay: ms, MaxDelay: ms}}, 1, 2)
	n.SetTimer(2, 0, 5*ms, 77)
	n.SetTimer(2, 1, 3*ms, 1)
	n.SetTimer(2, 1, 4*ms, 2) // replaces the key-1 timer
	n.ScheduleCrash(2*ms, 2)
	n.ScheduleRecover(20*ms, 2)
	n.Schedule(10*ms, 0, 0)
	var got []string
	for {
		ev, ok := n.Next()
		if !ok {
			break
		}
		got = append(got, fmt.Sprintf("%v@%v/%d", ev.Kind, ev.At, ev.Tag))
		if ev.Kind == Alarm {
			n.Send(1, 2, "to a crashed node")
			if n.Send(2, 1, "from a crashed node") {
				t.Fatal("a crashed node sent")
			}
		}
	}
	want := []string{"crash@2ms/0", "alarm@10ms/0", "recover@20ms/0", "timer@20ms/2", "timer@20ms/77"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("events %v, want %v", got, want)
	}
	if st := n.Stats(); st.DroppedCrashed != 2 || st.TimersHeld != 2 || st.Crashes != 1 || st.Recov != 1 {
		t.Fatalf("stats %+v", st)
	}
}

func TestCancelTimerAndAlarmsOfCrashedNodes(t *testing.T) {
	n := mustNew(t, Config{}, 1)
	n.SetTimer(1, 0, ms, 1)
	n.CancelTimer(1, 0)
	n.Schedule(2*ms, 1, 5)
	n.CrashNow(1)
	if ev, ok := n.Next(); ok {
		t.Fatalf("got %+v; cancelled timers and alarms of crashed nodes must not fire", ev)
	}
}

func TestConfigValidation(t *testing.T) {
	for _, c := range []Config{
		{Default: LinkConfig{MinDelay: 2 * ms, MaxDelay: ms}},
		{Default: LinkConfig{MinDelay: -1}},
		{Default: LinkConfig{Drop: 1.5}},
		{Default: LinkConfig{Drop: math.NaN()}},
		{GST: -1},
	} {
		if _, err := New[int](c); err == nil {
			t.Errorf("config %+v accepted", c)
		}
	}
	n := mustNew(t, Config{}, 1)
	if n.AddNode(1) == nil || n.AddNode(0) == nil {
		t.Fatal("duplicate node or node 0 accepted")
	}
	if n.SetLink(1, 1, LinkConfig{Drop: -1}) == nil {
		t.Fatal("bad link config accepted")
	}
	if n.Send(1, 9, "unknown") {
		t.Fatal("sent to an unknown node")
	}
}
