package mempool

import (
	"errors"
	"fmt"

	"github.com/fhbft/fhbft/impl/tx"
)

// Code says why the mempool refused a call. A refused call changes
// nothing (spec: FARM-6, FARM-7).
type Code uint8

const (
	_ Code = iota
	CodeNilTransfer
	CodeDuplicate        // Add: the digest is pending or in the processed cache (FARM-5, FARM-6)
	CodeNonceExhausted   // Add, MarkFinalized: nonce 2^64−1 has no successor (TX-13)
	CodeStale            // Add, MarkFinalized: nonce below the account's finalised nonce
	CodeNonceTaken       // Add: a validated pending transfer holds this nonce
	CodeTooFarAhead      // Add: nonce more than MaxAhead above the ready nonce
	CodeAccountFull      // Add: the sender has MaxPerAccount pending transfers
	CodeFull             // Add: the mempool holds MaxPending transfers
	CodeUnknown          // MarkValidated, Remove: no pending transfer with this digest
	CodeAlreadyValidated // MarkValidated: already validated
	CodeNotReady         // MarkValidated: its nonce predecessor is not validated (FARM-4)
	CodeDebitsOverflow   // MarkValidated: pending debits would exceed 2^64−1
	CodeAlreadyFinalized // MarkFinalized: this transfer was finalised already
	CodeConfig           // New: invalid configuration
)

var codeNames = [...]string{
	CodeNilTransfer:      "nil transfer",
	CodeDuplicate:        "duplicate",
	CodeNonceExhausted:   "nonce exhausted",
	CodeStale:            "stale nonce",
	CodeNonceTaken:       "nonce taken",
	CodeTooFarAhead:      "nonce too far ahead",
	CodeAccountFull:      "account full",
	CodeFull:             "mempool full",
	CodeUnknown:          "unknown transfer",
	CodeAlreadyValidated: "already validated",
	CodeNotReady:         "not ready",
	CodeDebitsOverflow:   "pending debits overflow",
	CodeAlreadyFinalized: "already finalized",
	CodeConfig:           "invalid configuration",
}

func (c Code) String() string {
	if int(c) < len(codeNames) && codeNames[c] != "" {
		return codeNames[c]
	}
	return fmt.Sprintf("Code(%d)", uint8(c))
}

// Codes lists every Code (for tests that each is reachable).
func Codes() []Code {
	var cs []Code
	for c := range codeNames {
		if codeNames[c] != "" {
			cs = append(cs, Code(c))
		}
	}
	return cs
}

// Error is a refusal. errors.Is(err, ErrNotReady) and the like match on
// the Code.
type Error struct {
	Code   Code
	Digest tx.Digest
	Detail string
}

func (e *Error) Error() string {
	if e.Detail == "" {
		return "mempool: " + e.Code.String()
	}
	return fmt.Sprintf("mempool: %s: %x…: %s", e.Code, e.Digest[:4], e.Detail)
}

// Is matches any *Error with the same Code.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code
}

// Sentinels for errors.Is.
var (
	ErrNilTransfer      = &Error{Code: CodeNilTransfer}
	ErrDuplicate        = &Error{Code: CodeDuplicate}
	ErrNonceExhausted   = &Error{Code: CodeNonceExhausted}
	ErrStale            = &Error{Code: CodeStale}
	ErrNonceTaken       = &Error{Code: CodeNonceTaken}
	ErrTooFarAhead      = &Error{Code: CodeTooFarAhead}
	ErrAccountFull      = &Error{Code: CodeAccountFull}
	ErrFull             = &Error{Code: CodeFull}
	ErrUnknown          = &Error{Code: CodeUnknown}
	ErrAlreadyValidated = &Error{Code: CodeAlreadyValidated}
	ErrNotReady         = &Error{Code: CodeNotReady}
	ErrDebitsOverflow   = &Error{Code: CodeDebitsOverflow}
	ErrAlreadyFinalized = &Error{Code: CodeAlreadyFinalized}
	ErrConfig           = &Error{Code: CodeConfig}
)

// CodeOf returns the Code of a mempool error, or 0.
func CodeOf(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return 0
}

func refuse(c Code, d tx.Digest, format string, args ...any) *Error {
	return &Error{Code: c, Digest: d, Detail: fmt.Sprintf(format, args...)}
}
