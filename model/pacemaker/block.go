package pacemaker

import (
	"fmt"
	"strings"
)

// Block is a block of tla/Pacemaker.tla: the sequence of the real
// (non-dummy) blocks from genesis's child down to this block, entry i being
// <<view, justify view>>. The justify node is the ancestor whose view is the
// justify view (genesis for 0). Dummy blocks (PM-1) are implicit: a block's
// direct parent is its predecessor in the sequence only when their views are
// consecutive. Commands are abstracted away.
//
// A Block is an immutable value; == compares blocks. Each entry is two
// bytes, so views are at most 255 (Config.Validate bounds MaxView).
type Block string

// Genesis is the genesis block (view 0, height 1), certified by the
// genesis QC that every replica accepts (PM-2).
const Genesis Block = ""

// Len is the number of real blocks from genesis's child to b.
func (b Block) Len() int { return len(b) / 2 }

// View is b's view; 0 for genesis.
// tla: Pacemaker!View
func (b Block) View() int {
	if b == Genesis {
		return 0
	}
	return int(b[len(b)-2])
}

// Height is View + 1 (PM-1: CREATELEAF pads with dummies so that height is
// view + 1).
// tla: Pacemaker!Height
func (b Block) Height() int { return b.View() + 1 }

// JustifyView is the view of b's justify QC; 0 for genesis.
func (b Block) JustifyView() int {
	if b == Genesis {
		return 0
	}
	return int(b[len(b)-1])
}

// Parent is the previous real block (genesis for genesis).
// tla: Pacemaker!Parent
func (b Block) Parent() Block {
	if b == Genesis {
		return Genesis
	}
	return b[:len(b)-2]
}

// JustifyNode is the block b's justify QC certifies: the ancestor of view
// JustifyView (genesis for genesis and for justify view 0).
// tla: Pacemaker!JustifyNode
func (b Block) JustifyNode() Block {
	jv := b.JustifyView()
	if jv == 0 {
		return Genesis
	}
	for i := 0; i+2 < len(b); i += 2 {
		if int(b[i]) == jv {
			return b[:i+2]
		}
	}
	return Genesis // not well formed; TypeOK reports it
}

// Extends reports whether b extends a (a is b or an ancestor of b).
// tla: Pacemaker!Extends
func (b Block) Extends(a Block) bool { return strings.HasPrefix(string(b), string(a)) }

// Child is the block of view v proposed on parent b with the QC of justify
// as its justify (CREATELEAF). It does not check that justify is an
// ancestor of b or that v > b.View(); WellFormed does.
// tla: Pacemaker!NewBlock, spec: PM-1
func (b Block) Child(v int, justify Block) Block {
	return b + Block([]byte{byte(v), byte(justify.View())})
}

// Prefix is the ancestor of b with k real blocks (genesis for 0).
func (b Block) Prefix(k int) Block { return b[:2*k] }

// DirectParent reports whether p is c's parent with no dummy in between:
// consecutive views.
// tla: Pacemaker!DirectParent
func DirectParent(c, p Block) bool {
	return c != Genesis && c.Parent() == p && c.View() == p.View()+1
}

// WellFormed reports whether b is a block of a model with views 1..maxView:
// views strictly increase along the chain, and every justify view is 0 or
// the view of an earlier entry.
// tla: Pacemaker!WellFormed
func (b Block) WellFormed(maxView int) bool {
	if len(b)%2 != 0 {
		return false
	}
	for i := 0; i < len(b); i += 2 {
		v, jv := int(b[i]), int(b[i+1])
		if v < 1 || v > maxView || (i > 0 && v <= int(b[i-2])) {
			return false
		}
		found := jv == 0
		for j := 0; j < i && !found; j += 2 {
			found = int(b[j]) == jv
		}
		if !found {
			return false
		}
	}
	return true
}

// String prints b as TLC prints the sequence, e.g. <<<<1, 0>>, <<2, 1>>>>.
func (b Block) String() string {
	var sb strings.Builder
	sb.WriteString("<<")
	for i := 0; i+1 < len(b); i += 2 {
		if i > 0 {
			sb.WriteString(", ")
		}
		fmt.Fprintf(&sb, "<<%d, %d>>", b[i], b[i+1])
	}
	sb.WriteString(">>")
	return sb.String()
}
