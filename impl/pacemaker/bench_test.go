package pacemaker

import (
	"fmt"
	"testing"

	"github.com/fhbft/fhbft/impl/certification"
	"github.com/fhbft/fhbft/impl/crypto/threshold"
)

// Crypto cost of one fault-free view for n replicas: the leader signs its
// proposal and every replica checks that signature (PM-31), every replica
// signs a vote, the next leader verifies q partials and combines them, and
// every replica checks the QC once (one pairing: Certificate.Verify). The
// baseline is a QC made of q individual votes that every replica checks
// one by one (q pairings each); the proposal signature costs both the same.
//
//	go test -run '^$' -bench ViewCrypto ./impl/pacemaker
func BenchmarkViewCrypto(b *testing.B) {
	for _, n := range []int{4, 7, 25} {
		q := certification.DefaultThreshold(n)
		f := newFixture(b, n, q)
		st := VoteStatement(f.roster, 1, Hash{1})
		dst := certification.DST(certification.KindQC)
		votes := make([]certification.Vote, n)
		for i := range n {
			votes[i] = signVote(f.shares[i], st)
		}
		blk := Block{Quorum: f.roster.Quorum, Epoch: f.roster.Epoch, View: 1, Parent: GenesisHash(f.roster.Quorum, f.roster.Epoch), Justify: GenesisQCOf(f.roster), Proposer: 2}
		proposal := func() {
			p := SignProposal(f.shares[1], blk)
			for range n {
				if err := VerifyProposal(f.roster, p); err != nil {
					b.Fatal(err)
				}
			}
		}
		b.Run(fmt.Sprintf("n=%d/qc-one-pairing", n), func(b *testing.B) {
			for b.Loop() {
				proposal()
				for i := range n {
					signVote(f.shares[i], st)
				}
				c, _ := certification.NewCollector(f.roster, certification.Options{})
				var cert *certification.Certificate
				for i := range q {
					cert = c.Step(certification.VoteReceived{Vote: votes[i]}).Certificate
				}
				for range n {
					if err := cert.Verify(f.roster); err != nil {
						b.Fatal(err)
					}
				}
			}
		})
		b.Run(fmt.Sprintf("n=%d/baseline-verify-each-vote", n), func(b *testing.B) {
			for b.Loop() {
				proposal()
				for i := range n {
					signVote(f.shares[i], st)
				}
				for i := range q { // the leader checks each vote
					p := threshold.Partial{Index: votes[i].Member, Sig: votes[i].Partial}
					if err := threshold.VerifyPartial(f.roster.Key, dst, st.Message(), p); err != nil {
						b.Fatal(err)
					}
				}
				for range n { // every replica checks the q votes of the QC
					for i := range q {
						p := threshold.Partial{Index: votes[i].Member, Sig: votes[i].Partial}
						if err := threshold.VerifyPartial(f.roster.Key, dst, st.Message(), p); err != nil {
							b.Fatal(err)
						}
					}
				}
			}
		})
	}
}

// BenchmarkViewEndToEnd runs n replicas through the test network and
// reports the cost per committed view of everything: Step logic, wire
// encoding and decoding of every message, and the crypto.
func BenchmarkViewEndToEnd(b *testing.B) {
	for _, n := range []int{4, 7, 25} {
		b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) {
			c := newCluster(b, n, certification.DefaultThreshold(n), Config{})
			c.start()
			start := c.rep(1).State().CurView
			for b.Loop() {
				target := c.rep(1).State().CurView + 1
				c.run(1<<30, func() bool { return c.rep(1).State().CurView >= target })
			}
			views := float64(c.rep(1).State().CurView - start)
			var pairings int
			for _, r := range c.reps {
				s := r.Stats()
				pairings += s.CertVerifies + s.PartialVerifies + s.ProposalVerifies
			}
			b.ReportMetric(float64(pairings)/views, "pairings/view")
			b.ReportMetric(float64(c.minCommitted())/views, "commits/view")
		})
	}
}
