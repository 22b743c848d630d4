package pacemaker

import (
	"slices"
	"strings"
)

// TypeOK: the variables have their types; every lock and qcHigh is a
// formed QC below the replica's view; committed blocks were proposed.
// tla: Pacemaker!TypeOK
func TypeOK(cfg Config, s State) bool {
	honest := cfg.Honest()
	if len(s.reps) != len(honest) {
		return false
	}
	inViews := func(v int) bool { return v >= 1 && v <= cfg.MaxView }
	for _, b := range s.blocks {
		if b == Genesis || !b.WellFormed(cfg.MaxView) {
			return false
		}
	}
	if !s.hasQC(Genesis) {
		return false
	}
	for _, b := range s.qcs {
		if b != Genesis && !s.hasBlock(b) {
			return false
		}
	}
	for i, r := range s.reps {
		if r.ID != honest[i] || r.CurView < 1 || r.CurView > cfg.MaxView+1 ||
			r.VHeight < 1 || r.VHeight > cfg.MaxView+1 ||
			!s.hasQC(r.BLock) || !s.hasQC(r.QCHigh) || r.QCHigh.View() >= r.CurView {
			return false
		}
		for _, b := range r.Committed {
			if !s.hasBlock(b) {
				return false
			}
		}
	}
	for _, v := range s.votes {
		if !slices.Contains(honest, v.Replica) || !s.hasBlock(v.Block) {
			return false
		}
	}
	for _, c := range s.complaints {
		if !slices.Contains(honest, c.Replica) || !inViews(c.View) {
			return false
		}
	}
	for _, v := range s.tcs {
		if !inViews(v) {
			return false
		}
	}
	return true
}

// NoConflictingCommits: no two blocks committed by honest replicas (the
// same one or two) conflict.
// tla: Pacemaker!NoConflictingCommits, spec: PM-23
func NoConflictingCommits(cfg Config, s State) bool {
	var all []Block
	for _, r := range s.reps {
		all = append(all, r.Committed...)
	}
	// Pairwise; committed sets are tiny.
	for i, a := range all {
		for _, c := range all[i+1:] {
			if !a.Extends(c) && !c.Extends(a) {
				return false
			}
		}
	}
	return true
}

// UniqueQCPerView: no two QCs for different blocks of one view.
// tla: Pacemaker!UniqueQCPerView, spec: PM-24
func UniqueQCPerView(cfg Config, s State) bool {
	seen := map[int]bool{}
	for _, b := range s.qcs {
		if seen[b.View()] {
			return false
		}
		seen[b.View()] = true
	}
	return true
}

// CommitOnConsecutive3Chain: every committed block is the head, or an
// ancestor of the head, of a 3-chain of direct parents whose last block
// has a QC.
// tla: Pacemaker!CommitOnConsecutive3Chain, spec: PM-26
func CommitOnConsecutive3Chain(cfg Config, s State) bool {
	var heads []Block
	for _, b2 := range s.qcs {
		b1 := b2.JustifyNode()
		if DirectParent(b2, b1) && DirectParent(b1, b1.JustifyNode()) {
			heads = append(heads, b1.JustifyNode())
		}
	}
	for _, r := range s.reps {
		for _, a := range r.Committed {
			if !slices.ContainsFunc(heads, func(h Block) bool { return h.Extends(a) }) {
				return false
			}
		}
	}
	return true
}

// NextViewNeedsComplaintQuorum: every TC has Quorum complainers.
// tla: Pacemaker!NextViewNeedsComplaintQuorum, spec: PM-28
func NextViewNeedsComplaintQuorum(cfg Config, s State) bool {
	for _, v := range s.tcs {
		if Complainers(cfg, s, v) < cfg.Quorum {
			return false
		}
	}
	return true
}

// QCNeedsVoteQuorum: every QC but genesis's has Quorum voters.
// tla: Pacemaker!QCNeedsVoteQuorum, spec: PM-3
func QCNeedsVoteQuorum(cfg Config, s State) bool {
	for _, b := range s.qcs {
		if b != Genesis && Voters(cfg, s, b) < cfg.Quorum {
			return false
		}
	}
	return true
}

// VoteOncePerView: an honest replica votes for at most one block per view.
// tla: Pacemaker!VoteOncePerView, spec: PM-5
func VoteOncePerView(cfg Config, s State) bool {
	// votes are sorted by replica, so one replica's votes are adjacent.
	for i, x := range s.votes {
		for _, y := range s.votes[i+1:] {
			if y.Replica != x.Replica {
				break
			}
			if y.Block.View() == x.Block.View() {
				return false
			}
		}
	}
	return true
}

// LockCoversVotes: a replica's lock is at least as high as the 2-chain
// head of every block it voted for.
// tla: Pacemaker!LockCoversVotes, spec: PM-6
func LockCoversVotes(cfg Config, s State) bool {
	for _, v := range s.votes {
		i, ok := s.repIndex(v.Replica)
		if !ok || s.reps[i].BLock.Height() < v.Block.JustifyNode().JustifyNode().Height() {
			return false
		}
	}
	return true
}

// LockMonotonic is the action property [][∀ r: Height(bLock'[r]) >=
// Height(bLock[r])]_vars for the step from -> to.
// tla: Pacemaker!LockMonotonic, spec: PM-25
func LockMonotonic(cfg Config, from, to State) bool {
	return monotonic(from, to, func(r Replica) int { return r.BLock.Height() })
}

// ViewMonotonic is the action property [][∀ r: curView'[r] >=
// curView[r]]_vars for the step from -> to.
// tla: Pacemaker!ViewMonotonic, spec: PM-27
func ViewMonotonic(cfg Config, from, to State) bool {
	return monotonic(from, to, func(r Replica) int { return r.CurView })
}

func monotonic(from, to State, f func(Replica) int) bool {
	for _, r := range from.reps {
		if i, ok := to.repIndex(r.ID); ok && f(to.reps[i]) < f(r) {
			return false
		}
	}
	return true
}

// Progress is the goal of the property Progress: some honest replica has
// committed a block. It is stable (committed sets only grow), so Progress
// (eventually goal) holds under LiveSpec iff it holds in every reachable
// state where FairEnabled is false.
// tla: Pacemaker!Progress, spec: PM-29
func Progress(cfg Config, s State) bool {
	return slices.ContainsFunc(s.reps, func(r Replica) bool { return len(r.Committed) > 0 })
}

// isByzantineLabel tells the unfair (Byzantine) actions' labels apart.
func isByzantineLabel(label string) bool { return strings.HasPrefix(label, "Byzantine") }
