package tests

// Refinement of the pacemaker replica (impl/pacemaker) against the Go model
// of tla/Pacemaker.tla (model/pacemaker), n = 4, q = 3, with 0 or 1
// Byzantine replica.
//
// A small in-test driver runs four pm.Replica values. rapid (or, for the
// planted-bug search, a seeded PCG) picks every step: deliver or drop one
// pending message, fire a replica's armed timer, or (with a Byzantine
// replica) inject a Byzantine message signed with the Byzantine replica's
// share: an equivocating proposal in a view it leads (any formed QC as
// justify, random commands, sent to a chosen subset), a vote for any known
// block (double votes), a complaint about any view, or a forged QC or TC
// (a real certificate re-pointed at another block or view, so its
// signature no longer verifies). The Byzantine replica otherwise runs the
// honest code; its state is not checked.
//
// What is checked, after every step of an honest replica:
//   - Abstraction: the replica's state is mapped to model.Replica (curView,
//     vheight, bLock, qcHigh, committed) by walking each block's chain of
//     views back to genesis (dummies are implicit in the model).
//   - (a) Transition: the new abstraction equals the old one (a stutter) or
//     the one reached by a sequence of at most maxModelSteps model actions
//     of THIS replica (ReceiveProposal, FormQC, Timeout, FormTC,
//     ReceiveNewView, ReceiveNextView, called directly) from a model state
//     holding every honest replica's abstraction and the global sets the
//     run has produced so far. Several model steps per implementation step
//     are needed because one Step may form a certificate, enter a view,
//     propose and vote on its own proposal, or drain buffered messages.
//     Every vote the replica sends in the step must be cast on that path
//     (ReceiveProposal with SafeNode).
//   - (b) Invariants on the global abstraction after every step:
//     NoConflictingCommits, CommitOnConsecutive3Chain, VoteOncePerView,
//     UniqueQCPerView, QCNeedsVoteQuorum, NextViewNeedsComplaintQuorum,
//     and the action properties LockMonotonic and ViewMonotonic.
//
// Two rules of spec/pacemaker.md that the model does not have (yet) are
// admitted as explicit, counted extensions of the replica's actions, and
// nothing else is:
//   - PM-17: any replica raises qcHigh from a formed QC carried by any
//     message (e.g. a complaint's qcHigh) even when the QC is below its
//     view; the model's ReceiveNewView lets only the next leader do so.
//     Admitted as a qcHigh-only change by UpdateQCHigh to a formed QC.
//   - PM-32: a later timer expiry complains about a view ahead without
//     abandoning it; the model's complaint <<r, v>> forbids voting in v.
//     For ReceiveProposal only, r's own complaint about curView that was
//     sent from an earlier view is set aside.
//
// The global sets are observations of the run, never the matched paths'
// guesses (paths are ambiguous when a message to oneself is invisible):
// blocks = every proposal sent (honest or Byzantine), qcs = genesis plus
// every QC some replica formed (QCFormed), tcs = every TC some replica
// formed, votes = honest Vote messages plus the honest signers of every
// formed QC, complaints = honest Complain messages, the complaint an
// expiry sends to oneself, and the honest signers of every formed TC.
// Blocks, votes and complaints of the step itself are in the state the
// step is matched from (the model proposes and counts inside one action).
//
// Not checked: the Byzantine replica's state; the honest proposals'
// content other than through the receivers' transitions; commands and
// execution; fetches; timer durations; that a Timeout on the model path
// corresponds to a complaint (complaints are recorded as observed);
// intermediate votes to oneself that no QC reveals (they are missing from
// VoteOncePerView's input).

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/fhbft/fhbft/impl/certification"
	"github.com/fhbft/fhbft/impl/crypto/threshold"
	pm "github.com/fhbft/fhbft/impl/pacemaker"
	"github.com/fhbft/fhbft/impl/pacemaker/timeout"
	model "github.com/fhbft/fhbft/model/pacemaker"
	"pgregory.net/rapid"
)

const (
	refN          = 4
	refQ          = 3
	refMaxView    = 60
	maxModelSteps = 4
)

type refKeys struct {
	roster certification.Roster
	shares []threshold.SecretShare
}

var (
	refKeysOnce sync.Once
	refKeysVal  refKeys
	refKeysErr  error
)

