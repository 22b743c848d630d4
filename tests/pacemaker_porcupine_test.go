package tests

// Linearizability of the replicated command log (PM-20, PM-23) with
// porcupine: client commands go to every replica (ClientCommand), each
// replica's Commit effects give the order in which it executes them. The
// history has one Append(cmd) → position per command (called when it is
// submitted, returning when the first honest replica executes it, with the
// position there) and one Observe(replica, position) → cmd per execution
// at every honest replica (an instant). The sequential model is an
// append-only log: Append adds the command at the end and returns its
// position; Observe must read the command stored at that position. So the
// history is linearizable iff every command gets one position, all
// replicas agree on positions, and no command is ordered before a command
// that was executed before it was even submitted.

import (
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"

	pm "github.com/fhbft/fhbft/impl/pacemaker"
	"github.com/fhbft/fhbft/impl/pacemaker/timeout"
	pmsim "github.com/fhbft/fhbft/impl/sim/pacemaker"
)

type appendIn struct{ cmd pm.CommandID }

type observeIn struct {
	node int
	pos  int
}

// logState is the model state: the commands in log order (never mutated).
type logState []pm.CommandID

var logModel = porcupine.Model{
	Init: func() interface{} { return logState(nil) },
	Step: func(state, input, output interface{}) (bool, interface{}) {
		st := state.(logState)
		switch in := input.(type) {
		case appendIn:
			if output.(int) != len(st) || slices.Contains(st, in.cmd) {
				return false, st
			}
			return true, append(slices.Clip(st), in.cmd)
		case observeIn:
			return in.pos < len(st) && st[in.pos] == output.(pm.CommandID), st
		}
		return false, st
	},
	Equal: func(a, b interface{}) bool { return slices.Equal(a.(logState), b.(logState)) },
	Hash: func(s interface{}) uint64 {
		h := uint64(14695981039346656037)
		for _, c := range s.(logState) {
			h = (h ^ uint64(c)) * 1099511628211
		}
		return h
	},
	DescribeOperation: func(input, output interface{}) string {
		switch in := input.(type) {
		case appendIn:
			return fmt.Sprintf("append(cmd %d) → pos %d", in.cmd, output)
		case observeIn:
			return fmt.Sprintf("node %d log[%d] = cmd %d", in.node, in.pos, output)
		}
		return "?"
	},
	DescribeState: func(s interface{}) string {
		st := s.(logState)
		if len(st) > 12 {
			return fmt.Sprintf("%d commands, last %v", len(st), []pm.CommandID(st[len(st)-12:]))
		}
		return fmt.Sprint([]pm.CommandID(st))
	},
}

// logHistory builds the porcupine history of a run from its submissions
// and the honest replicas' executions. Timestamps are simulation step
// numbers (distinct per event, ordered as the events happened).
func logHistory(r *pmsim.Report, perNode map[int][]pmsim.Execution) []porcupine.Operation {
	first := map[pm.CommandID]pmsim.Execution{}
	nodes := slices.Sorted(maps.Keys(perNode))
	for _, nid := range nodes {
		for _, e := range perNode[nid] {
			if f, ok := first[e.ID]; !ok || e.Step < f.Step {
				first[e.ID] = e
			}
		}
	}
	var ops []porcupine.Operation
	for _, sub := range r.Submissions {
		f, ok := first[sub.ID]
		if !ok {
			continue // never executed: it constrains nothing
		}
		ops = append(ops, porcupine.Operation{ClientId: 0, Input: appendIn{sub.ID}, Call: int64(sub.Step), Output: f.Pos, Return: int64(f.Step)})
	}
	for i, nid := range nodes {
		for _, e := range perNode[nid] {
			ops = append(ops, porcupine.Operation{ClientId: i + 1, Input: observeIn{nid, e.Pos}, Call: int64(e.Step), Output: e.ID, Return: int64(e.Step)})
		}
	}
	return ops
}

