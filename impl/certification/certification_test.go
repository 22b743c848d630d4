package certification

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/fhbft/fhbft/impl/crypto/bls"
	"github.com/fhbft/fhbft/impl/crypto/threshold"
)

type fixture struct {
	roster Roster
	shares []threshold.SecretShare
}

var (
	fixturesMu sync.Mutex
	fixtures   = map[[2]int]fixture{}
)

// newFixture deals keys once per (n, q): dealing is deterministic from the
// seed, and tests only read the result.
func newFixture(t testing.TB, n, q int) fixture {
	t.Helper()
	fixturesMu.Lock()
	defer fixturesMu.Unlock()
	if f, ok := fixtures[[2]int{n, q}]; ok {
		return f
	}
	gk, shares, err := threshold.TrustedDealerForTesting(n, q, rand.NewChaCha8([32]byte{byte(n), byte(q)}))
	if err != nil {
		t.Fatal(err)
	}
	f := fixture{roster: Roster{Quorum: 3, Epoch: 9, Key: gk}, shares: shares}
	fixtures[[2]int{n, q}] = f
	return f
}

func digest(s string) Digest { return sha256.Sum256([]byte(s)) }

func stmt(r Roster, slot uint64, subject string, verdict Verdict) Statement {
	return Statement{Quorum: r.Quorum, Epoch: r.Epoch, Slot: RoundSlot(slot), Value: Value{Subject: digest(subject), Verdict: verdict}}
}