func refFixture(t testing.TB) refKeys {
	refKeysOnce.Do(func() {
		gk, shares, err := threshold.TrustedDealerForTesting(refN, refQ, rand.NewChaCha8([32]byte{'r', 'e', 'f'}))
		refKeysVal, refKeysErr = refKeys{roster: certification.Roster{Quorum: 9, Epoch: 2, Key: gk}, shares: shares}, err
	})
	if refKeysErr != nil {
		t.Fatal(refKeysErr)
	}
	return refKeysVal
}

// refChooser is the source of the run's choices: rapid in the property test,
// a seeded PCG in the planted-bug search.
type refChooser interface {
	// pick returns a value in [0, n).
	pick(n int, label string) int
}

type refRapidChooser struct{ t *rapid.T }

func (c refRapidChooser) pick(n int, label string) int {
	return rapid.IntRange(0, n-1).Draw(c.t, label)
}

type refPCGChooser struct{ r *rand.Rand }

func (c refPCGChooser) pick(n int, _ string) int { return c.r.IntN(n) }

type refMsg struct {
	from, to pm.ReplicaID
	msg      pm.Message
}

type refDriver struct {
	keys   refKeys
	cfg    model.Config
	byz    pm.ReplicaID // 0: none
	reps   []*pm.Replica
	timer  []pm.View // armed timer view per replica (index id-1); 0 = none
	armed  []bool
	queue  []refMsg
	blocks map[pm.Hash]pm.Block // every block seen (real blocks from messages)
	// Global sets of the abstraction.
	mBlocks     map[model.Block]bool
	mVotes      map[model.Vote]bool
	mComplaints map[model.Complaint]bool
	mQCs        map[model.Block]bool
	mTCs        map[int]bool
	realQCs     []pm.QC // formed QCs, for Byzantine proposals and forgeries
	realTCs     []pm.TC
	prev        model.State
	steps       int
	modelSteps  int
	nonStutter  int
	byzSent     int
	pm17Only    int
	pm32        int
	rejected    int // non-benign rejections of the Byzantine replica's messages
	// ahead are honest complaints about a view other than the sender's
	// curView (PM-32's later expiries).
	ahead map[model.Complaint]bool
}

func newRefDriver(t testing.TB, byz pm.ReplicaID, mut pm.Mutations) (*refDriver, error) {
	k := refFixture(t)
	mc := model.Config{Replicas: []int{1, 2, 3, 4}, Quorum: refQ, MaxView: refMaxView}
	for v := 1; v <= refMaxView; v++ {
		mc.TimeoutViews = append(mc.TimeoutViews, v)
	}
	if byz != 0 {
		mc.Byzantine = []int{int(byz)}
	}
	d := &refDriver{keys: k, cfg: mc, byz: byz, timer: make([]pm.View, refN), armed: make([]bool, refN),
		blocks: map[pm.Hash]pm.Block{}, mBlocks: map[model.Block]bool{}, mVotes: map[model.Vote]bool{},
		mComplaints: map[model.Complaint]bool{}, mQCs: map[model.Block]bool{model.Genesis: true}, mTCs: map[int]bool{}, ahead: map[model.Complaint]bool{},
		realQCs: []pm.QC{pm.GenesisQCOf(k.roster)}}
	for id := pm.ReplicaID(1); id <= refN; id++ {
		c := pm.Config{Timeout: timeout.Config{Mode: timeout.Fixed}}
		if id != byz {
			c.Mutations = mut
		}
		r, err := pm.New(c, id, k.shares[id-1], k.roster)
		if err != nil {
			return nil, err
		}
		d.reps = append(d.reps, r)
	}
	st, err := d.global()
	if err != nil {
		return nil, err
	}
	d.prev = st
	for id := pm.ReplicaID(1); id <= refN; id++ {
		if err := d.step(id, pm.Start{}); err != nil {
			return nil, err
		}
	}
	return d, nil
}

func (d *refDriver) honest(id pm.ReplicaID) bool { return id != d.byz }

