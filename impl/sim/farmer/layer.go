package farmer

import (
	"errors"
	"fmt"
	"time"

	"github.com/fhbft/fhbft/impl/certification"
	"github.com/fhbft/fhbft/impl/sim/network"
	"github.com/fhbft/fhbft/impl/state"
	"github.com/fhbft/fhbft/impl/tx"
)

// Layer is a protocol that runs above transaction certification on the
// same deterministic network as the farmers (impl/sim/ledger: proposal
// blocks, miners, convergence, the pacemaker). It is an extension point
// only: without a Layer (Config.Layer nil) the farmer simulation behaves
// exactly as before.
//
// Every method is called from the one simulation loop, never concurrently.
type Layer interface {
	// Attach is called once, after the farmers, harvesters and the client
	// node exist and before the first event: the layer adds its own nodes
	// and schedules its first events through host.
	Attach(host *Host) error
	// Certified is called when harvester h (0-based, network node
	// Host.HarvesterNode(h)) forms a transaction certificate, of either
	// verdict, for t at simulated time at.
	Certified(h int, t tx.Transfer, c certification.Certificate, at time.Duration)
	// Deliver is called when a message sent with Host.Send arrives.
	Deliver(from, to network.NodeID, payload any)
	// Alarm is called when an alarm set with Host.Schedule fires.
	Alarm(to network.NodeID, payload any)
	// Timer is called when a timer set with Host.SetTimer fires.
	Timer(to network.NodeID, key int, tag uint64)
	// Done reports that the layer has finished. From then on its messages,
	// alarms and timers are discarded, so that the run ends when the
	// farmers quiesce, as it does without a layer.
	Done() bool
}

// Host is what a Layer may do in the farmer simulation.
type Host struct{ s *sim }

// Now is the simulated time.
func (h *Host) Now() time.Duration { return h.s.net.Now() }

// Config is the farmer simulation's configuration (defaults filled in).
func (h *Host) Config() Config { return h.s.cfg }

// HarvesterNode is harvester h's network node (0-based h): the node whose
// collectors form transaction certificates, and the node a layer should
// run its harvester role on.
func (h *Host) HarvesterNode(i int) network.NodeID { return h.s.harvesterID(i) }

// ClientNode is the node clients submit from.
func (h *Host) ClientNode() network.NodeID { return h.s.clientNode }

// AddNode adds a node of the layer's own (a miner, say) and returns its ID.
func (h *Host) AddNode() (network.NodeID, error) {
	nodes := h.s.net.Nodes()
	id := nodes[len(nodes)-1] + 1
	return id, h.s.net.AddNode(id)
}

// Send sends a layer message over the network; Layer.Deliver receives it.
func (h *Host) Send(from, to network.NodeID, payload any) bool {
	return h.s.net.Send(from, to, message{kind: mLayer, payload: payload})
}

// Schedule makes Layer.Alarm(to, payload) happen at time at (to 0: the
// driver itself; other nodes only while up).
func (h *Host) Schedule(at time.Duration, to network.NodeID, payload any) {
	h.s.schedule(at, to, alarm{kind: aLayer, payload: payload})
}

// SetTimer makes Layer.Timer(id, key, tag) happen after d, replacing id's
// previous timer with that key (network.Network.SetTimer).
func (h *Host) SetTimer(id network.NodeID, key int, d time.Duration, tag uint64) {
	h.s.net.SetTimer(id, key, d, tag)
}

// Submission is one client send of the workload.
type Submission struct {
	At     time.Duration
	Tx     tx.Transfer
	Digest tx.Digest
	Kind   Kind
	Dup    bool // a resubmission of an earlier transfer
}

// Workload lists the client sends in time order. It is a function of the
// configuration and the seed.
func (h *Host) Workload() []Submission {
	out := make([]Submission, len(h.s.work.subs))
	for i, sub := range h.s.work.subs {
		out[i] = Submission{At: sub.at, Tx: sub.t, Digest: sub.d, Kind: sub.kind, Dup: sub.dup}
	}
	return out
}

// ConflictPairs lists the pairs of conflicting transfers (Mix.Conflict).
func (h *Host) ConflictPairs() [][2]tx.Digest { return append([][2]tx.Digest(nil), h.s.work.pairs...) }

// Genesis is the genesis state of every store.
func (h *Host) Genesis() []state.Change { return append([]state.Change(nil), h.s.work.genesis...) }

// FirstSubmitted is when the client first sent transfer d.
func (h *Host) FirstSubmitted(d tx.Digest) (time.Duration, bool) {
	t, ok := h.s.firstSub[d]
	return t, ok
}

// Reason is the reason honest farmers gave for refusing d (the most
// frequent one; 0 if none did).
func (h *Host) Reason(d tx.Digest) tx.Reason { return h.s.honestReason(d) }

// Finalize applies a final block's transfers, in order, to every farmer's
// state store and then marks them finalized in its mempool (state first,
// then the mempool, each published; spec FIN-7). Byzantine farmers follow
// too: their misbehaviour in this simulation is in their votes, not in the
// state they read. It returns an error if a store refuses the batch or its
// root differs from want (FIN-2: never repaired silently).
func (h *Host) Finalize(applied []tx.Transfer, want state.Hash) error {
	var errs []error
	for _, f := range h.s.farmers {
		head, err := f.stores.State.Apply(applied)
		if err != nil {
			errs = append(errs, fmt.Errorf("farmer %d/%d: state store refused a final block: %w", f.quorum+1, f.member, err))
			continue
		}
		if head.Root != want {
			errs = append(errs, fmt.Errorf("farmer %d/%d: state root %x after a final block, the block says %x", f.quorum+1, f.member, head.Root[:8], want[:8]))
		}
		f.stores.State.Publish()
		for i := range applied {
			if _, err := f.stores.Mempool.MarkFinalized(&applied[i]); err != nil {
				errs = append(errs, fmt.Errorf("farmer %d/%d: mempool refused a finalized transfer: %w", f.quorum+1, f.member, err))
			}
		}
		f.stores.Mempool.Publish()
	}
	return errors.Join(errs...)
}

// Rosters are the farmer quorums' rosters (quorum k+1 at index k), what a
// transaction certificate is checked against (CERT-10).
func (h *Host) Rosters() []certification.Roster {
	return append([]certification.Roster(nil), h.s.rosters...)
}

// Entry is the entry quorum of a signer (ENTRY-1), from the simulation's
// entry table.
func (h *Host) Entry(id tx.AccountID) certification.QuorumID { return h.s.table.Lookup(id) }

// Unresolved counts the distinct transfers still waiting for a first
// certificate or for the client to give up on them.
func (h *Host) Unresolved() int { return len(h.s.open) }
