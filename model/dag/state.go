package dag

import (
	"encoding/binary"
	"fmt"
	"slices"
	"strings"
)

// cblock is a convergence block with its canonical encoding, which is how
// blocks are compared (two blocks are equal iff their encodings are).
type cblock struct {
	Block
	enc string
}

func newCBlock(b Block) *cblock { return &cblock{Block: b, enc: string(encodeBlock(nil, b))} }

func appendInt(dst []byte, x int) []byte { return binary.AppendVarint(dst, int64(x)) }

func appendTx(dst []byte, t Transfer) []byte {
	dst = appendInt(dst, t.ID)
	dst = appendInt(dst, t.From)
	dst = appendInt(dst, t.To)
	dst = binary.AppendUvarint(dst, t.Nonce)
	dst = binary.AppendUvarint(dst, t.Amount)
	return binary.AppendUvarint(dst, t.Fee)
}

// encodeBlock appends an injective encoding of b: every list is prefixed
// by its length and every field has a fixed place.
func encodeBlock(dst []byte, b Block) []byte {
	dst = appendInt(dst, b.Round)
	dst = appendInt(dst, len(b.Refs))
	for _, p := range b.Refs {
		dst = appendInt(dst, p.Proposer)
		dst = appendInt(dst, len(p.Txs))
		for _, t := range p.Txs {
			dst = appendTx(dst, t)
		}
	}
	dst = appendInt(dst, len(b.Equivocations))
	for _, h := range b.Equivocations {
		dst = appendInt(dst, h)
	}
	dst = appendInt(dst, len(b.Applied))
	for _, t := range b.Applied {
		dst = appendInt(dst, t)
	}
	dst = appendInt(dst, len(b.Rejected))
	for _, x := range b.Rejected {
		dst = appendInt(dst, x.ID)
		dst = appendInt(dst, len(x.Reason))
		dst = append(dst, x.Reason...)
	}
	dst = appendInt(dst, len(b.Deferred))
	for _, d := range b.Deferred {
		dst = appendTx(dst, d.Tx)
		dst = appendInt(dst, d.Since)
	}
	dst = binary.AppendUvarint(dst, b.Fees)
	dst = appendInt(dst, len(b.Post.Accounts))
	for _, a := range b.Post.Accounts {
		dst = appendInt(dst, a.ID)
		dst = binary.AppendUvarint(dst, a.Balance)
		dst = binary.AppendUvarint(dst, a.Nonce)
	}
	return binary.AppendUvarint(dst, b.Post.Sink)
}

// pblock is a proposal block of the model: <<proposer, txs>>.
type pblock struct {
	proposer int
	txs      txSet
}

// code is the TLA+ Code(b): proposer · 2^Len(Universe) + Mask(txs).
func (b pblock) code() int { return b.proposer<<len(universe) | int(b.txs) }

func (b pblock) proposal() Proposal {
	p := Proposal{Proposer: b.proposer}
	for _, t := range b.txs.ids() {
		p.Txs = append(p.Txs, universe[t-1])
	}
	return p
}

func cmpPBlock(a, b pblock) int { return a.code() - b.code() }

// State is a state of tla/DAGConvergence.tla: <<round, final, inbox,
// built, cert>>. It is an immutable value: no function modifies a State
// it is given, and successors share what they do not change. Compare
// states with Equal.
type State struct {
	round int
	final [][]*cblock // by index into Config.Honest()
	inbox [][]pblock  // by index into the sorted miners; each sorted by code
	built uint64      // bit i: the i-th miner built this round
	cert  []*cblock   // sorted by encoding
}

// Round is the round being played (MaxRound + 1 when done).
func (s State) Round() int { return s.round }

// Final returns the final blocks of the i-th node (Config.Honest()[i]).
func (s State) Final(i int) []Block {
	out := make([]Block, len(s.final[i]))
	for k, b := range s.final[i] {
		out[k] = b.Block
	}
	return out
}

// Cert returns the certified convergence blocks of this round.
func (s State) Cert() []Block {
	out := make([]Block, len(s.cert))
	for k, b := range s.cert {
		out[k] = b.Block
	}
	return out
}

// Inbox returns the proposal blocks the i-th miner (sorted Miners) holds.
func (s State) Inbox(i int) []Proposal {
	out := make([]Proposal, len(s.inbox[i]))
	for k, b := range s.inbox[i] {
		out[k] = b.proposal()
	}
	return out
}

