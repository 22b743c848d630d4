package state

import (
	"fmt"
	"maps"
	"math"
	"math/bits"
	"sync"

	"github.com/fhbft/fhbft/impl/leftright"
	"github.com/fhbft/fhbft/impl/tx"
)

// data is one left-right copy of the state: the accounts as a map, for
// O(1) reads by validator cores, and the Merkle tree. The tree is
// immutable and shared by both copies (allowed: nothing mutates it); each
// copy has its own map.
type data struct {
	accounts map[tx.AccountID]tx.Account
	tree     Tree
	head     Head
}

// commitOp is the one left-right operation: install a batch's changes and
// the tree and head computed for it. Applying it is a deterministic,
// panic-free assignment, as leftright requires; all the work (rules,
// hashing) is done once by the writer before it is appended.
type commitOp struct {
	changes []Change // read-only, shared by both replays
	tree    Tree
	head    Head
}

func (o commitOp) Apply(d *data) {
	for _, c := range o.changes {
		if c.Account == (tx.Account{}) {
			delete(d.accounts, c.ID)
		} else {
			d.accounts[c.ID] = c.Account
		}
	}
	d.tree = o.tree
	d.head = o.head
}

// Store is the farmer's state store (spec: FARM-13): one writer (the
// farmer's driver) applies certified batches and publishes them; any
// number of Readers, one per validator core, read the published state
// without waiting (FARM-1). Store's methods are safe for concurrent use;
// they are serialised.
type Store struct {
	mu      sync.Mutex
	w       *leftright.Writer[data, commitOp]
	backend Backend
	supply  uint64
	bug     plantedBug
}

// InitGenesis writes the genesis state to a fresh backend. Zero accounts
// are skipped; an ID listed twice, a total supply above 2^64−1 (TX-21) or
// a backend that already holds state is refused.
func InitGenesis(b Backend, genesis []Change) error {
	if b == nil {
		return ErrNilBackend
	}
	stored := 0
	head, err := b.Load(func(Change) { stored++ })
	if err != nil {
		return fmt.Errorf("%w: load: %w", ErrBackend, err)
	}
	if stored != 0 || head != (Head{}) {
		return fmt.Errorf("%w: %d accounts, seq %d", ErrNotFresh, stored, head.Seq)
	}
	seen := make(map[tx.AccountID]struct{}, len(genesis))
	for _, c := range genesis {
		if _, dup := seen[c.ID]; dup {
			return fmt.Errorf("%w: %x…", ErrGenesisDuplicate, c.ID[:4])
		}
		seen[c.ID] = struct{}{}
	}
	tree := NewTree(genesis)
	if _, err := supplyOf(tree); err != nil {
		return err
	}
	var changes []Change
	tree.Each(func(id tx.AccountID, a tx.Account) { changes = append(changes, Change{id, a}) })
	sortChanges(changes)
	if err := b.Commit(Head{Seq: 0, Root: tree.Root()}, changes); err != nil {
		return fmt.Errorf("%w: commit genesis: %w", ErrBackend, err)
	}
	return nil
}

// Open loads the state committed in b. It recomputes the root from the
// stored accounts and refuses a backend whose stored root differs
// (ErrRootMismatch) or whose supply exceeds 2^64−1 (ErrSupplyOverflow).
func Open(b Backend) (*Store, error) {
	if b == nil {
		return nil, ErrNilBackend
	}
	var items []Change
	head, err := b.Load(func(c Change) { items = append(items, c) })
	if err != nil {
		return nil, fmt.Errorf("%w: load: %w", ErrBackend, err)
	}
	tree := NewTree(items)
	if tree.Root() != head.Root {
		return nil, fmt.Errorf("%w: recomputed %x, stored %x", ErrRootMismatch, tree.Root().short(), head.Root.short())
	}
	supply, err := supplyOf(tree)
	if err != nil {
		return nil, err
	}
	left := make(map[tx.AccountID]tx.Account, tree.Len())
	tree.Each(func(id tx.AccountID, a tx.Account) { left[id] = a })
	right := maps.Clone(left)
	return &Store{
		w:       leftright.New[data, commitOp](data{left, tree, head}, data{right, tree, head}),
		backend: b,
		supply:  supply,
	}, nil
}

// NewMem returns a Store over a fresh MemBackend holding genesis.
func NewMem(genesis []Change) (*Store, error) {
	b := NewMemBackend()
	if err := InitGenesis(b, genesis); err != nil {
		return nil, err
	}
	return Open(b)
}

