package farmer

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/fhbft/fhbft/impl/certification"
	"github.com/fhbft/fhbft/impl/scheduler"
	"github.com/fhbft/fhbft/impl/tx"
	"github.com/fhbft/fhbft/impl/validator"
)

// TestEntryCheckForwards: a transfer whose signer enters at another quorum
// is forwarded there through the scheduler, retried on failure and dropped
// on acknowledgement; a peer relaying it is refused. spec: FARM-24, FARM-25
func TestEntryCheckForwards(t *testing.T) {
	r := newRole(t, 1, nil)
	tr := transfer(keyIn(farQuorum, 0), 0, 5)
	effs := step(t, r, client(tr))
	if f := only(effs, EffectForward); len(f) != 1 || f[0].Quorum != farQuorum || f[0].Tx != tr {
		t.Fatalf("effects %v, want one forward to quorum %d", kinds(effs), farQuorum)
	}
	if len(only(effs, EffectRelay))+len(only(effs, EffectValidate)) != 0 {
		t.Fatalf("foreign transfer relayed or validated: %v", kinds(effs))
	}
	if _, err := r.Step(client(tr)); !errors.Is(err, ErrDuplicate) {
		t.Fatalf("second submission during forwarding: %v", err)
	}
	effs = step(t, r, HandoffResult{Digest: tr.Digest(), OK: false})
	if f := only(effs, EffectForward); len(f) != 1 || f[0].Quorum != farQuorum {
		t.Fatalf("failed forward not retried: %v", kinds(effs))
	}
	step(t, r, HandoffResult{Digest: tr.Digest(), OK: true})
	if r.Held() != 0 || r.SchedulerLen() != 0 {
		t.Fatalf("acknowledged forward still held: %d, %d", r.Held(), r.SchedulerLen())
	}
	if _, err := r.Step(TransferReceived{Tx: tr, From: Source{Kind: FromPeer, Member: 2}}); !errors.Is(err, ErrNotOurs) {
		t.Fatalf("peer relay of a foreign transfer: %v", err)
	}
}

