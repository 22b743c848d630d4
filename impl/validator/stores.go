package validator

import (
	"github.com/fhbft/fhbft/impl/mempool"
	"github.com/fhbft/fhbft/impl/state"
	"github.com/fhbft/fhbft/impl/tx"
)

// Stores is the Source of a farmer node: its state store and its mempool,
// each a left-right value; every handle holds one Reader of each.
// spec: FARM-23
type Stores struct {
	State   *state.Store
	Mempool *mempool.Mempool
}

// NewHandle implements Source.
func (s Stores) NewHandle() Handle {
	return &storeHandle{st: s.State.NewReader(), mp: s.Mempool.NewReader()}
}

type storeHandle struct {
	st *state.Reader
	mp *mempool.Reader
}

// Read nests one read of each left-right value, so each answers from one
// published snapshot for the whole of f (two snapshots, not one: the driver
// publishes the state and the mempool separately, see the package doc of
// impl/mempool on View.Base).
func (h *storeHandle) Read(f func(tx.AccountView, tx.PendingView)) {
	h.st.Read(func(sv state.View) {
		h.mp.Read(func(mv mempool.View) { f(sv, mv) })
	})
}

func (h *storeHandle) Close() {
	h.st.Close()
	h.mp.Close()
}

// Admit is the admit function of a farmer node's driver for Unit.Validate:
// it records each accepted transfer as validated-pending in the mempool
// (Add, then MarkValidated) and publishes, so that the next level's reads
// count it (TX-17, TX-18). It returns the first mempool refusal: a
// refusal means the mempool and the validator disagree on the rules, which
// the caller must report. spec: FARM-22
func (s Stores) Admit(accepted []*tx.Transfer) error {
	var first error
	for _, t := range accepted {
		if _, err := s.Mempool.Add(t, s.State.Account(t.From).Nonce); err != nil {
			if first == nil {
				first = err
			}
			continue
		}
		if _, err := s.Mempool.MarkValidated(t.Digest()); err != nil && first == nil {
			first = err
		}
	}
	s.Mempool.Publish()
	return first
}
