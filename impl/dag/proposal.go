package dag

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"slices"

	"github.com/fhbft/fhbft/impl/certification"
	"github.com/fhbft/fhbft/impl/crypto/threshold"
	"github.com/fhbft/fhbft/impl/tx"
)

// DefaultParams returns the defaults of spec/dag.md for a harvester roster.
func DefaultParams(harvesters certification.Roster) Params {
	return Params{
		Harvesters:     harvesters.N(),
		MaxBlockBytes:  64 << 10,
		MaxBlockTxs:    256,
		MinRefs:        harvesters.Q(),
		Threshold:      harvesters.Q(),
		MaxDeferRounds: 4,
		Fallbacks:      3,
	}
}

// Validate rejects parameters no round could work with. With Threshold
// known it also refuses MinRefs < 2·Threshold − Harvesters: MinRefs must
// exceed every tolerated number of Byzantine harvesters (b < 2qH − nH),
// or Byzantine blocks alone could fill every round (CONV-2).
// spec: CONV-2, CERT-1
func (p Params) Validate() error {
	switch {
	case p.Harvesters < 1:
		return fmt.Errorf("%w: Harvesters %d < 1", ErrParams, p.Harvesters)
	case p.MinRefs < 1 || p.MinRefs > p.Harvesters:
		return fmt.Errorf("%w: MinRefs %d outside 1..%d", ErrParams, p.MinRefs, p.Harvesters)
	case p.Threshold != 0 && (p.Threshold < 1 || p.Threshold > p.Harvesters || 2*p.Threshold <= p.Harvesters):
		return fmt.Errorf("%w: Threshold %d with %d harvesters (CERT-1: 1 ≤ qH ≤ nH and 2qH > nH)", ErrParams, p.Threshold, p.Harvesters)
	case p.Threshold != 0 && p.MinRefs < 2*p.Threshold-p.Harvesters:
		return fmt.Errorf("%w: MinRefs %d < 2qH − nH = %d (CONV-2: MinRefs must exceed every tolerated b)", ErrParams, p.MinRefs, 2*p.Threshold-p.Harvesters)
	case p.MaxBlockBytes < proposalHeaderSize+sigSize:
		return fmt.Errorf("%w: MaxBlockBytes %d below an empty block (%d)", ErrParams, p.MaxBlockBytes, proposalHeaderSize+sigSize)
	case p.MaxBlockTxs < 1:
		return fmt.Errorf("%w: MaxBlockTxs %d < 1", ErrParams, p.MaxBlockTxs)
	case p.MaxDeferRounds < 1:
		return fmt.Errorf("%w: MaxDeferRounds %d < 1", ErrParams, p.MaxDeferRounds)
	case p.Fallbacks < 1:
		return fmt.Errorf("%w: Fallbacks %d < 1", ErrParams, p.Fallbacks)
	}
	return nil
}

// ValidateRoster is Validate for the harvester roster r, whose size and
// threshold are then known: Harvesters must be r.N(), Threshold (if set)
// r.Q(), and MinRefs ≥ 2·r.Q() − r.N() even when Threshold is 0.
// spec: CONV-2
func (p Params) ValidateRoster(r certification.Roster) error {
	if p.Harvesters != r.N() {
		return fmt.Errorf("%w: Params.Harvesters %d, roster has %d", ErrParams, p.Harvesters, r.N())
	}
	if p.Threshold != 0 && p.Threshold != r.Q() {
		return fmt.Errorf("%w: Params.Threshold %d, roster threshold is %d", ErrParams, p.Threshold, r.Q())
	}
	if p.Threshold == 0 {
		p.Threshold = r.Q()
	}
	return p.Validate()
}

// proposalMessage is what a proposer signs: the block hash together with
// the fields equivocation evidence names, so that evidence (which carries
// only hashes and signatures) can be checked from the roster alone and
// cannot move a signature to another round or proposer. spec: PB-2, PB-5
func proposalMessage(q certification.QuorumID, e certification.Epoch, r Round, m certification.Member, h Hash) []byte {
	b := make([]byte, 0, 4+8+8+4+32)
	b = binary.BigEndian.AppendUint32(b, uint32(q))
	b = binary.BigEndian.AppendUint64(b, uint64(e))
	b = binary.BigEndian.AppendUint64(b, uint64(r))
	b = binary.BigEndian.AppendUint32(b, uint32(m))
	return append(b, h[:]...)
}

// SignProposal returns b signed with the proposer's harvester key share
// (a partial BLS signature under DSTProposal). The caller sets every other
// field, Proposer = share.Index included, and signs at most one block per
// round (PB-3). spec: PB-2, tla: DAGConvergence!Propose
func SignProposal(share threshold.SecretShare, b ProposalBlock) ProposalBlock {
	msg := proposalMessage(b.Quorum, b.Epoch, b.Round, b.Proposer, b.Hash())
	b.Signature = threshold.PartialSign(share, DSTProposal, msg).Sig
	return b
}

