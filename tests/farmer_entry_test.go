package tests

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/fhbft/fhbft/impl/certification"
	farm "github.com/fhbft/fhbft/impl/farmer"
	"github.com/fhbft/fhbft/impl/maglev"
	"github.com/fhbft/fhbft/impl/tx"
	"pgregory.net/rapid"
)

// entryAgreement gives one farmer per quorum its own entry table, built
// from the quorum list in its own order, submits each signer's transfer to
// every farmer and checks that the farmer of the entry quorum keeps and
// relays it and every other farmer forwards it to that same quorum.
func entryAgreement(qs []certification.QuorumID, rng *rand.Rand, signers []int, muts farm.Mutations) error {
	f := frFix()
	size, err := maglev.SizeFor(len(qs))
	if err != nil {
		return err
	}
	roles := make([]*farm.Role, len(qs))
	var digest [32]byte
	for i, q := range qs {
		perm := slices.Clone(qs)
		rng.Shuffle(len(perm), func(a, b int) { perm[a], perm[b] = perm[b], perm[a] })
		table, err := maglev.New(perm, size)
		if err != nil {
			return err
		}
		if i == 0 {
			digest = table.Digest()
		} else if table.Digest() != digest {
			return fmt.Errorf("ENTRY-3: the farmer of quorum %d built another table", q)
		}
		roster := f.roster
		roster.Quorum = q
		if roles[i], err = farm.New(farm.Config{Self: 1, Roster: roster, Share: f.shares[0], Entry: table, Mutations: muts}); err != nil {
			return err
		}
	}
	for k, s := range signers {
		tr := tx.Transfer{To: f.to, Amount: 1, Fee: 1, Nonce: uint64(k)}
		tr.Sign(frKey(s))
		var entry, forwardedTo []certification.QuorumID
		for i, r := range roles {
			effs, err := r.Step(farm.TransferReceived{Tx: tr, From: farm.Source{Kind: farm.FromClient}})
			if err != nil && !errors.Is(err, farm.ErrDuplicate) {
				return err
			}
			for _, e := range effs {
				switch e.Kind {
				case farm.EffectRelay:
					entry = append(entry, qs[i])
				case farm.EffectForward:
					forwardedTo = append(forwardedTo, e.Quorum)
				}
			}
		}
		if len(entry) != 1 {
			return fmt.Errorf("ENTRY-1: %d farmers took the transfer as their quorum's: %v", len(entry), entry)
		}
		for _, q := range forwardedTo {
			if q != entry[0] {
				return fmt.Errorf("ENTRY-1: forwarded to %d, the entry quorum is %d", q, entry[0])
			}
		}
		if len(forwardedTo) != len(qs)-1 {
			return fmt.Errorf("%d forwards from %d other quorums", len(forwardedTo), len(qs)-1)
		}
	}
	return nil
}

// TestEntryQuorumAgreesAcrossFarmers: Maglev determinism across nodes at
// the farmer role — every farmer computes the same entry quorum for every
// signer (ENTRY-1, ENTRY-3, FARM-24).
func TestEntryQuorumAgreesAcrossFarmers(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		ids := rapid.SliceOfNDistinct(rapid.Uint32Range(0, 1<<20), 1, 8, rapid.ID[uint32]).Draw(t, "quorums")
		qs := make([]certification.QuorumID, len(ids))
		for i, id := range ids {
			qs[i] = certification.QuorumID(id)
		}
		signers := rapid.SliceOfN(rapid.IntRange(0, 1<<30), 1, 4).Draw(t, "signers")
		if err := entryAgreement(qs, rand.New(rand.NewPCG(rapid.Uint64().Draw(t, "perm"), 1)), signers, farm.Mutations{}); err != nil {
			t.Fatal(err)
		}
	})
}

// TestEntryCheckCatchesLookupByDigest: with the entry quorum keyed on the
// transfer's digest (the BRIEF §7 mistake, planted), one sender's transfers
// enter at several quorums, so none can order them by nonce; keyed on the
// signer, all sixteen enter at one. The check tells the two apart.
func TestEntryCheckCatchesLookupByDigest(t *testing.T) {
	qs := []certification.QuorumID{1, 2, 3, 4}
	entryOf := func(muts farm.Mutations) (map[certification.QuorumID]bool, error) {
		f := frFix()
		size, _ := maglev.SizeFor(len(qs))
		table, err := maglev.New(qs, size)
		if err != nil {
			return nil, err
		}
		got := map[certification.QuorumID]bool{}
		for _, q := range qs {
			roster := f.roster
			roster.Quorum = q
			r, err := farm.New(farm.Config{Self: 1, Roster: roster, Share: f.shares[0], Entry: table, Mutations: muts})
			if err != nil {
				return nil, err
			}
			for n := uint64(0); n < 16; n++ {
				tr := tx.Transfer{To: f.to, Amount: 1, Fee: 1, Nonce: n}
				tr.Sign(frKey(7))
				effs, err := r.Step(farm.TransferReceived{Tx: tr, From: farm.Source{Kind: farm.FromClient}})
				if err != nil {
					return nil, err
				}
				for _, e := range effs {
					if e.Kind == farm.EffectRelay {
						got[q] = true
					}
				}
			}
		}
		return got, nil
	}
	good, err := entryOf(farm.Mutations{})
	if err != nil {
		t.Fatal(err)
	}
	if len(good) != 1 {
		t.Fatalf("one sender entered at %d quorums", len(good))
	}
	bad, err := entryOf(farm.Mutations{EntryByDigest: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(bad) < 2 {
		t.Fatalf("planted bug not caught: the sender's 16 transfers entered at %d quorum(s)", len(bad))
	}
}
