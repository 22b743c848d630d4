package dag

import (
	"bytes"
	"fmt"
	"slices"
	"testing"

	"github.com/fhbft/fhbft/impl/certification"
	"github.com/fhbft/fhbft/impl/state"
	"github.com/fhbft/fhbft/impl/tx"
	"pgregory.net/rapid"
)

// Properties of Converge (spec: CONV-2..CONV-12; issue 5 "rapid"). Each is
// a plain func(*rapid.T) so that TestPropertiesCatchPlantedBugs can run
// the same property against a mutated Converge and require a failure.

// shuffled returns a permutation of in (blocks and evidence).
func shuffled(t *rapid.T, in Input) Input {
	return Input{
		Blocks:   rapid.Permutation(in.Blocks).Draw(t, "blockOrder"),
		Evidence: rapid.Permutation(in.Evidence).Draw(t, "evidenceOrder"),
		Rejected: in.Rejected,
	}
}

// propPermutation: CONV-5, the block does not depend on input order.
func propPermutation(t *rapid.T) {
	s := drawScenario(t)
	a := s.converge(t, 1, 0, s.in)
	b := s.converge(t, 1, 0, shuffled(t, s.in))
	if !bytes.Equal(encode(t, &a.Block), encode(t, &b.Block)) {
		t.Fatalf("input order changed the block: %v", Compare(&a.Block, &b.Block))
	}
}

// propDuplication: CONV-5, duplicated inputs change nothing.
func propDuplication(t *rapid.T) {
	s := drawScenario(t)
	a := s.converge(t, 1, 0, s.in)
	dup := Input{Blocks: slices.Clone(s.in.Blocks), Evidence: slices.Clone(s.in.Evidence), Rejected: s.in.Rejected}
	for _, i := range rapid.SliceOf(rapid.IntRange(0, max(len(s.in.Blocks)-1, 0))).Draw(t, "dupBlocks") {
		if len(s.in.Blocks) > 0 {
			dup.Blocks = append(dup.Blocks, s.in.Blocks[i])
		}
	}
	for _, i := range rapid.SliceOf(rapid.IntRange(0, max(len(s.in.Evidence)-1, 0))).Draw(t, "dupEvidence") {
		if len(s.in.Evidence) > 0 {
			dup.Evidence = append(dup.Evidence, s.in.Evidence[i])
		}
	}
	b := s.converge(t, 1, 0, shuffled(t, dup))
	if !bytes.Equal(encode(t, &a.Block), encode(t, &b.Block)) {
		t.Fatalf("duplicated inputs changed the block: %v", Compare(&a.Block, &b.Block))
	}
}

// propMiners: CONV-12, two miners (in any input order) differ at most in
// Miner and Rank.
func propMiners(t *rapid.T) {
	s := drawScenario(t)
	m1 := MinerID(rapid.IntRange(1, 5).Draw(t, "miner1"))
	m2 := MinerID(rapid.IntRange(1, 5).Draw(t, "miner2"))
	a := s.converge(t, m1, uint32(m1%3), s.in)
	b := s.converge(t, m2, uint32(m2%3), shuffled(t, s.in))
	b.Block.Miner, b.Block.Rank = a.Block.Miner, a.Block.Rank
	if !bytes.Equal(encode(t, &a.Block), encode(t, &b.Block)) {
		t.Fatalf("miners disagree: %v", Compare(&a.Block, &b.Block))
	}
}

// propNoDoubleInclusion: CONV-4, FIN-5 within a block: no digest twice
// across applied/rejected/deferred, at most one applied per slot, and no
// applied slot below the sender's nonce.
func propNoDoubleInclusion(t *rapid.T) {
	s := drawScenario(t)
	out := s.converge(t, 1, 0, shuffled(t, s.in))
	b := &out.Block
	seen := map[tx.Digest]string{}
	note := func(d tx.Digest, where string) {
		if w, ok := seen[d]; ok {
			t.Fatalf("digest %x… both %s and %s", d[:4], w, where)
		}
		seen[d] = where
	}
	for _, d := range b.Applied {
		note(d, "applied")
	}
	for _, d := range b.Rejected {
		note(d.Digest, "rejected")
	}
	for _, d := range b.Deferred {
		note(d.Tx.Digest(), "deferred")
	}
	type slot struct {
		from  tx.AccountID
		nonce uint64
	}
	slots := map[slot]bool{}
	for _, t2 := range out.Applied {
		k := slot{t2.From, t2.Nonce}
		if slots[k] {
			t.Fatalf("two transfers applied in slot (%x…, %d)", k.from[:4], k.nonce)
		}
		slots[k] = true
	}
}

