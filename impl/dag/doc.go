// Package dag implements the block graph of spec/dag.md: proposal blocks
// (PB-1..PB-7), the store of a round's blocks and its DOT export
// (DAG-1..DAG-5), the beacon and the orders drawn from it (ORD-1..ORD-3),
// the convergence function that turns a round's proposal blocks into
// one convergence block resolving every conflict deterministically
// (CONV-1..CONV-13), and the rejected set that makes its rejections final
// (CONV-14: RejectedSet, Input.Rejected, RecomputeWithRejected; spec: CONV-14).
//
// Everything here is a pure function of its arguments: no I/O, clocks,
// goroutines or randomness, and no result depends on map iteration order.
// Decoders of untrusted bytes never panic; they return a *DecodeError
// naming the field (PB-7). The roles that drive these functions live in
// impl/harvester and impl/miner; transaction selection is impl/mev.
//
// TLA+: tla/DAGConvergence.tla: the operator Converge and the actions
// Propose, EquivocatorSend, WithholderSend (a withheld block is simply
// absent from Converge's inputs), Certify and Finalize. Go model:
// model/dag.
package dag