// toModel maps the block with hash h to a model Block by walking its
// chain back to genesis, skipping dummies. via is the replica whose store
// is consulted for blocks the driver has not seen (dummies it made).
func (d *refDriver) toModel(h pm.Hash, via *pm.Replica) (model.Block, error) {
	g := pm.GenesisHash(d.keys.roster.Quorum, d.keys.roster.Epoch)
	var entries [][2]byte
	for i := 0; h != g; i++ {
		b, ok := d.blocks[h]
		if !ok && via != nil {
			b, ok = via.Block(h)
		}
		// Dummies are never sent: any replica's store may hold the one on
		// this chain.
		for j := 0; !ok && j < len(d.reps); j++ {
			b, ok = d.reps[j].Block(h)
		}
		if !ok || i > 1000 {
			return "", fmt.Errorf("block %x unknown or chain too long", h[:4])
		}
		if !b.IsDummy() {
			if b.View > refMaxView {
				return "", fmt.Errorf("block of view %d beyond MaxView", b.View)
			}
			entries = append(entries, [2]byte{byte(b.View), byte(b.Justify.View())})
		}
		h = b.Parent
	}
	var out model.Block
	for i := len(entries) - 1; i >= 0; i-- {
		out += model.Block(entries[i][:])
	}
	return out, nil
}

func (d *refDriver) abstract(r *pm.Replica) (model.Replica, error) {
	st := r.State()
	lock, err := d.toModel(st.BLock.Hash, r)
	if err != nil {
		return model.Replica{}, fmt.Errorf("bLock: %w", err)
	}
	high, err := d.toModel(st.QCHigh.Block(), r)
	if err != nil {
		return model.Replica{}, fmt.Errorf("qcHigh: %w", err)
	}
	mr := model.Replica{ID: int(st.ID), CurView: int(st.CurView), VHeight: int(st.VHeight), BLock: lock, QCHigh: high}
	seen := map[model.Block]bool{}
	for _, c := range st.Committed {
		b, err := d.toModel(c.Hash, r)
		if err != nil {
			return model.Replica{}, fmt.Errorf("committed: %w", err)
		}
		for k := 1; k <= b.Len(); k++ {
			seen[b.Prefix(k)] = true
		}
	}
	for b := range seen {
		mr.Committed = append(mr.Committed, b)
	}
	slices.Sort(mr.Committed)
	return mr, nil
}

func setKeys[K comparable](m map[K]bool) []K {
	var out []K
	for k := range m {
		out = append(out, k)
	}
	return out
}

// global is the model state of the run so far.
func (d *refDriver) global() (model.State, error) {
	var reps []model.Replica
	for _, r := range d.reps {
		if !d.honest(r.ID()) {
			continue
		}
		mr, err := d.abstract(r)
		if err != nil {
			return model.State{}, fmt.Errorf("replica %d: %w", r.ID(), err)
		}
		reps = append(reps, mr)
	}
	return model.Build(d.cfg, model.Parts{Replicas: reps, Blocks: setKeys(d.mBlocks), Votes: setKeys(d.mVotes),
		Complaints: setKeys(d.mComplaints), QCs: setKeys(d.mQCs), TCs: setKeys(d.mTCs)})
}

func sameReplica(a, b model.Replica) bool {
	return a.CurView == b.CurView && a.VHeight == b.VHeight && a.BLock == b.BLock && a.QCHigh == b.QCHigh &&
		slices.Equal(a.Committed, b.Committed)
}

// matchPath searches for at most maxModelSteps actions of replica r from s
// that reach want and cast every vote in votes. It returns the end state
// and the labels.
func (d *refDriver) matchPath(s model.State, r int, want model.Replica, votes []model.Block) (model.State, []string, bool) {
	type node struct {
		s      model.State
		labels []string
	}
	covers := func(s model.State) bool {
		have := s.Votes()
		for _, b := range votes {
			if !slices.Contains(have, model.Vote{Replica: r, Block: b}) {
				return false
			}
		}
		return true
	}
	done := func(s model.State) bool {
		got, _ := s.Replica(r)
		return sameReplica(got, want) && covers(s)
	}
	if done(s) {
		return s, nil, true
	}
	frontier := []node{{s, nil}}
	for depth := 0; depth < maxModelSteps; depth++ {
		var next []node
		for _, n := range frontier {
			for _, sc := range d.replicaSuccessors(n.s, r) {
				labels := append(slices.Clone(n.labels), sc.Label)
				if done(sc.Next) {
					return sc.Next, labels, true
				}
				next = append(next, node{sc.Next, labels})
			}
		}
		frontier = next
		if len(frontier) > 5000 {
			break
		}
	}
	return s, nil, false
}

