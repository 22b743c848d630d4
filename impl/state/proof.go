package state

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/fhbft/fhbft/impl/tx"
)

// Proof shows, against a state root, the state of one account: its
// Account if present (inclusion) or that it is absent (non-inclusion)
// (spec: FARM-10).
//
// The proof is the path from the root towards pathOf(ID): Siblings[i] is
// the hash of the subtree beside the path at depth i+1 (the child of the
// depth-i node that the path does not take). The path ends at depth
// len(Siblings) in either an empty subtree (Leaf == nil: absent) or a leaf
// (Leaf != nil): the account itself (present) or another account whose
// path shares the first len(Siblings) bits (absent: had ID been present,
// that subtree would hold two leaves and be a node).
type Proof struct {
	ID       tx.AccountID
	Siblings []Hash
	Leaf     *ProofLeaf
}

// ProofLeaf is the leaf at the end of a proof's path.
type ProofLeaf struct {
	ID      tx.AccountID
	Account tx.Account
}

// Proof errors. Verify and DecodeProof wrap them with details; test with
// errors.Is.
var (
	ErrProofNil          = errors.New("state: nil proof")
	ErrProofTooDeep      = errors.New("state: proof longer than the path")
	ErrProofZeroLeaf     = errors.New("state: proof leaf holds the zero account")
	ErrProofOffPath      = errors.New("state: proof leaf is not on the account's path")
	ErrProofNonCanonical = errors.New("state: proof ends below an empty sibling")
	ErrProofRoot         = errors.New("state: proof does not lead to the root")
	ErrProofEncoding     = errors.New("state: malformed proof encoding")
)

// Prove returns the proof for id against t.Root().
func (t Tree) Prove(id tx.AccountID) *Proof {
	p := &Proof{ID: id}
	path := pathOf(id)
	n := t.root
	for d := 0; n != nil && !n.leaf; d++ {
		if bit(&path, d) == 0 {
			p.Siblings = append(p.Siblings, n.right.hashOrEmpty())
			n = n.left
		} else {
			p.Siblings = append(p.Siblings, n.left.hashOrEmpty())
			n = n.right
		}
	}
	if n != nil {
		p.Leaf = &ProofLeaf{ID: n.id, Account: n.acct}
	}
	return p
}

// Verify checks p against root and returns the proven state of p.ID: its
// Account and true if present, the zero Account and false if absent. It is
// a standalone function of its arguments and never panics (spec: FARM-10).
// Callers must check that p.ID is the account they asked about.
func Verify(root Hash, p *Proof) (tx.Account, bool, error) {
	if p == nil {
		return tx.Account{}, false, ErrProofNil
	}
	d := len(p.Siblings)
	if d > MaxDepth {
		return tx.Account{}, false, fmt.Errorf("%w: %d siblings, at most %d", ErrProofTooDeep, d, MaxDepth)
	}
	path := pathOf(p.ID)
	h := Empty
	if p.Leaf != nil {
		if p.Leaf.Account == (tx.Account{}) {
			return tx.Account{}, false, ErrProofZeroLeaf
		}
		// The leaf must sit where its own path puts it. Implied by the
		// hash check for any proof that reaches the real root; checked
		// first so a bad proof gets a precise error.
		lp := pathOf(p.Leaf.ID)
		if k := commonPrefix(&path, &lp); k < d {
			return tx.Account{}, false, fmt.Errorf("%w: leaf path shares %d bits, depth is %d", ErrProofOffPath, k, d)
		}
		h = leafHash(p.Leaf.ID, p.Leaf.Account)
	}
	// In a canonical tree the sibling of the last step is never empty:
	// a leaf or an empty subtree beside an empty one would have been
	// collapsed into the parent.
	if d > 0 && p.Siblings[d-1] == Empty {
		return tx.Account{}, false, fmt.Errorf("%w: depth %d", ErrProofNonCanonical, d)
	}
	for i := d - 1; i >= 0; i-- {
		if bit(&path, i) == 0 {
			h = nodeHash(h, p.Siblings[i])
		} else {
			h = nodeHash(p.Siblings[i], h)
		}
	}
	if h != root {
		return tx.Account{}, false, fmt.Errorf("%w: got %x, want %x", ErrProofRoot, h[:8], root[:8])
	}
	if p.Leaf != nil && p.Leaf.ID == p.ID {
		return p.Leaf.Account, true, nil
	}
	return tx.Account{}, false, nil
}

