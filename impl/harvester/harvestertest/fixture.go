// Package harvestertest builds deterministic keys, rosters, accounts and
// certificates for tests of impl/harvester and impl/miner (and of drivers
// that wire them): a harvester quorum, one farmer quorum that certifies
// every transfer, and funded Ed25519 accounts. Test support only: keys come
// from the trusted dealer (CERT-18).
package harvestertest

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"math/rand/v2"

	"github.com/fhbft/fhbft/impl/certification"
	"github.com/fhbft/fhbft/impl/crypto/threshold"
	"github.com/fhbft/fhbft/impl/dag"
	"github.com/fhbft/fhbft/impl/state"
	"github.com/fhbft/fhbft/impl/tx"
)

// Quorum IDs and the epoch of the fixture.
const (
	HarvesterQuorum certification.QuorumID = 1
	FarmerQuorum    certification.QuorumID = 10
	Epoch           certification.Epoch    = 1
	Balance                                = 1000 // every account's genesis balance
)

// Fixture is one deterministic world.
type Fixture struct {
	Harvesters   certification.Roster
	Shares       []threshold.SecretShare // Shares[i] is member i+1's
	Farmers      certification.Roster
	FarmerShares []threshold.SecretShare
	Verifier     dag.RosterVerifier
	Keys         []ed25519.PrivateKey
	Genesis      state.Tree
	Changes      []state.Change // the genesis accounts, for state.NewMem
	Params       dag.Params
}

// New deals a harvester quorum of n with threshold q, a farmer quorum of 4
// (q = 3) and `accounts` funded accounts, all from fixed seeds.
func New(n, q, accounts int) (*Fixture, error) {
	hk, hs, err := threshold.TrustedDealerForTesting(n, q, rand.NewChaCha8([32]byte{'h', 'v', byte(n), byte(q)}))
	if err != nil {
		return nil, fmt.Errorf("harvester keys: %w", err)
	}
	fk, fs, err := threshold.TrustedDealerForTesting(4, 3, rand.NewChaCha8([32]byte{'f', 'm'}))
	if err != nil {
		return nil, fmt.Errorf("farmer keys: %w", err)
	}
	f := &Fixture{
		Harvesters: certification.Roster{Quorum: HarvesterQuorum, Epoch: Epoch, Key: hk}, Shares: hs,
		Farmers: certification.Roster{Quorum: FarmerQuorum, Epoch: Epoch, Key: fk}, FarmerShares: fs,
	}
	f.Verifier = dag.RosterVerifier{
		Rosters: []certification.Roster{f.Farmers},
		Entry:   func(tx.AccountID) certification.QuorumID { return FarmerQuorum },
	}
	var g []state.Change
	for i := range accounts {
		var b [8]byte
		binary.BigEndian.PutUint64(b[:], uint64(i))
		seed := sha256.Sum256(append([]byte("fhbft harvestertest account"), b[:]...))
		k := ed25519.NewKeyFromSeed(seed[:])
		f.Keys = append(f.Keys, k)
		g = append(g, state.Change{ID: f.Account(i), Account: tx.Account{Balance: Balance}})
	}
	f.Genesis, f.Changes = state.NewTree(g), g
	f.Params = dag.DefaultParams(f.Harvesters)
	return f, nil
}

// Account is account i's ID.
func (f *Fixture) Account(i int) tx.AccountID {
	var a tx.AccountID
	copy(a[:], f.Keys[i].Public().(ed25519.PublicKey))
	return a
}

// Transfer is a signed transfer from account `from` to account `to`.
func (f *Fixture) Transfer(from, to int, amount, fee, nonce uint64) tx.Transfer {
	t := tx.Transfer{To: f.Account(to), Amount: amount, Fee: fee, Nonce: nonce}
	t.Sign(f.Keys[from])
	return t
}

// Certify makes the farmer quorum's certificate (verdict accept) of t: q
// votes signed with certification.SignVote and combined by a Collector.
func (f *Fixture) Certify(t tx.Transfer) (dag.CertifiedTx, error) {
	d := certification.Digest(t.Digest())
	st := certification.Statement{Quorum: f.Farmers.Quorum, Epoch: f.Farmers.Epoch,
		Slot: certification.Slot{Kind: certification.KindTx, ID: d}, Value: certification.Value{Subject: d, Verdict: certification.Accept}}
	c, err := Collect(f.Farmers, f.FarmerShares, st)
	if err != nil {
		return dag.CertifiedTx{}, err
	}
	return dag.CertifiedTx{Transfer: t, Cert: c}, nil
}

// CertifyConvergence makes the harvester quorum's certificate of cb.
func (f *Fixture) CertifyConvergence(cb *dag.ConvergenceBlock) (certification.Certificate, error) {
	return Collect(f.Harvesters, f.Shares, dag.ConvergenceStatement(f.Harvesters, cb))
}

// Collect signs st with the first q shares and combines the votes with a
// Collector.
func Collect(r certification.Roster, shares []threshold.SecretShare, st certification.Statement) (certification.Certificate, error) {
	c, err := certification.NewCollector(r, certification.Options{})
	if err != nil {
		return certification.Certificate{}, err
	}
	for _, s := range shares[:r.Q()] {
		eff := c.Step(certification.VoteReceived{Vote: certification.SignVote(s, st)})
		if eff.Rejected != nil {
			return certification.Certificate{}, eff.Rejected
		}
		if eff.Certificate != nil {
			return *eff.Certificate, nil
		}
	}
	return certification.Certificate{}, fmt.Errorf("no certificate after %d votes", r.Q())
}
