package state

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"slices"
	"testing"

	"github.com/fhbft/fhbft/impl/tx"
	"pgregory.net/rapid"
)

// refRoot is the root straight from the definition (FARM-8), with no
// incremental machinery: empty set → Empty, one account → its leaf, else
// a node over the halves split by the next path bit.
func refRoot(items []item, depth int) Hash {
	switch len(items) {
	case 0:
		return Empty
	case 1:
		return leafHash(items[0].id, items[0].acct)
	}
	var l, r []item
	for _, it := range items {
		if bit(&it.path, depth) == 0 {
			l = append(l, it)
		} else {
			r = append(r, it)
		}
	}
	return nodeHash(refRoot(l, depth+1), refRoot(r, depth+1))
}

// refRootOf is refRoot of a map of accounts (zero accounts are absent).
func refRootOf(m map[tx.AccountID]tx.Account) Hash {
	var items []item
	for id, a := range m {
		if a != (tx.Account{}) {
			items = append(items, item{path: pathOf(id), id: id, acct: a})
		}
	}
	return refRoot(items, 0)
}

// checkCanonical walks a subtree at depth, checks every stored hash, that
// every internal node holds at least two leaves and that every leaf sits
// on its own path; it returns the leaf count.
func checkCanonical(t rapid.TB, n *node, depth int) int {
	t.Helper()
	switch {
	case n == nil:
		return 0
	case n.leaf:
		if n.hash != leafHash(n.id, n.acct) {
			t.Fatalf("leaf hash wrong at depth %d", depth)
		}
		if n.acct == (tx.Account{}) {
			t.Fatalf("zero leaf at depth %d", depth)
		}
		return 1
	}
	if n.hash != nodeHash(n.left.hashOrEmpty(), n.right.hashOrEmpty()) {
		t.Fatalf("node hash wrong at depth %d", depth)
	}
	lc := checkCanonical(t, n.left, depth+1)
	rc := checkCanonical(t, n.right, depth+1)
	if lc+rc < 2 {
		t.Fatalf("internal node at depth %d holds %d leaves", depth, lc+rc)
	}
	// Leaves under the left child have bit depth = 0, right = 1.
	eachLeaf(n.left, func(l *node) {
		if bit(&l.path, depth) != 0 {
			t.Fatalf("leaf with bit %d=1 under a left child", depth)
		}
	})
	eachLeaf(n.right, func(l *node) {
		if bit(&l.path, depth) != 1 {
			t.Fatalf("leaf with bit %d=0 under a right child", depth)
		}
	})
	return lc + rc
}

func eachLeaf(n *node, f func(*node)) {
	switch {
	case n == nil:
	case n.leaf:
		f(n)
	default:
		eachLeaf(n.left, f)
		eachLeaf(n.right, f)
	}
}

func genID(t *rapid.T, label string) tx.AccountID {
	var id tx.AccountID
	copy(id[:], rapid.SliceOfN(rapid.Byte(), 32, 32).Draw(t, label))
	return id
}

// genAccount draws an account, zero about one time in six (a removal).
func genAccount(t *rapid.T, label string) tx.Account {
	if rapid.IntRange(0, 5).Draw(t, label+".zero") == 0 {
		return tx.Account{}
	}
	return tx.Account{
		Balance: rapid.OneOf(rapid.Uint64Range(0, 1000), rapid.Just(uint64(math.MaxUint64))).Draw(t, label+".bal"),
		Nonce:   rapid.Uint64Range(0, 5).Draw(t, label+".nonce"),
	}
}

