package tests

import (
	"testing"

	farm "github.com/fhbft/fhbft/impl/farmer"
	"pgregory.net/rapid"
)

// FuzzFarmerStep feeds the farmer's step function hostile event streams
// decoded from the fuzz input: garbage transfers (non-canonical keys,
// maximal amounts), relays and delegations from non-members and from
// itself, verdicts for transfers never asked for, with unknown verdicts or
// reasons, backwards clocks, nil events, notices for other quorums, epochs
// and kinds, and malformed load reports — mixed with well-formed traffic so
// that deep states are reached. Step must never panic, must refuse with a
// typed *farmer.InputError and change nothing, and the checks of
// TestFarmerRoleProperties must hold throughout. spec: FARM-34, VOTE-3
func FuzzFarmerStep(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte("\x00\x01\x00\x02\x00\x03\x00\x00\x00\x00\x00\x05\x00\x0b\x00\x0c"))
	f.Add([]byte("farmer step fuzz seed: transfers, verdicts and ticks...................................."))
	seed := make([]byte, 512)
	for i := range seed {
		seed[i] = byte(i * 37)
	}
	f.Add(seed)
	f.Fuzz(func(t *testing.T, data []byte) {
		c := &byteChooser{b: data}
		h, err := newRoleHarness(c, true, farm.Mutations{})
		if err != nil {
			return // a configuration New refuses (typed): nothing to drive
		}
		for i := 0; i < 400 && !c.done(); i++ {
			if err := h.step(h.event()); err != nil {
				t.Fatal(err)
			}
		}
	})
}

// TestFarmerRoleHostile is the fuzz target's property under rapid.
func TestFarmerRoleHostile(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		h, err := newRoleHarness(rapidChooser{t}, true, farm.Mutations{})
		if err != nil {
			t.Fatal(err)
		}
		if err := h.run(rapid.IntRange(10, 100).Draw(t, "steps")); err != nil {
			t.Fatal(err)
		}
	})
}
