package pacemaker

import (
	"crypto/sha256"
	"fmt"
	"time"

	"github.com/fhbft/fhbft/impl/certification"
	pm "github.com/fhbft/fhbft/impl/pacemaker"
	"github.com/fhbft/fhbft/impl/sim/network"
)

// Invariant names, as in tla/Pacemaker.tla where it has them.
const (
	InvNoConflictingCommits = "NoConflictingCommits" // PM-23 (within one replica: its commits form a chain)
	// InvConflictRefused: a replica reported ConflictingCommit (PM-7): UPDATE
	// asked it to commit a block off its committed chain and it refused.
	// The conflict never reached its log, but a 3-chain certified it.
	InvConflictRefused        = "NoConflictingCommits/refused"
	InvUniqueQCPerView        = "UniqueQCPerView"           // PM-24
	InvLockMonotonic          = "LockMonotonic"             // PM-25
	InvCommitOnConsecutive3   = "CommitOnConsecutive3Chain" // PM-26
	InvViewMonotonic          = "ViewMonotonic"             // PM-27
	InvNextViewNeedsComplaint = "NextViewNeedsComplaintQuorum"
	InvVoteOncePerView        = "VoteOncePerView" // PM-5
	InvQCVerified             = "QCVerified"      // PM-3: an honest replica uses only QCs that verify
	InvViewBound              = "ViewBound"       // PM-18: views move only by genuine certificates
)

// Violation is one broken invariant.
type Violation struct {
	Invariant string
	Node      network.NodeID
	Step      int
	At        time.Duration
	Detail    string
}

func (v Violation) String() string {
	return fmt.Sprintf("%s at node %d (step %d, %v): %s", v.Invariant, v.Node, v.Step, v.At, v.Detail)
}

type blockInfo struct {
	view    pm.View
	parent  pm.Hash
	justify pm.Hash // justify node (real blocks)
	real    bool
}

type replicaTrack struct {
	view      pm.View
	lock      pm.Height
	qcHigh    pm.QC
	committed []pm.Hash
	votes     map[pm.View]pm.Hash
}

// Checker checks the safety invariants over the honest replicas. It keeps
// its own record of every block and certificate it has seen (from messages
// and effects) and uses no replica internals: ancestry is decided on its
// own block registry, certificates are verified with one pairing each
// (cached). Call the On* methods as things happen; checks are incremental,
// so running them after every step costs little.
type Checker struct {
	roster   certification.Roster
	genesis  pm.Hash
	blocks   map[pm.Hash]blockInfo
	children map[pm.Hash][]pm.Hash
	certOK   map[pm.Hash]bool             // encoding hash → verifies
	qcs      map[pm.View]map[pm.Hash]bool // genuine QCs: view → certified blocks
	maxCert  pm.View                      // highest view of a genuine QC or TC seen
	reps     map[network.NodeID]*replicaTrack
	ref      []pm.Hash // the longest committed sequence of any honest replica
	refNode  network.NodeID
	viol     []Violation
	step     int
	now      time.Duration
	Verifies int // pairing checks the checker spent
}

// NewChecker returns a checker for the roster.
func NewChecker(r certification.Roster) *Checker {
	g := pm.GenesisHash(r.Quorum, r.Epoch)
	return &Checker{
		roster:   r,
		genesis:  g,
		blocks:   map[pm.Hash]blockInfo{g: {view: 0, real: true}},
		children: map[pm.Hash][]pm.Hash{},
		certOK:   map[pm.Hash]bool{},
		qcs:      map[pm.View]map[pm.Hash]bool{0: {g: true}},
		reps:     map[network.NodeID]*replicaTrack{},
	}
}

// At sets the step and time violations are reported at.
func (c *Checker) At(step int, now time.Duration) { c.step, c.now = step, now }

// Violations returns what was found so far.
func (c *Checker) Violations() []Violation { return c.viol }

// Committed is the longest committed sequence among honest replicas.
func (c *Checker) Committed() []pm.Hash { return c.ref }

func (c *Checker) fail(inv string, node network.NodeID, format string, args ...any) {
	c.viol = append(c.viol, Violation{Invariant: inv, Node: node, Step: c.step, At: c.now, Detail: fmt.Sprintf(format, args...)})
}

// Track makes node an honest replica whose state is checked.
func (c *Checker) Track(node network.NodeID) {
	c.reps[node] = &replicaTrack{votes: map[pm.View]pm.Hash{}}
}