// VerifySignature checks b's signature against its proposer's public share
// in roster r (one pairing check). spec: PB-2, tla: DAGConvergence!Propose
func (b *ProposalBlock) VerifySignature(r certification.Roster) error {
	if b.Quorum != r.Quorum || b.Epoch != r.Epoch {
		return fmt.Errorf("%w: block for quorum %d epoch %d, roster %d/%d", ErrWrongQuorum, b.Quorum, b.Epoch, r.Quorum, r.Epoch)
	}
	if b.Proposer < 1 || int(b.Proposer) > r.N() {
		return fmt.Errorf("%w: proposer %d, n = %d", ErrBadProposer, b.Proposer, r.N())
	}
	msg := proposalMessage(b.Quorum, b.Epoch, b.Round, b.Proposer, b.Hash())
	if err := threshold.VerifyPartial(r.Key, DSTProposal, msg, threshold.Partial{Index: b.Proposer, Sig: b.Signature}); err != nil {
		return fmt.Errorf("%w: %v", ErrBadSignature, err)
	}
	return nil
}

// ValidateProposal decides whether b is valid for round r at a node whose
// final round r−1 block hashes to prev, and names the first failing check
// in a *ProposalError. Cheap structural checks come first, then the
// proposer's signature, then each transfer and certificate (v), so junk is
// dropped before any pairing. It changes nothing. spec: PB-4, PB-2,
// tla: DAGConvergence!Propose (the blocks a miner's inbox may hold)
func ValidateProposal(p Params, harvesters certification.Roster, round Round, prev Hash, v TxVerifier, b *ProposalBlock) error {
	if err := checkStructure(p, harvesters, round, prev, b); err != nil {
		return err
	}
	fail := func(check string, err error) error { return &ProposalError{Check: check, Err: err} }
	if err := b.VerifySignature(harvesters); err != nil {
		return fail(CheckSignature, err)
	}
	if v == nil {
		return fail(CheckTx, fmt.Errorf("%w: no TxVerifier", ErrCertInvalid))
	}
	for i := range b.Txs {
		c := &b.Txs[i]
		if err := v.VerifyTx(&c.Transfer, &c.Cert); err != nil {
			return fail(CheckTx, &TxError{Index: i, Digest: c.Digest(), Err: err})
		}
	}
	return nil
}

// checkStructure is PB-4 without the signature and the certificates: the
// checks that need no pairing.
func checkStructure(p Params, harvesters certification.Roster, round Round, prev Hash, b *ProposalBlock) error {
	fail := func(check string, err error) error { return &ProposalError{Check: check, Err: err} }
	switch {
	case b.Quorum != harvesters.Quorum:
		return fail(CheckQuorum, fmt.Errorf("%w: quorum %d, roster %d", ErrWrongQuorum, b.Quorum, harvesters.Quorum))
	case b.Epoch != harvesters.Epoch:
		return fail(CheckEpoch, fmt.Errorf("%w: epoch %d, roster %d", ErrWrongQuorum, b.Epoch, harvesters.Epoch))
	case b.Proposer < 1 || int(b.Proposer) > harvesters.N():
		return fail(CheckProposer, fmt.Errorf("%w: proposer %d, n = %d", ErrBadProposer, b.Proposer, harvesters.N()))
	case b.Round != round:
		return fail(CheckRound, fmt.Errorf("%w: round %d, expected %d", ErrWrongRound, b.Round, round))
	case b.Prev != prev:
		return fail(CheckPrev, fmt.Errorf("%w: prev %x…, final block %x…", ErrWrongPrev, b.Prev[:4], prev[:4]))
	}
	if size := b.EncodedSize(); size > p.MaxBlockBytes {
		return fail(CheckSize, fmt.Errorf("%w: %d bytes > MaxBlockBytes %d", ErrTooLarge, size, p.MaxBlockBytes))
	}
	if len(b.Txs) > p.MaxBlockTxs {
		return fail(CheckTxCount, fmt.Errorf("%w: %d transfers > MaxBlockTxs %d", ErrTooLarge, len(b.Txs), p.MaxBlockTxs))
	}
	if i, j, ok := duplicateDigest(b.Txs); ok {
		return fail(CheckDigests, fmt.Errorf("%w: txs[%d] and txs[%d]", ErrDuplicateDigest, i, j))
	}
	return nil
}

func digestsOf(txs []CertifiedTx) []tx.Digest {
	ds := make([]tx.Digest, len(txs))
	for i := range txs {
		ds[i] = txs[i].Digest()
	}
	return ds
}

// duplicateDigest finds two transfers with one digest.
func duplicateDigest(txs []CertifiedTx) (int, int, bool) { return duplicateIn(digestsOf(txs)) }

// duplicateIn finds two equal digests by sorting their indices: O(n log
// n), no map.
func duplicateIn(ds []tx.Digest) (int, int, bool) {
	idx := make([]int32, len(ds))
	for i := range idx {
		idx[i] = int32(i)
	}
	slices.SortFunc(idx, func(a, b int32) int {
		if c := bytes.Compare(ds[a][:], ds[b][:]); c != 0 {
			return c
		}
		return int(a - b)
	})
	for k := 1; k < len(idx); k++ {
		if ds[idx[k]] == ds[idx[k-1]] {
			return int(idx[k-1]), int(idx[k]), true
		}
	}
	return 0, 0, false
}

