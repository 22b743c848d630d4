package certification

import (
	"errors"
	"fmt"
)

// Reason classifies why a vote, certificate or encoding was refused. The
// simulator and the CLI report rejections grouped by Reason.
type Reason uint8

const (
	ReasonMalformed     Reason = iota + 1 // unknown kind or verdict, inconsistent fields
	ReasonWrongQuorum                     // CERT-4
	ReasonWrongEpoch                      // CERT-4
	ReasonNotMember                       // CERT-4
	ReasonBadPartial                      // CERT-6
	ReasonDuplicate                       // CERT-7
	ReasonEquivocation                    // CERT-8: counted first vote kept, evidence recorded
	ReasonSlotDecided                     // CERT-9: the slot already has a certificate
	ReasonTooFewSigners                   // CERT-10
	ReasonBadSignature                    // CERT-10
	ReasonEncoding                        // CERT-14, CERT-19
)

var reasonNames = map[Reason]string{
	ReasonMalformed:     "malformed",
	ReasonWrongQuorum:   "wrong quorum",
	ReasonWrongEpoch:    "wrong epoch",
	ReasonNotMember:     "not a member",
	ReasonBadPartial:    "bad partial",
	ReasonDuplicate:     "duplicate",
	ReasonEquivocation:  "equivocation",
	ReasonSlotDecided:   "slot decided",
	ReasonTooFewSigners: "too few signers",
	ReasonBadSignature:  "bad signature",
	ReasonEncoding:      "encoding",
}

func (r Reason) String() string {
	if s, ok := reasonNames[r]; ok {
		return s
	}
	return fmt.Sprintf("reason(%d)", uint8(r))
}

// RejectError is the typed error for every refused vote or certificate.
type RejectError struct {
	Reason Reason
	Member Member // 0 when not about one member
	Detail string
}

func (e *RejectError) Error() string {
	s := "certification: " + e.Reason.String()
	if e.Member != 0 {
		s += fmt.Sprintf(" (member %d)", e.Member)
	}
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	return s
}

// ReasonOf extracts the Reason of an error from this package, or 0.
func ReasonOf(err error) Reason {
	var re *RejectError
	if errors.As(err, &re) {
		return re.Reason
	}
	return 0
}