// replicaSuccessors are the enabled, state-changing actions of replica r,
// from the model's exported action functions.
func (d *refDriver) replicaSuccessors(s model.State, r int) []model.Successor {
	var out []model.Successor
	add := func(n model.State, ok bool, label string) {
		if ok && !n.Equal(s) {
			out = append(out, model.Successor{Label: label, Next: n, Honest: true})
		}
	}
	cfg := d.cfg
	rep, _ := s.Replica(r)
	// PM-32: a complaint about a view ahead of the one the replica was in
	// does not abandon that view, while the model's complaint <<r, v>>
	// forbids voting in v. For ReceiveProposal only, such a complaint about
	// curView is set aside (and put back afterwards).
	recvFrom, pm32 := s, false
	if c := (model.Complaint{Replica: r, View: rep.CurView}); d.ahead[c] {
		parts := s.Parts()
		parts.Complaints = slices.DeleteFunc(parts.Complaints, func(x model.Complaint) bool { return x == c })
		if t, err := model.Build(cfg, parts); err == nil {
			recvFrom, pm32 = t, true
		}
	}
	for _, b := range s.Blocks() {
		n, ok := model.ReceiveProposal(cfg, recvFrom, r, b)
		label := "ReceiveProposal " + b.String()
		if pm32 && ok {
			parts := n.Parts()
			parts.Complaints = append(parts.Complaints, model.Complaint{Replica: r, View: rep.CurView})
			n, _ = model.Build(cfg, parts)
			label += " " + pm32Label
		}
		add(n, ok, label)
		n, ok = model.FormQC(cfg, s, r, b)
		add(n, ok, "FormQC "+b.String())
	}
	n, ok := model.Timeout(cfg, s, r)
	add(n, ok, "Timeout")
	for v := max(1, rep.CurView-1); v <= min(refMaxView, rep.CurView+refN+2); v++ {
		n, ok := model.FormTC(cfg, s, r, v)
		add(n, ok, fmt.Sprintf("FormTC %d", v))
	}
	for _, b := range s.QCs() {
		n, ok := model.ReceiveNewView(cfg, s, r, b)
		add(n, ok, "ReceiveNewView "+b.String())
	}
	for _, v := range s.TCs() {
		n, ok := model.ReceiveNextView(cfg, s, r, v)
		add(n, ok, fmt.Sprintf("ReceiveNextView %d", v))
	}
	// Not a model action: spec PM-17 lets ANY replica raise qcHigh from a
	// verified QC carried by any message (a complaint's qcHigh, a NewView
	// to a non-leader, a stale proposal's justify) when the QC's view is
	// below curView, while the model's ReceiveNewView allows that only to
	// the next leader. Allowed here, only as a qcHigh-only change to a
	// formed QC (UpdateQCHigh), and counted as pm17Only.
	for _, b := range s.QCs() {
		if b.Height() > rep.QCHigh.Height() && b.View() < rep.CurView {
			parts := s.Parts()
			for i := range parts.Replicas {
				if parts.Replicas[i].ID == r {
					parts.Replicas[i].QCHigh = model.UpdateQCHigh(rep, b)
				}
			}
			n, err := model.Build(cfg, parts)
			add(n, err == nil, pm17Label+b.String())
		}
	}
	return out
}

const pm32Label = "(PM-32: own complaint about this view, sent from an earlier view, set aside)"

const pm17Label = "PM-17 qcHigh update (not in model) "