func supply(st state.Tree) (total uint64) {
	st.Each(func(_ tx.AccountID, a tx.Account) { total += a.Balance })
	return total
}

// propConservation: CONV-10, FIN-8: supply constant, the sink gains Fees.
func propConservation(t *rapid.T) {
	s := drawScenario(t)
	out := s.converge(t, 1, 0, s.in)
	if before, after := supply(s.st), supply(out.Tree); before != after {
		t.Fatalf("supply %d → %d", before, after)
	}
	s0, _ := s.st.Get(state.FeeSink)
	s1, _ := out.Tree.Get(state.FeeSink)
	if s1.Balance-s0.Balance != out.Block.Fees {
		t.Fatalf("fee sink gained %d, block says fees %d", s1.Balance-s0.Balance, out.Block.Fees)
	}
	var sum uint64
	for _, a := range out.Applied {
		sum += a.Fee
	}
	if sum != out.Block.Fees {
		t.Fatalf("applied fees sum to %d, block says %d", sum, out.Block.Fees)
	}
}

// propPartition: CONV-3, CONV-10: applied, rejected and deferred partition
// the candidates of the counted blocks (computed independently here).
func propPartition(t *rapid.T) {
	s := drawScenario(t)
	out := s.converge(t, 1, 0, s.in)
	// Independent candidate set: blocks whose proposer has one distinct
	// block and no evidence, plus prev.Deferred.
	byProp := map[certification.Member]map[Hash]*ProposalBlock{}
	for i := range s.in.Blocks {
		b := &s.in.Blocks[i]
		if byProp[b.Proposer] == nil {
			byProp[b.Proposer] = map[Hash]*ProposalBlock{}
		}
		byProp[b.Proposer][b.Hash()] = b
	}
	evid := map[certification.Member]bool{}
	for _, e := range s.in.Evidence {
		evid[e.Proposer] = true
	}
	want := map[tx.Digest]bool{}
	for _, d := range s.prev.Deferred {
		want[d.Tx.Digest()] = true
	}
	for m, bs := range byProp {
		if len(bs) != 1 || evid[m] {
			continue
		}
		for _, b := range bs {
			for i := range b.Txs {
				want[b.Txs[i].Digest()] = true
			}
		}
	}
	for _, e := range s.in.Rejected.Entries() { // CONV-14: open entries are no candidates
		if a, _ := s.st.Get(e.From); e.Nonce >= a.Nonce {
			delete(want, e.Digest)
		}
	}
	got := map[tx.Digest]int{}
	for _, d := range out.Block.Applied {
		got[d]++
	}
	for _, d := range out.Block.Rejected {
		got[d.Digest]++
		if !d.Reason.Known() {
			t.Fatalf("unknown reason %d", d.Reason)
		}
	}
	for _, d := range out.Block.Deferred {
		got[d.Tx.Digest()]++
	}
	for d := range want {
		if got[d] != 1 {
			t.Fatalf("candidate %x… accounted %d times", d[:4], got[d])
		}
	}
	for d, k := range got {
		if !want[d] {
			t.Fatalf("%x… (×%d) is not a candidate", d[:4], k)
		}
	}
}