// TestAssignedValidatesAndVotes: an assigned member relays, validates and
// votes once with the verdict inside the signed statement; the vote is
// counted by the harvester's collector. spec: FARM-26, FARM-28, VOTE-1, VOTE-2
func TestAssignedValidatesAndVotes(t *testing.T) {
	tr := transfer(keyIn(ourQuorum, 0), 0, 5)
	m := memberAt(tr, 0)
	r := newRole(t, m, nil)
	effs := step(t, r, client(tr))
	if !slices.Equal(kinds(effs), []EffectKind{EffectRelay, EffectWake, EffectValidate}) {
		t.Fatalf("effects %v", kinds(effs))
	}
	if effs[2].Shadow {
		t.Fatal("assigned validation marked shadow")
	}
	effs = step(t, r, verdict(tr, false, tx.ReasonInsufficientFunds))
	votes := only(effs, EffectVote)
	if len(votes) != 1 {
		t.Fatalf("effects %v, want one vote", kinds(effs))
	}
	v := votes[0].Vote
	want := certification.Statement{Quorum: ourQuorum, Epoch: testEpoch,
		Slot:  certification.Slot{Kind: certification.KindTx, ID: certification.Digest(tr.Digest())},
		Value: certification.Value{Subject: certification.Digest(tr.Digest()), Verdict: certification.Reject}}
	if v.Statement != want || v.Member != m {
		t.Fatalf("vote %+v, want %+v by %d", v.Statement, want, m)
	}
	col, err := certification.NewCollector(testRoster, certification.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if e := col.Step(certification.VoteReceived{Vote: v}); !e.Counted {
		t.Fatalf("collector refused the vote: %v", e.Rejected)
	}
	if r.SchedulerLen() != 0 {
		t.Fatal("scheduler task not completed after the vote")
	}
	// A client's resubmission before any certificate: relayed again and the
	// same vote sent again (FARM-27, FARM-40); a peer's copy is a duplicate.
	effs = step(t, r, client(tr))
	if !slices.Equal(kinds(effs), []EffectKind{EffectRelay, EffectVote}) || effs[1].Vote.Partial != v.Partial || effs[1].Vote.Statement != v.Statement {
		t.Fatalf("resubmission: %v", kinds(effs))
	}
	if _, err := r.Step(TransferReceived{Tx: tr, From: Source{Kind: FromPeer, Member: memberAt(tr, 1)}}); !errors.Is(err, ErrDuplicate) {
		t.Fatalf("peer copy: %v", err)
	}
}

// TestUnassignedTakesOver: a member outside the first q waits
// (p−q+1)·Timeout, then validates and votes unless a certificate was
// announced. spec: FARM-29, FARM-33
func TestUnassignedTakesOver(t *testing.T) {
	q := testRoster.Q()
	for _, certifiedFirst := range []bool{false, true} {
		tr := transfer(keyIn(ourQuorum, 1), 0, 5)
		m := memberAt(tr, q+1) // second in the takeover order
		r := newRole(t, m, nil)
		effs := step(t, r, TransferReceived{Tx: tr, From: Source{Kind: FromPeer, Member: memberAt(tr, 0)}})
		wake := only(effs, EffectWake)
		if len(wake) != 1 || wake[0].At != 2*DefaultTimeout || len(only(effs, EffectValidate)) != 0 || len(only(effs, EffectRelay)) != 0 {
			t.Fatalf("effects %v (wake %v)", kinds(effs), wake)
		}
		if certifiedFirst {
			id := certification.Digest(tr.Digest())
			step(t, r, Certified{Statement: certification.Statement{Quorum: ourQuorum, Epoch: testEpoch,
				Slot: certification.Slot{Kind: certification.KindTx, ID: id}, Value: certification.Value{Subject: id, Verdict: certification.Accept}}})
		}
		if effs := step(t, r, Tick{Now: 2*DefaultTimeout - 1}); len(only(effs, EffectValidate)) != 0 {
			t.Fatal("took over early")
		}
		effs = step(t, r, Tick{Now: 2 * DefaultTimeout})
		got := len(only(effs, EffectValidate))
		if certifiedFirst && got != 0 || !certifiedFirst && got != 1 {
			t.Fatalf("certified=%v: %d validations at the takeover time", certifiedFirst, got)
		}
		if !certifiedFirst {
			if effs := step(t, r, verdict(tr, true, 0)); len(only(effs, EffectVote)) != 1 {
				t.Fatal("no vote after takeover")
			}
		}
	}
}

// TestPredecessorOrder: with signer allocation both transfers of one
// sender are assigned to the same member; the second is asked for only
// after the first's verdict. spec: FARM-31
func TestPredecessorOrder(t *testing.T) {
	k := keyIn(ourQuorum, 2)
	t0, t1 := transfer(k, 0, 5), transfer(k, 1, 5)
	m := Order(ourQuorum, testEpoch, id(k), testN)[0]
	r := newRole(t, m, func(c *Config) { c.Alloc = AllocSigner })
	step(t, r, client(t1)) // successor first: validated, gap
	effs := step(t, r, client(t0))
	if len(only(effs, EffectValidate)) != 0 {
		t.Fatal("predecessor asked for while the successor is in validation")
	}
	// The successor's gap verdict arrives after the predecessor: it is not
	// final and waits.
	effs = step(t, r, verdict(t1, false, tx.ReasonNonceGap))
	if v := only(effs, EffectValidate); len(v) != 1 || v[0].Digest != t0.Digest() || len(only(effs, EffectVote)) != 0 {
		t.Fatalf("effects %v: want the predecessor's validation, no vote", kinds(effs))
	}
	effs = step(t, r, verdict(t0, true, 0))
	if v := only(effs, EffectValidate); len(v) != 1 || v[0].Digest != t1.Digest() || len(only(effs, EffectVote)) != 1 {
		t.Fatalf("effects %v: want a vote on t0, then t1's validation", kinds(effs))
	}
}

// TestShadowValidation: with digest allocation a member assigned a
// successor but not its predecessor validates the predecessor first,
// without voting on it. spec: FARM-31, VOTE-4
func TestShadowValidation(t *testing.T) {
	q := testRoster.Q()
	for i := 0; i < 200; i++ {
		k := keyIn(ourQuorum, i)
		t0, t1 := transfer(k, 0, 5), transfer(k, 1, 5)
		o0 := Order(ourQuorum, testEpoch, t0.Digest(), testN)
		o1 := Order(ourQuorum, testEpoch, t1.Digest(), testN)
		var m Member
		for _, c := range o1[:q] {
			if !slices.Contains(o0[:q], c) {
				m = c
			}
		}
		if m == 0 {
			continue
		}
		r := newRole(t, m, nil)
		step(t, r, client(t0))
		effs := step(t, r, client(t1))
		v := only(effs, EffectValidate)
		if len(v) != 1 || v[0].Digest != t0.Digest() || !v[0].Shadow {
			t.Fatalf("effects %+v: want a shadow validation of the predecessor", v)
		}
		effs = step(t, r, verdict(t0, true, 0))
		if len(only(effs, EffectVote)) != 0 {
			t.Fatal("voted on a shadow validation")
		}
		if v := only(effs, EffectValidate); len(v) != 1 || v[0].Digest != t1.Digest() || v[0].Shadow {
			t.Fatalf("successor not validated next: %+v", v)
		}
		if effs := step(t, r, verdict(t1, true, 0)); len(only(effs, EffectVote)) != 1 {
			t.Fatal("no vote on the assigned successor")
		}
		if r.Stats().Shadow != 1 {
			t.Fatalf("stats %+v", r.Stats())
		}
		return
	}
	t.Fatal("no sender with a member assigned to nonce 1 but not 0")
}

// TestNonceGapParks: a gap verdict parks the transfer; it is voted reject
// at ParkTimeout unless its predecessor arrives first. spec: FARM-32
func TestNonceGapParks(t *testing.T) {
	k := keyIn(ourQuorum, 3)
	t0, t1 := transfer(k, 0, 5), transfer(k, 1, 5)
	m := Order(ourQuorum, testEpoch, id(k), testN)[0]

	r := newRole(t, m, func(c *Config) { c.Alloc = AllocSigner })
	step(t, r, client(t1))
	effs := step(t, r, verdict(t1, false, tx.ReasonNonceGap))
	// Parked: no vote; timers for the park timeout and three more fetches.
	if len(only(effs, EffectVote)) != 0 || len(only(effs, EffectWake)) != 4 || len(only(effs, EffectFetch)) != 1 {
		t.Fatalf("gap not parked: %v", kinds(effs))
	}
	effs = step(t, r, Tick{Now: DefaultParkTimeout})
	if v := only(effs, EffectVote); len(v) != 1 || v[0].Vote.Value.Verdict != certification.Reject {
		t.Fatalf("no reject vote at the park timeout: %v", kinds(effs))
	}

	r = newRole(t, m, func(c *Config) { c.Alloc = AllocSigner })
	step(t, r, client(t1))
	step(t, r, verdict(t1, false, tx.ReasonNonceGap))
	effs = step(t, r, client(t0))
	if v := only(effs, EffectValidate); len(v) != 1 || v[0].Digest != t0.Digest() {
		t.Fatalf("predecessor not validated: %v", kinds(effs))
	}
	effs = step(t, r, verdict(t0, true, 0))
	if v := only(effs, EffectValidate); len(v) != 1 || v[0].Digest != t1.Digest() {
		t.Fatalf("parked successor not re-validated: %v", kinds(effs))
	}
}

// TestDelegation: a peer may delegate a transfer this member is not
// assigned; an assigned, voted or certified one is refused. spec: FARM-30
func TestDelegation(t *testing.T) {
	q := testRoster.Q()
	tr := transfer(keyIn(ourQuorum, 4), 0, 5)
	assigned, spare := memberAt(tr, 0), memberAt(tr, q)
	r := newRole(t, assigned, nil)
	if _, err := r.Step(DelegatedIn{From: spare, Tx: tr}); !errors.Is(err, ErrRefused) {
		t.Fatalf("delegation to an assigned member: %v", err)
	}
	r = newRole(t, spare, nil)
	effs := step(t, r, DelegatedIn{From: assigned, Tx: tr})
	if v := only(effs, EffectValidate); len(v) != 1 || v[0].Shadow {
		t.Fatalf("delegated transfer not validated as obliged: %v", kinds(effs))
	}
	effs = step(t, r, verdict(tr, true, 0))
	if len(only(effs, EffectVote)) != 1 {
		t.Fatal("no vote on a delegated transfer")
	}
	if _, err := r.Step(DelegatedIn{From: assigned, Tx: tr}); !errors.Is(err, ErrRefused) {
		t.Fatalf("second delegation after the vote: %v", err)
	}
	// Later: no new validation, no new vote — at most the same vote again
	// (FARM-40, VOTE-3).
	first := r.Stats().Votes
	for _, now := range []time.Duration{time.Second, time.Minute, time.Hour} {
		effs := step(t, r, Tick{Now: now})
		if len(only(effs, EffectValidate)) != 0 || r.Stats().Votes != first {
			t.Fatalf("voted twice: %v", kinds(effs))
		}
	}
	if r.Stats().Resent == 0 {
		t.Fatal("vote never resent while no certificate was announced")
	}
}

// TestDelegatesUnderBackpressure: an assigned member whose backpressure is
// high delegates to the least loaded fresh peer, which then votes in its
// place; a refused delegation falls back to local execution. spec: FARM-30
func TestDelegatesUnderBackpressure(t *testing.T) {
	var trs []tx.Transfer
	for n := 0; len(trs) < 3; n++ { // transfers of distinct senders assigned to one member
		tr := transfer(keyIn(ourQuorum, 10+n), 0, 5)
		if memberAt(tr, 0) == 1 {
			trs = append(trs, tr)
		}
	}
	r := newRole(t, 1, func(c *Config) { c.Trace = true })
	step(t, r, Tick{Now: 0})
	// Peer 2 reports an empty load; everyone else is silent.
	step(t, r, LoadReport{Load: scheduler.PeerLoad{Peer: 2, Epoch: testEpoch, Seq: 1}})
	effs := step(t, r, client(trs[0]))
	// First task: this node is at P=0 like peer 2: executes locally.
	if len(only(effs, EffectValidate)) != 1 {
		t.Fatalf("first task: %v", kinds(effs))
	}
	effs = step(t, r, client(trs[1]))
	d := only(effs, EffectDelegate)
	if len(d) != 1 || d[0].Peer != 2 {
		t.Fatalf("loaded member did not delegate to the idle peer: %v", kinds(effs))
	}
	if p := only(effs, EffectPlaced); len(p) != 1 || p[0].Placed.Effect.Cause != scheduler.CauseBackpressure || p[0].Placed.Loads[0].LN < p[0].Placed.Threshold {
		t.Fatalf("placement trace %+v", p)
	}
	effs = step(t, r, HandoffResult{Digest: trs[1].Digest(), OK: false})
	if v := only(effs, EffectValidate); len(v) != 1 || v[0].Digest != trs[1].Digest() || v[0].Shadow {
		t.Fatalf("failed delegation not executed locally: %v", kinds(effs))
	}
}

// TestBadInput: hostile and malformed events are refused with typed errors
// and change nothing. spec: FARM-34
func TestBadInput(t *testing.T) {
	tr := transfer(keyIn(ourQuorum, 6), 0, 5)
	m := memberAt(tr, 0)
	r := newRole(t, m, nil)
	step(t, r, client(tr))
	step(t, r, Tick{Now: time.Second})
	id := certification.Digest(tr.Digest())
	peer := memberAt(tr, 1)
	cases := []struct {
		name string
		ev   Event
		want error
	}{
		{"nil", nil, ErrNilEvent},
		{"unknown source", TransferReceived{Tx: tr, From: Source{Kind: 9}}, ErrNilEvent},
		{"relay from non-member", TransferReceived{Tx: tr, From: Source{Kind: FromPeer, Member: 99}}, ErrUnknownPeer},
		{"relay from self", TransferReceived{Tx: tr, From: Source{Kind: FromPeer, Member: m}}, ErrUnknownPeer},
		{"duplicate", TransferReceived{Tx: tr, From: Source{Kind: FromPeer, Member: peer}}, ErrDuplicate},
		{"verdict for unknown", verdict(transfer(keyIn(ourQuorum, 7), 0, 1), true, 0), ErrUnexpectedVerdict},
		{"accept with reason", Validated{Verdict: validator.Verdict{Digest: tr.Digest(), Verdict: certification.Accept, Reason: tx.ReasonReplay}}, ErrMalformedVerdict},
		{"unknown verdict", Validated{Verdict: validator.Verdict{Digest: tr.Digest(), Verdict: 7}}, ErrMalformedVerdict},
		{"delegation from outsider", DelegatedIn{From: 0, Tx: tr}, ErrUnknownPeer},
		{"delegation of foreign", DelegatedIn{From: peer, Tx: transfer(keyIn(farQuorum, 1), 0, 1)}, ErrNotOurs},
		{"handoff unknown", HandoffResult{Digest: tr.Digest()}, ErrUnknownTransfer},
		{"load from outsider", LoadReport{Load: scheduler.PeerLoad{Peer: 42, Epoch: testEpoch, Seq: 1}}, ErrScheduler},
		{"notice other quorum", Certified{Statement: certification.Statement{Quorum: farQuorum, Epoch: testEpoch, Slot: certification.Slot{Kind: certification.KindTx, ID: id}, Value: certification.Value{Subject: id, Verdict: 1}}}, ErrWrongStatement},
		{"notice subject mismatch", Certified{Statement: certification.Statement{Quorum: ourQuorum, Epoch: testEpoch, Slot: certification.Slot{Kind: certification.KindTx, ID: id}, Value: certification.Value{Verdict: 1}}}, ErrWrongStatement},
		{"clock backwards", Tick{Now: time.Millisecond}, ErrClockBackwards},
	}
	before := r.Stats()
	for _, c := range cases {
		effs, err := r.Step(c.ev)
		var ie *InputError
		if !errors.Is(err, c.want) || !errors.As(err, &ie) || effs != nil {
			t.Errorf("%s: err %v effects %v, want %v", c.name, err, effs, c.want)
		}
	}
	if r.Stats() != before || r.Held() != 1 {
		t.Fatalf("refused events changed the state: %+v -> %+v", before, r.Stats())
	}
	// Still works: the verdict for the transfer in validation is accepted.
	if effs := step(t, r, verdict(tr, true, 0)); len(only(effs, EffectVote)) != 1 {
		t.Fatal("role broken after bad input")
	}
}

func TestNewRejects(t *testing.T) {
	base := Config{Self: 1, Roster: testRoster, Share: testShares[0], Entry: testTable}
	muts := map[string]func(*Config){
		"self 0":        func(c *Config) { c.Self = 0 },
		"self > n":      func(c *Config) { c.Self = testN + 1 },
		"share":         func(c *Config) { c.Share = testShares[1] },
		"no table":      func(c *Config) { c.Entry = nil },
		"alloc":         func(c *Config) { c.Alloc = 7 },
		"negative":      func(c *Config) { c.Timeout = -1 },
		"bad roster":    func(c *Config) { c.Roster.Key.T = 0 },
		"other quorum":  func(c *Config) { c.Roster.Quorum = 77 },
		"bad scheduler": func(c *Config) { c.Sched.Threshold = 2 },
	}
	for name, m := range muts {
		c := base
		m(&c)
		var ce *ConfigError
		if _, err := New(c); !errors.As(err, &ce) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// TestDelegatorTakesBack: a member whose delegation was acknowledged takes
// the transfer back if no certificate is announced within the last resort
// delay: a Byzantine delegate cannot swallow its vote. spec: FARM-29, FARM-30
func TestDelegatorTakesBack(t *testing.T) {
	for _, certified := range []bool{false, true} {
		var tr tx.Transfer
		for n := 0; ; n++ {
			tr = transfer(keyIn(ourQuorum, 20+n), 0, 5)
			if memberAt(tr, 0) == 1 {
				break
			}
		}
		r := newRole(t, 1, nil)
		step(t, r, Tick{Now: 0})
		step(t, r, LoadReport{Load: scheduler.PeerLoad{Peer: 2, Epoch: testEpoch, Seq: 1}})
		step(t, r, client(transfer(keyIn(ourQuorum, 40), 0, 5))) // keeps this member busy
		effs := step(t, r, client(tr))
		if d := only(effs, EffectDelegate); len(d) != 1 || d[0].Digest != tr.Digest() {
			t.Fatalf("no delegation: %v", kinds(effs))
		}
		step(t, r, Tick{Now: time.Millisecond})
		effs = step(t, r, HandoffResult{Digest: tr.Digest(), OK: true})
		w := only(effs, EffectWake)
		last := time.Duration(testN-testRoster.Q()+1) * DefaultTimeout
		if len(w) != 1 || w[0].At != time.Millisecond+last {
			t.Fatalf("no last resort timer after the acknowledgement: %+v", w)
		}
		if certified {
			id := certification.Digest(tr.Digest())
			step(t, r, Certified{Statement: certification.Statement{Quorum: ourQuorum, Epoch: testEpoch,
				Slot: certification.Slot{Kind: certification.KindTx, ID: id}, Value: certification.Value{Subject: id, Verdict: certification.Accept}}})
		}
		effs = step(t, r, Tick{Now: w[0].At})
		got := 0
		for _, v := range only(effs, EffectValidate) {
			if v.Digest == tr.Digest() {
				got++
			}
		}
		if certified != (got == 0) {
			t.Fatalf("certified=%v: %d validations of the delegated transfer at the last resort time", certified, got)
		}
	}
}

// TestDedupeAfterCertificate: once a certificate is announced, a copy of
// the transfer from anywhere is a duplicate, a delegation is refused, and
// the member never votes on it again. spec: FARM-27, FARM-33, VOTE-3
func TestDedupeAfterCertificate(t *testing.T) {
	tr := transfer(keyIn(ourQuorum, 8), 0, 5)
	r := newRole(t, memberAt(tr, 0), nil)
	step(t, r, client(tr))
	step(t, r, verdict(tr, true, 0))
	id := certification.Digest(tr.Digest())
	step(t, r, Certified{Statement: certification.Statement{Quorum: ourQuorum, Epoch: testEpoch,
		Slot: certification.Slot{Kind: certification.KindTx, ID: id}, Value: certification.Value{Subject: id, Verdict: certification.Accept}}})
	for _, ev := range []Event{client(tr), TransferReceived{Tx: tr, From: Source{Kind: FromPeer, Member: memberAt(tr, 1)}}} {
		if _, err := r.Step(ev); !errors.Is(err, ErrDuplicate) {
			t.Fatalf("certified transfer resubmitted: %v", err)
		}
	}
	if _, err := r.Step(DelegatedIn{From: memberAt(tr, 1), Tx: tr}); !errors.Is(err, ErrRefused) {
		t.Fatalf("certified transfer delegated: %v", err)
	}
	if effs := step(t, r, Tick{Now: time.Hour}); len(effs) != 0 && len(only(effs, EffectVote)) != 0 {
		t.Fatalf("vote resent after the certificate: %v", kinds(effs))
	}
	if v, ok := r.Voted(tr.Digest()); !ok || v != certification.Accept {
		t.Fatalf("vote forgotten: %v %v", v, ok)
	}
}

// TestFetchRepairsLostRelay: a member that parks a transfer asks its peers
// for the sender's lower nonces; a peer answers with what it holds, and the
// parked transfer is validated after its predecessor. spec: FARM-39
func TestFetchRepairsLostRelay(t *testing.T) {
	k := keyIn(ourQuorum, 12)
	t0, t1 := transfer(k, 0, 5), transfer(k, 1, 5)
	m := Order(ourQuorum, testEpoch, id(k), testN)[0]
	r := newRole(t, m, func(c *Config) { c.Alloc = AllocSigner })
	step(t, r, client(t1)) // t0's relay was lost
	effs := step(t, r, verdict(t1, false, tx.ReasonNonceGap))
	f := only(effs, EffectFetch)
	if len(f) != 1 || f[0].Tx.From != id(k) || f[0].Tx.Nonce != 1 {
		t.Fatalf("no fetch on park: %v", kinds(effs))
	}
	// A peer that holds t0 (and t1) answers with t0 only.
	var peer Member = 1
	if peer == m {
		peer = 2
	}
	p := newRole(t, peer, func(c *Config) { c.Alloc = AllocSigner })
	step(t, p, client(t0))
	step(t, p, client(t1))
	effs = step(t, p, FetchRequest{From: m, Sender: id(k), Below: 1})
	sends := only(effs, EffectSend)
	if len(sends) != 1 || sends[0].Tx != t0 || sends[0].Peer != m {
		t.Fatalf("fetch answer %v", kinds(effs))
	}
	if _, err := p.Step(FetchRequest{From: 42, Sender: id(k), Below: 1}); !errors.Is(err, ErrUnknownPeer) {
		t.Fatalf("fetch from a non-member: %v", err)
	}
	effs = step(t, r, TransferReceived{Tx: t0, From: Source{Kind: FromPeer, Member: peer}})
	if v := only(effs, EffectValidate); len(v) != 1 || v[0].Digest != t0.Digest() {
		t.Fatalf("fetched predecessor not validated: %v", kinds(effs))
	}
	effs = step(t, r, verdict(t0, true, 0))
	if v := only(effs, EffectValidate); len(v) != 1 || v[0].Digest != t1.Digest() {
		t.Fatalf("parked transfer not validated again: %v", kinds(effs))
	}
}

// TestCapacity: a full role refuses new transfers and changes nothing.
// spec: FARM-37
func TestCapacity(t *testing.T) {
	r := newRole(t, 1, func(c *Config) { c.MaxHeld = 2 })
	step(t, r, client(transfer(keyIn(ourQuorum, 9), 0, 5)))
	step(t, r, client(transfer(keyIn(farQuorum, 2), 0, 5)))
	for _, tr := range []tx.Transfer{transfer(keyIn(ourQuorum, 10), 0, 5), transfer(keyIn(farQuorum, 3), 0, 5)} {
		if effs, err := r.Step(client(tr)); !errors.Is(err, ErrFull) || effs != nil {
			t.Fatalf("full role: %v %v", effs, err)
		}
	}
	if r.Held() != 2 {
		t.Fatalf("held %d", r.Held())
	}
}

// TestFallbackStep: with step n−q every unassigned member takes over at the
// first timeout. spec: FARM-29
func TestFallbackStep(t *testing.T) {
	q := testRoster.Q()
	tr := transfer(keyIn(ourQuorum, 11), 0, 5)
	for p := q; p < testN; p++ {
		r := newRole(t, memberAt(tr, p), func(c *Config) { c.FallbackStep = testN - q })
		effs := step(t, r, client(tr))
		if w := only(effs, EffectWake); len(w) != 1 || w[0].At != DefaultTimeout {
			t.Fatalf("rank %d: wake %+v, want one at %v", p, w, DefaultTimeout)
		}
	}
}
