package dag

import (
	"github.com/fhbft/fhbft/impl/certification"
	"github.com/fhbft/fhbft/impl/crypto/bls"
	"github.com/fhbft/fhbft/impl/state"
	"github.com/fhbft/fhbft/impl/tx"
)

// Round numbers the ledger's rounds; round 0 is the genesis block. spec: DAG-1
type Round uint64

// Hash names a proposal or convergence block (domain-tagged SHA-256).
type Hash [32]byte

// MinerID names a miner, 1..M. spec: ORD-3
type MinerID uint32

// CertifiedTx is a transfer with its transaction certificate (kind tx,
// verdict accept, subject the transfer's digest). spec: PB-1
type CertifiedTx struct {
	Transfer tx.Transfer
	Cert     certification.Certificate
}

// Params are the protocol constants of spec/dag.md.
type Params struct {
	Harvesters     int   // nH: size of the harvester roster (ORD-2 positions 1..nH)
	MaxBlockBytes  int   // PB-4, default 64 KiB
	MaxBlockTxs    int   // PB-4, default 256
	MinRefs        int   // CONV-2, default roster.Q(); at least 2·Threshold − Harvesters
	Threshold      int   // qH: the harvester roster's threshold (CERT-1); 0 = not known, CONV-2's bound unchecked
	MaxDeferRounds Round // CONV-9, default 4
	Fallbacks      int   // ORD-3 F, default 3
}

// ProposalBlock is one harvester's block of certified transfers for a
// round. spec: PB-1, PB-2
type ProposalBlock struct {
	Quorum    certification.QuorumID
	Epoch     certification.Epoch
	Round     Round
	Proposer  certification.Member
	Prev      Hash
	Txs       []CertifiedTx
	Signature bls.Signature
}

// TxVerifier checks a transaction certificate for PB-4.
type TxVerifier interface {
	VerifyTx(t *tx.Transfer, c *certification.Certificate) error
}

// RosterVerifier checks certificates against the farmer rosters of the
// current epoch; Entry names a signer's entry quorum (ENTRY-1). It caches
// nothing. spec: PB-4
type RosterVerifier struct {
	Rosters []certification.Roster
	Entry   func(tx.AccountID) certification.QuorumID
}

// Equivocation is evidence that Proposer signed two different proposal
// blocks in Round; Hash1 < Hash2. spec: PB-5
type Equivocation struct {
	Proposer     certification.Member
	Round        Round
	Hash1, Hash2 Hash
	Sig1, Sig2   bls.Signature
}

// Reason is why a candidate transfer was dropped. spec: CONV-10
type Reason uint8

const (
	ReasonConflict   Reason = 1 // CONV-4: lost its (from, nonce) slot
	ReasonReplay     Reason = 2 // CONV-6: slot finalized earlier
	ReasonOverdraft  Reason = 3 // CONV-8: balance below amount + fee when ready
	ReasonGapExpired Reason = 4 // CONV-9: deferred MaxDeferRounds times
)

// Ref references a counted proposal block. spec: CONV-1
type Ref struct {
	Proposer certification.Member
	Hash     Hash
}

// Drop is a rejected candidate with its reason. spec: CONV-1, CONV-10
type Drop struct {
	Digest tx.Digest
	Reason Reason
}

// Deferred is a candidate waiting for a nonce gap to close, with the round
// it was first deferred in. spec: CONV-9
type Deferred struct {
	Tx    CertifiedTx
	Since Round
}

// ConvergenceBlock is a round's consolidated outcome. spec: CONV-1
type ConvergenceBlock struct {
	Quorum        certification.QuorumID
	Epoch         certification.Epoch
	Round         Round
	Prev          Hash
	Beacon        Hash
	Miner         MinerID
	Rank          uint32
	Refs          []Ref
	Equivocations []Equivocation
	Applied       []tx.Digest
	Rejected      []Drop
	Deferred      []Deferred
	Fees          uint64
	StateRoot     state.Hash
}

// Input is the multiset Converge consumes: round-r proposal blocks and
// equivocation evidence, in any order, possibly duplicated; and the
// node's rejected set after the round r−1 final block, whose members are
// no candidates (nil: empty). spec: CONV-2, CONV-3, CONV-14
type Input struct {
	Blocks   []ProposalBlock
	Evidence []Equivocation
	Rejected *RejectedSet // read only; Converge never changes it
}

// Key orders candidates: Rank 0 for a transfer carried in prev.Deferred,
// else the least position of a proposer that included it; then Digest.
// spec: CONV-3
type Key struct {
	Rank   int
	Digest tx.Digest
}

// Outcome is Converge's result: the block and what it does to the state.
type Outcome struct {
	Block   ConvergenceBlock
	Applied []tx.Transfer  // in application order (what state.Store.Apply gets)
	Keys    []Key          // per applied transfer
	Changes []state.Change // sorted by ID
	Tree    state.Tree     // state after
	// Rejected are the block's rejected transfers, in Block.Rejected's
	// order, for the rejected set (RejectedSet.Apply). spec: CONV-14
	Rejected []RejectedTx
}