// propStoreApply: FIN-2: the Applied list is accepted by state.Store.Apply
// and gives the block's root; Changes and Tree agree with it.
func propStoreApply(t *rapid.T) {
	s := drawScenario(t)
	out := s.converge(t, 1, 0, s.in)
	st, err := state.NewMem(s.genesis)
	if err != nil {
		t.Fatal(err)
	}
	head, err := st.Apply(out.Applied)
	if err != nil {
		t.Fatalf("state.Store.Apply refused the applied list: %v", err)
	}
	if head.Root != out.Block.StateRoot || out.Tree.Root() != out.Block.StateRoot {
		t.Fatalf("root: store %x…, block %x…, tree %x…", head.Root[:4], out.Block.StateRoot[:4], out.Tree.Root())
	}
	if !slices.IsSortedFunc(out.Changes, func(a, b state.Change) int { return bytes.Compare(a.ID[:], b.ID[:]) }) {
		t.Fatal("changes not sorted by ID")
	}
	for _, c := range out.Changes {
		if got := st.Account(c.ID); got != c.Account {
			t.Fatalf("change %x…: %+v, store has %+v", c.ID[:4], c.Account, got)
		}
	}
}

// propOracle: Converge equals the spec-literal quadratic oracle: counted
// proposers, application order, reasons, deferrals, fees and root.
func propOracle(t *rapid.T) {
	s := drawScenario(t)
	out := s.converge(t, 1, 0, s.in)
	o := naiveConverge(s.p, &s.prev, s.beacon, s.st, s.in)
	var counted []certification.Member
	for _, r := range out.Block.Refs {
		counted = append(counted, r.Proposer)
	}
	if !slices.Equal(counted, o.counted) {
		t.Fatalf("counted %v, oracle %v", counted, o.counted)
	}
	if !slices.Equal(out.Block.Applied, o.applied) {
		t.Fatalf("applied order differs:\n got %x\nwant %x", out.Block.Applied, o.applied)
	}
	if len(out.Block.Rejected) != len(o.rejected) {
		t.Fatalf("%d rejected, oracle %d", len(out.Block.Rejected), len(o.rejected))
	}
	for _, r := range out.Block.Rejected {
		if o.rejected[r.Digest] != r.Reason {
			t.Fatalf("%x… rejected %v, oracle %v", r.Digest[:4], r.Reason, o.rejected[r.Digest])
		}
	}
	if len(out.Block.Deferred) != len(o.deferred) {
		t.Fatalf("%d deferred, oracle %d", len(out.Block.Deferred), len(o.deferred))
	}
	for _, d := range out.Block.Deferred {
		if since, ok := o.deferred[d.Tx.Digest()]; !ok || since != d.Since {
			t.Fatalf("deferred %x… since %d, oracle %v %d", d.Tx.Digest(), d.Since, ok, since)
		}
	}
	if out.Block.Fees != o.fees || out.Block.StateRoot != o.root {
		t.Fatalf("fees %d root %x…, oracle %d %x…", out.Block.Fees, out.Block.StateRoot[:4], o.fees, o.root[:4])
	}
}

// propRecompute: CONV-13 over Converge's own output: recomputing from the
// referenced blocks reproduces the block; the encoding round-trips.
func propRecompute(t *rapid.T) {
	s := drawScenario(t)
	out := s.converge(t, 2, 1, s.in)
	enc := encode(t, &out.Block)
	dec, err := DecodeConvergenceBlock(enc)
	if err != nil {
		t.Fatalf("decode own block: %v", err)
	}
	if !bytes.Equal(encode(t, &dec), enc) || dec.Hash() != out.Block.Hash() {
		t.Fatal("convergence block does not round-trip")
	}
	blocks := map[Hash]*ProposalBlock{}
	for i := range s.in.Blocks {
		blocks[s.in.Blocks[i].Hash()] = &s.in.Blocks[i]
	}
	if _, err := recomputeNoCrypto(s, &dec, blocks); err != nil {
		t.Fatalf("recompute: %v", err)
	}
}

// recomputeNoCrypto is Recompute's comparison without the signature
// checks (the scenario's blocks are unsigned): Converge over exactly the
// referenced blocks and the block's evidence, then Compare.
func recomputeNoCrypto(s *scenario, cb *ConvergenceBlock, blocks map[Hash]*ProposalBlock) (Outcome, error) {
	in := Input{Evidence: cb.Equivocations, Rejected: s.in.Rejected}
	for _, r := range cb.Refs {
		b, ok := blocks[r.Hash]
		if !ok {
			return Outcome{}, fmt.Errorf("missing %x", r.Hash[:4])
		}
		in.Blocks = append(in.Blocks, *b)
	}
	out, err := Converge(s.p, &s.prev, s.beacon, s.st, cb.Miner, cb.Rank, in)
	if err != nil {
		return Outcome{}, err
	}
	return out, Compare(&out.Block, cb)
}

