package maglev

import (
	"encoding/binary"
	"errors"
	"slices"
	"testing"
)

// FuzzNewLookup feeds New arbitrary quorum lists and table sizes and Lookup
// arbitrary signers: New either refuses with a *ConfigError wrapping one of
// the sentinels, or returns a table whose every lookup is a member and
// whose shares are exact. Nothing may panic. spec: ENTRY-1..ENTRY-4
func FuzzNewLookup(f *testing.F) {
	f.Add([]byte{0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3}, DefaultTableSize, []byte("signer"))
	f.Add([]byte{}, DefaultTableSize, []byte{})
	f.Add([]byte{0, 0, 0, 7, 0, 0, 0, 7}, uint64(1009), []byte{1})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff}, uint64(101), make([]byte, 40))
	f.Add([]byte{1, 2, 3}, uint64(0), []byte{})
	f.Add([]byte{0, 0, 0, 1}, MaxTableSize+1, []byte{})
	f.Add([]byte{0, 0, 0, 1}, uint64(1<<63), []byte{})
	f.Fuzz(func(t *testing.T, raw []byte, size uint64, signerBytes []byte) {
		qs := make([]QuorumID, 0, len(raw)/4)
		for i := 0; i+4 <= len(raw); i += 4 {
			qs = append(qs, QuorumID(binary.BigEndian.Uint32(raw[i:])))
		}
		// Keep each execution fast: sizes New would accept are folded
		// below 2^18; larger ones still reach New's range checks.
		if size > 1<<18 && size <= MaxTableSize {
			size %= 1 << 18
		}
		tab, err := New(qs, size)
		if err != nil {
			var ce *ConfigError
			if tab != nil || !errors.As(err, &ce) {
				t.Fatalf("New(%v, %d): table %v, error %v (%T)", qs, size, tab, err, err)
			}
			known := false
			for _, s := range []error{ErrNoQuorums, ErrDuplicateQuorum, ErrTableNotPrime, ErrTableTooSmall, ErrTableTooLarge, ErrTooManyQuorums} {
				known = known || errors.Is(err, s)
			}
			if !known || ce.Error() == "" {
				t.Fatalf("New(%v, %d): unclassified error %v", qs, size, err)
			}
			return
		}
		var signer [32]byte
		copy(signer[:], signerBytes)
		if q := tab.Lookup(signer); !slices.Contains(qs, q) {
			t.Fatalf("Lookup returned non-member %d of %v", q, qs)
		}
		k := uint64(len(qs))
		var total uint64
		for _, s := range tab.Shares() {
			if s.Entries != size/k && s.Entries != (size+k-1)/k {
				t.Fatalf("quorum %d owns %d of %d entries, K=%d", s.Quorum, s.Entries, size, k)
			}
			total += s.Entries
		}
		if total != size {
			t.Fatalf("shares sum to %d, want %d", total, size)
		}
	})
}