func supplyOf(t Tree) (uint64, error) {
	var sum uint64
	var over uint64
	t.Each(func(_ tx.AccountID, a tx.Account) {
		var c uint64
		sum, c = bits.Add64(sum, a.Balance, 0)
		over |= c
	})
	if over != 0 {
		return 0, ErrSupplyOverflow
	}
	return sum, nil
}

func (h Hash) short() []byte { return h[:8] }

// Apply applies a batch of certified transfers as one step (spec: FARM-11):
// in order, each debiting From by Amount+Fee and advancing its nonce,
// crediting To with Amount and the fee sink with Fee (FARM-12). If any
// transfer is refused (an *ApplyError naming it) or the backend fails
// (ErrBackend), nothing changes. Otherwise the batch is committed to the
// backend and visible to the writer's views at once, and to Readers after
// the next Publish. It returns the new head.
func (s *Store) Apply(batch []tx.Transfer) (Head, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var (
		changes []Change
		err     error
		tree    Tree
		old     Head
	)
	s.w.Read(func(d *data) {
		tree, old = d.tree, d.head
		changes, err = transition(func(id tx.AccountID) tx.Account { return d.accounts[id] }, batch, s.bug)
	})
	if err != nil {
		return old, err
	}
	if old.Seq == math.MaxUint64 {
		return old, ErrSeqExhausted
	}
	// The new tree shares all untouched nodes with the old one, which
	// readers may still be using: it is never modified.
	tree = tree.With(changes)
	head := Head{Seq: old.Seq + 1, Root: tree.Root()}
	if err := s.backend.Commit(head, changes); err != nil {
		return old, fmt.Errorf("%w: commit seq %d: %w", ErrBackend, head.Seq, err)
	}
	s.w.Append(commitOp{changes: changes, tree: tree, head: head})
	return head, nil
}

// Publish makes every applied batch visible to Readers at once (FARM-3).
func (s *Store) Publish() { s.w.Publish() }

// Head is the writer's head, including batches not yet published.
func (s *Store) Head() Head {
	var h Head
	s.w.Read(func(d *data) { h = d.head })
	return h
}

// Account reads the writer's view, including batches not yet published.
func (s *Store) Account(id tx.AccountID) tx.Account {
	var a tx.Account
	s.w.Read(func(d *data) { a = d.accounts[id] })
	return a
}

// Tree is the writer's tree, including batches not yet published.
func (s *Store) Tree() Tree {
	var t Tree
	s.w.Read(func(d *data) { t = d.tree })
	return t
}

// Supply is the total of all balances, the fee sink's included; fixed at
// genesis (FARM-12).
func (s *Store) Supply() uint64 { return s.supply }

// NewReader returns a read handle for one goroutine.
func (s *Store) NewReader() *Reader { return &Reader{r: s.w.NewReader()} }

// Reader reads the published state without waiting (FARM-1, FARM-2). One
// Reader per goroutine (Clone for another); it implements tx.AccountView.
// Each method call is one read; use Read for several answers from one
// snapshot.
type Reader struct{ r *leftright.Reader[data] }

// View is the published state during one Reader.Read; it must not be used
// after the callback returns. It implements tx.AccountView.
type View struct{ d *data }

// Account returns an account's state; an absent account is the zero Account.
func (v View) Account(id tx.AccountID) tx.Account { return v.d.accounts[id] }

// Head is the head of the state this view shows.
func (v View) Head() Head { return v.d.head }

// Tree is the immutable tree of this view; unlike the View it may be kept.
func (v View) Tree() Tree { return v.d.tree }

// Len is the number of present accounts.
func (v View) Len() int { return len(v.d.accounts) }

// Read calls f with a consistent view of the published state.
func (r *Reader) Read(f func(View)) { r.r.Read(func(d *data) { f(View{d}) }) }

// Account implements tx.AccountView with one wait-free read.
func (r *Reader) Account(id tx.AccountID) tx.Account {
	d := r.r.Enter()
	a := d.accounts[id]
	r.r.Leave()
	return a
}

// Head returns the published head.
func (r *Reader) Head() Head {
	d := r.r.Enter()
	h := d.head
	r.r.Leave()
	return h
}

// Tree returns the published tree, an immutable snapshot that stays valid
// (for Get and Prove) after later publishes.
func (r *Reader) Tree() Tree {
	d := r.r.Enter()
	t := d.tree
	r.r.Leave()
	return t
}

// Clone returns a new Reader for another goroutine.
func (r *Reader) Clone() *Reader { return &Reader{r: r.r.Clone()} }

// Close unregisters the Reader.
func (r *Reader) Close() { r.r.Close() }

var (
	_ tx.AccountView = (*Reader)(nil)
	_ tx.AccountView = View{}
)