// propRejectionsFinal: CONV-14 over several rounds. Each round every
// proposer may propose any pool transfer again, rejected ones included (a
// Byzantine harvester keeps their certificates); the node's rejected set
// follows the final blocks (RejectedSet.Apply). No digest is applied after
// it was rejected, and a rejected digest is reported again only once its
// slot has closed (as a replay or a conflict); the set holds exactly the
// rejected digests whose slot is open.
func propRejectionsFinal(t *rapid.T) {
	s := drawScenario(t)
	rounds := rapid.IntRange(2, 5).Draw(t, "rounds")
	prev, st, in := s.prev, s.st, s.in
	set := s.in.Rejected.Clone()
	if set == nil {
		set = NewRejectedSet()
	}
	type rejection struct {
		round Round
		from  tx.AccountID
		nonce uint64
	}
	rejectedAt := map[tx.Digest]rejection{}
	for _, e := range set.Entries() {
		rejectedAt[e.Digest] = rejection{round: prev.Round, from: e.From, nonce: e.Nonce}
	}
	for range rounds {
		in.Rejected = set
		before := set.Clone()
		out, err := Converge(s.p, &prev, Hash{byte(prev.Round), 9}, st, 1, 0, in)
		if err != nil {
			t.Fatalf("round %d: Converge: %v", prev.Round+1, err)
		}
		if !set.Equal(before) {
			t.Fatalf("round %d: Converge changed the rejected set", out.Block.Round)
		}
		for _, d := range out.Block.Applied {
			if r, ok := rejectedAt[d]; ok {
				t.Fatalf("%x… rejected in round %d, applied in round %d", d[:4], r.round, out.Block.Round)
			}
		}
		if len(out.Rejected) != len(out.Block.Rejected) {
			t.Fatalf("Outcome.Rejected has %d, block %d", len(out.Rejected), len(out.Block.Rejected))
		}
		for i, x := range out.Rejected {
			if x.Digest != out.Block.Rejected[i].Digest || x.Reason != out.Block.Rejected[i].Reason || x.Transfer.Digest() != x.Digest {
				t.Fatalf("Outcome.Rejected[%d] does not match the block", i)
			}
			r, again := rejectedAt[x.Digest]
			if !again {
				rejectedAt[x.Digest] = rejection{round: out.Block.Round, from: x.Transfer.From, nonce: x.Transfer.Nonce}
				continue
			}
			// Again only once its slot has closed: a replay, or a conflict
			// if another transfer of the slot won (CONV-10's order).
			if a, _ := st.Get(r.from); (x.Reason != ReasonReplay && x.Reason != ReasonConflict) || r.nonce >= a.Nonce {
				t.Fatalf("%x… rejected in round %d, reported again in round %d as %v (slot nonce %d, sender nonce %d)",
					x.Digest[:4], r.round, out.Block.Round, x.Reason, r.nonce, a.Nonce)
			}
		}
		set.Apply(&out)
		prev, st = out.Block, out.Tree
		// The set is exactly the rejected digests with an open slot.
		for d, r := range rejectedAt {
			a, _ := st.Get(r.from)
			if open := r.nonce >= a.Nonce; open != set.Has(d) {
				t.Fatalf("after round %d: %x… slot open %v, in the set %v", prev.Round, d[:4], open, set.Has(d))
			}
		}
		// The next round: random re-proposals from the whole pool.
		in = Input{}
		for m := 1; m <= s.p.Harvesters; m++ {
			if m > 1 && !rapid.Bool().Draw(t, "proposes") {
				continue
			}
			var txs []CertifiedTx
			for _, i := range rapid.SliceOfNDistinct(rapid.IntRange(0, max(len(s.pool)-1, 0)), 0, len(s.pool), rapid.ID[int]).Draw(t, "again") {
				txs = append(txs, s.pool[i])
			}
			in.Blocks = append(in.Blocks, block(&prev, certification.Member(m), txs...))
		}
	}
}

