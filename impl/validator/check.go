package validator

import (
	"github.com/fhbft/fhbft/impl/certification"
	"github.com/fhbft/fhbft/impl/tx"
)

// Verdict is the validator unit's answer for one transfer: the digest it
// validated (TX-5), accept or reject, and, for a rejection, the first failing
// rule in the order of TX-19. spec: FARM-20
type Verdict struct {
	Digest  tx.Digest
	Verdict certification.Verdict // certification.Accept or certification.Reject
	Reason  tx.Reason             // 0 when accepted, and for a nil transfer
}

// Accepted reports whether the verdict is accept.
func (v Verdict) Accepted() bool { return v.Verdict == certification.Accept }

// Defaults of the batch policy.
const (
	// DefaultBatch is the largest signature batch: 256 is where batch
	// verification is fastest per signature (impl/tx BenchmarkVerify: about
	// 2.3 times one-by-one).
	DefaultBatch = 256
	// DefaultCooldown is how many signature batches a Verifier checks one by
	// one after a batch failed.
	DefaultCooldown = 4
)

// Verifier is one worker's validation state: the batch policy. It is not
// safe for concurrent use; each worker has its own.
//
// The policy changes only the cost, never a verdict: tx.VerifyBatch and
// tx.VerifySignature agree on every input (TX-8). A failed batch costs the
// batch check plus one check per entry (about 1.3 times one by one at 256,
// impl/tx BenchmarkVerify/…/tx7-batch-one-bad), so a worker that has just
// seen a bad signature — a sign that someone is sending them — verifies the
// next Cooldown batches one by one and then tries batching again. An
// attacker who spreads one bad signature per batch thus costs at most about
// 1.3/(Cooldown+1) + 1 times the one-by-one price, instead of 1.3 times for
// every batch. spec: FARM-21
type Verifier struct {
	Batch    int // largest batch handed to tx.VerifyBatch; < tx.BatchMin means one by one
	Cooldown int // batches checked one by one after a failed batch
	cool     int
	stats    Stats
}

// NewVerifier returns a Verifier with the given policy; zero values take the
// defaults.
func NewVerifier(batch, cooldown int) *Verifier {
	if batch == 0 {
		batch = DefaultBatch
	}
	if cooldown == 0 {
		cooldown = DefaultCooldown
	}
	return &Verifier{Batch: batch, Cooldown: cooldown}
}

// Stats counts how signatures were checked (for reports and tests).
type Stats struct {
	Transfers     int // transfers checked
	Batches       int // VerifyBatch calls of at least tx.BatchMin signatures
	FailedBatches int // of which at least one signature was bad
	Singles       int // signatures verified one by one outside a batch
	Levels        int // dependency levels run by a Unit
	Admitted      int // transfers handed to admit by a Unit
}

func (s *Stats) add(o Stats) {
	s.Transfers += o.Transfers
	s.Batches += o.Batches
	s.FailedBatches += o.FailedBatches
	s.Singles += o.Singles
	s.Levels += o.Levels
	s.Admitted += o.Admitted
}

// Stats returns the counters so far.
func (v *Verifier) Stats() Stats { return v.stats }

// Check validates txs, which must be mutually independent (no two from one
// sender), against one consistent read of the finalised state (accounts) and
// the pending transfers (pending), and writes one verdict per transfer into
// out (len(out) must be at least len(txs); out is returned resliced).
//
// Every verdict equals what accounts and pending make of tx.Config.Validate:
// first every rule but the signature (TX-9 … TX-18, cheap), then the
// signatures of the survivors, in batches. A transfer refused by an earlier
// rule costs no signature check (TX-19's reason for putting it last). A nil
// transfer is rejected with Reason 0. spec: FARM-20, FARM-21
func (v *Verifier) Check(cfg tx.Config, accounts tx.AccountView, pending tx.PendingView, txs []*tx.Transfer, out []Verdict) []Verdict {
	out = out[:len(txs)]
	cand := make([]*tx.Transfer, 0, len(txs))
	where := make([]int, 0, len(txs))
	for i, t := range txs {
		if t == nil {
			out[i] = Verdict{Verdict: certification.Reject}
			continue
		}
		out[i] = Verdict{Digest: t.Digest()}
		if err := cfg.ValidateVerified(t, accounts, pending, true); err != nil {
			out[i].Verdict, out[i].Reason = certification.Reject, tx.ReasonOf(err)
			continue
		}
		cand = append(cand, t)
		where = append(where, i)
	}
	v.stats.Transfers += len(txs)
	batch := v.Batch
	if batch < 1 {
		batch = 1
	}
	for lo := 0; lo < len(cand); lo += batch {
		hi := min(lo+batch, len(cand))
		chunk := cand[lo:hi]
		ok := v.signatures(chunk)
		for j, t := range chunk {
			i := where[lo+j]
			if ok[j] {
				out[i].Verdict = certification.Accept
				continue
			}
			// Only the failing signature is re-examined, to name its reason
			// (bad key or bad signature) exactly as Validate would.
			out[i].Verdict = certification.Reject
			out[i].Reason = tx.ReasonOf(cfg.ValidateVerified(t, accounts, pending, false))
		}
	}
	return out
}

// signatures applies the batch policy to one chunk.
func (v *Verifier) signatures(chunk []*tx.Transfer) []bool {
	if len(chunk) < tx.BatchMin || v.Batch < tx.BatchMin || v.cool > 0 {
		if v.cool > 0 {
			v.cool--
		}
		ok := make([]bool, len(chunk))
		for i, t := range chunk {
			ok[i] = tx.VerifySignature(t) == nil
		}
		v.stats.Singles += len(chunk)
		return ok
	}
	ok := tx.VerifyBatch(chunk)
	v.stats.Batches++
	for _, good := range ok {
		if !good {
			v.stats.FailedBatches++
			v.cool = v.Cooldown
			break
		}
	}
	return ok
}

// Check is Verifier.Check with a fresh default Verifier: the pure validation
// of independent transfers against one snapshot. spec: FARM-20
func Check(cfg tx.Config, accounts tx.AccountView, pending tx.PendingView, txs []*tx.Transfer) []Verdict {
	return NewVerifier(0, 0).Check(cfg, accounts, pending, txs, make([]Verdict, len(txs)))
}