// verify checks a certificate once; the result is cached by encoding.
func (c *Checker) verify(cert certification.Certificate) bool {
	enc, err := cert.MarshalBinary()
	if err != nil {
		return false
	}
	k := sha256.Sum256(enc)
	if ok, seen := c.certOK[k]; seen {
		return ok
	}
	c.Verifies++
	ok := cert.Verify(c.roster) == nil
	c.certOK[k] = ok
	return ok
}

func (c *Checker) qcValid(qc pm.QC) bool { return qc.IsGenesis() || c.verify(qc.Cert) }

// OnBlock registers a block seen anywhere (a proposal, a fetch response,
// a commit) and the QC it carries.
func (c *Checker) OnBlock(b pm.Block) {
	h := b.Hash()
	if _, ok := c.blocks[h]; ok {
		return
	}
	info := blockInfo{view: b.View, parent: b.Parent, real: !b.IsDummy()}
	if info.real {
		info.justify = b.Justify.Block()
		c.OnQC(b.Justify)
	}
	c.blocks[h] = info
	c.children[b.Parent] = append(c.children[b.Parent], h)
	c.pad(h)
}

// pad registers the dummies between a real block and its justify node,
// which every replica computes (PM-1), if that is what its parent names.
func (c *Checker) pad(h pm.Hash) {
	b := c.blocks[h]
	if !b.real || b.view == 0 {
		return
	}
	if _, ok := c.blocks[b.parent]; ok {
		return
	}
	j, ok := c.blocks[b.justify]
	if !ok || j.view >= b.view {
		return
	}
	prev := b.justify
	var ds []pm.Block
	for w := j.view + 1; w < b.view; w++ {
		d := pm.Dummy(c.roster.Quorum, c.roster.Epoch, w, prev)
		ds = append(ds, d)
		prev = d.Hash()
	}
	if prev != b.parent {
		return // malformed: its parent is not the padded justify node
	}
	for _, d := range ds {
		dh := d.Hash()
		if _, ok := c.blocks[dh]; !ok {
			c.blocks[dh] = blockInfo{view: d.View, parent: d.Parent}
			c.children[d.Parent] = append(c.children[d.Parent], dh)
		}
	}
	// Children that waited for this block as their justify node.
	for _, kid := range c.children[h] {
		c.pad(kid)
	}
}

// extends reports whether a is b or descends from b: 1 yes, 0 no, -1
// unknown (a block on the way is not registered).
func (c *Checker) extends(a, b pm.Hash) int {
	bb, ok := c.blocks[b]
	if !ok {
		return -1
	}
	for {
		ab, ok := c.blocks[a]
		if !ok {
			return -1
		}
		if ab.view <= bb.view {
			if a == b {
				return 1
			}
			return 0
		}
		if _, ok := c.blocks[ab.parent]; !ok {
			c.pad(a)
		}
		a = ab.parent
	}
}

// OnQC registers a QC seen anywhere; genuine ones (that verify) count for
// UniqueQCPerView and the view bound.
func (c *Checker) OnQC(qc pm.QC) {
	if qc.IsGenesis() {
		return
	}
	v, h := qc.View(), qc.Block()
	if c.qcs[v][h] {
		return // already known genuine: no pairing
	}
	if !c.verify(qc.Cert) {
		return
	}
	c.maxCert = max(c.maxCert, v)
	m := c.qcs[v]
	if m == nil {
		m = map[pm.Hash]bool{}
		c.qcs[v] = m
	}
	m[h] = true
	if len(m) > 1 {
		c.fail(InvUniqueQCPerView, 0, "%d blocks of view %d have QCs (latest %x)", len(m), v, h[:4])
	}
}

// OnTC registers a TC formed or delivered: it must verify (q distinct
// complainers, PM-28) to count for the view bound.
func (c *Checker) OnTC(node network.NodeID, tc pm.TC, formed bool) {
	if !c.verify(tc.Cert) {
		if formed {
			c.fail(InvNextViewNeedsComplaint, node, "formed a TC of view %d that does not verify", tc.View())
		}
		return
	}
	if n := tc.Cert.Signers.Count(); n < c.roster.Q() {
		c.fail(InvNextViewNeedsComplaint, node, "TC of view %d with %d signers", tc.View(), n)
	}
	c.maxCert = max(c.maxCert, tc.View())
}

// OnVote checks that an honest replica votes at most once per view, and
// only for a block whose justify QC verifies.
func (c *Checker) OnVote(node network.NodeID, v pm.View, h pm.Hash) {
	r := c.reps[node]
	if r == nil {
		return
	}
	if prev, ok := r.votes[v]; ok {
		c.fail(InvVoteOncePerView, node, "second vote in view %d (%x after %x)", v, h[:4], prev[:4])
	} else {
		r.votes[v] = h
	}
	for w := range r.votes {
		if w+64 < v {
			delete(r.votes, w)
		}
	}
}

