// Package mempool is the farmer's mempool: pending transfers per sender
// with their dependency graph, a bounded cache of processed transfers, and
// the views the validator reads (tx.PendingView), wrapped in a left-right
// value so that validator cores read it without waiting while the farmer
// driver writes ("Left-Right Mempool for Concurrent Execution of Pending
// Transactions", seeds/000).
//
// It implements spec/farmer.md rules FARM-4 (dependency graph and
// readiness), FARM-5 (processed cache, Seen), FARM-6 (admission and
// bounds) and FARM-7 (departures, outcomes, pending accounting), on top of
// FARM-1..3 (impl/leftright).
//
// # Dependency graph
//
// A sender's transfers depend on each other through the nonce: the one
// with nonce n+1 can only be validated once the one with nonce n is (its
// balance check counts n's debit, TX-17/TX-18). Per account the mempool
// keeps base (the finalised nonce), the validated transfers holding nonces
// base … base+k−1 without gaps, and waiting transfers at nonces ≥ base+k.
// A transfer is ready iff its nonce is base+k, the account's ready nonce;
// among several waiting transfers with that nonce (conflicting spends) the
// earliest added is the candidate. Different accounts are independent, so
// Ready returns at most one candidate per account, ordered by account ID,
// and the validator unit can validate them all in parallel.
//
// # Life of a transfer
//
// Add (waiting) → MarkValidated (validated; counted in Pending) →
// MarkFinalized (gone, OutcomeFinalized). A transfer can also leave by
// Remove, by losing its nonce to another transfer, or by losing its
// premise; every departure is returned to the caller as a Dropped and the
// digest enters the processed cache, so nothing is lost silently.
//
// # Writes
//
// Each write is planned on the writer's copy (where every rule is
// checked and every choice made) and appended as one left-right operation
// that replays the plan mechanically on each copy. A refused write returns
// an *Error and changes nothing.
package mempool
