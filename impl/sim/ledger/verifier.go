package ledger

import (
	"crypto/sha256"

	"github.com/fhbft/fhbft/impl/certification"
	"github.com/fhbft/fhbft/impl/dag"
	"github.com/fhbft/fhbft/impl/tx"
)

// cachingVerifier is the transaction-certificate check of PB-4
// (dag.RosterVerifier) memoised for simulation speed. The check is a pure
// function of the transfer and the certificate (the rosters and the entry
// table are the same at every node of a run), so computing it once per
// distinct input and handing every node the answer it would compute itself
// changes no node's behaviour. Certificates of one transfer formed by
// different harvesters differ only in the signer bitmap (the threshold
// signature is unique per statement, CERT-9), and the check depends on the
// bitmap only through its width and count (CERT-10: the signature does not
// authenticate it), so the memo is keyed by transfer, statement and
// signature, and a hit re-checks the bitmap. Failures are not memoised.
type cachingVerifier struct {
	inner   dag.TxVerifier
	rosters map[certification.QuorumID]certification.Roster
	ok      map[[32]byte]bool
}

func newCachingVerifier(inner dag.TxVerifier, rosters []certification.Roster) *cachingVerifier {
	v := &cachingVerifier{inner: inner, rosters: map[certification.QuorumID]certification.Roster{}, ok: map[[32]byte]bool{}}
	for _, r := range rosters {
		v.rosters[r.Quorum] = r
	}
	return v
}

func cacheKey(t *tx.Transfer, c *certification.Certificate) [32]byte {
	h := sha256.New()
	d := t.Digest()
	h.Write(d[:])
	h.Write(t.Signature[:])
	h.Write(c.Message())
	sb := c.Signature.Bytes()
	h.Write(sb[:])
	var k [32]byte
	h.Sum(k[:0])
	return k
}

// VerifyTx implements dag.TxVerifier.
func (v *cachingVerifier) VerifyTx(t *tx.Transfer, c *certification.Certificate) error {
	if t == nil || c == nil {
		return v.inner.VerifyTx(t, c)
	}
	k := cacheKey(t, c)
	if v.ok[k] {
		if r, found := v.rosters[c.Quorum]; found && c.Signers.Len() == r.N() && c.Signers.Count() >= r.Q() {
			return nil
		}
	}
	if err := v.inner.VerifyTx(t, c); err != nil {
		return err
	}
	v.ok[k] = true
	return nil
}