// OnState checks views, locks and qcHigh of an honest replica after a
// step. spec: PM-27, PM-25, PM-3, PM-18
func (c *Checker) OnState(node network.NodeID, st pm.ReplicaState) {
	r := c.reps[node]
	if r == nil {
		return
	}
	if st.CurView < r.view {
		c.fail(InvViewMonotonic, node, "view went from %d to %d", r.view, st.CurView)
	}
	if st.BLock.Height < r.lock {
		c.fail(InvLockMonotonic, node, "lock height went from %d to %d", r.lock, st.BLock.Height)
	}
	// A replica enters view v+1 on a certificate of view ≥ v, or on a
	// proposal of view v whose leader entered v on a certificate of view
	// ≥ v-1: so curView ≤ highest genuine certificate + 2.
	if st.CurView > c.maxCert+2 && st.CurView > 2 {
		c.fail(InvViewBound, node, "in view %d but the highest genuine certificate is of view %d", st.CurView, c.maxCert)
	}
	if st.QCHigh.View() != r.qcHigh.View() || st.QCHigh.Block() != r.qcHigh.Block() {
		if !c.qcValid(st.QCHigh) {
			c.fail(InvQCVerified, node, "qcHigh of view %d does not verify", st.QCHigh.View())
		} else {
			c.OnQC(st.QCHigh)
		}
	}
	r.view, r.lock, r.qcHigh = max(r.view, st.CurView), max(r.lock, st.BLock.Height), st.QCHigh
}

// OnCommit checks the blocks an honest replica committed in one step:
// each extends the one before (PM-23 within the replica), the sequence
// agrees with every other honest replica's (PM-23), and the newest is the
// head of a consecutive 3-chain with a genuine QC on its third block
// (PM-26).
func (c *Checker) OnCommit(node network.NodeID, blocks []pm.Block) {
	r := c.reps[node]
	if r == nil || len(blocks) == 0 {
		return
	}
	for _, b := range blocks {
		c.OnBlock(b)
		h := b.Hash()
		prev := c.genesis
		if len(r.committed) > 0 {
			prev = r.committed[len(r.committed)-1]
		}
		switch c.extends(h, prev) {
		case 0:
			c.fail(InvNoConflictingCommits, node, "committed %s, which does not extend its previous commit %x", ref(b), prev[:4])
		case -1:
			c.fail(InvNoConflictingCommits, node, "committed %s whose ancestry down to %x is unknown to the checker", ref(b), prev[:4])
		}
		if h == prev {
			c.fail(InvNoConflictingCommits, node, "committed %s twice", ref(b))
		}
		k := len(r.committed)
		r.committed = append(r.committed, h)
		switch {
		case k < len(c.ref):
			if c.ref[k] != h {
				c.fail(InvNoConflictingCommits, node, "commit #%d is %s but node %d committed %x there", k+1, ref(b), c.refNode, c.ref[k][:4])
			}
		case k == len(c.ref):
			c.ref = append(c.ref, h)
			c.refNode = node
		}
	}
	c.check3Chain(node, blocks[len(blocks)-1])
}

func ref(b pm.Block) string {
	h := b.Hash()
	return fmt.Sprintf("v%d/%x", b.View, h[:4])
}

// OnConflictingCommit records a replica's own report that UPDATE asked it
// to commit a block that does not extend bExec (it refused). spec: PM-7,
// PM-23
func (c *Checker) OnConflictingCommit(node network.NodeID, e pm.ConflictingCommit) {
	if c.reps[node] == nil {
		return
	}
	c.fail(InvConflictRefused, node, "the replica was asked to commit %v, which does not extend its bExec %v (it refused: ConflictingCommit)", e.Block, e.Exec)
}

// check3Chain: b0 ← b1 ← b2 with b1.parent = b0 = b1.justify.node,
// b2.parent = b1 = b2.justify.node, and a genuine QC for b2. spec: PM-26
func (c *Checker) check3Chain(node network.NodeID, b0 pm.Block) {
	h0 := b0.Hash()
	for _, h1 := range c.children[h0] {
		b1 := c.blocks[h1]
		if !b1.real || b1.justify != h0 {
			continue
		}
		for _, h2 := range c.children[h1] {
			b2 := c.blocks[h2]
			if !b2.real || b2.justify != h1 {
				continue
			}
			if c.qcs[b2.view][h2] {
				return
			}
		}
	}
	c.fail(InvCommitOnConsecutive3, node, "committed %s without a consecutive 3-chain b0 ← b1 ← b2 and a QC for b2", ref(b0))
}
