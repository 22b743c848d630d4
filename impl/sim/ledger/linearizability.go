package ledger

import (
	"bytes"
	"fmt"
	"math"
	"math/bits"
	"slices"
	"strings"
	"time"

	"github.com/anishathalye/porcupine"

	"github.com/fhbft/fhbft/impl/certification"
	"github.com/fhbft/fhbft/impl/dag"
	"github.com/fhbft/fhbft/impl/state"
	"github.com/fhbft/fhbft/impl/tx"
)

// The sequential ledger model the client history is checked against with
// porcupine (history.go says why a correct run is linearizable). It is
// written from spec/dag.md and FARM-11 alone, sharing no code with
// impl/state or impl/dag.

// TransferInput and TransferOutput are a transfer's porcupine input and
// output.
type TransferInput struct {
	Tx     tx.Transfer
	Digest tx.Digest
}

type TransferOutput struct {
	Result    TransferResult
	Round     dag.Round
	Reason    string
	ByFarmers bool
}

// ReadInput and ReadOutput are a read's porcupine input and output.
type ReadInput struct {
	Account   tx.AccountID
	Harvester certification.Member
	Index     dag.Round
}

type ReadOutput struct {
	Value tx.Account
	Round dag.Round
}

// Operations is the history as porcupine operations; timestamps are
// simulated nanoseconds.
func (h *History) Operations() []porcupine.Operation {
	ops := make([]porcupine.Operation, 0, h.Len())
	for _, t := range h.Transfers {
		ops = append(ops, porcupine.Operation{ClientId: t.Client, Call: int64(t.Call), Return: int64(t.Return),
			Input:  TransferInput{Tx: t.Tx, Digest: t.Digest},
			Output: TransferOutput{Result: t.Result, Round: t.Round, Reason: t.Reason, ByFarmers: t.ByFarmers}})
	}
	for _, r := range h.Reads {
		ops = append(ops, porcupine.Operation{ClientId: r.Client, Call: int64(r.Call), Return: int64(r.Return),
			Input: ReadInput{Account: r.Account, Harvester: r.Harvester, Index: r.Index}, Output: ReadOutput{Value: r.Value, Round: r.Round}})
	}
	return ops
}

// ledgerState is the model state: the accounts that differ from genesis,
// sorted by ID. Never mutated (porcupine keeps old states).
type ledgerState []state.Change

func (st ledgerState) find(id tx.AccountID) (int, bool) {
	return slices.BinarySearchFunc(st, id, func(c state.Change, id tx.AccountID) int { return bytes.Compare(c.ID[:], id[:]) })
}

// with returns a copy of st with the given accounts set.
func (st ledgerState) with(changes ...state.Change) ledgerState {
	out := slices.Clone(st)
	for _, c := range changes {
		if i, ok := out.find(c.ID); ok {
			out[i] = c
		} else {
			out = slices.Insert(out, i, c)
		}
	}
	return out
}

func shortID(id tx.AccountID) string {
	if id == state.FeeSink {
		return "fee-sink"
	}
	return fmt.Sprintf("%x", id[:4])
}

