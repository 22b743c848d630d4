package farmer

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"math/rand/v2"
	"testing"

	"github.com/fhbft/fhbft/impl/certification"
	"github.com/fhbft/fhbft/impl/crypto/threshold"
	"github.com/fhbft/fhbft/impl/maglev"
	"github.com/fhbft/fhbft/impl/tx"
	"github.com/fhbft/fhbft/impl/validator"
)

const (
	testN      = 5
	ourQuorum  = QuorumID(1)
	farQuorum  = QuorumID(2)
	testEpoch  = certification.Epoch(3)
	testMaxKey = 4096
)

var (
	testTable = func() *maglev.Table {
		t, err := maglev.New([]QuorumID{ourQuorum, farQuorum}, maglev.DefaultTableSize)
		if err != nil {
			panic(err)
		}
		return t
	}()
	testKey, testShares = func() (threshold.GroupKey, []threshold.SecretShare) {
		gk, sh, err := threshold.TrustedDealerForTesting(testN, certification.DefaultThreshold(testN), rand.NewChaCha8([32]byte{'f', 'a', 'r', 'm'}))
		if err != nil {
			panic(err)
		}
		return gk, sh
	}()
	testRoster = certification.Roster{Quorum: ourQuorum, Epoch: testEpoch, Key: testKey}
)

func key(i int) ed25519.PrivateKey {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(i))
	s := sha256.Sum256(append([]byte("fhbft farmer test key"), b[:]...))
	return ed25519.NewKeyFromSeed(s[:])
}

func id(k ed25519.PrivateKey) tx.AccountID {
	var a tx.AccountID
	copy(a[:], k[32:])
	return a
}

// keyIn returns the k-th test key whose account enters at quorum q.
func keyIn(q QuorumID, k int) ed25519.PrivateKey {
	for i := 0; i < testMaxKey; i++ {
		kk := key(i)
		if testTable.Lookup(id(kk)) == q {
			if k == 0 {
				return kk
			}
			k--
		}
	}
	panic("no key")
}

func transfer(from ed25519.PrivateKey, nonce, amount uint64) tx.Transfer {
	t := tx.Transfer{To: id(key(9999)), Amount: amount, Fee: 1, Nonce: nonce}
	t.Sign(from)
	return t
}

func newRole(t testing.TB, self Member, mut func(*Config)) *Role {
	t.Helper()
	cfg := Config{Self: self, Roster: testRoster, Share: testShares[self-1], Entry: testTable}
	if mut != nil {
		mut(&cfg)
	}
	r, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func step(t testing.TB, r *Role, ev Event) []Effect {
	t.Helper()
	effs, err := r.Step(ev)
	if err != nil {
		t.Fatalf("%T: %v", ev, err)
	}
	return effs
}

func kinds(effs []Effect) []EffectKind {
	var k []EffectKind
	for _, e := range effs {
		k = append(k, e.Kind)
	}
	return k
}

func only(effs []Effect, k EffectKind) []Effect {
	var out []Effect
	for _, e := range effs {
		if e.Kind == k {
			out = append(out, e)
		}
	}
	return out
}

// memberAt returns the member at 0-based rank p for a transfer.
func memberAt(tr tx.Transfer, p int) Member {
	return Order(ourQuorum, testEpoch, tr.Digest(), testN)[p]
}

func verdict(tr tx.Transfer, accept bool, reason tx.Reason) Validated {
	v := validator.Verdict{Digest: tr.Digest(), Verdict: certification.Accept}
	if !accept {
		v.Verdict, v.Reason = certification.Reject, reason
	}
	return Validated{Verdict: v}
}

func client(tr tx.Transfer) TransferReceived {
	return TransferReceived{Tx: tr, From: Source{Kind: FromClient}}
}