// TestRootIndependentOfOrder checks FARM-8: the root after any sequence of
// batches equals the root from the definition of the final state, so two
// different orders and batchings of the same final state give one root;
// the incremental tree stays canonical throughout.
func TestRootIndependentOfOrder(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		pool := rapid.SliceOfNDistinct(rapid.Custom(func(t *rapid.T) tx.AccountID { return genID(t, "id") }), 1, 40, func(id tx.AccountID) tx.AccountID { return id }).Draw(t, "pool")
		changes := rapid.SliceOfN(rapid.Custom(func(t *rapid.T) Change {
			return Change{ID: rapid.SampledFrom(pool).Draw(t, "id"), Account: genAccount(t, "acct")}
		}), 0, 80).Draw(t, "changes")

		// Final state: last change per account wins.
		final := map[tx.AccountID]tx.Account{}
		for _, c := range changes {
			final[c.ID] = c.Account
		}
		want := refRootOf(final)
		live := 0
		for _, a := range final {
			if a != (tx.Account{}) {
				live++
			}
		}

		// Order 1: the changes in random batches.
		tr := Tree{}
		for rest := changes; len(rest) > 0; {
			k := rapid.IntRange(1, len(rest)).Draw(t, "batch")
			tr = tr.With(rest[:k])
			checkCanonical(t, tr.root, 0)
			rest = rest[k:]
		}
		if tr.Root() != want || tr.Len() != live {
			t.Fatalf("batched: root %x len %d, want %x len %d", tr.Root().short(), tr.Len(), want.short(), live)
		}

		// Order 2: the final state, one account at a time in a random order.
		var fin []Change
		for id, a := range final {
			fin = append(fin, Change{id, a})
		}
		slices.SortFunc(fin, func(a, b Change) int { return bytes.Compare(a.ID[:], b.ID[:]) })
		fin = rapid.Permutation(fin).Draw(t, "perm")
		tr2 := Tree{}
		for _, c := range fin {
			tr2 = tr2.With([]Change{c})
		}
		if tr2.Root() != want {
			t.Fatalf("one by one: root %x, want %x", tr2.Root().short(), want.short())
		}
		// Order 3: one bulk build.
		if NewTree(fin).Root() != want {
			t.Fatal("bulk build root differs")
		}
		for id, a := range final {
			got, ok := tr.Get(id)
			if got != a || ok != (a != tx.Account{}) {
				t.Fatalf("Get(%x) = %v,%v want %v", id[:4], got, ok, a)
			}
		}
	})
}

// TestDeepPaths drives the update code with hand-made paths that share
// long prefixes (unreachable through pathOf without breaking SHA-256),
// so chains of single-child nodes down to depth 255 are exercised.
func TestDeepPaths(t *testing.T) {
	mk := func(flipBit int, tag byte) item {
		var p Hash // all-zero path with one bit flipped
		if flipBit >= 0 {
			p[flipBit/8] |= 0x80 >> (flipBit % 8)
		}
		var id tx.AccountID
		id[0] = tag
		return item{path: p, id: id, acct: tx.Account{Balance: uint64(tag) + 1}, seq: int(tag)}
	}
	items := []item{mk(-1, 1), mk(255, 2), mk(254, 3), mk(0, 4), mk(128, 5)}
	want := refRoot(slices.Clone(items), 0)
	for perm := range 20 {
		order := slices.Clone(items)
		// A fixed, seed-free shuffle: rotate and swap by perm.
		order = append(order[perm%len(order):], order[:perm%len(order)]...)
		if perm%2 == 1 {
			order[0], order[len(order)-1] = order[len(order)-1], order[0]
		}
		tr := Tree{}
		for _, it := range order {
			tr = tr.withItems([]item{it})
			checkCanonical(t, tr.root, 0)
		}
		if tr.Root() != want || tr.Len() != len(items) {
			t.Fatalf("order %d: root %x len %d, want %x", perm, tr.Root().short(), tr.Len(), want.short())
		}
		// Remove the two deepest: the chain must collapse back.
		del := []item{items[0], items[1]}
		del[0].acct, del[1].acct = tx.Account{}, tx.Account{}
		tr = tr.withItems(del)
		checkCanonical(t, tr.root, 0)
		if tr.Root() != refRoot(slices.Clone(items[2:]), 0) || tr.Len() != 3 {
			t.Fatalf("order %d: after removal root differs", perm)
		}
	}
}

