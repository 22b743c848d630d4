package pacemaker

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"

	"github.com/fhbft/fhbft/impl/certification"
	"github.com/fhbft/fhbft/impl/crypto/threshold"
)

// View numbers the pacemaker's views; the replica starts in view 1 (PM-2).
type View uint64

// Height is a block's position in the chain: height = view + 1 (PM-1).
type Height uint64

// Hash identifies a block (PM-1).
type Hash = certification.Digest

// ReplicaID is a replica's index in the harvester roster, 1..n.
type ReplicaID = certification.Member

// CommandID identifies a client command; a command is executed at most
// once per ID (PM-20).
type CommandID uint64

// Command is a client command carried in a block's batch. spec: PM-20
type Command struct {
	ID      CommandID
	Payload []byte
}

// Block is a node of the chain. spec: PM-1
//
// A real block has a Proposer (the leader of its view) and a Justify QC
// that certifies its nearest real ancestor (justify.node); the views in
// between are filled with dummy blocks, so every block's parent has view
// View−1 and "direct parent" means "consecutive views". A dummy block has
// Proposer 0, no Justify (the zero QC) and no commands; every replica
// computes it from quorum, epoch, view and parent, and it is never sent.
// Genesis is the block of view 0 (Proposer 0) of an epoch.
type Block struct {
	Quorum   certification.QuorumID
	Epoch    certification.Epoch
	View     View
	Parent   Hash
	Justify  QC // a real block's justify; the zero QC for dummies and genesis
	Cmds     []Command
	Proposer ReplicaID // 0 for dummies and genesis
}

// Height is view + 1. spec: PM-1
func (b Block) Height() Height { return Height(b.View) + 1 }

// IsDummy reports whether b has no proposer: a dummy block or genesis.
func (b Block) IsDummy() bool { return b.Proposer == 0 }

// IsGenesis reports whether b is a genesis block (view 0, no proposer).
func (b Block) IsGenesis() bool { return b.Proposer == 0 && b.View == 0 }

// Hash prefixes (PM-1, PM-2).
const (
	blockHashPrefix   = "FHBFT/block/v1"
	dummyHashPrefix   = "FHBFT/dummy/v1"
	genesisHashPrefix = "FHBFT/genesis/v1"
	cmdsHashPrefix    = "FHBFT/cmds/v1"
)

func appendDomain(b []byte, q certification.QuorumID, e certification.Epoch) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(q))
	return binary.BigEndian.AppendUint64(b, uint64(e))
}

// Hash is the block's identity (PM-1):
//
//	real:    H("FHBFT/block/v1" ‖ quorum ‖ epoch ‖ view ‖ parent ‖ justify.view ‖ justify.subject ‖ H(cmds) ‖ proposer)
//	dummy:   H("FHBFT/dummy/v1" ‖ quorum ‖ epoch ‖ view ‖ parent)
//	genesis: H("FHBFT/genesis/v1" ‖ quorum ‖ epoch)
//
// The QC enters by its statement only, never by its signer bitmap or
// signature, which the threshold signature does not authenticate
// (CERT-10): re-encoding a QC cannot change a block's identity.
func (b Block) Hash() Hash {
	var buf []byte
	switch {
	case b.IsGenesis():
		return GenesisHash(b.Quorum, b.Epoch)
	case b.IsDummy():
		buf = append(buf, dummyHashPrefix...)
		buf = appendDomain(buf, b.Quorum, b.Epoch)
		buf = binary.BigEndian.AppendUint64(buf, uint64(b.View))
		buf = append(buf, b.Parent[:]...)
	default:
		buf = append(buf, blockHashPrefix...)
		buf = appendDomain(buf, b.Quorum, b.Epoch)
		buf = binary.BigEndian.AppendUint64(buf, uint64(b.View))
		buf = append(buf, b.Parent[:]...)
		buf = binary.BigEndian.AppendUint64(buf, uint64(b.Justify.View()))
		subject := b.Justify.Block()
		buf = append(buf, subject[:]...)
		ch := CmdsHash(b.Cmds)
		buf = append(buf, ch[:]...)
		buf = binary.BigEndian.AppendUint32(buf, uint32(b.Proposer))
	}
	return sha256.Sum256(buf)
}

