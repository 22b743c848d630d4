// Package validator is a farmer's validator unit (seeds/000, "validator
// unit"; spec/farmer.md rules FARM-20 … FARM-25): it decides the validity of
// transfers on every core of the node, reading the finalised state and the
// pending transfers through wait-free left-right read handles.
//
// Two layers:
//
//   - Verifier.Check is the pure core: a function of one consistent read
//     (a tx.AccountView and a tx.PendingView from one snapshot) and a slice of
//     mutually independent transfers. It applies the rules of impl/tx in the
//     order of TX-19, verifying the signatures of the transfers that pass every
//     other rule in batches (tx.VerifyBatch), and returns one Verdict per
//     transfer. It starts no goroutine and keeps no state that affects a
//     verdict (only the speed: see Verifier).
//
//   - Unit is the driver-side engine that owns the goroutines: a pool of
//     workers (GOMAXPROCS by default), each with its own read handle. Validate
//     splits its input into dependency levels — the k-th transfer of each sender
//     in nonce order is in level k — runs each level's transfers in parallel,
//     and hands the level's accepted transfers to the caller's admit function
//     (the mempool writer: insert and publish) before the next level starts. So
//     a transfer is validated only after its predecessor's verdict, against a
//     pending view that holds the predecessor if it was accepted (FARM-22).
//
// Verdicts depend only on the inputs: the same transfers, views and admit
// function give the same verdicts whatever the number of workers, the chunking
// or the batch policy (FARM-21; TestUnitMatchesSequentialOracle).
package validator