// TestZeroAccountIsAbsent: setting an account to the zero Account removes
// it, so the root depends only on the observable state (FARM-8).
func TestZeroAccountIsAbsent(t *testing.T) {
	a, b := tx.AccountID{1}, tx.AccountID{2}
	one := NewTree([]Change{{a, tx.Account{Balance: 5}}})
	two := one.With([]Change{{b, tx.Account{Balance: 7}}})
	back := two.With([]Change{{b, tx.Account{}}})
	if back.Root() != one.Root() || back.Len() != 1 {
		t.Fatal("removing an account does not restore the root")
	}
	if NewTree([]Change{{a, tx.Account{Balance: 5}}, {b, tx.Account{}}}).Root() != one.Root() {
		t.Fatal("a zero account changes the root")
	}
	if (Tree{}).With([]Change{{a, tx.Account{}}}).Root() != Empty {
		t.Fatal("empty tree with a zero account is not Empty")
	}
	if two.Root() == one.Root() {
		t.Fatal("adding an account does not change the root")
	}
}

// TestDomainSeparation pins the hash preimages (FARM-9).
func TestDomainSeparation(t *testing.T) {
	id := tx.AccountID{0xAA}
	a := tx.Account{Balance: 0x0102030405060708, Nonce: 9}
	var pre []byte
	pre = append(pre, 0x00)
	pre = append(pre, id[:]...)
	pre = append(pre, 1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 0, 0, 0, 0, 0, 9)
	if leafHash(id, a) != sha256Sum(pre) {
		t.Fatal("leaf preimage is not 0x00 ‖ id ‖ balance ‖ nonce")
	}
	l, r := Hash{1}, Hash{2}
	pre = append([]byte{0x01}, l[:]...)
	pre = append(pre, r[:]...)
	if nodeHash(l, r) != sha256Sum(pre) {
		t.Fatal("node preimage is not 0x01 ‖ left ‖ right")
	}
	// A two-leaf tree's root is a node over the leaves, never a leaf hash.
	tr := NewTree([]Change{{tx.AccountID{1}, tx.Account{Balance: 1}}, {tx.AccountID{2}, tx.Account{Balance: 1}}})
	if tr.Root() == leafHash(tx.AccountID{1}, tx.Account{Balance: 1}) {
		t.Fatal("root equals a leaf hash")
	}
}

func genState(t *rapid.T) (Tree, map[tx.AccountID]tx.Account, []tx.AccountID) {
	pool := rapid.SliceOfNDistinct(rapid.Custom(func(t *rapid.T) tx.AccountID { return genID(t, "id") }), 1, 60, func(id tx.AccountID) tx.AccountID { return id }).Draw(t, "pool")
	m := map[tx.AccountID]tx.Account{}
	var cs []Change
	for i, id := range pool {
		if rapid.Bool().Draw(t, fmt.Sprint("present", i)) {
			a := tx.Account{Balance: rapid.Uint64Range(1, 1000).Draw(t, "bal"), Nonce: rapid.Uint64().Draw(t, "nonce")}
			m[id] = a
			cs = append(cs, Change{id, a})
		}
	}
	return NewTree(cs), m, pool
}

