package state

import (
	"bytes"
	"testing"

	"github.com/fhbft/fhbft/impl/tx"
)

// fuzzTree is a fixed state for the verifier fuzz target.
func fuzzTree() (Tree, map[tx.AccountID]tx.Account) {
	m := map[tx.AccountID]tx.Account{}
	var cs []Change
	for i := range 40 {
		a := tx.Account{Balance: uint64(i) + 1, Nonce: uint64(i % 3)}
		m[user(i)] = a
		cs = append(cs, Change{user(i), a})
	}
	return NewTree(cs), m
}

// FuzzVerify feeds garbage to DecodeProof and Verify (FARM-10): neither may
// panic; every decoded proof re-encodes to its input; and any proof that
// verifies against the real root must state the truth about its account
// (soundness: garbage can fail, never lie). Seeds are real proofs.
//
//	go test -run '^$' -fuzz FuzzVerify ./impl/state
func FuzzVerify(f *testing.F) {
	tr, m := fuzzTree()
	root := tr.Root()
	for i := range 44 { // 40 present, 4 absent
		b, err := tr.Prove(user(i)).MarshalBinary()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte{})
	f.Add(make([]byte, MaxProofSize))
	f.Fuzz(func(t *testing.T, in []byte) {
		p, err := DecodeProof(in)
		if err != nil {
			if p != nil {
				t.Fatal("error with a proof")
			}
			return
		}
		out, err := p.MarshalBinary()
		if err != nil || !bytes.Equal(out, in) {
			t.Fatalf("re-encoding differs (%v)", err)
		}
		acct, ok, err := Verify(root, p)
		if err != nil {
			return
		}
		want, wantOK := m[p.ID]
		if acct != want || ok != wantOK {
			t.Fatalf("accepted a false proof for %x: %v,%v, truth %v,%v", p.ID[:4], acct, ok, want, wantOK)
		}
		// Against any other root the same proof verifies only if the fold
		// happens to give that root; it must not panic either way.
		_, _, _ = Verify(Hash{in[0]}, p)
	})
}