func honestExecutions(r *pmsim.Report) map[int][]pmsim.Execution {
	out := map[int][]pmsim.Execution{}
	for _, nd := range r.Nodes {
		if nd.Honest {
			out[int(nd.NID)] = slices.Clone(nd.Executed)
		}
	}
	return out
}

// checkLog runs porcupine; on an illegal history it writes the HTML
// visualisation to a temporary file and returns its path.
func checkLog(t *testing.T, ops []porcupine.Operation) (porcupine.CheckResult, string) {
	t.Helper()
	res, info := porcupine.CheckOperationsVerbose(logModel, ops, 20*time.Second)
	if res != porcupine.Illegal {
		return res, ""
	}
	f, err := os.CreateTemp("", "fhbft-porcupine-*.html")
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	if err := porcupine.VisualizePath(logModel, info, f.Name()); err != nil {
		t.Fatalf("visualisation: %v", err)
	}
	return res, f.Name()
}

func porcupineRun(t *testing.T, seed uint64) *pmsim.Report {
	t.Helper()
	cfg := pmsim.Config{
		Seed: seed, N: 5, Q: 3,
		Timeout:  timeout.Config{Mode: timeout.Adaptive, Base: 80 * time.Millisecond, Min: 10 * time.Millisecond, Max: time.Second, Window: 8},
		MinDelay: time.Millisecond, MaxDelay: 30 * time.Millisecond, Drop: 0.05, GST: 400 * time.Millisecond, Delta: 10 * time.Millisecond,
		CrashLeaderAt: 700 * time.Millisecond, RecoverAfter: 300 * time.Millisecond,
		CommandInterval: 12 * time.Millisecond, Commands: 80, MaxBatch: 4,
		MaxViews: 80, MaxTime: 20 * time.Second, Wire: true,
	}
	sim, err := pmsim.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	r := sim.Run()
	if !r.Safe() {
		t.Fatalf("seed %d: %v", seed, r.Violations[0])
	}
	return r
}

func TestPorcupineLogLinearizable(t *testing.T) {
	t.Parallel()
	const seed = 1
	r := porcupineRun(t, seed)
	perNode := honestExecutions(r)
	ops := logHistory(r, perNode)
	executed := 0
	for _, ex := range perNode {
		executed = max(executed, len(ex))
	}
	if executed < 40 {
		t.Fatalf("seed %d: only %d commands executed; too small a history to check", seed, executed)
	}
	res, path := checkLog(t, ops)
	t.Logf("seed %d: %d submitted, up to %d executed per replica, %d operations: %s", seed, len(r.Submissions), executed, len(ops), res)
	if res != porcupine.Ok {
		t.Fatalf("seed %d: command log not linearizable (%s); visualisation: %s", seed, res, path)
	}

	// Planted bug: one replica executes two adjacent commands in the other
	// order. The checker must reject the history.
	bad := map[int][]pmsim.Execution{}
	for nid, ex := range perNode {
		bad[nid] = slices.Clone(ex)
	}
	victim := 2
	ex := bad[victim]
	i := len(ex) / 2
	ex[i].ID, ex[i+1].ID = ex[i+1].ID, ex[i].ID
	res, path = checkLog(t, logHistory(r, bad))
	if res != porcupine.Illegal {
		t.Fatalf("a history with commands %d and %d swapped at node %d was accepted (%s)", ex[i+1].ID, ex[i].ID, victim, res)
	}
	t.Logf("planted reorder at node %d positions %d/%d rejected; visualisation: %s", victim, i, i+1, path)
	if !strings.HasSuffix(path, ".html") {
		t.Fatalf("no visualisation written")
	}
	os.Remove(path)

	// Planted bug: one replica executes a command twice (in place of the
	// next one).
	dup := map[int][]pmsim.Execution{}
	for nid, ex := range perNode {
		dup[nid] = slices.Clone(ex)
	}
	ex = dup[victim]
	ex[i+1].ID = ex[i].ID
	if res, path = checkLog(t, logHistory(r, dup)); res != porcupine.Illegal {
		t.Fatalf("a history with command %d executed twice at node %d was accepted (%s)", ex[i].ID, victim, res)
	}
	os.Remove(path)
}
