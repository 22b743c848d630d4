package state

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"math/bits"
	"slices"

	"github.com/fhbft/fhbft/impl/tx"
)

// FeeSink is the account that collects fees (spec: FARM-12). It is the
// all-zero ID, which encodes a point of order 4 on Ed25519: not a usable
// key (TX-7 condition 3, TX-14), so no valid transfer can be signed by it
// or sent to it. Fees therefore stay out of circulation, but in the state
// and under the root, until a later rule pays them out; total supply
// (the sum of all balances, the sink's included) never changes.
var FeeSink tx.AccountID

// Apply errors. An *ApplyError wraps one of them; test with errors.Is.
var (
	ErrSelfTransfer      = errors.New("state: transfer to its own sender")
	ErrFeeSinkTransfer   = errors.New("state: transfer from or to the fee sink")
	ErrCostOverflow      = errors.New("state: amount + fee exceeds 2^64-1")
	ErrNonce             = errors.New("state: nonce is not the account's next nonce")
	ErrNonceExhausted    = errors.New("state: account nonce 2^64-1 has no successor")
	ErrInsufficientFunds = errors.New("state: balance below amount + fee")
	ErrBalanceOverflow   = errors.New("state: credit exceeds 2^64-1")
)

// ApplyError says which transfer of a batch was refused and why. A batch
// with an ApplyError changed nothing (spec: FARM-11).
type ApplyError struct {
	Index   int          // position of the refused transfer in the batch
	Account tx.AccountID // the account whose state refused it
	Err     error        // one of the Err* values above
	Detail  string
}

func (e *ApplyError) Error() string {
	return fmt.Sprintf("transfer %d (account %x…): %v: %s", e.Index, e.Account[:4], e.Err, e.Detail)
}

func (e *ApplyError) Unwrap() error { return e.Err }

// plantedBug selects a deliberately wrong transition, so that tests can
// show their checks detect it. Always noBug outside this package's tests.
type plantedBug uint8

const (
	noBug plantedBug = iota
	bugBurnFee
	bugAliasSelf
)

// transition computes the account changes made by a batch of certified
// transfers, applied in order, each against the state left by the ones
// before it (spec: FARM-11). get reads the state before the batch. On any
// refusal it returns an *ApplyError and no changes. The changes are sorted
// by ID, one per touched account. Pure: no I/O, no map-order dependence.
func transition(get func(tx.AccountID) tx.Account, batch []tx.Transfer, bug plantedBug) ([]Change, error) {
	work := make(map[tx.AccountID]tx.Account, 2*len(batch)+1)
	read := func(id tx.AccountID) tx.Account {
		if a, ok := work[id]; ok {
			return a
		}
		return get(id)
	}
	refuse := func(i int, id tx.AccountID, err error, format string, args ...any) ([]Change, error) {
		return nil, &ApplyError{Index: i, Account: id, Err: err, Detail: fmt.Sprintf(format, args...)}
	}
	for i := range batch {
		t := &batch[i]
		if t.From == t.To && bug != bugAliasSelf {
			// TX-9; also the aliasing hazard a debit-then-credit on one
			// account invites.
			return refuse(i, t.From, ErrSelfTransfer, "from = to")
		}
		if t.From == FeeSink || t.To == FeeSink {
			return refuse(i, FeeSink, ErrFeeSinkTransfer, "the fee sink moves only by protocol rules")
		}
		cost, carry := bits.Add64(t.Amount, t.Fee, 0)
		if carry != 0 {
			return refuse(i, t.From, ErrCostOverflow, "amount %d + fee %d", t.Amount, t.Fee)
		}
		from := read(t.From)
		if t.Nonce != from.Nonce {
			return refuse(i, t.From, ErrNonce, "nonce %d, account nonce %d", t.Nonce, from.Nonce)
		}
		if from.Nonce == math.MaxUint64 {
			return refuse(i, t.From, ErrNonceExhausted, "nonce %d", from.Nonce)
		}
		if from.Balance < cost {
			return refuse(i, t.From, ErrInsufficientFunds, "balance %d < amount %d + fee %d", from.Balance, t.Amount, t.Fee)
		}
		var early tx.Account
		if bug == bugAliasSelf {
			// The classic aliasing bug: the recipient is read before the
			// debit is written, so for from = to the credit overwrites it.
			early = read(t.To)
		}
		from.Balance -= cost
		from.Nonce++
		// The debit is written before the recipient is read, so even a
		// self-transfer (refused above) could not create money.
		work[t.From] = from
		to := read(t.To)
		if bug == bugAliasSelf {
			to = early
		}
		var c uint64
		// Unreachable while the supply bound holds (TX-21); checked anyway.
		if to.Balance, c = bits.Add64(to.Balance, t.Amount, 0); c != 0 {
			return refuse(i, t.To, ErrBalanceOverflow, "recipient balance + amount %d", t.Amount)
		}
		work[t.To] = to
		if bug == bugBurnFee {
			continue
		}
		sink := read(FeeSink)
		if sink.Balance, c = bits.Add64(sink.Balance, t.Fee, 0); c != 0 {
			return refuse(i, FeeSink, ErrBalanceOverflow, "fee sink balance + fee %d", t.Fee)
		}
		work[FeeSink] = sink
	}
	changes := make([]Change, 0, len(work))
	for id, a := range work {
		changes = append(changes, Change{ID: id, Account: a})
	}
	sortChanges(changes)
	return changes, nil
}

// sortChanges orders changes by ID, so that the backend sees every batch
// in one deterministic order.
func sortChanges(c []Change) {
	slices.SortFunc(c, func(a, b Change) int { return bytes.Compare(a.ID[:], b.ID[:]) })
}