// CmdsHash is H(cmds): SHA-256 over a prefix and the batch's wire encoding.
func CmdsHash(cmds []Command) Hash {
	h := sha256.New()
	h.Write([]byte(cmdsHashPrefix))
	h.Write(appendCmds(nil, cmds))
	var d Hash
	h.Sum(d[:0])
	return d
}

// GenesisHash is G, the hash of the genesis block of (quorum, epoch).
// spec: PM-2
func GenesisHash(q certification.QuorumID, e certification.Epoch) Hash {
	buf := appendDomain([]byte(genesisHashPrefix), q, e)
	return sha256.Sum256(buf)
}

// Genesis is the block of view 0 (height 1) of (quorum, epoch). spec: PM-2
func Genesis(q certification.QuorumID, e certification.Epoch) Block {
	return Block{Quorum: q, Epoch: e}
}

// GenesisOf is the genesis block of a roster's quorum and epoch.
func GenesisOf(r certification.Roster) Block { return Genesis(r.Quorum, r.Epoch) }

// Dummy is the padding block of view w on parent. spec: PM-1
func Dummy(q certification.QuorumID, e certification.Epoch, w View, parent Hash) Block {
	return Block{Quorum: q, Epoch: e, View: w, Parent: parent}
}

// justifyNode is the hash of the block b's justify certifies; genesis
// justifies itself (PM-2: genesis.justify.node = genesis).
func justifyNode(b Block, h Hash) Hash {
	if b.IsDummy() {
		return h // only genesis is ever asked; a dummy is never certified
	}
	return b.Justify.Block()
}

// QC is a quorum certificate: q votes of distinct replicas for one block in
// one view, as a certification.Certificate of kind KindQC with slot
// NumberedSlot(KindQC, view), subject the block hash and verdict Accept.
// The genesis QC (GenesisQC) is the statement (qc, view 0, G) with no
// signers and no signature; it is valid without a pairing. The zero QC is
// "no QC" (a dummy block's justify). spec: PM-2, PM-3
type QC struct {
	Cert certification.Certificate
}

// GenesisQC is the QC of the genesis block of (quorum, epoch). spec: PM-2
func GenesisQC(q certification.QuorumID, e certification.Epoch) QC {
	return QC{Cert: certification.Certificate{Statement: certification.Statement{
		Quorum: q, Epoch: e,
		Slot:  certification.NumberedSlot(certification.KindQC, 0),
		Value: certification.Value{Subject: GenesisHash(q, e), Verdict: certification.Accept},
	}}}
}

// GenesisQCOf is the genesis QC of a roster's quorum and epoch.
func GenesisQCOf(r certification.Roster) QC { return GenesisQC(r.Quorum, r.Epoch) }

// IsZero reports whether qc is the zero QC ("no QC").
func (qc QC) IsZero() bool {
	return qc.Cert.Signers.Len() == 0 && qc.Cert.Statement == (certification.Statement{})
}

// IsGenesis reports whether qc has the genesis QC's shape: kind qc, view
// 0, no signers. Whether its subject is this epoch's G is checked on use.
func (qc QC) IsGenesis() bool {
	return qc.Cert.Signers.Len() == 0 && qc.Cert.Slot == certification.NumberedSlot(certification.KindQC, 0)
}

// View is the view the QC's votes were cast in (0 for genesis).
func (qc QC) View() View { return View(qc.Cert.Slot.Number()) }

// Block is the hash of the certified block (its "node").
func (qc QC) Block() Hash { return qc.Cert.Value.Subject }

// Height is the certified block's height, view + 1.
func (qc QC) Height() Height { return Height(qc.View()) + 1 }

func (qc QC) String() string {
	if qc.IsZero() {
		return "QC(none)"
	}
	h := qc.Block()
	return fmt.Sprintf("QC(v%d %x)", qc.View(), h[:4])
}

// TC is a timeout (view-change) certificate: q complaints about one view,
// as a certification.Certificate of kind KindComplaint with slot
// NumberedSlot(KindComplaint, view), the zero subject and verdict Accept.
// spec: PM-3, PM-16
type TC struct {
	Cert certification.Certificate
}

// View is the view complained about.
func (tc TC) View() View { return View(tc.Cert.Slot.Number()) }

func (tc TC) String() string { return fmt.Sprintf("TC(v%d)", tc.View()) }