// step delivers ev to replica id, routes its effects and checks the step.
func (d *refDriver) step(id pm.ReplicaID, ev pm.Event) error {
	d.steps++
	r := d.reps[id-1]
	pre := d.prev
	effs := r.Step(ev)
	var votes []model.Block
	var complaints []int
	record := func(m pm.Message) {
		switch m := m.(type) {
		case pm.Proposal:
			d.blocks[m.Block.Hash()] = m.Block
		case pm.FetchResponse:
			d.blocks[m.Block.Hash()] = m.Block
		case pm.Vote:
			if d.honest(id) {
				if b, err := d.toModel(m.Value.Subject, r); err == nil {
					votes = append(votes, b)
				}
			}
		case pm.Complain:
			if d.honest(id) {
				complaints = append(complaints, int(m.Slot.Number()))
			}
		}
	}
	var newQCs []pm.QC
	var newTCs []pm.TC
	for _, e := range effs {
		switch e := e.(type) {
		case pm.Send:
			record(e.Msg)
			d.queue = append(d.queue, refMsg{id, e.To, e.Msg})
		case pm.Broadcast:
			record(e.Msg)
			for to := pm.ReplicaID(1); to <= refN; to++ {
				if to != id {
					d.queue = append(d.queue, refMsg{id, to, e.Msg})
				}
			}
		case pm.SetTimer:
			d.timer[id-1], d.armed[id-1] = e.View, true
		case pm.QCFormed:
			newQCs = append(newQCs, e.QC)
		case pm.TCFormed:
			newTCs = append(newTCs, e.TC)
		case pm.Rejected:
			if e.From == d.byz && d.byz != 0 && !e.Reason.Benign() {
				d.rejected++
			}
		case pm.ConflictingCommit:
			if d.honest(id) {
				return fmt.Errorf("replica %d reports a conflicting commit %v", id, e)
			}
		}
	}
	// A complaint to oneself (PM-32: the expiry of the timer for view w
	// complains about w to leader(w+1)) is no message.
	if tf, ok := ev.(pm.TimerFired); ok && d.honest(id) && r.Leader(tf.View+1) == id {
		complaints = append(complaints, int(tf.View))
	}
	// Proposals made in this step enter the model's block set before the
	// check: the model's FormQC/FormTC/catch-up actions propose in the
	// same step.
	for _, m := range d.queue {
		if p, ok := m.msg.(pm.Proposal); ok {
			if b, err := d.toModel(p.Block.Hash(), d.reps[m.from-1]); err == nil {
				d.mBlocks[b] = true
			}
		}
	}
	addQCs := func() {
		for _, qc := range newQCs {
			d.realQCs = append(d.realQCs, qc)
			if b, err := d.toModel(qc.Block(), r); err == nil {
				d.mQCs[b] = true
			}
		}
		for _, tc := range newTCs {
			d.realTCs = append(d.realTCs, tc)
			d.mTCs[int(tc.View())] = true
		}
	}
	if !d.honest(id) {
		signed := d.signers(newQCs, newTCs, r)
		for _, v := range signed.Votes {
			d.mVotes[v] = true
		}
		for _, c := range signed.Complaints {
			d.mComplaints[c] = true
		}
		addQCs()
		return d.checkGlobal(pre, "byzantine replica's step")
	}
	want, err := d.abstract(r)
	if err != nil {
		return fmt.Errorf("replica %d after %T: abstraction: %w", id, ev, err)
	}
	// The check state: the previous global state with the blocks proposed
	// in this step (the model proposes inside the action that enters a
	// view).
	parts := pre.Parts()
	parts.Blocks = setKeys(d.mBlocks)
	// The signers of a certificate formed in this step voted or complained
	// (a vote or complaint to oneself is no message).
	signed := d.signers(newQCs, newTCs, r)
	parts.Votes = append(parts.Votes, signed.Votes...)
	parts.Complaints = append(parts.Complaints, signed.Complaints...)
	// So do the replica's complaints of this step: a complaint to oneself
	// may complete a TC within the same Step.
	for _, v := range complaints {
		parts.Complaints = append(parts.Complaints, model.Complaint{Replica: int(id), View: v})
	}
	from, err := model.Build(d.cfg, parts)
	if err != nil {
		return err
	}
	preComplaints := pre.Complaints()
	for _, v := range complaints {
		c := model.Complaint{Replica: int(id), View: v}
		if old, _ := pre.Replica(int(id)); v != old.CurView && !slices.Contains(preComplaints, c) {
			d.ahead[c] = true
		}
	}
	_, labels, ok := d.matchPath(from, int(id), want, votes)
	if !ok {
		old, _ := from.Replica(int(id))
		return fmt.Errorf("replica %d: step %T %+v is no model behaviour of the replica within %d actions:\n  before %+v\n  after  %+v (complainedView %d)\n  votes sent %v\n  complaints ahead of the sender's view %v\n  model state:\n%v",
			id, ev, ev, maxModelSteps, old, want, r.State().ComplainedView, votes, setKeys(d.ahead), from)
	}
	d.modelSteps += len(labels)
	for _, l := range labels {
		if strings.HasPrefix(l, pm17Label) {
			d.pm17Only++
		}
		if strings.HasSuffix(l, pm32Label) {
			d.pm32++
		}
	}
	if len(labels) > 0 {
		d.nonStutter++
	}
	// The global sets take only what the run shows (messages, certificate
	// signers), never the matched path's guesses: paths are ambiguous when
	// a vote to oneself is invisible (e.g. two equivocating blocks of one
	// view that lead to the same abstraction).
	for _, v := range votes {
		d.mVotes[model.Vote{Replica: int(id), Block: v}] = true
	}
	for _, v := range signed.Votes {
		d.mVotes[v] = true
	}
	for _, c := range signed.Complaints {
		d.mComplaints[c] = true
	}
	for _, v := range complaints {
		d.mComplaints[model.Complaint{Replica: int(id), View: v}] = true
	}
	addQCs()
	return d.checkGlobal(pre, fmt.Sprintf("replica %d after %T (model path %v)", id, ev, labels))
}

