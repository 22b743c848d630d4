package dag

import (
	"bytes"
	"encoding/binary"
	"fmt"

	"github.com/fhbft/fhbft/impl/certification"
	"github.com/fhbft/fhbft/impl/state"
)

// Genesis is the round-0 convergence block G: no prev, no transfers, the
// genesis state root, and Beacon = beacon_1 (GenesisBeacon), the beacon
// round 1 uses. spec: DAG-1, tla: DAGConvergence!GenesisBlock
func Genesis(quorum certification.QuorumID, epoch certification.Epoch, root state.Hash) ConvergenceBlock {
	return ConvergenceBlock{
		Quorum:    quorum,
		Epoch:     epoch,
		Beacon:    GenesisBeacon(quorum, epoch, root),
		StateRoot: root,
	}
}

// ConvergenceSlot is the certification slot of rank's convergence block
// of a round: kind convergence, ID[16:24] = round, ID[24:32] = rank, both
// big-endian. One slot per (round, rank) lets a fallback be certified when
// the elected miner is silent. spec: MINE-3, CERT-2, tla: DAGConvergence!Certify
func ConvergenceSlot(round Round, rank uint32) certification.Slot {
	s := certification.Slot{Kind: certification.KindConvergence}
	binary.BigEndian.PutUint64(s.ID[16:24], uint64(round))
	binary.BigEndian.PutUint64(s.ID[24:32], uint64(rank))
	return s
}

// ConvergenceStatement is what a harvester votes for cb: verdict accept,
// subject cb.Hash(), in the slot of (cb.Round, cb.Rank). spec: MINE-3,
// tla: DAGConvergence!Certify
func ConvergenceStatement(r certification.Roster, cb *ConvergenceBlock) certification.Statement {
	return certification.Statement{
		Quorum: r.Quorum,
		Epoch:  r.Epoch,
		Slot:   ConvergenceSlot(cb.Round, cb.Rank),
		Value:  certification.Value{Subject: certification.Digest(cb.Hash()), Verdict: certification.Accept},
	}
}

// Missing lists the referenced proposal blocks that have reports absent,
// in reference order, each once: what to fetch (DAG-4) before Recompute.
// spec: DAG-4, CONV-13, tla: DAGConvergence!Certify
func Missing(cb *ConvergenceBlock, have func(Hash) bool) []Hash {
	var out []Hash
	for i, ref := range cb.Refs {
		if have(ref.Hash) {
			continue
		}
		dup := false
		for _, prevRef := range cb.Refs[:i] {
			if prevRef.Hash == ref.Hash {
				dup = true
				break
			}
		}
		if !dup {
			out = append(out, ref.Hash)
		}
	}
	return out
}

// Recompute checks a received convergence block cb the way a harvester
// must before voting: every referenced block is present (blocks maps its
// hash to it; fetching is the caller's job), hashes to its reference, is by
// the referenced proposer and valid for the round (PB-4); every piece of
// evidence verifies under the roster (PB-5); and Converge run on exactly
// those inputs with the caller's own prev, beacon and state reproduces cb
// byte for byte. A difference is a *MismatchError naming the first field
// that differs; unusable inputs are *InputErrors. On success it returns
// the Outcome (the state after cb, for FIN-2).
//
// With v == nil the referenced blocks are taken to be already PB-4-checked
// (they come from the caller's Store, checked on receipt), so their
// signatures and certificates are not checked again; the structural checks
// and the evidence signatures still are.
//
// Recompute uses an empty rejected set: a node that has finalized blocks
// must use RecomputeWithRejected with its own set (CONV-14), or it would
// disagree with honest miners about a re-proposed rejected transfer.
//
// spec: CONV-13, PB-4, PB-5, tla: DAGConvergence!Certify
func Recompute(p Params, harvesters certification.Roster, v TxVerifier, prev *ConvergenceBlock, beacon Hash, st state.Tree, cb *ConvergenceBlock, blocks map[Hash]*ProposalBlock) (Outcome, error) {
	return RecomputeWithRejected(p, harvesters, v, prev, beacon, st, nil, cb, blocks)
}