// VoteStatement is what a vote for block h in view v signs. spec: PM-3
func VoteStatement(r certification.Roster, v View, h Hash) certification.Statement {
	return certification.Statement{
		Quorum: r.Quorum, Epoch: r.Epoch,
		Slot:  certification.NumberedSlot(certification.KindQC, uint64(v)),
		Value: certification.Value{Subject: h, Verdict: certification.Accept},
	}
}

// ComplaintStatement is what a complaint about view v signs. spec: PM-15
func ComplaintStatement(r certification.Roster, v View) certification.Statement {
	return certification.Statement{
		Quorum: r.Quorum, Epoch: r.Epoch,
		Slot:  certification.NumberedSlot(certification.KindComplaint, uint64(v)),
		Value: certification.Value{Verdict: certification.Accept},
	}
}

// KindProposal is the CERT-3 kind of a leader's proposal signature (PM-31).
// It is not a certification.Kind the collector knows: no certificate of
// this kind is ever formed or accepted.
const KindProposal certification.Kind = 5

// DSTProposal is the hash-to-curve tag of proposal signatures. spec: PM-31, CERT-15
var DSTProposal = []byte("FHBFT-V01-CS01-with-BLS12381G1_XMD:SHA-256_SSWU_RO_PROPOSAL_")

// ProposalStatement is what the leader of view v signs for block h:
// quorum, epoch, kind proposal, slot id v, subject h, verdict accept.
// spec: PM-31
func ProposalStatement(q certification.QuorumID, e certification.Epoch, v View, h Hash) certification.Statement {
	return certification.Statement{
		Quorum: q, Epoch: e,
		Slot:  certification.NumberedSlot(KindProposal, uint64(v)),
		Value: certification.Value{Subject: h, Verdict: certification.Accept},
	}
}

// SignProposal makes the Proposal message of block b, signed with the
// proposer's key share. spec: PM-31
func SignProposal(share threshold.SecretShare, b Block) Proposal {
	st := ProposalStatement(b.Quorum, b.Epoch, b.View, b.Hash())
	return Proposal{Block: b, Partial: threshold.PartialSign(share, DSTProposal, st.Message()).Sig}
}

// VerifyProposal checks the proposal's signature against its proposer's
// public share (one pairing check). It does not check that the proposer
// leads the view. spec: PM-31
func VerifyProposal(r certification.Roster, p Proposal) error {
	b := p.Block
	if b.Quorum != r.Quorum || b.Epoch != r.Epoch {
		return fmt.Errorf("proposal for quorum %d epoch %d, roster is %d/%d", b.Quorum, b.Epoch, r.Quorum, r.Epoch)
	}
	if b.Proposer < 1 || int(b.Proposer) > r.N() {
		return fmt.Errorf("proposer %d outside 1..%d", b.Proposer, r.N())
	}
	st := ProposalStatement(b.Quorum, b.Epoch, b.View, b.Hash())
	return threshold.VerifyPartial(r.Key, DSTProposal, st.Message(), threshold.Partial{Index: b.Proposer, Sig: p.Partial})
}

// ProposalEvidence is two validly signed proposals of one leader for
// different blocks in one view: self-verifying proof of equivocation.
// spec: PM-31
type ProposalEvidence struct{ First, Second Proposal }

// Verify checks the evidence under roster r.
func (e ProposalEvidence) Verify(r certification.Roster) error {
	a, b := e.First.Block, e.Second.Block
	if a.Proposer != b.Proposer || a.View != b.View || a.Quorum != b.Quorum || a.Epoch != b.Epoch {
		return fmt.Errorf("proposals differ in proposer, view, quorum or epoch")
	}
	if a.Hash() == b.Hash() {
		return fmt.Errorf("same block")
	}
	for _, p := range []Proposal{e.First, e.Second} {
		if err := VerifyProposal(r, p); err != nil {
			return err
		}
	}
	return nil
}

// BlockRef names a block by hash, view and height, for ReplicaState.
type BlockRef struct {
	Hash   Hash
	View   View
	Height Height
}

func refOf(b Block, h Hash) BlockRef { return BlockRef{Hash: h, View: b.View, Height: b.Height()} }

func (r BlockRef) String() string { return fmt.Sprintf("v%d/%x", r.View, r.Hash[:4]) }