// TestProofs checks FARM-10: for present and absent accounts the proof
// verifies to the true state; both kinds of non-inclusion (empty subtree,
// other leaf) occur; and every single tampering is refused or, for the
// few fields a verifier cannot see, proves nothing false.
func TestProofs(t *testing.T) {
	var emptyEnds, otherLeafEnds, present int
	rapid.Check(t, func(t *rapid.T) {
		tr, m, pool := genState(t)
		root := tr.Root()
		for _, id := range pool {
			p := tr.Prove(id)
			a, ok, err := Verify(root, p)
			want, wantOK := m[id]
			if err != nil || a != want || ok != wantOK {
				t.Fatalf("Verify(%x) = %v,%v,%v want %v,%v", id[:4], a, ok, err, want, wantOK)
			}
			switch {
			case ok:
				present++
			case p.Leaf == nil:
				emptyEnds++
			default:
				otherLeafEnds++
			}
			// Round trip through the wire encoding.
			enc, err := p.MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			q, err := DecodeProof(enc)
			if err != nil {
				t.Fatalf("decode own encoding: %v", err)
			}
			if a2, ok2, err := Verify(root, q); err != nil || a2 != a || ok2 != ok {
				t.Fatal("decoded proof verifies differently")
			}
			checkTampered(t, root, p, m)
		}
		// A proof against another root fails (unless the states are equal).
		if len(m) > 0 {
			other := tr.With([]Change{{pool[0], tx.Account{Balance: 4242, Nonce: 1}}})
			if other.Root() != root {
				if _, _, err := Verify(other.Root(), tr.Prove(pool[0])); !errors.Is(err, ErrProofRoot) {
					t.Fatalf("stale proof: err %v", err)
				}
			}
		}
	})
	t.Logf("proofs checked: %d inclusion, %d ending in an empty subtree, %d ending in another leaf", present, emptyEnds, otherLeafEnds)
	if present == 0 || emptyEnds == 0 || otherLeafEnds == 0 {
		t.Fatal("a proof kind was never exercised")
	}
}

// checkTampered applies every single-field tampering to p and requires
// Verify to refuse it, or (when the change is invisible to the hash, i.e.
// it changed the subject ID) to prove only true statements.
func checkTampered(t *rapid.T, root Hash, p *Proof, m map[tx.AccountID]tx.Account) {
	clone := func() *Proof {
		q := &Proof{ID: p.ID, Siblings: slices.Clone(p.Siblings)}
		if p.Leaf != nil {
			l := *p.Leaf
			q.Leaf = &l
		}
		return q
	}
	mustFail := func(what string, q *Proof) {
		if a, ok, err := Verify(root, q); err == nil {
			truth, tOK := m[q.ID]
			if a != truth || ok != tOK {
				t.Fatalf("tampered proof (%s) accepted with a false claim: %v,%v", what, a, ok)
			}
			t.Fatalf("tampered proof (%s) accepted", what)
		}
	}
	for i := range p.Siblings {
		q := clone()
		q.Siblings[i][i%32] ^= 1
		mustFail(fmt.Sprintf("sibling %d", i), q)
	}
	if len(p.Siblings) > 0 {
		q := clone()
		q.Siblings = q.Siblings[1:]
		mustFail("sibling dropped", q)
		q = clone()
		q.Siblings = q.Siblings[:len(q.Siblings)-1]
		mustFail("last sibling dropped", q)
	}
	q := clone()
	q.Siblings = append(q.Siblings, Hash{7})
	mustFail("sibling added", q)
	if p.Leaf != nil {
		q = clone()
		q.Leaf.Account.Balance++
		mustFail("balance", q)
		q = clone()
		q.Leaf.Account.Nonce ^= 1
		mustFail("nonce", q)
		q = clone()
		q.Leaf.ID[3] ^= 0x10
		mustFail("leaf id", q)
		q = clone()
		q.Leaf = nil
		mustFail("leaf removed", q)
	} else {
		q = clone()
		q.Leaf = &ProofLeaf{ID: p.ID, Account: tx.Account{Balance: 1}}
		mustFail("leaf invented", q)
	}
	// Changing the subject ID moves the path: refused unless the new ID
	// happens to be proven by the same data, in which case the claim must
	// still be true (checked in mustFail's message path).
	q = clone()
	q.ID[0] ^= 0x80
	if a, ok, err := Verify(root, q); err == nil {
		truth, tOK := m[q.ID]
		if a != truth || ok != tOK {
			t.Fatalf("proof with changed ID accepted with a false claim")
		}
	}
}

