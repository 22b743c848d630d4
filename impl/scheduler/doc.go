// Package scheduler is a farmer node's decentralized task scheduler
// (seeds/000, "Decentralized Task Scheduler" and "[Component] Decentralized
// Task Scheduler - Farmer Node"), specified by rules SCHED-1..SCHED-15 of
// spec/farmer.md.
//
// A task is a transaction, named by its digest, with a signer account, a
// cost estimate and the location of its dependency (the signer's
// predecessor transaction): none, this node, a peer of this node's quorum,
// or another quorum. The scheduler places every task it accepts in exactly
// one of three queues — local execution, intra-quorum remote (delegated to
// a peer), inter-quorum forwarding — until the task completes or its
// recipient acknowledges it (SCHED-2, SCHED-13).
//
// Placement follows the seed's decision tree (SCHED-8): a dependency held
// by another quorum forwards the task there; a dependency held by a peer
// delegates it to that peer; otherwise, when this node's log-normalised
// backpressure LN_b is at least the configured threshold, the task is
// delegated to the peer with the lowest backpressure, and else it is
// executed locally. Backpressure is the seed's formula
//
//	P = 1 + log10(W_l·T_l·avg_l + W_r·T_r·avg_r + W_f·T_f)
//
// over the per-queue totals T_q and averages avg_q, min-max normalised over
// the list L of this node's and its peers' backpressures (SCHED-3..SCHED-6).
// Peers' loads arrive as PeerLoad events and expire (SCHED-7).
//
// A Scheduler is a pure step function in the style of etcd raft (BRIEF §4):
// Step takes one Event and returns the Effects it caused, or a typed error
// for bad input, in which case nothing changed. It does no I/O, reads no
// clock, starts no goroutine, draws no randomness, and no result depends on
// map order. Floating-point results are bit-identical on every platform:
// the logarithm is computed here from +, ×, ÷ only, and every intermediate
// is explicitly rounded so the compiler cannot fuse operations (SCHED-14).
package scheduler
