package dag

import (
	"errors"
	"fmt"

	"github.com/fhbft/fhbft/impl/certification"
)

// Decoding errors (spec: PB-7). A *DecodeError wraps one of them.
var (
	ErrTruncated    = errors.New("dag: encoding ends early")
	ErrTrailing     = errors.New("dag: bytes after the encoding")
	ErrType         = errors.New("dag: wrong encoding type tag")
	ErrTooMany      = errors.New("dag: count exceeds what the remaining bytes can hold")
	ErrValue        = errors.New("dag: field value out of range")
	ErrOrder        = errors.New("dag: list not in canonical order or has duplicates")
	ErrEmbedded     = errors.New("dag: embedded transfer, certificate or signature does not decode")
	ErrNotEncodable = errors.New("dag: value has no canonical encoding")
)

// DecodeError names the field of an encoding that is wrong (spec: PB-7,
// CERT-19 style). Offset is where that field starts.
type DecodeError struct {
	What   string // "proposal block", "convergence block", "equivocation"
	Field  string // e.g. "txs[3].cert", "rejected[0].reason"
	Offset int
	Err    error // one of the Err* sentinels above; Detail holds the cause
	Detail string
}

func (e *DecodeError) Error() string {
	s := fmt.Sprintf("dag: decode %s: field %s at byte %d: %v", e.What, e.Field, e.Offset, e.Err)
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	return s
}

func (e *DecodeError) Unwrap() error { return e.Err }

// Checks of ValidateProposal, in the order they are made (spec: PB-4, PB-2).
const (
	CheckQuorum    = "quorum"
	CheckEpoch     = "epoch"
	CheckProposer  = "proposer"
	CheckRound     = "round"
	CheckPrev      = "prev"
	CheckSize      = "size"
	CheckTxCount   = "tx-count"
	CheckDigests   = "digests"
	CheckSignature = "signature"
	CheckTx        = "tx"
)

// ProposalError is why a proposal block is not valid for the round: Check
// names the first failing check of PB-4 (or PB-2). spec: PB-4
type ProposalError struct {
	Check string
	Err   error
}

func (e *ProposalError) Error() string {
	return "dag: proposal block: " + e.Check + ": " + e.Err.Error()
}
func (e *ProposalError) Unwrap() error { return e.Err }

// TxError says which transfer of a block failed and why (inside a
// ProposalError with Check CheckTx, or an InputError).
type TxError struct {
	Index  int
	Digest [32]byte
	Err    error
}

func (e *TxError) Error() string {
	return fmt.Sprintf("txs[%d] (%x…): %v", e.Index, e.Digest[:4], e.Err)
}
func (e *TxError) Unwrap() error { return e.Err }

// Errors of PB-4 checks, RosterVerifier and equivocation evidence.
var (
	ErrMismatch        = errors.New("dag: value differs from the expected one")
	ErrTooLarge        = errors.New("dag: block exceeds a size limit")
	ErrDuplicateDigest = errors.New("dag: a transfer digest appears twice")
	ErrBadSignature    = errors.New("dag: signature does not verify")
	ErrTxMalformed     = errors.New("dag: transfer is not well formed")
	ErrNoEntryRoster   = errors.New("dag: no roster for the signer's entry quorum")
	ErrCertKind        = errors.New("dag: certificate is not a transaction certificate")
	ErrCertVerdict     = errors.New("dag: certificate verdict is not valid")
	ErrCertSubject     = errors.New("dag: certificate subject is not the transfer digest")
	ErrCertQuorum      = errors.New("dag: certificate is not from the signer's entry quorum")
	ErrCertEpoch       = errors.New("dag: certificate is not from the current epoch")
	ErrCertInvalid     = errors.New("dag: certificate does not verify")
	ErrNotEvidence     = errors.New("dag: blocks are not an equivocation")
	ErrParams          = errors.New("dag: invalid parameters")
)

// Converge errors (spec: CONV-2, CONV-11). An *InputError wraps the
// per-input ones.
var (
	ErrTooFewRefs   = errors.New("dag: fewer than MinRefs proposers count")
	ErrWrongRound   = errors.New("dag: input is not for the block's round")
	ErrWrongPrev    = errors.New("dag: input does not point to prev")
	ErrWrongQuorum  = errors.New("dag: input is for another quorum or epoch")
	ErrBadProposer  = errors.New("dag: proposer outside 1..nH")
	ErrBadEvidence  = errors.New("dag: evidence hashes not strictly ordered")
	ErrOverflow     = errors.New("dag: balance or fee total overflows 2^64-1 (state exceeds the supply bound)")
	ErrNilPrev      = errors.New("dag: nil prev block")
	ErrMissingBlock = errors.New("dag: referenced proposal block not supplied")
)

// InputError names the input of Converge or Recompute that is unusable.
type InputError struct {
	Check    string // "block", "evidence", "deferred", "ref"
	Index    int    // position in its input list
	Proposer certification.Member
	Err      error
}

func (e *InputError) Error() string {
	return fmt.Sprintf("dag: converge input %s[%d] (proposer %d): %v", e.Check, e.Index, e.Proposer, e.Err)
}
func (e *InputError) Unwrap() error { return e.Err }

// MismatchError is a recomputed convergence block that differs from the
// received one: Field is the first differing field in encoding order.
// spec: CONV-13
type MismatchError struct {
	Field     string
	Want, Got string // recomputed, received (short renderings)
}

func (e *MismatchError) Error() string {
	return fmt.Sprintf("dag: recomputed convergence block differs in %s: recomputed %s, received %s", e.Field, e.Want, e.Got)
}

func (e *MismatchError) Unwrap() error { return ErrMismatch }
