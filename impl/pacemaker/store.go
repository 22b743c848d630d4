package pacemaker

import (
	"fmt"

	"github.com/fhbft/fhbft/impl/certification"
)

// Store holds the blocks of one quorum and epoch whose whole ancestry down
// to genesis is stored (ancestor-closed, PM-19), dummies included, and
// answers ancestry queries. Since every block's parent has the previous
// view (PM-1), "a extends b" is decided by walking a's parents down to b's
// view.
type Store struct {
	blocks map[Hash]Block
}

// NewStore returns a store holding the genesis block of (quorum, epoch).
func NewStore(q certification.QuorumID, e certification.Epoch) *Store {
	return &Store{blocks: map[Hash]Block{GenesisHash(q, e): Genesis(q, e)}}
}

// Get returns the block with hash h.
func (s *Store) Get(h Hash) (Block, bool) {
	b, ok := s.blocks[h]
	return b, ok
}

// Has reports whether h is stored.
func (s *Store) Has(h Hash) bool { _, ok := s.blocks[h]; return ok }

// Len is the number of stored blocks (genesis and dummies included).
func (s *Store) Len() int { return len(s.blocks) }

// Put stores b, whose parent must be stored and have view b.View−1.
// spec: PM-1
func (s *Store) Put(b Block) (Hash, error) {
	h := b.Hash()
	if s.Has(h) {
		return h, nil
	}
	p, ok := s.blocks[b.Parent]
	if !ok {
		return h, fmt.Errorf("parent %x of view-%d block not stored", b.Parent[:4], b.View)
	}
	if p.View+1 != b.View {
		return h, fmt.Errorf("parent view %d, block view %d: not consecutive", p.View, b.View)
	}
	s.blocks[h] = b
	return h, nil
}

// Extends reports whether block a is b or a descendant of b; false if
// either is unknown.
func (s *Store) Extends(a, b Hash) bool {
	bb, ok := s.blocks[b]
	if !ok {
		return false
	}
	for {
		ab, ok := s.blocks[a]
		if !ok || ab.View < bb.View {
			return false
		}
		if ab.View == bb.View {
			return a == b
		}
		a = ab.Parent
	}
}

// Conflicting reports whether two stored blocks are on different branches
// (neither extends the other).
func (s *Store) Conflicting(a, b Hash) bool { return !s.Extends(a, b) && !s.Extends(b, a) }

// padding computes DummyChain(from, to): the dummy blocks of views
// from.View+1 … to−1 chained on from, and the hash the block of view `to`
// must name as parent. spec: PM-1
func padding(from Block, fromHash Hash, to View) ([]Block, Hash) {
	var ds []Block
	prev := fromHash
	for w := from.View + 1; w < to; w++ {
		d := Dummy(from.Quorum, from.Epoch, w, prev)
		ds = append(ds, d)
		prev = d.Hash()
	}
	return ds, prev
}
