// Package harvester is one harvester's ledger duties (spec/dag.md): it keeps
// a pool of certified transfers (MEV-6), proposes exactly one signed
// proposal block per round chosen by fee per byte with knowledge of its
// position (PB-1..PB-3, ORD-2, MEV-2, MEV-3), checks and stores the round's
// proposal blocks (PB-4, PB-5, DAG-3), fetches what a convergence block
// references (DAG-4), recomputes convergence blocks and votes for the ones
// it reproduces (CONV-13, MINE-3), submits convergence certificates to its
// pacemaker replica, and takes the first committed valid certificate of a
// round as final (FIN-1), applying it to its own state and rejected set
// and starting the next round (FIN-2, FIN-3, ORD-1). The rejected set
// (CONV-14: rejections of final blocks whose slot is still open) is an
// input of every recomputation, so a transfer a final block rejected is
// never applied later, even when a Byzantine harvester proposes it again.
//
//	TxCertified ──► pool ──► (round start) mev.Select ──► BroadcastProposal
//	ProposalReceived ──► PB-4 ──► dag.Store ──► (2nd block) BroadcastEvidence
//	ConvergenceReceived ──► rank < F ──► fetch refs ──► dag.Recompute ──► BroadcastVote
//	VoteReceived ──► Collector ──► certificate ──► Submit (to the pacemaker)
//	Committed ──► FIN-1 first valid checked cert ──► Finalized, NotifyMiners, rejected set (CONV-14), next round
//
// Harvester is a pure step function in the style of impl/pacemaker.Replica:
// Step takes one Event and returns Effects in the order the driver must
// carry them out. It does no I/O, reads no clock, starts no goroutine,
// draws no randomness, and no result depends on map iteration order. Bad
// input yields a Rejected effect with a typed *Error and changes nothing
// (BRIEF §6); valid input that arrives early (a round this harvester has
// not reached) is buffered, bounded, not lost.
//
// TLA+: tla/DAGConvergence.tla (Propose, Equivocate, Certify, Finalize).
package harvester