func mustCollector(t testing.TB, r Roster, opts Options) *Collector {
	t.Helper()
	c, err := NewCollector(r, opts)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestDefaultThreshold(t *testing.T) {
	// ceil(0.6·n) for the sizes the spec tabulates (spec/overview.md).
	want := map[int]int{1: 1, 4: 3, 5: 3, 6: 4, 7: 5, 10: 6, 25: 15, 100: 60}
	for n, q := range want {
		if got := DefaultThreshold(n); got != q {
			t.Errorf("DefaultThreshold(%d) = %d, want %d", n, got, q)
		}
	}
}

func TestRosterValidate(t *testing.T) {
	f := newFixture(t, 4, 3)
	bad := []struct{ n, q int }{{4, 0}, {4, 5}, {4, 2}, {0, 0}} // 2q ≤ n is refused (CERT-1)
	for _, c := range bad {
		r := f.roster
		r.Key.N, r.Key.T = c.n, c.q
		if err := r.Validate(); err == nil {
			t.Errorf("n=%d q=%d accepted", c.n, c.q)
		}
	}
	if err := f.roster.Validate(); err != nil {
		t.Fatal(err)
	}
}

// modes are the collector modes the collector tests run in: the eager
// collector and the optimistic one (CERT-20).
var modes = []struct {
	name string
	opts Options
}{{"eager", Options{}}, {"optimistic", Options{Optimistic: true}}}

func TestCertificateFormsAtThreshold(t *testing.T) {
	f := newFixture(t, 7, 5)
	for _, mode := range modes {
		t.Run(mode.name, func(t *testing.T) {
			c := mustCollector(t, f.roster, mode.opts)
			st := stmt(f.roster, 1, "block", Accept)
			for i := 0; i < 5; i++ {
				eff := c.Step(VoteReceived{SignVote(f.shares[6-i], st)}) // members 7,6,5,4,3
				// Optimistic mode holds the first q-1 votes pending and
				// counts all q when their combination verifies.
				accepted := eff.Counted || (mode.opts.Optimistic && eff.Pending && i < 4)
				if !accepted || eff.Rejected != nil {
					t.Fatalf("vote %d not accepted: %+v", i, eff)
				}
				if (eff.Certificate != nil) != (i == 4) {
					t.Fatalf("after %d votes certificate=%v", i+1, eff.Certificate != nil)
				}
				if eff.Certificate != nil {
					cert := *eff.Certificate
					if err := cert.Verify(f.roster); err != nil {
						t.Fatalf("certificate does not verify: %v", err)
					}
					if got := cert.Signers.Members(); len(got) != 5 || got[0] != 3 {
						t.Fatalf("signers %v", got)
					}
				}
			}
			if got := len(c.Counted()); got != 5 {
				t.Fatalf("%d votes counted, want 5", got)
			}
			// A sixth vote for the decided slot is dropped, not counted.
			if eff := c.Step(VoteReceived{SignVote(f.shares[0], st)}); ReasonOf(eff.Rejected) != ReasonSlotDecided {
				t.Fatalf("late vote: %v", eff.Rejected)
			}
		})
	}
}

func TestRejections(t *testing.T) {
	f := newFixture(t, 5, 3)
	st := stmt(f.roster, 1, "x", Accept)
	good := SignVote(f.shares[0], st)
	other := f.roster
	other.Epoch++
	forged := good
	forged.Partial = SignVote(f.shares[1], st).Partial // member 2's partial under member 1's name
	wrongVerdict := good
	wrongVerdict.Value.Verdict = Reject // the verdict is signed (CERT-3)
	cases := []struct {
		name string
		v    Vote
		want Reason
	}{
		{"wrong quorum", func() Vote { v := good; v.Quorum++; return v }(), ReasonWrongQuorum},
		{"wrong epoch", SignVote(f.shares[0], Statement{Quorum: st.Quorum, Epoch: st.Epoch + 1, Slot: st.Slot, Value: st.Value}), ReasonWrongEpoch},
		{"member 0", func() Vote { v := good; v.Member = 0; return v }(), ReasonNotMember},
		{"member n+1", func() Vote { v := good; v.Member = 6; return v }(), ReasonNotMember},
		{"unknown kind", func() Vote { v := good; v.Slot.Kind = 9; return v }(), ReasonMalformed},
		{"forged partial", forged, ReasonBadPartial},
		{"verdict flipped", wrongVerdict, ReasonBadPartial},
		{"kind swapped", func() Vote { v := good; v.Slot.Kind = KindTx; return v }(), ReasonBadPartial},
	}
	for _, tc := range cases {
		c := mustCollector(t, f.roster, Options{})
		eff := c.Step(VoteReceived{tc.v})
		if got := ReasonOf(eff.Rejected); got != tc.want || eff.Counted {
			t.Errorf("%s: reason %v counted=%v, want %v", tc.name, got, eff.Counted, tc.want)
		}
		if len(c.Counted()) != 0 {
			t.Errorf("%s: rejected vote changed state", tc.name)
		}
		// Optimistic mode: header failures (CERT-4) are refused at once; a
		// bad partial waits, unverified, until its value has q candidates,
		// and is then dropped with the same reason while the valid votes
		// count (CERT-6, CERT-20).
		o := mustCollector(t, f.roster, Options{Optimistic: true})
		eff = o.Step(VoteReceived{tc.v})
		if tc.want != ReasonBadPartial {
			if got := ReasonOf(eff.Rejected); got != tc.want || eff.Counted || eff.Pending {
				t.Errorf("optimistic %s: reason %v, want %v", tc.name, got, tc.want)
			}
			if len(o.Counted()) != 0 || len(o.slots) != 0 {
				t.Errorf("optimistic %s: rejected vote changed state", tc.name)
			}
			continue
		}
		if !eff.Pending {
			t.Fatalf("optimistic %s: %+v, want pending", tc.name, eff)
		}
		var dropped []error
		for m := 2; m <= f.roster.Q(); m++ { // members 2..q: q candidates with member 1
			eff = o.Step(VoteReceived{SignVote(f.shares[m-1], tc.v.Statement)})
			dropped = append(dropped, eff.Dropped...)
			if eff.Certificate != nil {
				t.Fatalf("optimistic %s: certificate from q-1 valid partials", tc.name)
			}
		}
		if len(dropped) != 1 || ReasonOf(dropped[0]) != ReasonBadPartial || dropped[0].(*RejectError).Member != 1 {
			t.Errorf("optimistic %s: dropped %v, want member 1's bad partial", tc.name, dropped)
		}
		for _, cv := range o.Counted() {
			if cv.Member == 1 {
				t.Errorf("optimistic %s: the bad partial was counted", tc.name)
			}
		}
		if got := len(o.Counted()); got != f.roster.Q()-1 {
			t.Errorf("optimistic %s: %d counted, want %d", tc.name, got, f.roster.Q()-1)
		}
	}
}

func TestDuplicateAndEquivocation(t *testing.T) {
	f := newFixture(t, 5, 3)
	for _, mode := range modes {
		t.Run(mode.name, func(t *testing.T) {
			c := mustCollector(t, f.roster, mode.opts)
			a := SignVote(f.shares[4], stmt(f.roster, 1, "x", Accept))
			b := SignVote(f.shares[4], stmt(f.roster, 1, "x", Reject))
			if eff := c.Step(VoteReceived{a}); !eff.Counted && !eff.Pending {
				t.Fatal(eff.Rejected)
			}
			if eff := c.Step(VoteReceived{a}); ReasonOf(eff.Rejected) != ReasonDuplicate {
				t.Fatalf("duplicate: %v", eff.Rejected)
			}
			eff := c.Step(VoteReceived{b})
			if ReasonOf(eff.Rejected) != ReasonEquivocation || eff.Evidence == nil {
				t.Fatalf("equivocation: %v evidence=%v", eff.Rejected, eff.Evidence)
			}
			if err := eff.Evidence.Verify(f.roster); err != nil {
				t.Fatalf("evidence does not verify: %v", err)
			}
			if eff := c.Step(VoteReceived{b}); eff.Evidence != nil {
				t.Fatal("evidence recorded twice for one member and slot")
			}
			// A forged second vote is not evidence: outsiders cannot frame a member.
			forged := b
			forged.Value.Subject = digest("y")
			c2 := mustCollector(t, f.roster, mode.opts)
			c2.Step(VoteReceived{a})
			if eff := c2.Step(VoteReceived{forged}); eff.Evidence != nil || ReasonOf(eff.Rejected) != ReasonBadPartial {
				t.Fatalf("forged conflict: %v", eff.Rejected)
			}
			got := c.Counted()
			if len(got) != 1 || got[0].Value != a.Value {
				t.Fatalf("counted %v, want only the first vote", got)
			}
		})
	}
}

func TestCertificateVerifyRejects(t *testing.T) {
	for _, mode := range modes {
		t.Run(mode.name, func(t *testing.T) { testCertificateVerifyRejects(t, mode.opts) })
	}
}

func testCertificateVerifyRejects(t *testing.T, opts Options) {
	f := newFixture(t, 5, 3)
	c := mustCollector(t, f.roster, opts)
	st := stmt(f.roster, 2, "blk", Accept)
	var cert *Certificate
	for i := 0; i < 3; i++ {
		cert = c.Step(VoteReceived{SignVote(f.shares[i], st)}).Certificate
	}
	if cert == nil {
		t.Fatal("no certificate")
	}
	mutate := func(fn func(*Certificate)) Certificate {
		b, _ := cert.MarshalBinary()
		cp, err := DecodeCertificate(b)
		if err != nil {
			t.Fatal(err)
		}
		fn(&cp)
		return cp
	}
	cases := map[string]struct {
		c    Certificate
		want Reason
	}{
		"verdict flipped": {mutate(func(c *Certificate) { c.Value.Verdict = Reject }), ReasonBadSignature},
		"other slot":      {mutate(func(c *Certificate) { c.Slot = RoundSlot(3) }), ReasonBadSignature},
		"other epoch":     {mutate(func(c *Certificate) { c.Epoch++ }), ReasonWrongEpoch},
		"too few signers": {mutate(func(c *Certificate) { c.Signers = NewBitmap(5); c.Signers.Set(1) }), ReasonTooFewSigners},
		"short bitmap":    {mutate(func(c *Certificate) { c.Signers = NewBitmap(4) }), ReasonMalformed},
		"partial as cert": {mutate(func(c *Certificate) { c.Signature = SignVote(f.shares[0], st).Partial }), ReasonBadSignature},
	}
	// A cache warmed with the genuine certificate judges every mutation as
	// Verify does: the memo is keyed by statement and signature, and the
	// bitmap is checked on every call.
	var vc VerifyCache
	if err := vc.Verify(*cert, f.roster); err != nil {
		t.Fatalf("cache: genuine certificate: %v", err)
	}
	for name, tc := range cases {
		if got := ReasonOf(tc.c.Verify(f.roster)); got != tc.want {
			t.Errorf("%s: got %v, want %v", name, got, tc.want)
		}
		if got := ReasonOf(vc.Verify(tc.c, f.roster)); got != tc.want {
			t.Errorf("cache: %s: got %v, want %v", name, got, tc.want)
		}
	}
	if err := vc.Verify(mutate(func(c *Certificate) { c.Signers.Set(5) }), f.roster); err != nil {
		t.Errorf("cache: same signature, wider bitmap: %v", err)
	}
}

func TestWireRoundTrip(t *testing.T) {
	f := newFixture(t, 10, 6)
	v := SignVote(f.shares[3], stmt(f.roster, 5, "s", Reject))
	b, _ := v.MarshalBinary()
	if len(b) != VoteLen {
		t.Fatalf("vote is %d bytes, want %d", len(b), VoteLen)
	}
	got, err := DecodeVote(b)
	if err != nil || got != v {
		t.Fatalf("vote round trip: %v", err)
	}
	bm := NewBitmap(10)
	for _, m := range []Member{1, 2, 3, 9, 10, 4} {
		bm.Set(m)
	}
	cert := Certificate{Statement: v.Statement, Signers: bm, Signature: v.Partial}
	cb, _ := cert.MarshalBinary()
	if len(cb) != CertificateLen(10) {
		t.Fatalf("certificate is %d bytes, want %d", len(cb), CertificateLen(10))
	}
	gotC, err := DecodeCertificate(cb)
	if err != nil || gotC.Statement != cert.Statement || !gotC.Signers.Equal(bm) || !gotC.Signature.Equal(cert.Signature) {
		t.Fatalf("certificate round trip: %v", err)
	}
	ev := Evidence{First: v, Second: v}
	eb, _ := ev.MarshalBinary()
	if gotE, err := DecodeEvidence(eb); err != nil || gotE != ev {
		t.Fatalf("evidence round trip: %v", err)
	}
}

func TestDecodeRejects(t *testing.T) {
	f := newFixture(t, 5, 3)
	v := SignVote(f.shares[0], stmt(f.roster, 1, "s", Accept))
	vb, _ := v.MarshalBinary()
	set := func(b []byte, i int, x byte) []byte { c := bytes.Clone(b); c[i] = x; return c }
	badVotes := map[string][]byte{
		"empty":          nil,
		"short":          vb[:VoteLen-1],
		"long":           append(bytes.Clone(vb), 0),
		"kind 0":         set(vb, 12, 0),
		"verdict 7":      set(vb, 77, 7),
		"member 0":       func() []byte { c := bytes.Clone(vb); binary.BigEndian.PutUint32(c[78:], 0); return c }(),
		"infinity point": func() []byte { c := bytes.Clone(vb); c[82] = 0xc0; clear(c[83:]); return c }(),
		"no compression": set(vb, 82, vb[82]&^0x80),
	}
	for name, b := range badVotes {
		if _, err := DecodeVote(b); ReasonOf(err) != ReasonEncoding {
			t.Errorf("vote %s: err %v", name, err)
		}
	}
	bm := NewBitmap(5)
	bm.Set(1)
	cb, _ := Certificate{Statement: v.Statement, Signers: bm, Signature: v.Partial}.MarshalBinary()
	badCerts := map[string][]byte{
		"short":        cb[:20],
		"n=0":          func() []byte { c := bytes.Clone(cb); binary.BigEndian.PutUint16(c[78:], 0); return c }(),
		"n mismatch":   func() []byte { c := bytes.Clone(cb); binary.BigEndian.PutUint16(c[78:], 17); return c }(),
		"padding bit":  set(cb, 80, cb[80]|0x80),
		"bad verdict":  set(cb, 77, 0),
		"bad sig flag": set(cb, len(cb)-48, 0),
	}
	for name, b := range badCerts {
		if _, err := DecodeCertificate(b); ReasonOf(err) != ReasonEncoding {
			t.Errorf("certificate %s: err %v", name, err)
		}
	}
	if _, err := DecodeEvidence(vb); ReasonOf(err) != ReasonEncoding {
		t.Errorf("evidence of one vote: %v", err)
	}
}

// TestMutationsAreCaught shows the unit-level checks notice the planted
// bugs that tests/ uses against the refinement checker.
func TestMutationsAreCaught(t *testing.T) {
	f := newFixture(t, 5, 3)
	st := stmt(f.roster, 1, "x", Accept)
	low := mustCollector(t, f.roster, Options{Mutations: Mutations{ThresholdDelta: -1}})
	low.Step(VoteReceived{SignVote(f.shares[0], st)})
	eff := low.Step(VoteReceived{SignVote(f.shares[1], st)})
	if eff.Certificate == nil {
		t.Fatal("mutant did not form an early certificate")
	}
	if err := eff.Certificate.Verify(f.roster); err == nil {
		t.Fatal("a certificate from q-1 partials verified")
	}
	dup := mustCollector(t, f.roster, Options{Mutations: Mutations{NoDedupe: true}})
	v := SignVote(f.shares[0], st)
	dup.Step(VoteReceived{v})
	if eff := dup.Step(VoteReceived{v}); !eff.Counted {
		t.Fatal("NoDedupe mutant did not count the duplicate")
	}
	// The planted bugs are for the eager path; optimistic mode refuses them.
	if _, err := NewCollector(f.roster, Options{Optimistic: true, Mutations: Mutations{NoDedupe: true}}); err == nil {
		t.Fatal("optimistic collector accepted mutations")
	}
}

func TestStepNeverPanicsOnGarbage(t *testing.T) {
	f := newFixture(t, 4, 3)
	for _, mode := range modes {
		c := mustCollector(t, f.roster, mode.opts)
		rng := rand.New(rand.NewPCG(1, 2))
		for i := 0; i < 200; i++ {
			b := make([]byte, VoteLen)
			for j := range b {
				b[j] = byte(rng.Uint32())
			}
			if v, err := DecodeVote(b); err == nil {
				c.Step(VoteReceived{v})
			}
		}
		if len(c.Counted()) != 0 {
			t.Fatalf("%s: random bytes were counted as votes", mode.name)
		}
	}
}

func FuzzDecodeVote(f *testing.F) {
	fx := newFixture(f, 4, 3)
	vb, _ := SignVote(fx.shares[0], stmt(fx.roster, 1, "s", Accept)).MarshalBinary()
	f.Add(vb)
	f.Add([]byte{})
	f.Add(bytes.Repeat([]byte{0xff}, VoteLen))
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := DecodeVote(b)
		if err != nil {
			if ReasonOf(err) != ReasonEncoding {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		again, _ := v.MarshalBinary()
		if !bytes.Equal(again, b) {
			t.Fatalf("non-canonical vote encoding accepted")
		}
		for _, mode := range modes {
			c := mustCollector(t, fx.roster, mode.opts)
			c.Step(VoteReceived{v}) // must not panic
		}
	})
}

func FuzzDecodeCertificate(f *testing.F) {
	fx := newFixture(f, 4, 3)
	c := mustCollector(f, fx.roster, Options{})
	st := stmt(fx.roster, 1, "s", Accept)
	var cert *Certificate
	for i := 0; i < 3; i++ {
		cert = c.Step(VoteReceived{SignVote(fx.shares[i], st)}).Certificate
	}
	cb, _ := cert.MarshalBinary()
	f.Add(cb)
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := DecodeCertificate(b)
		if err != nil {
			if ReasonOf(err) != ReasonEncoding {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		again, err := got.MarshalBinary()
		if err != nil || !bytes.Equal(again, b) {
			t.Fatalf("non-canonical certificate encoding accepted")
		}
		if got.Verify(fx.roster) == nil && !bytes.Equal(b, cb) && got.Statement != cert.Statement {
			t.Fatalf("a different statement verified under the roster")
		}
	})
}

func FuzzDecodeEvidence(f *testing.F) {
	fx := newFixture(f, 4, 3)
	a, _ := SignVote(fx.shares[0], stmt(fx.roster, 1, "s", Accept)).MarshalBinary()
	b, _ := SignVote(fx.shares[0], stmt(fx.roster, 1, "s", Reject)).MarshalBinary()
	f.Add(append(a, b...))
	f.Fuzz(func(t *testing.T, in []byte) {
		ev, err := DecodeEvidence(in)
		if err != nil {
			if ReasonOf(err) != ReasonEncoding {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		if err := ev.Verify(fx.roster); err != nil && ReasonOf(err) == 0 {
			t.Fatalf("untyped verify error %v", err)
		}
	})
}

var errSink error

// BenchmarkCertificate compares a certificate with its baseline, the t
// partial signatures it replaces: verification time and bytes.
func BenchmarkCertificate(b *testing.B) {
	for _, n := range []int{7, 25, 100} {
		q := DefaultThreshold(n)
		f := newFixture(b, n, q)
		st := stmt(f.roster, 1, "bench", Accept)
		c := mustCollector(b, f.roster, Options{})
		votes := make([]Vote, q)
		var cert *Certificate
		for i := range votes {
			votes[i] = SignVote(f.shares[i], st)
			cert = c.Step(VoteReceived{votes[i]}).Certificate
		}
		cb, _ := cert.MarshalBinary()
		b.Run(name("verify", n, "certificate"), func(b *testing.B) {
			for range b.N {
				errSink = cert.Verify(f.roster)
			}
			b.ReportMetric(float64(len(cb)), "bytes")
		})
		b.Run(name("verify", n, "t-partials"), func(b *testing.B) {
			for range b.N {
				for _, v := range votes {
					errSink = checkVote(f.roster, v)
				}
			}
			b.ReportMetric(float64(q*(sigLen+4)), "bytes")
		})
		b.Run(name("collect", n, "t-votes"), func(b *testing.B) {
			for range b.N {
				c := mustCollector(b, f.roster, Options{})
				for _, v := range votes {
					c.Step(VoteReceived{v})
				}
			}
		})
	}
	if errSink != nil && !errors.Is(errSink, bls.ErrInvalidSignature) {
		b.Log(errSink)
	}
}

func name(op string, n int, what string) string { return fmt.Sprintf("%s/n=%d/%s", op, n, what) }