var properties = []struct {
	name string
	prop func(*rapid.T)
}{
	{"permutation", propPermutation},
	{"duplication", propDuplication},
	{"miners", propMiners},
	{"no-double-inclusion", propNoDoubleInclusion},
	{"conservation", propConservation},
	{"partition", propPartition},
	{"store-apply", propStoreApply},
	{"oracle", propOracle},
	{"recompute", propRecompute},
	{"rejections-final", propRejectionsFinal},
}

func TestConvergeProperties(t *testing.T) {
	for _, p := range properties {
		t.Run(p.name, rapid.MakeCheck(p.prop))
	}
}

// TestPropertiesCatchPlantedBugs shows each property fails on a planted
// bug it is meant to catch (BRIEF §5: a test that cannot fail is a defect).
func TestPropertiesCatchPlantedBugs(t *testing.T) {
	cases := []struct {
		prop string
		mut  mutationKind
		bug  string
	}{
		{"permutation", mutInputOrder, "conflicts resolved by input order"},
		{"miners", mutInputOrder, "conflicts resolved by input order"},
		{"permutation", mutCountEquivocator, "equivocator's first-seen block counts"},
		{"duplication", mutCountEquivocator, "equivocator's first-seen block counts"},
		{"no-double-inclusion", mutSkipDedupe, "no dedupe by digest"},
		{"partition", mutSkipDedupe, "no dedupe by digest"},
		{"partition", mutCountEquivocator, "equivocator's first-seen block counts"},
		{"conservation", mutBurnFee, "fee burnt instead of credited to the sink"},
		{"store-apply", mutBurnFee, "fee burnt instead of credited to the sink"},
		{"oracle", mutInputOrder, "conflicts resolved by input order"},
		{"oracle", mutBurnFee, "fee burnt instead of credited to the sink"},
		{"recompute", mutSkipDedupe, "no dedupe by digest"},
		{"rejections-final", mutIgnoreRejected, "rejected set ignored (CONV-14)"},
		{"partition", mutIgnoreRejected, "rejected set ignored (CONV-14)"},
		{"oracle", mutIgnoreRejected, "rejected set ignored (CONV-14)"},
	}
	byName := map[string]func(*rapid.T){}
	for _, p := range properties {
		byName[p.name] = p.prop
	}
	for _, c := range cases {
		t.Run(c.prop+"/"+c.bug, func(t *testing.T) {
			expectFailure(t, c.mut, byName[c.prop])
		})
	}
}

// TestScenarioCoverage checks that the generator reaches every branch the
// properties are about (otherwise they would pass vacuously): each
// rejection reason, deferral, equivocation, carried transfers, and
// application. Deterministic: rapid's Example with fixed seeds.
func TestScenarioCoverage(t *testing.T) {
	gen := rapid.Custom(drawScenario)
	var reasons [5]int
	var applied, deferred, equivocations, carriedApplied int
	for seed := range 300 {
		s := gen.Example(seed)
		out, err := Converge(s.p, &s.prev, s.beacon, s.st, 1, 0, s.in)
		if err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		for _, r := range out.Block.Rejected {
			reasons[r.Reason]++
		}
		applied += len(out.Block.Applied)
		deferred += len(out.Block.Deferred)
		equivocations += len(out.Block.Equivocations)
		for _, k := range out.Keys {
			if k.Rank == 0 {
				carriedApplied++
			}
		}
	}
	t.Logf("over 300 scenarios: conflict %d, replay %d, overdraft %d, gap-expired %d, applied %d (carried %d), deferred %d, equivocators %d",
		reasons[ReasonConflict], reasons[ReasonReplay], reasons[ReasonOverdraft], reasons[ReasonGapExpired], applied, carriedApplied, deferred, equivocations)
	for _, r := range Reasons() {
		if reasons[r] == 0 {
			t.Errorf("no %v rejection generated", r)
		}
	}
	if applied == 0 || deferred == 0 || equivocations == 0 || carriedApplied == 0 {
		t.Error("a branch is never generated")
	}
}
