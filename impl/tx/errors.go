package tx

import (
	"errors"
	"fmt"
)

// Reason classifies why a transfer was refused, by the decoder or by
// validation. The enum is closed: every refusal carries exactly one Reason,
// and the simulator and CLI group rejections by it (spec: TX-20).
type Reason uint8

const (
	_ Reason = iota

	// Decoding (spec: TX-3, TX-4).
	ReasonLength       // encoded size is not EncodedSize
	ReasonDomain       // the domain prefix is not Domain
	ReasonNonCanonical // a point or scalar field has a non-canonical encoding

	// Stateless rules (spec: TX-9 … TX-14).
	ReasonSelfTransfer   // From == To
	ReasonZeroAmount     // Amount == 0
	ReasonFeeTooLow      // Fee < Config.MinFee
	ReasonCostOverflow   // Amount + Fee does not fit in a uint64
	ReasonNonceExhausted // Nonce == MaxUint64: the successor nonce is unrepresentable
	ReasonBadRecipient   // To is not a key that could ever sign

	// State rules (spec: TX-15 … TX-18).
	ReasonDuplicate         // the same digest is pending or recently processed
	ReasonReplay            // Nonce < the account's finalised nonce
	ReasonNoncePending      // Nonce is already taken by a pending transfer
	ReasonNonceGap          // Nonce is beyond account nonce + pending count
	ReasonInsufficientFunds // Balance < Amount + Fee + pending debits

	// Signature rules (spec: TX-7).
	ReasonBadSenderKey // From is not a valid, non-small-order Ed25519 key
	ReasonBadSignature // the signature does not verify under From

	reasonEnd // sentinel: one past the last Reason
)

var reasonNames = [...]string{
	ReasonLength:            "length",
	ReasonDomain:            "domain",
	ReasonNonCanonical:      "non-canonical",
	ReasonSelfTransfer:      "self transfer",
	ReasonZeroAmount:        "zero amount",
	ReasonFeeTooLow:         "fee too low",
	ReasonCostOverflow:      "cost overflow",
	ReasonNonceExhausted:    "nonce exhausted",
	ReasonBadRecipient:      "bad recipient",
	ReasonDuplicate:         "duplicate",
	ReasonReplay:            "replay",
	ReasonNoncePending:      "nonce pending",
	ReasonNonceGap:          "nonce gap",
	ReasonInsufficientFunds: "insufficient funds",
	ReasonBadSenderKey:      "bad sender key",
	ReasonBadSignature:      "bad signature",
}

// Reasons lists every Reason, in declaration order.
func Reasons() []Reason {
	out := make([]Reason, 0, reasonEnd-1)
	for r := Reason(1); r < reasonEnd; r++ {
		out = append(out, r)
	}
	return out
}

func (r Reason) String() string {
	if r > 0 && r < reasonEnd {
		return reasonNames[r]
	}
	return fmt.Sprintf("reason(%d)", uint8(r))
}

// Intrinsic reports whether the reason depends only on the transfer's bytes
// (and the configuration), never on account state. An intrinsically invalid
// transfer stays invalid forever, so a cache may remember the verdict; the
// others (duplicate, nonce, funds) may change as state moves (spec: TX-20).
func (r Reason) Intrinsic() bool {
	switch r {
	case ReasonDuplicate, ReasonReplay, ReasonNoncePending, ReasonNonceGap, ReasonInsufficientFunds:
		return false
	}
	return r > 0 && r < reasonEnd
}

// InvalidError is the typed error for every refused transfer. Field names
// the offending encoding field for decode errors ("" otherwise).
type InvalidError struct {
	Reason Reason
	Field  string
	Detail string
}

func (e *InvalidError) Error() string {
	s := "tx: " + e.Reason.String()
	if e.Field != "" {
		s += " (" + e.Field + ")"
	}
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	return s
}

// ReasonOf extracts the Reason of an error from this package, or 0.
func ReasonOf(err error) Reason {
	var ie *InvalidError
	if errors.As(err, &ie) {
		return ie.Reason
	}
	return 0
}

func invalid(r Reason, format string, args ...any) error {
	return &InvalidError{Reason: r, Detail: fmt.Sprintf(format, args...)}
}

func decodeError(r Reason, field, format string, args ...any) error {
	return &InvalidError{Reason: r, Field: field, Detail: fmt.Sprintf(format, args...)}
}