// signers returns the honest signers of the certificates as votes and
// complaints of the abstraction.
func (d *refDriver) signers(qcs []pm.QC, tcs []pm.TC, via *pm.Replica) model.Parts {
	var p model.Parts
	for _, qc := range qcs {
		b, err := d.toModel(qc.Block(), via)
		if err != nil {
			continue
		}
		for _, m := range qc.Cert.Signers.Members() {
			if d.honest(m) {
				p.Votes = append(p.Votes, model.Vote{Replica: int(m), Block: b})
			}
		}
	}
	for _, tc := range tcs {
		for _, m := range tc.Cert.Signers.Members() {
			if d.honest(m) {
				p.Complaints = append(p.Complaints, model.Complaint{Replica: int(m), View: int(tc.View())})
			}
		}
	}
	return p
}

func (d *refDriver) checkGlobal(pre model.State, what string) error {
	s, err := d.global()
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	cfg := d.cfg
	for _, inv := range []struct {
		name string
		ok   bool
	}{
		{"NoConflictingCommits", model.NoConflictingCommits(cfg, s)},
		{"CommitOnConsecutive3Chain", model.CommitOnConsecutive3Chain(cfg, s)},
		{"VoteOncePerView", model.VoteOncePerView(cfg, s)},
		{"UniqueQCPerView", model.UniqueQCPerView(cfg, s)},
		{"QCNeedsVoteQuorum", model.QCNeedsVoteQuorum(cfg, s)},
		{"NextViewNeedsComplaintQuorum", model.NextViewNeedsComplaintQuorum(cfg, s)},
		{"LockMonotonic", model.LockMonotonic(cfg, pre, s)},
		{"ViewMonotonic", model.ViewMonotonic(cfg, pre, s)},
	} {
		if !inv.ok {
			return fmt.Errorf("%s: invariant %s violated in\n%v", what, inv.name, s)
		}
	}
	d.prev = s
	return nil
}