// TestVerifyErrors gives each structural error its input.
func TestVerifyErrors(t *testing.T) {
	a, b, c := tx.AccountID{1}, tx.AccountID{2}, tx.AccountID{3}
	tr := NewTree([]Change{{a, tx.Account{Balance: 1}}, {b, tx.Account{Balance: 2}}, {c, tx.Account{Balance: 3}}})
	root := tr.Root()
	p := tr.Prove(a)
	if _, _, err := Verify(root, nil); !errors.Is(err, ErrProofNil) {
		t.Errorf("nil: %v", err)
	}
	long := &Proof{ID: a, Siblings: make([]Hash, MaxDepth+1)}
	if _, _, err := Verify(root, long); !errors.Is(err, ErrProofTooDeep) {
		t.Errorf("too deep: %v", err)
	}
	z := *p
	z.Leaf = &ProofLeaf{ID: a}
	if _, _, err := Verify(root, &z); !errors.Is(err, ErrProofZeroLeaf) {
		t.Errorf("zero leaf: %v", err)
	}
	// A leaf whose path diverges from the subject's above the proof depth.
	var off *Proof
	for i := range 256 {
		id := tx.AccountID{byte(i), 9}
		pi, pa := pathOf(id), pathOf(a)
		if len(p.Siblings) > 0 && commonPrefix(&pi, &pa) < len(p.Siblings) {
			off = &Proof{ID: a, Siblings: p.Siblings, Leaf: &ProofLeaf{ID: id, Account: tx.Account{Balance: 1}}}
			break
		}
	}
	if off == nil {
		t.Fatal("no off-path ID found")
	}
	if _, _, err := Verify(root, off); !errors.Is(err, ErrProofOffPath) {
		t.Errorf("off path: %v", err)
	}
	nc := &Proof{ID: a, Siblings: []Hash{Empty}}
	if _, _, err := Verify(root, nc); !errors.Is(err, ErrProofNonCanonical) {
		t.Errorf("non-canonical: %v", err)
	}
	if _, _, err := Verify(Hash{1}, p); !errors.Is(err, ErrProofRoot) {
		t.Errorf("wrong root: %v", err)
	}
	// The empty state proves every account absent with an empty proof.
	if acct, ok, err := Verify(Empty, (Tree{}).Prove(a)); err != nil || ok || acct != (tx.Account{}) {
		t.Errorf("empty state: %v %v %v", acct, ok, err)
	}
	if _, _, err := Verify(root, &Proof{ID: a}); !errors.Is(err, ErrProofRoot) {
		t.Errorf("empty proof on non-empty root: %v", err)
	}
}

// TestDecodeProofRejects covers every decode refusal.
func TestDecodeProofRejects(t *testing.T) {
	tr := NewTree([]Change{{tx.AccountID{1}, tx.Account{Balance: 1}}, {tx.AccountID{2}, tx.Account{Balance: 2}}})
	good, _ := tr.Prove(tx.AccountID{1}).MarshalBinary()
	cases := map[string][]byte{
		"nil":       nil,
		"short":     good[:20],
		"truncated": good[:len(good)-1],
		"trailing":  append(slices.Clone(good), 0),
		"badflag":   func() []byte { b := slices.Clone(good); b[34+32*int(b[33])] = 2; return b }(),
		"deep":      func() []byte { b := slices.Clone(good); b[32], b[33] = 1, 1; return b }(),
		"nosibs":    func() []byte { b := slices.Clone(good[:35]); b[33] = 3; return b }(),
	}
	for name, in := range cases {
		if _, err := DecodeProof(in); !errors.Is(err, ErrProofEncoding) && !errors.Is(err, ErrProofTooDeep) {
			t.Errorf("%s: err %v", name, err)
		}
	}
	var nilProof *Proof
	if _, err := nilProof.MarshalBinary(); !errors.Is(err, ErrProofNil) {
		t.Errorf("marshal nil: %v", err)
	}
	if _, err := (&Proof{Siblings: make([]Hash, MaxDepth+1)}).MarshalBinary(); !errors.Is(err, ErrProofTooDeep) {
		t.Errorf("marshal deep: %v", err)
	}
}