// encode appends s's canonical encoding.
func (s State) encode(dst []byte) []byte {
	dst = appendInt(dst, s.round)
	dst = appendInt(dst, len(s.final))
	for _, c := range s.final {
		dst = appendInt(dst, len(c))
		for _, b := range c {
			dst = appendInt(dst, len(b.enc))
			dst = append(dst, b.enc...)
		}
	}
	dst = appendInt(dst, len(s.inbox))
	for _, in := range s.inbox {
		dst = appendInt(dst, len(in))
		for _, b := range in {
			dst = appendInt(dst, b.code())
		}
	}
	dst = binary.AppendUvarint(dst, s.built)
	dst = appendInt(dst, len(s.cert))
	for _, b := range s.cert {
		dst = appendInt(dst, len(b.enc))
		dst = append(dst, b.enc...)
	}
	return dst
}

// Equal reports whether s and t are the same state.
func (s State) Equal(t State) bool { return string(s.encode(nil)) == string(t.encode(nil)) }

func fmtInts(xs []int) string {
	parts := make([]string, len(xs))
	for i, x := range xs {
		parts[i] = fmt.Sprint(x)
	}
	return strings.Join(parts, ", ")
}

func fmtProposal(p Proposal) string {
	return fmt.Sprintf("[proposer |-> %d, txs |-> {%s}]", p.Proposer, fmtInts(txIDs(p.Txs)))
}

// FormatBlock prints b as TLC prints the module's block records.
func FormatBlock(b Block) string {
	refs := make([]string, len(b.Refs))
	for i, p := range b.Refs {
		refs[i] = fmtProposal(p)
	}
	rej := make([]string, len(b.Rejected))
	for i, x := range b.Rejected {
		rej[i] = fmt.Sprintf("<<%d, %q>>", x.ID, x.Reason)
	}
	def := make([]string, len(b.Deferred))
	for i, d := range b.Deferred {
		def[i] = fmt.Sprintf("<<%d, %d>>", d.Tx.ID, d.Since)
	}
	var bal, nonce []string
	for _, a := range b.Post.Accounts {
		bal = append(bal, fmt.Sprint(a.Balance))
		nonce = append(nonce, fmt.Sprint(a.Nonce))
	}
	return fmt.Sprintf("[round |-> %d, refs |-> {%s}, equivocations |-> {%s}, applied |-> <<%s>>, "+
		"rejected |-> {%s}, deferred |-> {%s}, fees |-> %d, post |-> [bal |-> <<%s>>, nonce |-> <<%s>>, sink |-> %d]]",
		b.Round, strings.Join(refs, ", "), fmtInts(b.Equivocations), fmtInts(b.Applied),
		strings.Join(rej, ", "), strings.Join(def, ", "), b.Fees,
		strings.Join(bal, ", "), strings.Join(nonce, ", "), b.Post.Sink)
}

// format prints s like a TLC trace state; nodes and miners are the
// config's honest harvesters and sorted miners.
func (s State) format(nodes, miners []int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "/\\ round = %d\n/\\ final = (", s.round)
	for i, c := range s.final {
		if i > 0 {
			b.WriteString(" @@ ")
		}
		blocks := make([]string, len(c))
		for k, x := range c {
			blocks[k] = FormatBlock(x.Block)
		}
		fmt.Fprintf(&b, "%d :> <<%s>>", nodes[i], strings.Join(blocks, ", "))
	}
	b.WriteString(")\n/\\ inbox = (")
	for i, in := range s.inbox {
		if i > 0 {
			b.WriteString(" @@ ")
		}
		ps := make([]string, len(in))
		for k, x := range in {
			ps[k] = fmtProposal(x.proposal())
		}
		fmt.Fprintf(&b, "%d :> {%s}", miners[i], strings.Join(ps, ", "))
	}
	var built []int
	for i, m := range miners {
		if s.built&(1<<i) != 0 {
			built = append(built, m)
		}
	}
	fmt.Fprintf(&b, ")\n/\\ built = {%s}\n/\\ cert = {", fmtInts(built))
	for i, x := range s.cert {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(FormatBlock(x.Block))
	}
	b.WriteString("}")
	return b.String()
}

// insertBlock returns the sorted set bs with x added.
func insertBlock(bs []*cblock, x *cblock) []*cblock {
	i, found := slices.BinarySearchFunc(bs, x, func(a, b *cblock) int { return strings.Compare(a.enc, b.enc) })
	if found {
		return bs
	}
	return slices.Insert(slices.Clip(bs), i, x)
}