// byzantine injects one Byzantine message chosen by c.
func (d *refDriver) byzantine(c refChooser) error {
	k, b := d.keys, d.byz
	share := k.shares[b-1]
	to := pm.ReplicaID(1 + c.pick(refN, "byzTo"))
	if to == b {
		to = b%refN + 1
	}
	send := func(dst pm.ReplicaID, m pm.Message) {
		d.byzSent++
		d.queue = append(d.queue, refMsg{b, dst, m})
	}
	var known []pm.Block
	for _, bl := range d.blocks {
		known = append(known, bl)
	}
	slices.SortFunc(known, func(x, y pm.Block) int { return int(x.View) - int(y.View) }) // deterministic enough with ties broken below
	slices.SortStableFunc(known, func(x, y pm.Block) int {
		hx, hy := x.Hash(), y.Hash()
		if x.View != y.View {
			return int(x.View) - int(y.View)
		}
		return slices.Compare(hx[:], hy[:])
	})
	base := d.reps[to-1].State().CurView
	switch c.pick(5, "byzKind") {
	case 0: // equivocating proposal in a view b leads, near the target's view
		v := base + pm.View(c.pick(refN+1, "byzAhead"))
		for d.reps[0].Leader(v) != b {
			v++
		}
		if v > refMaxView {
			return nil
		}
		qc := d.realQCs[c.pick(len(d.realQCs), "byzJustify")]
		if qc.View() >= v {
			return nil
		}
		parent := qc.Block()
		for w := qc.View() + 1; w < v; w++ {
			dm := pm.Dummy(k.roster.Quorum, k.roster.Epoch, w, parent)
			parent = dm.Hash()
			d.blocks[parent] = dm
		}
		blk := pm.Block{Quorum: k.roster.Quorum, Epoch: k.roster.Epoch, View: v, Parent: parent, Justify: qc,
			Cmds: []pm.Command{{ID: pm.CommandID(1000 + c.pick(3, "byzCmd")), Payload: []byte("x")}}, Proposer: b}
		p := pm.SignProposal(share, blk)
		d.blocks[blk.Hash()] = blk
		if mb, err := d.toModel(blk.Hash(), nil); err == nil {
			d.mBlocks[mb] = true
		}
		for dst := pm.ReplicaID(1); dst <= refN; dst++ {
			if dst != b && c.pick(2, "byzSendTo") == 1 {
				send(dst, p)
			}
		}
	case 1: // a vote for any known block (double votes)
		if len(known) == 0 {
			return nil
		}
		bl := known[c.pick(len(known), "byzVoteBlock")]
		v := certification.SignVote(share, pm.VoteStatement(k.roster, bl.View, bl.Hash()))
		send(d.reps[0].Leader(bl.View+1), pm.Vote{Vote: v})
	case 2: // a complaint about any view near the target's
		v := base + pm.View(c.pick(3, "byzComplainView"))
		cv := certification.SignVote(share, pm.ComplaintStatement(k.roster, v))
		send(d.reps[0].Leader(v+1), pm.Complain{Vote: cv, QCHigh: d.realQCs[c.pick(len(d.realQCs), "byzQCHigh")]})
	case 3: // forged QC: a real certificate re-pointed at another block
		if len(known) == 0 || len(d.realQCs) < 2 {
			return nil
		}
		qc := d.realQCs[1+c.pick(len(d.realQCs)-1, "byzForgeFrom")]
		bl := known[c.pick(len(known), "byzForgeTo")]
		if bl.Hash() == qc.Block() {
			return nil
		}
		forged := qc
		forged.Cert.Statement = pm.VoteStatement(k.roster, bl.View, bl.Hash())
		send(to, pm.NewView{QC: forged})
	case 4: // forged TC: a real one re-pointed at a later view, or none at all
		if len(d.realTCs) == 0 {
			return nil
		}
		tc := d.realTCs[c.pick(len(d.realTCs), "byzTC")]
		forged := tc
		forged.Cert.Statement = pm.ComplaintStatement(k.roster, tc.View()+pm.View(1+c.pick(3, "byzTCAhead")))
		send(to, pm.NextView{TC: forged})
	}
	return nil
}

// run drives one execution of at most steps choices. It returns the first
// refinement failure.
func (d *refDriver) run(c refChooser, steps int) error {
	for i := 0; i < steps; i++ {
		top := 0
		for _, r := range d.reps {
			top = max(top, int(r.State().CurView))
		}
		if top > refMaxView-refN-2 {
			return nil
		}
		kinds := 9
		if d.byz != 0 {
			kinds = 11
		}
		switch k := c.pick(kinds, "kind"); {
		case k <= 6: // deliver
			if len(d.queue) == 0 {
				continue
			}
			j := c.pick(len(d.queue), "deliver")
			m := d.queue[j]
			d.queue = slices.Delete(d.queue, j, j+1)
			if err := d.step(m.to, pm.Deliver(m.from, m.msg)); err != nil {
				return err
			}
		case k == 7: // drop
			if len(d.queue) == 0 {
				continue
			}
			j := c.pick(len(d.queue), "drop")
			d.queue = slices.Delete(d.queue, j, j+1)
		case k == 8: // timer
			id := pm.ReplicaID(1 + c.pick(refN, "timer"))
			if !d.armed[id-1] {
				continue
			}
			d.armed[id-1] = false
			if err := d.step(id, pm.TimerFired{View: d.timer[id-1]}); err != nil {
				return err
			}
		default:
			if err := d.byzantine(c); err != nil {
				return err
			}
		}
	}
	return nil
}

