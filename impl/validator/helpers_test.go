package validator

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"

	"github.com/fhbft/fhbft/impl/mempool"
	"github.com/fhbft/fhbft/impl/state"
	"github.com/fhbft/fhbft/impl/tx"
)

// key returns a deterministic test key.
func key(i uint64) ed25519.PrivateKey {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], i)
	s := sha256.Sum256(append([]byte("fhbft validator test key"), b[:]...))
	return ed25519.NewKeyFromSeed(s[:])
}

var keys = func() []ed25519.PrivateKey {
	k := make([]ed25519.PrivateKey, 4096)
	for i := range k {
		k[i] = key(uint64(i))
	}
	return k
}()

func account(i int) tx.AccountID {
	var id tx.AccountID
	copy(id[:], keys[i][32:])
	return id
}

// transfer signs a transfer from account i to account j.
func transfer(i, j int, amount, fee, nonce uint64) *tx.Transfer {
	t := &tx.Transfer{To: account(j), Amount: amount, Fee: fee, Nonce: nonce}
	t.Sign(keys[i])
	return t
}

// stores builds a state store whose accounts 0..n-1 hold balance and
// nonce, and an empty mempool.
func stores(t interface{ Fatal(...any) }, n int, balance, nonce uint64) Stores {
	g := make([]state.Change, n)
	for i := range g {
		g[i] = state.Change{ID: account(i), Account: tx.Account{Balance: balance, Nonce: nonce}}
	}
	st, err := state.NewMem(g)
	if err != nil {
		t.Fatal(err)
	}
	mp, err := mempool.New(mempool.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	return Stores{State: st, Mempool: mp}
}

// oracle is the sequential reference: one transfer at a time, in the order
// of Unit's levels, against map views (spec: FARM-22).
type oracle struct {
	accounts map[tx.AccountID]tx.Account
	pending  map[tx.AccountID]tx.Pending
	seen     map[tx.Digest]bool
}

func (o *oracle) Account(id tx.AccountID) tx.Account { return o.accounts[id] }
func (o *oracle) Pending(id tx.AccountID) tx.Pending { return o.pending[id] }
func (o *oracle) Seen(d tx.Digest) bool              { return o.seen[d] }

func (o *oracle) admit(t *tx.Transfer) {
	p := o.pending[t.From]
	p.Count++
	p.Debits += t.Amount + t.Fee
	o.pending[t.From] = p
	o.seen[t.Digest()] = true
}