// commonPrefix is the number of leading bits a and b share (0..256).
func commonPrefix(a, b *Hash) int {
	for i := range a {
		if x := a[i] ^ b[i]; x != 0 {
			k := 0
			for x&0x80 == 0 {
				x <<= 1
				k++
			}
			return 8*i + k
		}
	}
	return MaxDepth
}

// Proof wire layout (spec: FARM-10), big-endian:
//
//	0      id          32
//	32     depth d     2   (0..256)
//	34     siblings    32·d
//	34+32d leaf flag   1   (0: path ends in an empty subtree, 1: a leaf follows)
//	       leaf id     32  } only with flag 1
//	       balance     8   }
//	       nonce       8   }
const (
	proofHeader = 32 + 2
	proofLeaf   = 32 + 8 + 8
	// MaxProofSize is the largest encoding a transport needs to accept.
	MaxProofSize = proofHeader + 32*MaxDepth + 1 + proofLeaf
)

// AppendBinary appends the encoding of p to b.
func (p *Proof) AppendBinary(b []byte) ([]byte, error) {
	if p == nil {
		return b, ErrProofNil
	}
	if len(p.Siblings) > MaxDepth {
		return b, fmt.Errorf("%w: %d siblings", ErrProofTooDeep, len(p.Siblings))
	}
	b = append(b, p.ID[:]...)
	b = binary.BigEndian.AppendUint16(b, uint16(len(p.Siblings)))
	for i := range p.Siblings {
		b = append(b, p.Siblings[i][:]...)
	}
	if p.Leaf == nil {
		return append(b, 0), nil
	}
	b = append(b, 1)
	b = append(b, p.Leaf.ID[:]...)
	b = binary.BigEndian.AppendUint64(b, p.Leaf.Account.Balance)
	return binary.BigEndian.AppendUint64(b, p.Leaf.Account.Nonce), nil
}

// MarshalBinary encodes p.
func (p *Proof) MarshalBinary() ([]byte, error) { return p.AppendBinary(nil) }

// DecodeProof decodes a proof. It is total: any input gives a proof or an
// error wrapping ErrProofEncoding (or ErrProofTooDeep), never a panic, and
// every accepted input re-encodes to itself. Decoding does not verify.
func DecodeProof(b []byte) (*Proof, error) {
	if len(b) < proofHeader+1 {
		return nil, fmt.Errorf("%w: %d bytes, need at least %d", ErrProofEncoding, len(b), proofHeader+1)
	}
	d := int(binary.BigEndian.Uint16(b[32:34]))
	if d > MaxDepth {
		return nil, fmt.Errorf("%w: depth %d > %d", ErrProofTooDeep, d, MaxDepth)
	}
	flagAt := proofHeader + 32*d
	if len(b) <= flagAt {
		return nil, fmt.Errorf("%w: %d bytes, depth %d needs %d", ErrProofEncoding, len(b), d, flagAt+1)
	}
	p := &Proof{}
	copy(p.ID[:], b[:32])
	if d > 0 {
		p.Siblings = make([]Hash, d)
		for i := range p.Siblings {
			copy(p.Siblings[i][:], b[proofHeader+32*i:])
		}
	}
	switch b[flagAt] {
	case 0:
		if len(b) != flagAt+1 {
			return nil, fmt.Errorf("%w: %d trailing bytes", ErrProofEncoding, len(b)-flagAt-1)
		}
	case 1:
		if len(b) != flagAt+1+proofLeaf {
			return nil, fmt.Errorf("%w: leaf needs %d bytes, have %d", ErrProofEncoding, proofLeaf, len(b)-flagAt-1)
		}
		l := b[flagAt+1:]
		p.Leaf = &ProofLeaf{Account: tx.Account{
			Balance: binary.BigEndian.Uint64(l[32:40]),
			Nonce:   binary.BigEndian.Uint64(l[40:48]),
		}}
		copy(p.Leaf.ID[:], l[:32])
	default:
		return nil, fmt.Errorf("%w: leaf flag %d", ErrProofEncoding, b[flagAt])
	}
	return p, nil
}