type refFigures struct {
	runs, steps, modelSteps, nonStutter, byzSent, commits, pm17Only, pm32, rejected int
}

func (f *refFigures) add(d *refDriver) {
	f.runs++
	f.steps += d.steps
	f.modelSteps += d.modelSteps
	f.nonStutter += d.nonStutter
	f.byzSent += d.byzSent
	f.pm17Only += d.pm17Only
	f.pm32 += d.pm32
	f.rejected += d.rejected
	for _, r := range d.reps {
		if d.honest(r.ID()) {
			f.commits = max(f.commits, len(r.State().Committed))
		}
	}
}

// TestReplicaRefinesModel: every honest replica step is a stutter or a
// short sequence of the model's actions of that replica, and the model's
// invariants hold on the abstraction (see the file comment for the exact
// scope).
func TestReplicaRefinesModel(t *testing.T) {
	refFixture(t)
	var figs [2]refFigures
	rapid.Check(t, func(rt *rapid.T) {
		byz := pm.ReplicaID(0)
		if rapid.Bool().Draw(rt, "withByzantine") {
			byz = pm.ReplicaID(rapid.IntRange(1, refN).Draw(rt, "byzantine"))
		}
		d, err := newRefDriver(t, byz, pm.Mutations{})
		if err != nil {
			rt.Fatal(err)
		}
		if err := d.run(refRapidChooser{rt}, 80); err != nil {
			rt.Fatal(err)
		}
		fi := 0
		if byz != 0 {
			fi = 1
		}
		figs[fi].add(d)
	})
	for i, f := range figs {
		t.Logf("byzantine=%d: %d runs, %d replica steps, %d matched model actions over %d non-stuttering steps, %d Byzantine messages (%d non-benign rejections), max commits of a replica %d, %d PM-17 qcHigh-only updates and %d PM-32 steps outside the model",
			i, f.runs, f.steps, f.modelSteps, f.nonStutter, f.byzSent, f.rejected, f.commits, f.pm17Only, f.pm32)
	}
	if figs[0].modelSteps == 0 || figs[1].byzSent == 0 {
		t.Error("runs exercised nothing")
	}
}

// TestReplicaRefinementCatchesPlantedBugs: with a planted bug the
// refinement check fails for some seed within the bound.
func TestReplicaRefinementCatchesPlantedBugs(t *testing.T) {
	refFixture(t)
	for _, tc := range []struct {
		name string
		mut  pm.Mutations
	}{
		{"LockDoesNotMove", pm.Mutations{LockDoesNotMove: true}},
		{"NoConsecutiveCheck", pm.Mutations{NoConsecutiveCheck: true}},
	} {
		const maxSeed = 200
		caught := false
		for seed := uint64(1); seed <= maxSeed && !caught; seed++ {
			d, err := newRefDriver(t, 0, tc.mut)
			if err != nil {
				t.Logf("%s seed %d: caught at start: %v", tc.name, seed, err)
				caught = true
				break
			}
			err = d.run(refPCGChooser{rand.New(rand.NewPCG(seed, 0x5eed))}, 150)
			if err == nil {
				continue
			}
			t.Logf("%s caught with seed %d after %d steps: %.400s", tc.name, seed, d.steps, err)
			caught = true
			// Control: the same choices without the planted bug pass, so
			// the catch is the mutation's doing.
			ctl, err := newRefDriver(t, 0, pm.Mutations{})
			if err != nil {
				t.Fatal(err)
			}
			if err := ctl.run(refPCGChooser{rand.New(rand.NewPCG(seed, 0x5eed))}, 150); err != nil {
				t.Errorf("%s seed %d: fails without the mutation too: %v", tc.name, seed, err)
			}
		}
		if !caught {
			t.Errorf("%s: refinement check passed for seeds 1..%d", tc.name, maxSeed)
		}
	}
}
