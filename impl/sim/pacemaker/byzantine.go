package pacemaker

import (
	"crypto/sha256"

	"github.com/fhbft/fhbft/impl/certification"
	pm "github.com/fhbft/fhbft/impl/pacemaker"
)

// byzantine rewrites one effect of a Byzantine node; true means the effect
// was handled (replaced or dropped) and must not be performed as is.
func (s *Sim) byzantine(nd *Node, e pm.Effect) bool {
	switch nd.Behaviour {
	case SilentLeader:
		if bc, ok := e.(pm.Broadcast); ok {
			if _, ok := bc.Msg.(pm.Proposal); ok {
				return true // withhold the proposal
			}
		}
	case Equivocate:
		if p, ok := proposalOf(e); ok {
			a := p.Block
			b := a
			b.Cmds = []pm.Command{{ID: pm.CommandID(1<<62 + uint64(a.View)), Payload: []byte("equivocation")}}
			s.split(nd, a, b)
			s.byzVote(nd, b.View, b.Hash()) // the inner replica votes for a
			return true
		}
	case EquivocateAll:
		if p, ok := proposalOf(e); ok {
			a := p.Block
			b := a
			b.Cmds = []pm.Command{{ID: pm.CommandID(1<<62 + uint64(a.View)), Payload: []byte("equivocation")}}
			for _, blk := range []pm.Block{a, b} {
				prop := pm.SignProposal(nd.share, blk)
				for _, to := range s.nodes {
					if to.ID != nd.ID {
						s.send(nd, to, prop)
					}
				}
			}
			s.byzVote(nd, b.View, b.Hash())
			return true
		}
	case VoteTwice:
		if sd, ok := e.(pm.Send); ok {
			if v, ok := sd.Msg.(pm.Vote); ok {
				s.performSend(nd, sd)
				fake := sha256.Sum256(append([]byte("fhbft/sim/vote-twice"), v.Value.Subject[:]...))
				s.byzVote(nd, pm.View(v.Slot.Number()), fake)
				return true
			}
		}
	case InflateViews:
		if ve, ok := e.(pm.ViewEntered); ok {
			s.inflate(nd, ve.View)
		}
	case ForgeQC:
		if p, ok := proposalOf(e); ok && p.Block.View >= 4 {
			s.split(nd, s.forgedChain(nd, p.Block), p.Block)
			return true
		}
	case StaleLeader:
		if p, ok := proposalOf(e); ok {
			v := p.Block.View
			x := s.staleFork(nd, p.Block)
			nd.staleFor = v
			s.splitAt(nd, 1, p.Block, x)
			s.byzVote(nd, v, x.Hash())
			return true
		}
		if sd, ok := e.(pm.Send); ok {
			if v, ok := sd.Msg.(pm.Vote); ok && pm.View(v.Slot.Number()) == nd.staleFor {
				return true // its vote goes to the stale block instead
			}
		}
	}
	return false
}

func proposalOf(e pm.Effect) (pm.Proposal, bool) {
	if bc, ok := e.(pm.Broadcast); ok {
		p, ok := bc.Msg.(pm.Proposal)
		return p, ok
	}
	return pm.Proposal{}, false
}

// performSend performs a Send effect as an honest node would.
func (s *Sim) performSend(nd *Node, sd pm.Send) {
	for _, to := range s.copies(sd.To) {
		if to != nd {
			s.send(nd, to, sd.Msg)
		}
	}
}

// split sends block a to the first half of the other nodes (in node
// order) and block b to the rest.
func (s *Sim) split(nd *Node, a, b pm.Block) {
	s.splitAt(nd, (s.others(nd)+1)/2, a, b)
}

func (s *Sim) others(nd *Node) int {
	k := 0
	for _, to := range s.nodes {
		if to.ID != nd.ID {
			k++
		}
	}
	return k
}

// splitAt sends block a to the first k other nodes (in node order) and
// block b to the rest.
func (s *Sim) splitAt(nd *Node, k int, a, b pm.Block) {
	pa, pb := pm.SignProposal(nd.share, a), pm.SignProposal(nd.share, b)
	i := 0
	for _, to := range s.nodes {
		if to.ID == nd.ID {
			continue
		}
		p := pa
		if i >= k {
			p = pb
		}
		s.send(nd, to, p)
		i++
	}
}

// byzVote signs a vote for block h in view v and sends it to the leader
// of v+1 (to itself if it leads v+1).
func (s *Sim) byzVote(nd *Node, v pm.View, h pm.Hash) {
	vote := pm.Vote{Vote: certification.SignVote(nd.share, pm.VoteStatement(s.roster, v, h))}
	next := nd.Rep.Leader(v + 1)
	for _, to := range s.copies(next) {
		s.send(nd, to, vote)
	}
}

// forge makes a certificate of statement st that claims q signers but
// carries only this node's partial signature: well-formed, decodable, and
// invalid. spec: PM-3 (must be rejected), CERT-10
func (s *Sim) forge(nd *Node, st certification.Statement) certification.Certificate {
	bm := certification.NewBitmap(s.cfg.N)
	for i := 1; i <= s.q; i++ {
		bm.Set(certification.Member(i))
	}
	return certification.Certificate{Statement: st, Signers: bm, Signature: certification.SignVote(nd.share, st).Partial}
}

