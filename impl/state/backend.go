package state

import (
	"errors"
	"maps"
	"sync"

	"github.com/fhbft/fhbft/impl/tx"
)

// Head names one committed state: Seq counts the batches applied since
// genesis (genesis is Seq 0) and Root is the state root after them.
type Head struct {
	Seq  uint64
	Root Hash
}

// Backend is where committed state lives (spec: FARM-13). The Store keeps
// the whole state in memory (both left-right copies and the tree) and
// writes through to the Backend, so a persistent Backend can be added
// later without changing the Store's callers.
//
// A Backend must be safe for use by one Store at a time; the Store calls
// it only from its writer.
type Backend interface {
	// Load calls f once per stored account (in any order) and returns the
	// head of the last commit; a fresh backend stores no account and
	// returns the zero Head.
	Load(f func(Change)) (Head, error)
	// Commit records one batch atomically: either every change and the
	// new head, or nothing (then it returns an error). changes hold one
	// entry per touched account, sorted by ID; the zero Account means
	// absent. Commit must not keep the slice.
	Commit(h Head, changes []Change) error
}

// MemBackend is an in-memory Backend, the only one for now.
type MemBackend struct {
	mu       sync.Mutex
	accounts map[tx.AccountID]tx.Account
	head     Head
	commits  uint64
}

// NewMemBackend returns an empty (fresh) MemBackend.
func NewMemBackend() *MemBackend {
	return &MemBackend{accounts: make(map[tx.AccountID]tx.Account)}
}

// Load implements Backend.
func (m *MemBackend) Load(f func(Change)) (Head, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for id, a := range m.accounts {
		f(Change{ID: id, Account: a}) // order is irrelevant: the tree's shape does not depend on it
	}
	return m.head, nil
}

// Commit implements Backend.
func (m *MemBackend) Commit(h Head, changes []Change) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, c := range changes {
		if c.Account == (tx.Account{}) {
			delete(m.accounts, c.ID)
		} else {
			m.accounts[c.ID] = c.Account
		}
	}
	m.head = h
	m.commits++
	return nil
}

// Commits is the number of successful commits (for tests and reports).
func (m *MemBackend) Commits() uint64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.commits
}

// Snapshot returns a copy of the stored accounts and head.
func (m *MemBackend) Snapshot() (map[tx.AccountID]tx.Account, Head) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return maps.Clone(m.accounts), m.head
}

// Store errors (besides *ApplyError).
var (
	ErrNilBackend       = errors.New("state: nil backend")
	ErrBackend          = errors.New("state: backend failed")
	ErrRootMismatch     = errors.New("state: stored root does not match the stored accounts")
	ErrSupplyOverflow   = errors.New("state: total supply exceeds 2^64-1")
	ErrNotFresh         = errors.New("state: genesis on a backend that already holds state")
	ErrGenesisDuplicate = errors.New("state: account listed twice in genesis")
	ErrSeqExhausted     = errors.New("state: batch sequence number exhausted")
)
