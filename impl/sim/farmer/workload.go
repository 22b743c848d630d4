package farmer

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/fhbft/fhbft/impl/state"
	"github.com/fhbft/fhbft/impl/tx"
)

// Kind is what a submitted transfer is meant to be.
type Kind uint8

const (
	Valid        Kind = iota + 1 // an honest client's transfer
	BadSignature                 // a flipped signature byte: ReasonBadSignature
	Overdraft                    // overdraws once its predecessor is pending: ReasonInsufficientFunds
	NonceGap                     // nonce two above the next: ReasonNonceGap after the park timeout
	Replay                       // nonce below the account's finalised one: ReasonReplay
	Conflict                     // one of two transfers with the same sender and nonce
)

// Kinds lists the kinds in report order.
func Kinds() []Kind { return []Kind{Valid, BadSignature, Overdraft, NonceGap, Replay, Conflict} }

func (k Kind) String() string {
	switch k {
	case Valid:
		return "valid"
	case BadSignature:
		return "bad-signature"
	case Overdraft:
		return "overdraft"
	case NonceGap:
		return "nonce-gap"
	case Replay:
		return "replay"
	case Conflict:
		return "conflict"
	}
	return "kind?"
}

// genesisNonce is every account's finalised nonce at genesis, above 0 so
// that a replay (a lower nonce) exists.
const genesisNonce = 3

// balance of an honest sender; overdraft senders get lowBalance.
const (
	balance    = 1_000_000
	lowBalance = 100
)

// submission is one client send: a distinct transfer (dup false) or a
// duplicate of an earlier one.
type submission struct {
	at     time.Duration
	t      tx.Transfer
	d      tx.Digest
	kind   Kind
	target int  // farmer index
	dup    bool // resubmission of an earlier transfer: no retries
}

// workload is the run's genesis and client schedule, a function of the
// configuration and seed only.
type workload struct {
	genesis []state.Change
	subs    []submission // by time, then by index
	kinds   map[tx.Digest]Kind
	txs     map[tx.Digest]tx.Transfer
	pairs   [][2]tx.Digest // conflict pairs
}

func accountKey(seed uint64, i int) ed25519.PrivateKey {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], seed)
	binary.BigEndian.PutUint64(b[8:], uint64(i))
	s := sha256.Sum256(append([]byte("fhbft farm sim account"), b[:]...))
	return ed25519.NewKeyFromSeed(s[:])
}

func accountOf(k ed25519.PrivateKey) tx.AccountID {
	var a tx.AccountID
	copy(a[:], k[32:])
	return a
}

func makeWorkload(c Config, farmers int, rng *rand.Rand) workload {
	w := workload{kinds: map[tx.Digest]Kind{}, txs: map[tx.Digest]tx.Transfer{}}
	next := 0
	newAccount := func(bal uint64) ed25519.PrivateKey {
		k := accountKey(c.Seed, next)
		next++
		w.genesis = append(w.genesis, state.Change{ID: accountOf(k), Account: tx.Account{Balance: bal, Nonce: genesisNonce}})
		return k
	}
	sink := accountOf(newAccount(0))
	span := time.Duration(max(c.Transfers, 1)) * c.SubmitInterval
	fee := uint64(1)
	add := func(at time.Duration, k ed25519.PrivateKey, kind Kind, amount, nonce uint64, corrupt bool, target int) tx.Transfer {
		t := tx.Transfer{To: sink, Amount: amount, Fee: fee, Nonce: nonce}
		fee = 1
		t.Sign(k)
		if corrupt {
			t.Signature[7] ^= 0x10
		}
		d := t.Digest()
		w.kinds[d], w.txs[d] = kind, t
		w.subs = append(w.subs, submission{at: at, t: t, d: d, kind: kind, target: target})
		return t
	}
	randTime := func() time.Duration { return time.Duration(rng.Int64N(int64(span) + 1)) }
	// Honest clients: a chain each, all to the client's home farmer.
	for i := 0; i < c.Clients; i++ {
		k := newAccount(balance)
		home := rng.IntN(farmers)
		start := time.Duration(i) * c.SubmitInterval / time.Duration(max(c.Clients, 1))
		for j := 0; j < c.Transfers; j++ {
			amount := uint64(1 + rng.IntN(500))
			if c.MaxFee > 1 {
				fee = 1 + rng.Uint64N(c.MaxFee)
			}
			add(start+time.Duration(j)*c.SubmitInterval, k, Valid, amount, genesisNonce+uint64(j), false, home)
		}
	}
	for i := 0; i < c.Invalid.BadSignature; i++ {
		add(randTime(), newAccount(balance), BadSignature, 10, genesisNonce, true, rng.IntN(farmers))
	}
	for i := 0; i < c.Invalid.Overdraft; i++ {
		k, f := newAccount(lowBalance), rng.IntN(farmers)
		at := randTime()
		add(at, k, Valid, 60, genesisNonce, false, f) // 61 of 100: fine
		add(at+c.SubmitInterval, k, Overdraft, 60, genesisNonce+1, false, f)
	}
	for i := 0; i < c.Invalid.NonceGap; i++ {
		add(randTime(), newAccount(balance), NonceGap, 10, genesisNonce+2, false, rng.IntN(farmers))
	}
	for i := 0; i < c.Invalid.Replay; i++ {
		add(randTime(), newAccount(balance), Replay, 10, genesisNonce-1, false, rng.IntN(farmers))
	}
	for i := 0; i < c.Invalid.Conflict; i++ {
		k := newAccount(balance)
		at := randTime()
		f1 := rng.IntN(farmers)
		f2 := (f1 + 1 + rng.IntN(max(farmers-1, 1))) % farmers
		a := add(at, k, Conflict, 10, genesisNonce, false, f1)
		b := add(at, k, Conflict, 20, genesisNonce, false, f2)
		w.pairs = append(w.pairs, [2]tx.Digest{a.Digest(), b.Digest()})
	}
	// Duplicates: an earlier distinct transfer sent again, later, elsewhere.
	distinct := len(w.subs)
	for i := 0; i < c.Invalid.Duplicate && distinct > 0; i++ {
		s := w.subs[rng.IntN(distinct)]
		s.at += c.SubmitInterval + time.Duration(rng.Int64N(int64(span)+1))
		s.target = (s.target + 1 + rng.IntN(max(farmers-1, 1))) % farmers
		s.dup = true
		w.subs = append(w.subs, s)
	}
	slices.SortStableFunc(w.subs, func(a, b submission) int {
		switch {
		case a.at < b.at:
			return -1
		case a.at > b.at:
			return 1
		}
		return 0
	})
	return w
}