// Model is the sequential ledger: genesis accounts; a finalized transfer
// must be applicable (FARM-11: from ≠ to, neither the fee sink, nonce =
// the sender's nonce, balance ≥ amount + fee, no overflow) and debits
// amount + fee and advances the nonce, credits amount to the recipient and
// fee to the fee sink (FARM-12); a rejected or unresolved transfer changes
// nothing, and a rejection by a final block must fit its reason (replay:
// nonce below the sender's, CONV-6; overdraft: nonce equal, balance below
// amount + fee, CONV-8; gap-expired: nonce above, CONV-9; conflict: no
// condition, CONV-4); a read returns the account's balance and nonce.
//
// With partition true the history is checked per account: each transfer
// with its sender, each read with its account. That is sound (porcupine
// requires: linearizable iff every part is) when no account that receives
// (a recipient, or the fee sink) is a sender or is read: then an
// operation's legality and output depend only on its own account, which
// only operations of its own part change; credits never fail (the supply
// fits in uint64, FIN-8); so the model is a product of independent objects
// with one object per operation, and linearizability is local (Herlihy and
// Wing 1990, Theorem 1). When the condition fails, the partition function
// returns the whole history as one part.
func (h *History) Model(partition bool) porcupine.Model {
	genesis := map[tx.AccountID]tx.Account{}
	for _, c := range h.Genesis {
		genesis[c.ID] = c.Account
	}
	get := func(st ledgerState, id tx.AccountID) tx.Account {
		if i, ok := st.find(id); ok {
			return st[i].Account
		}
		return genesis[id]
	}
	m := porcupine.Model{
		Init: func() interface{} { return ledgerState(nil) },
		Step: func(s, input, output interface{}) (bool, interface{}) {
			st := s.(ledgerState)
			switch in := input.(type) {
			case TransferInput:
				out := output.(TransferOutput)
				t := in.Tx
				from := get(st, t.From)
				cost, carry := bits.Add64(t.Amount, t.Fee, 0)
				switch out.Result {
				case TransferFinalized:
					if t.From == t.To || t.From == state.FeeSink || t.To == state.FeeSink || carry != 0 ||
						t.Nonce != from.Nonce || from.Nonce == math.MaxUint64 || from.Balance < cost {
						return false, st
					}
					from.Balance -= cost
					from.Nonce++
					st = st.with(state.Change{ID: t.From, Account: from})
					to := get(st, t.To)
					sink := get(st, state.FeeSink)
					var c1, c2 uint64
					to.Balance, c1 = bits.Add64(to.Balance, t.Amount, 0)
					sink.Balance, c2 = bits.Add64(sink.Balance, t.Fee, 0)
					if c1|c2 != 0 {
						return false, s
					}
					return true, st.with(state.Change{ID: t.To, Account: to}, state.Change{ID: state.FeeSink, Account: sink})
				case TransferRejected:
					if out.ByFarmers {
						return true, st
					}
					switch out.Reason {
					case dag.ReasonReplay.String():
						return t.Nonce < from.Nonce, st
					case dag.ReasonOverdraft.String():
						return t.Nonce == from.Nonce && (carry != 0 || from.Balance < cost), st
					case dag.ReasonGapExpired.String():
						return t.Nonce > from.Nonce, st
					}
					return true, st
				case TransferUnresolved:
					return true, st
				}
			case ReadInput:
				return get(st, in.Account) == output.(ReadOutput).Value, st
			}
			return false, s
		},
		Equal: func(a, b interface{}) bool { return slices.Equal(a.(ledgerState), b.(ledgerState)) },
		Hash: func(s interface{}) uint64 {
			x := uint64(14695981039346656037)
			mix := func(v uint64) { x = (x ^ v) * 1099511628211 }
			for _, c := range s.(ledgerState) {
				for i := 0; i < len(c.ID); i += 8 {
					mix(uint64(c.ID[i]) | uint64(c.ID[i+1])<<8 | uint64(c.ID[i+2])<<16 | uint64(c.ID[i+3])<<24 |
						uint64(c.ID[i+4])<<32 | uint64(c.ID[i+5])<<40 | uint64(c.ID[i+6])<<48 | uint64(c.ID[i+7])<<56)
				}
				mix(c.Account.Balance)
				mix(c.Account.Nonce)
			}
			return x
		},
		DescribeOperation: func(input, output interface{}) string {
			switch in := input.(type) {
			case TransferInput:
				out := output.(TransferOutput)
				t := in.Tx
				s := fmt.Sprintf("transfer %x %s→%s %d+%d nonce %d: %v", in.Digest[:4], shortID(t.From), shortID(t.To), t.Amount, t.Fee, t.Nonce, out.Result)
				switch {
				case out.Result == TransferFinalized:
					s += fmt.Sprintf(" in round %d", out.Round)
				case out.ByFarmers:
					s += " by the farmers (" + out.Reason + ")"
				case out.Result == TransferRejected:
					s += fmt.Sprintf(" in round %d (%s)", out.Round, out.Reason)
				}
				return s
			case ReadInput:
				out := output.(ReadOutput)
				return fmt.Sprintf("read %s at harvester %d (index %d) → balance %d nonce %d (round %d)", shortID(in.Account), in.Harvester, in.Index, out.Value.Balance, out.Value.Nonce, out.Round)
			}
			return "?"
		},
		DescribeState: func(s interface{}) string {
			var b strings.Builder
			for i, c := range s.(ledgerState) {
				if i > 0 {
					b.WriteString(", ")
				}
				fmt.Fprintf(&b, "%s: %d/n%d", shortID(c.ID), c.Account.Balance, c.Account.Nonce)
			}
			if b.Len() == 0 {
				return "genesis"
			}
			return b.String()
		},
	}
	if partition {
		m.Partition = partitionByAccount
	}
	return m
}

// partitionByAccount groups each transfer with its sender and each read
// with its account, in order of first appearance, when that is sound (see
// Model); otherwise it returns the history whole.
func partitionByAccount(history []porcupine.Operation) [][]porcupine.Operation {
	key := func(op porcupine.Operation) tx.AccountID {
		if in, ok := op.Input.(TransferInput); ok {
			return in.Tx.From
		}
		return op.Input.(ReadInput).Account
	}
	receivers := map[tx.AccountID]bool{state.FeeSink: true}
	for _, op := range history {
		if in, ok := op.Input.(TransferInput); ok {
			receivers[in.Tx.To] = true
		}
	}
	idx := map[tx.AccountID]int{}
	var parts [][]porcupine.Operation
	for _, op := range history {
		k := key(op)
		if receivers[k] {
			return [][]porcupine.Operation{history}
		}
		i, ok := idx[k]
		if !ok {
			i = len(parts)
			idx[k] = i
			parts = append(parts, nil)
		}
		parts[i] = append(parts[i], op)
	}
	return parts
}

// Check runs porcupine on the history (partitioned by account when sound)
// and records the verdict. On an illegal history, info is what
// porcupine.VisualizePath needs.
func (h *History) Check(timeout time.Duration) (porcupine.CheckResult, porcupine.LinearizationInfo) {
	res, info := porcupine.CheckOperationsVerbose(h.Model(true), h.Operations(), timeout)
	switch res {
	case porcupine.Ok:
		h.Verdict = "linearizable (porcupine)"
	case porcupine.Illegal:
		h.Verdict = "NOT linearizable (porcupine)"
	default:
		h.Verdict = fmt.Sprintf("unknown (porcupine timed out after %v)", timeout)
	}
	return res, info
}

// WriteVisualization writes porcupine's HTML visualisation of a check
// (info from Check) to path.
func (h *History) WriteVisualization(info porcupine.LinearizationInfo, path string) error {
	return porcupine.VisualizePath(h.Model(true), info, path)
}
