package tx

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
)

// key returns a deterministic test key; i selects it.
func key(i uint64) ed25519.PrivateKey {
	var seed [8]byte
	binary.BigEndian.PutUint64(seed[:], i)
	s := sha256.Sum256(append([]byte("fhbft tx test key"), seed[:]...))
	return ed25519.NewKeyFromSeed(s[:])
}

func pub(k ed25519.PrivateKey) AccountID {
	var id AccountID
	copy(id[:], k[32:])
	return id
}

// views is a map-backed AccountView and PendingView for tests.
type views struct {
	accounts map[AccountID]Account
	pending  map[AccountID]Pending
	seen     map[Digest]bool
}

func newViews() *views {
	return &views{accounts: map[AccountID]Account{}, pending: map[AccountID]Pending{}, seen: map[Digest]bool{}}
}

func (v *views) Account(id AccountID) Account { return v.accounts[id] }
func (v *views) Pending(id AccountID) Pending { return v.pending[id] }
func (v *views) Seen(d Digest) bool           { return v.seen[d] }

// fixedViews answers every query with the same values: the shape a fuzzer
// or a hostile store produces.
type fixedViews struct {
	acct Account
	pend Pending
	seen bool
}

func (f fixedViews) Account(AccountID) Account { return f.acct }
func (f fixedViews) Pending(AccountID) Pending { return f.pend }
func (f fixedViews) Seen(Digest) bool          { return f.seen }

// signed returns a transfer from key(from) to key(to), signed.
func signed(from, to uint64, amount, fee, nonce uint64) Transfer {
	t := Transfer{To: pub(key(to)), Amount: amount, Fee: fee, Nonce: nonce}
	t.Sign(key(from))
	return t
}

func encode(t *Transfer) []byte {
	b, _ := t.MarshalBinary()
	return b
}
