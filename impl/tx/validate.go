package tx

import (
	"errors"
	"math"
	"math/bits"
)

// Config holds the validity parameters that are not part of a transfer.
type Config struct {
	// MinFee is the smallest accepted fee (spec: TX-11).
	MinFee uint64
}

// Account is the finalised state of one account (spec: TX-22).
type Account struct {
	Balance uint64
	// Nonce is the number of finalised transfers sent by the account,
	// i.e. the nonce its next finalised transfer must carry.
	Nonce uint64
}

// AccountView reads finalised account state. An account never seen has the
// zero Account (spec: TX-22).
type AccountView interface {
	Account(id AccountID) Account
}

// Pending summarises one sender's transfers that this node accepted but
// that are not finalised yet (spec: TX-22).
type Pending struct {
	// Count is how many there are; their nonces are Account.Nonce …
	// Account.Nonce+Count-1.
	Count uint64
	// Debits is the sum of their Amount+Fee.
	Debits uint64
}

// PendingView reads the mempool (spec: TX-22).
type PendingView interface {
	Pending(id AccountID) Pending
	// Seen reports whether a transfer with this digest is pending or was
	// recently processed (the mempool's bounded cache).
	Seen(d Digest) bool
}

// ErrNilInput is returned for a nil transfer or view: a caller bug, not an
// invalid transfer, so it carries no Reason (spec: TX-20).
var ErrNilInput = errors.New("tx: nil transfer or view")

// CheckStateless applies the rules that need neither state nor the
// signature, in spec order (spec: TX-9 … TX-14, precedence TX-19).
func (c Config) CheckStateless(t *Transfer) error {
	if t == nil {
		return ErrNilInput
	}
	if t.From == t.To {
		return invalid(ReasonSelfTransfer, "from and to are the same account")
	}
	if t.Amount == 0 {
		return invalid(ReasonZeroAmount, "amount is zero")
	}
	if t.Fee < c.MinFee {
		return invalid(ReasonFeeTooLow, "fee %d below minimum %d", t.Fee, c.MinFee)
	}
	if _, carry := bits.Add64(t.Amount, t.Fee, 0); carry != 0 {
		return invalid(ReasonCostOverflow, "amount %d + fee %d exceeds 2^64-1", t.Amount, t.Fee)
	}
	if t.Nonce == math.MaxUint64 {
		return invalid(ReasonNonceExhausted, "nonce 2^64-1 has no successor")
	}
	if !usableKey(&t.To) {
		return invalid(ReasonBadRecipient, "to %x is not a canonical, usable Ed25519 key", t.To[:4])
	}
	return nil
}

// checkState applies the rules that read the views (spec: TX-15 … TX-18).
// It assumes CheckStateless passed, so Amount+Fee does not overflow.
func checkState(t *Transfer, accounts AccountView, pending PendingView) error {
	if pending.Seen(t.Digest()) {
		return invalid(ReasonDuplicate, "digest already pending or processed")
	}
	acct := accounts.Account(t.From)
	p := pending.Pending(t.From)
	// Nonce rules without ever forming Nonce+Count, which a hostile or
	// exhausted account could overflow (spec: TX-16, TX-17).
	if t.Nonce < acct.Nonce {
		return invalid(ReasonReplay, "nonce %d below account nonce %d", t.Nonce, acct.Nonce)
	}
	ahead := t.Nonce - acct.Nonce
	if ahead < p.Count {
		return invalid(ReasonNoncePending, "nonce %d already used by a pending transfer (account nonce %d, %d pending)", t.Nonce, acct.Nonce, p.Count)
	}
	if ahead > p.Count {
		return invalid(ReasonNonceGap, "nonce %d, want %d+%d", t.Nonce, acct.Nonce, p.Count)
	}
	// Balance >= Amount + Fee + Debits, with the sum in 65 bits
	// (spec: TX-18).
	cost := t.Amount + t.Fee
	need, carry := bits.Add64(cost, p.Debits, 0)
	if carry != 0 || acct.Balance < need {
		return invalid(ReasonInsufficientFunds, "balance %d < amount+fee %d + pending debits %d", acct.Balance, cost, p.Debits)
	}
	return nil
}

// Validate decides whether t may be accepted now, given finalised state and
// this node's pending transfers. It is a pure function: no I/O, no clock,
// no randomness; the same inputs give the same answer. A refusal is an
// *InvalidError whose Reason is the first failing rule in the order of
// TX-19: stateless rules, duplicate, nonce, funds, signature. The signature
// comes last because it is by far the most expensive check.
func (c Config) Validate(t *Transfer, accounts AccountView, pending PendingView) error {
	return c.validate(t, accounts, pending, nil)
}

// ValidateVerified is Validate with the signature verdict supplied by the
// caller, normally from VerifyBatch. With sigValid equal to
// VerifySignature(t) == nil it returns exactly what Validate returns
// (spec: TX-8, TX-19).
func (c Config) ValidateVerified(t *Transfer, accounts AccountView, pending PendingView, sigValid bool) error {
	return c.validate(t, accounts, pending, &sigValid)
}

func (c Config) validate(t *Transfer, accounts AccountView, pending PendingView, sigValid *bool) error {
	if t == nil || accounts == nil || pending == nil {
		return ErrNilInput
	}
	if err := c.CheckStateless(t); err != nil {
		return err
	}
	if err := checkState(t, accounts, pending); err != nil {
		return err
	}
	if sigValid == nil {
		return VerifySignature(t)
	}
	if !*sigValid {
		return signatureError(t)
	}
	return nil
}