// RecomputeWithRejected is Recompute against the node's ledger: its state
// st and its rejected set after prev (nil: empty; only read), which
// Converge takes as Input.Rejected. The parameters are checked against the
// roster (Params.ValidateRoster: MinRefs ≥ 2qH − nH).
//
// spec: CONV-13, CONV-14, CONV-2, tla: DAGConvergence!Certify
func RecomputeWithRejected(p Params, harvesters certification.Roster, v TxVerifier, prev *ConvergenceBlock, beacon Hash, st state.Tree, rejected *RejectedSet, cb *ConvergenceBlock, blocks map[Hash]*ProposalBlock) (Outcome, error) {
	if prev == nil || cb == nil {
		return Outcome{}, ErrNilPrev
	}
	if err := p.ValidateRoster(harvesters); err != nil {
		return Outcome{}, err
	}
	round := prev.Round + 1
	prevHash := prev.Hash()
	// Header fields first: they are cheap and say the most.
	if err := compareHeader(&ConvergenceBlock{Quorum: prev.Quorum, Epoch: prev.Epoch, Round: round, Prev: prevHash, Beacon: beacon}, cb); err != nil {
		return Outcome{}, err
	}
	in := Input{Blocks: make([]ProposalBlock, 0, len(cb.Refs)), Evidence: cb.Equivocations, Rejected: rejected}
	for i, ref := range cb.Refs {
		bad := func(err error) (Outcome, error) {
			return Outcome{}, &InputError{Check: "ref", Index: i, Proposer: ref.Proposer, Err: err}
		}
		b, ok := blocks[ref.Hash]
		if !ok || b == nil {
			return bad(fmt.Errorf("%w: %x…", ErrMissingBlock, ref.Hash[:4]))
		}
		if h := b.Hash(); h != ref.Hash {
			return bad(fmt.Errorf("%w: block hashes to %x…, reference %x…", ErrMismatch, h[:4], ref.Hash[:4]))
		}
		if b.Proposer != ref.Proposer {
			return bad(fmt.Errorf("%w: block by %d, reference names %d", ErrMismatch, b.Proposer, ref.Proposer))
		}
		var err error
		if v != nil {
			err = ValidateProposal(p, harvesters, round, prevHash, v, b)
		} else {
			err = checkStructure(p, harvesters, round, prevHash, b)
		}
		if err != nil {
			return bad(err)
		}
		in.Blocks = append(in.Blocks, *b)
	}
	for i := range cb.Equivocations {
		e := &cb.Equivocations[i]
		if e.Round != round {
			return Outcome{}, &InputError{Check: "evidence", Index: i, Proposer: e.Proposer, Err: fmt.Errorf("%w: round %d", ErrWrongRound, e.Round)}
		}
		if err := e.Verify(harvesters); err != nil {
			return Outcome{}, &InputError{Check: "evidence", Index: i, Proposer: e.Proposer, Err: err}
		}
	}
	out, err := Converge(p, prev, beacon, st, cb.Miner, cb.Rank, in)
	if err != nil {
		return Outcome{}, err
	}
	if err := Compare(&out.Block, cb); err != nil {
		return Outcome{}, err
	}
	return out, nil
}

func short(b []byte) string {
	if len(b) > 4 {
		return fmt.Sprintf("%x…", b[:4])
	}
	return fmt.Sprintf("%x", b)
}

func compareHeader(want, got *ConvergenceBlock) error {
	mm := func(field, w, g string) error { return &MismatchError{Field: field, Want: w, Got: g} }
	switch {
	case want.Quorum != got.Quorum:
		return mm("Quorum", fmt.Sprint(want.Quorum), fmt.Sprint(got.Quorum))
	case want.Epoch != got.Epoch:
		return mm("Epoch", fmt.Sprint(want.Epoch), fmt.Sprint(got.Epoch))
	case want.Round != got.Round:
		return mm("Round", fmt.Sprint(want.Round), fmt.Sprint(got.Round))
	case want.Prev != got.Prev:
		return mm("Prev", short(want.Prev[:]), short(got.Prev[:]))
	case want.Beacon != got.Beacon:
		return mm("Beacon", short(want.Beacon[:]), short(got.Beacon[:]))
	}
	return nil
}

