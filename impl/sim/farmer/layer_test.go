package farmer

import (
	"strings"
	"testing"
	"time"

	"github.com/fhbft/fhbft/impl/certification"
	"github.com/fhbft/fhbft/impl/sim/network"
	"github.com/fhbft/fhbft/impl/state"
	"github.com/fhbft/fhbft/impl/tx"
)

// finalizeProbe is a Layer that finalizes the first transfer that applies
// to a reference store, once with the reference root and once (on a second
// transfer) with a corrupted root, to show that Host.Finalize's FIN-7
// check can fail.
type finalizeProbe struct {
	host    *Host
	ref     *state.Store
	good    error
	bad     error
	applied int
}

func (p *finalizeProbe) Attach(h *Host) error {
	p.host = h
	var err error
	p.ref, err = state.NewMem(h.Genesis())
	return err
}

func (p *finalizeProbe) Certified(_ int, t tx.Transfer, _ certification.Certificate, _ time.Duration) {
	if p.applied == 2 {
		return
	}
	head, err := p.ref.Apply([]tx.Transfer{t})
	if err != nil {
		return // certified invalid, or not next for its sender: not this probe's case
	}
	p.applied++
	if p.applied == 1 {
		p.good = p.host.Finalize([]tx.Transfer{t}, head.Root)
		return
	}
	wrong := head.Root
	wrong[0] ^= 1
	p.bad = p.host.Finalize([]tx.Transfer{t}, wrong)
}

func (p *finalizeProbe) Deliver(network.NodeID, network.NodeID, any) {}
func (p *finalizeProbe) Alarm(network.NodeID, any)                   {}
func (p *finalizeProbe) Timer(network.NodeID, int, uint64)           {}
func (p *finalizeProbe) Done() bool                                  { return p.applied == 2 }

// TestFinalizeChecksRoots checks FIN-7's driver side: every farmer's state
// store follows a final block, and a root that differs from the block's is
// reported, never repaired.
func TestFinalizeChecksRoots(t *testing.T) {
	cfg := Small()
	probe := &finalizeProbe{}
	cfg.Layer = probe
	if _, err := Run(cfg); err != nil {
		t.Fatalf("seed %d: %v", cfg.Seed, err)
	}
	if probe.applied != 2 {
		t.Fatalf("seed %d: the probe finalized %d transfers, want 2", cfg.Seed, probe.applied)
	}
	if probe.good != nil {
		t.Errorf("seed %d: finalizing with the right root: %v", cfg.Seed, probe.good)
	}
	if probe.bad == nil || !strings.Contains(probe.bad.Error(), "state root") {
		t.Errorf("seed %d: finalizing with a corrupted root gave %v, want a state-root error from every farmer", cfg.Seed, probe.bad)
	}
}