// VerifyTx checks one certified transfer for PB-4: the transfer is well
// formed (TX-9..TX-14) and signed (TX-7), and the certificate is a valid
// (CERT-10) transaction certificate of verdict accept over the transfer's
// digest, made by the signer's entry quorum (ENTRY-1) in that roster's
// epoch. Cheap checks run first; the signature checks last. spec: PB-4,
// tla: DAGConvergence!Propose (only certified transfers are proposed)
func (v RosterVerifier) VerifyTx(t *tx.Transfer, c *certification.Certificate) error {
	if t == nil || c == nil {
		return fmt.Errorf("%w: nil transfer or certificate", ErrTxMalformed)
	}
	if err := (tx.Config{}).CheckStateless(t); err != nil {
		return fmt.Errorf("%w: %v", ErrTxMalformed, err)
	}
	if c.Slot.Kind != certification.KindTx {
		return fmt.Errorf("%w: kind %v", ErrCertKind, c.Slot.Kind)
	}
	if c.Value.Verdict != certification.Accept {
		return fmt.Errorf("%w: verdict %v", ErrCertVerdict, c.Value.Verdict)
	}
	if d := t.Digest(); c.Value.Subject != certification.Digest(d) {
		return fmt.Errorf("%w: subject %x…, digest %x…", ErrCertSubject, c.Value.Subject[:4], d[:4])
	}
	if v.Entry == nil {
		return fmt.Errorf("%w: no Entry function", ErrNoEntryRoster)
	}
	q := v.Entry(t.From)
	var roster *certification.Roster
	for i := range v.Rosters {
		if v.Rosters[i].Quorum == q {
			roster = &v.Rosters[i]
			break
		}
	}
	if roster == nil {
		return fmt.Errorf("%w: quorum %d", ErrNoEntryRoster, q)
	}
	if c.Quorum != q {
		return fmt.Errorf("%w: certificate quorum %d, entry quorum %d", ErrCertQuorum, c.Quorum, q)
	}
	if c.Epoch != roster.Epoch {
		return fmt.Errorf("%w: certificate epoch %d, roster epoch %d", ErrCertEpoch, c.Epoch, roster.Epoch)
	}
	if err := c.Verify(*roster); err != nil {
		return fmt.Errorf("%w: %v", ErrCertInvalid, err)
	}
	if err := tx.VerifySignature(t); err != nil {
		return fmt.Errorf("%w: %v", ErrTxMalformed, err)
	}
	return nil
}

// NewEquivocation forms evidence from two blocks of one proposer in one
// round (same quorum and epoch) with different hashes; the caller has
// checked both (PB-4). Hashes are ordered so that the evidence is unique
// for a pair. spec: PB-5, tla: DAGConvergence!EquivocatorSend
func NewEquivocation(a, b *ProposalBlock) (Equivocation, error) {
	if a.Quorum != b.Quorum || a.Epoch != b.Epoch || a.Round != b.Round || a.Proposer != b.Proposer {
		return Equivocation{}, fmt.Errorf("%w: different quorum, epoch, round or proposer", ErrNotEvidence)
	}
	ha, hb := a.Hash(), b.Hash()
	switch c := bytes.Compare(ha[:], hb[:]); {
	case c == 0:
		return Equivocation{}, fmt.Errorf("%w: same block", ErrNotEvidence)
	case c > 0:
		a, b, ha, hb = b, a, hb, ha
	}
	return Equivocation{Proposer: a.Proposer, Round: a.Round, Hash1: ha, Hash2: hb, Sig1: a.Signature, Sig2: b.Signature}, nil
}

// Verify checks evidence from the roster alone: the proposer is a member,
// the hashes are distinct and ordered, and both signatures verify for
// (roster quorum, epoch, round, proposer, hash). spec: PB-5,
// tla: DAGConvergence!EquivocatorSend
func (e *Equivocation) Verify(r certification.Roster) error {
	if e.Proposer < 1 || int(e.Proposer) > r.N() {
		return fmt.Errorf("%w: proposer %d, n = %d", ErrBadProposer, e.Proposer, r.N())
	}
	if bytes.Compare(e.Hash1[:], e.Hash2[:]) >= 0 {
		return fmt.Errorf("%w: hash1 not below hash2", ErrBadEvidence)
	}
	for i, hs := range []struct {
		h Hash
		s threshold.Partial
	}{{e.Hash1, threshold.Partial{Index: e.Proposer, Sig: e.Sig1}}, {e.Hash2, threshold.Partial{Index: e.Proposer, Sig: e.Sig2}}} {
		msg := proposalMessage(r.Quorum, r.Epoch, e.Round, e.Proposer, hs.h)
		if err := threshold.VerifyPartial(r.Key, DSTProposal, msg, hs.s); err != nil {
			return fmt.Errorf("%w: sig%d: %v", ErrBadSignature, i+1, err)
		}
	}
	return nil
}