func (s *Sim) forgedQC(nd *Node, v pm.View, h pm.Hash) pm.QC {
	return pm.QC{Cert: s.forge(nd, pm.VoteStatement(s.roster, v, h))}
}

// staleFork is a block of p's view on the QC three justify links below p:
// p = b* on QC(b1), b1 on QC(b2), b2 on QC(b3); the fork extends b3's
// justify node b4, below the lock (b2) of every replica that handled b1,
// and above their bExec (b3's parent side), so a replica that votes for it
// and its successors commits a block that conflicts with b2 and b3.
func (s *Sim) staleFork(nd *Node, p pm.Block) pm.Block {
	qc := p.Justify
	for range 3 {
		b, ok := nd.Rep.Block(qc.Block())
		if !ok || b.IsDummy() {
			qc = pm.GenesisQCOf(s.roster)
			break
		}
		qc = b.Justify
	}
	parent := qc.Block()
	for w := qc.View() + 1; w < p.View; w++ {
		parent = pm.Dummy(s.roster.Quorum, s.roster.Epoch, w, parent).Hash()
	}
	return s.block(p.View, parent, qc, p.Cmds, nd.ID)
}

// block makes a real block of this roster.
func (s *Sim) block(v pm.View, parent pm.Hash, justify pm.QC, cmds []pm.Command, proposer pm.ReplicaID) pm.Block {
	return pm.Block{Quorum: s.roster.Quorum, Epoch: s.roster.Epoch, View: v, Parent: parent, Justify: justify, Cmds: cmds, Proposer: proposer}
}

// forgedChain builds x0 ← x1 ← x2 ← x3 over views v-3..v, each justified
// by a forged QC of its predecessor, keeps x0..x2 to serve fetches, and
// returns x3 (with the honest block's commands). x0 extends a block the
// others have executed (certified by a forged QC) so that
// replicas that accept forged QCs can commit x0 (it extends their bExec)
// while the others commit the honest chain: conflicting commits.
func (s *Sim) forgedChain(nd *Node, honest pm.Block) pm.Block {
	v := honest.View
	// The leader has just handled its own proposal, so it executed one
	// block more than the others: root the fork at that block's justify
	// node, which the others have executed.
	root := nd.Rep.State().BExec
	if b, ok := nd.Rep.Block(root.Hash); ok && !b.IsDummy() {
		if jb, ok := nd.Rep.Block(b.Justify.Block()); ok {
			root = pm.BlockRef{Hash: b.Justify.Block(), View: jb.View, Height: jb.Height()}
		}
	}
	justify := s.forgedQC(nd, root.View, root.Hash)
	if root.View == 0 || root.View >= v-3 {
		root = pm.BlockRef{Hash: pm.GenesisHash(s.roster.Quorum, s.roster.Epoch)}
		justify = pm.GenesisQCOf(s.roster)
	}
	parent := root.Hash
	for w := root.View + 1; w < v-3; w++ {
		parent = pm.Dummy(s.roster.Quorum, s.roster.Epoch, w, parent).Hash()
	}
	x0 := s.block(v-3, parent, justify,
		[]pm.Command{{ID: pm.CommandID(1<<61 + uint64(v)), Payload: []byte("forged")}}, nd.Rep.Leader(v-3))
	prev := x0
	for w := v - 2; w < v; w++ {
		h := prev.Hash()
		nd.forged[h] = prev
		prev = s.block(w, h, s.forgedQC(nd, prev.View, h), nil, nd.Rep.Leader(w))
	}
	h := prev.Hash()
	nd.forged[h] = prev
	return s.block(v, h, s.forgedQC(nd, prev.View, h), honest.Cmds, nd.ID)
}

// inflate sprays messages with huge views and forged certificates.
// spec: PM-18 (lookahead bound before crypto), PM-3 (certificates verified
// before use)
func (s *Sim) inflate(nd *Node, v pm.View) {
	far := v + 1000
	for nd.Rep.Leader(far) != nd.ID {
		far++
	}
	var fake pm.Hash
	fake[0] = 0xbb
	huge := v + 1_000_000
	msgs := []pm.Message{
		pm.SignProposal(nd.share, s.block(far, fake, s.forgedQC(nd, far-1, fake), nil, nd.ID)),
		pm.Vote{Vote: certification.SignVote(nd.share, pm.VoteStatement(s.roster, huge, fake))},
		pm.Complain{Vote: certification.SignVote(nd.share, pm.ComplaintStatement(s.roster, huge)), QCHigh: s.forgedQC(nd, huge-1, fake)},
		pm.NewView{QC: s.forgedQC(nd, v+500, fake)},
		pm.NextView{TC: pm.TC{Cert: s.forge(nd, pm.ComplaintStatement(s.roster, v+1_000_000_000))}},
	}
	for _, to := range s.nodes {
		if to.ID == nd.ID {
			continue
		}
		for _, m := range msgs {
			s.send(nd, to, m)
		}
	}
}
