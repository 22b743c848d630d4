package state

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"slices"

	"github.com/fhbft/fhbft/impl/tx"
)

// Hash is a node hash of the state tree; the state root is one.
type Hash [32]byte

// Empty is the hash of an empty subtree and the root of the empty state.
// No SHA-256 output is known to equal it, so it cannot be confused with a
// leaf or a node (spec: FARM-9).
var Empty Hash

// Domain separation of the tree's hashes (spec: FARM-9). Leaf and node
// preimages also differ in length (49 and 65 bytes); the prefix makes the
// separation explicit rather than a consequence of the layout.
const (
	prefixLeaf byte = 0x00
	prefixNode byte = 0x01
	// pathDomain tags the hash that places an account in the tree.
	pathDomain = "FHBFT/state/path/v1"
)

// MaxDepth bounds the depth of a leaf and so the length of a proof: paths
// are 256 bits and two distinct paths differ within them.
const MaxDepth = 256

// pathOf is the position of an account in the tree: a hash of its ID, not
// the ID itself, so that structured IDs (genesis fixtures, the fee sink,
// ground keys) cannot build long chains of single-child nodes; the expected
// depth is log2(n)+O(1) whatever the IDs (spec: FARM-8).
func pathOf(id tx.AccountID) Hash {
	var b [len(pathDomain) + 32]byte
	copy(b[:], pathDomain)
	copy(b[len(pathDomain):], id[:])
	return sha256.Sum256(b[:])
}

// bit returns bit i (0 = most significant bit of byte 0) of a path.
func bit(p *Hash, i int) int { return int(p[i>>3]>>(7-uint(i&7))) & 1 }

// leafHash = SHA-256(0x00 ‖ id ‖ u64be(balance) ‖ u64be(nonce))
// (spec: FARM-9).
func leafHash(id tx.AccountID, a tx.Account) Hash {
	var b [1 + 32 + 8 + 8]byte
	b[0] = prefixLeaf
	copy(b[1:33], id[:])
	binary.BigEndian.PutUint64(b[33:41], a.Balance)
	binary.BigEndian.PutUint64(b[41:49], a.Nonce)
	return sha256.Sum256(b[:])
}

// nodeHash = SHA-256(0x01 ‖ left ‖ right) (spec: FARM-9).
func nodeHash(l, r Hash) Hash {
	var b [1 + 32 + 32]byte
	b[0] = prefixNode
	copy(b[1:33], l[:])
	copy(b[33:65], r[:])
	return sha256.Sum256(b[:])
}

// node is an immutable tree node. A leaf holds one account; an internal
// node has at least two leaves below it. nil is the empty subtree. Nodes
// are never modified after construction, so one tree can be shared by
// both left-right copies and kept by readers after their read ends.
type node struct {
	hash        Hash
	left, right *node // internal nodes only
	leaf        bool
	id          tx.AccountID // leaves only
	path        Hash         // leaves only: pathOf(id), kept so that splitting a leaf needs no hash
	acct        tx.Account   // leaves only; never the zero Account
}

func (n *node) hashOrEmpty() Hash {
	if n == nil {
		return Empty
	}
	return n.hash
}

func newLeaf(it *item) *node {
	return &node{hash: leafHash(it.id, it.acct), leaf: true, id: it.id, path: it.path, acct: it.acct}
}

func newInternal(l, r *node) *node {
	return &node{hash: nodeHash(l.hashOrEmpty(), r.hashOrEmpty()), left: l, right: r}
}

// Change sets one account. The zero Account removes it: an absent account
// and the zero Account are the same state (tx.AccountView), so the tree
// never holds a zero leaf and the root depends only on the observable state
// (spec: FARM-8).
type Change struct {
	ID      tx.AccountID
	Account tx.Account
}

// Tree is an immutable snapshot of the account state as a compact sparse
// Merkle tree (spec: FARM-8). The zero Tree is the empty state. A Tree is
// safe for concurrent use and may be kept indefinitely.
//
// Shape: the binary trie over the 256-bit paths pathOf(id), where every
// subtree holding no account is the empty hash, every subtree holding
// exactly one account is that account's leaf (the default-hash shortcut:
// no chain of single-child nodes down to depth 256), and every other
// subtree is a node over its two halves. The shape, and so the root, is a
// function of the set of accounts only, not of the order of updates.
type Tree struct {
	root *node
	n    int
}

// Root is the state root.
func (t Tree) Root() Hash { return t.root.hashOrEmpty() }

// Len is the number of accounts (non-zero) in the state.
func (t Tree) Len() int { return t.n }

// Get returns an account and whether it is present; an absent account is
// the zero Account.
func (t Tree) Get(id tx.AccountID) (tx.Account, bool) {
	p := pathOf(id)
	n := t.root
	for d := 0; n != nil; d++ {
		if n.leaf {
			if n.id == id {
				return n.acct, true
			}
			return tx.Account{}, false
		}
		if bit(&p, d) == 0 {
			n = n.left
		} else {
			n = n.right
		}
	}
	return tx.Account{}, false
}