// Compare reports the first field, in encoding order, in which got differs
// from want, as a *MismatchError; nil if their encodings are identical.
// spec: CONV-13, tla: DAGConvergence!Certify
func Compare(want, got *ConvergenceBlock) error {
	if err := compareHeader(want, got); err != nil {
		return err
	}
	mm := func(field, w, g string) error { return &MismatchError{Field: field, Want: w, Got: g} }
	count := func(field string, w, g int) error { return mm(field+".len", fmt.Sprint(w), fmt.Sprint(g)) }
	switch {
	case want.Miner != got.Miner:
		return mm("Miner", fmt.Sprint(want.Miner), fmt.Sprint(got.Miner))
	case want.Rank != got.Rank:
		return mm("Rank", fmt.Sprint(want.Rank), fmt.Sprint(got.Rank))
	case len(want.Refs) != len(got.Refs):
		return count("Refs", len(want.Refs), len(got.Refs))
	}
	for i := range want.Refs {
		if want.Refs[i] != got.Refs[i] {
			w, g := want.Refs[i], got.Refs[i]
			return mm(fmt.Sprintf("Refs[%d]", i), fmt.Sprintf("%d:%s", w.Proposer, short(w.Hash[:])), fmt.Sprintf("%d:%s", g.Proposer, short(g.Hash[:])))
		}
	}
	if len(want.Equivocations) != len(got.Equivocations) {
		return count("Equivocations", len(want.Equivocations), len(got.Equivocations))
	}
	for i := range want.Equivocations {
		if evidenceCmp(want.Equivocations[i], got.Equivocations[i]) != 0 || want.Equivocations[i].Round != got.Equivocations[i].Round {
			w, g := want.Equivocations[i], got.Equivocations[i]
			return mm(fmt.Sprintf("Equivocations[%d]", i), fmt.Sprintf("%d:%s", w.Proposer, short(w.Hash1[:])), fmt.Sprintf("%d:%s", g.Proposer, short(g.Hash1[:])))
		}
	}
	if len(want.Applied) != len(got.Applied) {
		return count("Applied", len(want.Applied), len(got.Applied))
	}
	for i := range want.Applied {
		if want.Applied[i] != got.Applied[i] {
			return mm(fmt.Sprintf("Applied[%d]", i), short(want.Applied[i][:]), short(got.Applied[i][:]))
		}
	}
	if len(want.Rejected) != len(got.Rejected) {
		return count("Rejected", len(want.Rejected), len(got.Rejected))
	}
	for i := range want.Rejected {
		if w, g := want.Rejected[i], got.Rejected[i]; w != g {
			return mm(fmt.Sprintf("Rejected[%d]", i), short(w.Digest[:])+" "+w.Reason.String(), short(g.Digest[:])+" "+g.Reason.String())
		}
	}
	if len(want.Deferred) != len(got.Deferred) {
		return count("Deferred", len(want.Deferred), len(got.Deferred))
	}
	for i := range want.Deferred {
		w, g := &want.Deferred[i], &got.Deferred[i]
		wd, gd := w.Tx.Digest(), g.Tx.Digest()
		if wd != gd || w.Since != g.Since {
			return mm(fmt.Sprintf("Deferred[%d]", i), fmt.Sprintf("%s since %d", short(wd[:]), w.Since), fmt.Sprintf("%s since %d", short(gd[:]), g.Since))
		}
		wc, _ := w.Tx.Cert.MarshalBinary()
		gc, _ := g.Tx.Cert.MarshalBinary()
		if !bytes.Equal(wc, gc) {
			return mm(fmt.Sprintf("Deferred[%d].Cert", i), short(wc), short(gc))
		}
	}
	switch {
	case want.Fees != got.Fees:
		return mm("Fees", fmt.Sprint(want.Fees), fmt.Sprint(got.Fees))
	case want.StateRoot != got.StateRoot:
		return mm("StateRoot", short(want.StateRoot[:]), short(got.StateRoot[:]))
	}
	// Every field agrees; the encodings must too (CONV-13 compares bytes).
	wb, werr := want.MarshalBinary()
	gb, gerr := got.MarshalBinary()
	if werr != nil || gerr != nil || !bytes.Equal(wb, gb) {
		return mm("encoding", fmt.Sprint(len(wb), werr), fmt.Sprint(len(gb), gerr))
	}
	return nil
}