// Each calls f for every account, in path order (deterministic).
func (t Tree) Each(f func(tx.AccountID, tx.Account)) {
	var walk func(*node)
	walk = func(n *node) {
		switch {
		case n == nil:
		case n.leaf:
			f(n.id, n.acct)
		default:
			walk(n.left)
			walk(n.right)
		}
	}
	walk(t.root)
}

// item is one pending change, with its path.
type item struct {
	path Hash
	id   tx.AccountID
	acct tx.Account
	seq  int // position in the caller's changes
}

func (it *item) zero() bool { return it.acct == (tx.Account{}) }

// With returns the tree after applying changes in order (a later change
// to the same account wins). Only the paths to changed accounts are
// rebuilt; everything else is shared with t, which is unchanged. Cost: one
// hash per new node, about k·(log2(n/k)+2) for k changes in a tree of n
// accounts (spec: FARM-8).
func (t Tree) With(changes []Change) Tree {
	if len(changes) == 0 {
		return t
	}
	items := make([]item, len(changes))
	for i, c := range changes {
		items[i] = item{path: pathOf(c.ID), id: c.ID, acct: c.Account, seq: i}
	}
	return t.withItems(items)
}

// withItems applies items (paths and seq set) in seq order. It reorders
// items.
func (t Tree) withItems(items []item) Tree {
	// Sort by path, then by seq so that the last change per path wins.
	slices.SortFunc(items, func(a, b item) int {
		if c := bytes.Compare(a.path[:], b.path[:]); c != 0 {
			return c
		}
		return a.seq - b.seq
	})
	out := items[:0]
	for i := range items {
		if len(out) > 0 && out[len(out)-1].path == items[i].path {
			out[len(out)-1] = items[i]
			continue
		}
		out = append(out, items[i])
	}
	root, delta := update(t.root, 0, out)
	return Tree{root: root, n: t.n + delta}
}

// update applies sorted, distinct items that all share n's position (the
// first depth bits of their paths) to the subtree n, returning the new
// subtree and the change in its number of leaves.
func update(n *node, depth int, items []item) (*node, int) {
	switch {
	case len(items) == 0:
		return n, 0
	case n == nil:
		return build(depth, live(items, nil))
	case n.leaf:
		built, count := build(depth, mergeLeaf(items, n))
		return built, count - 1
	}
	i := splitAt(items, depth)
	l, dl := update(n.left, depth+1, items[:i])
	r, dr := update(n.right, depth+1, items[i:])
	if l == n.left && r == n.right {
		return n, 0
	}
	return join(l, r), dl + dr
}

// join makes the canonical subtree with halves l and r: empty if both are
// empty, the leaf itself if it is alone (the shortcut), else a node.
func join(l, r *node) *node {
	switch {
	case l == nil && r == nil:
		return nil
	case l == nil && r.leaf:
		return r
	case r == nil && l.leaf:
		return l
	}
	return newInternal(l, r)
}

// live returns the non-zero items, reusing buf.
func live(items []item, buf []item) []item {
	for i := range items {
		if !items[i].zero() {
			buf = append(buf, items[i])
		}
	}
	return buf
}

// mergeLeaf returns the non-zero items plus the existing leaf unless an
// item replaces it, in path order.
func mergeLeaf(items []item, leaf *node) []item {
	out := make([]item, 0, len(items)+1)
	lp := leaf.path
	placed := false
	for i := range items {
		if !placed {
			switch c := bytes.Compare(lp[:], items[i].path[:]); {
			case c == 0:
				placed = true // replaced (or removed) by the change
			case c < 0:
				out = append(out, item{path: lp, id: leaf.id, acct: leaf.acct})
				placed = true
			}
		}
		if !items[i].zero() {
			out = append(out, items[i])
		}
	}
	if !placed {
		out = append(out, item{path: lp, id: leaf.id, acct: leaf.acct})
	}
	return out
}

// splitAt returns the index of the first item whose path has bit depth set;
// items are sorted, so the bit is non-decreasing along them.
func splitAt(items []item, depth int) int {
	i, _ := slices.BinarySearchFunc(items, 1, func(it item, target int) int { return bit(&it.path, depth) - target })
	return i
}

// build makes the canonical subtree at depth for sorted, distinct, non-zero
// items, returning it and its number of leaves.
func build(depth int, items []item) (*node, int) {
	switch {
	case len(items) == 0:
		return nil, 0
	case len(items) == 1 || depth >= MaxDepth:
		// depth >= MaxDepth with several items would need equal paths,
		// i.e. a SHA-256 collision; keep the last rather than recurse.
		return newLeaf(&items[len(items)-1]), 1
	}
	i := splitAt(items, depth)
	l, nl := build(depth+1, items[:i])
	r, nr := build(depth+1, items[i:])
	return newInternal(l, r), nl + nr
}

// NewTree builds the tree of a set of accounts in one pass (n leaves, n−1
// nodes). Zero accounts are skipped; for repeated IDs the last one wins.
func NewTree(accounts []Change) Tree { return Tree{}.With(accounts) }
