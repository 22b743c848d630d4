// Package ledger is the whole-protocol simulation behind `fhbft simulate`
// (spec/dag.md, all of PB-*, DAG-*, ORD-*, CONV-*, MINE-*, MEV-*, FIN-*; BRIEF
// §2 steps 1–9): clients submit transfers to K farmer quorums, farmers
// validate and vote, harvesters form transaction certificates (all of this
// is impl/sim/farmer, reused through its Layer extension point), and above
// that, on the same deterministic network (impl/sim/network):
//
//   - nH harvesters each run an impl/harvester.Harvester and an
//     impl/pacemaker Replica over one roster: the harvester's Submit
//     becomes its replica's ClientCommand, the replica's Commit becomes the
//     harvester's Committed (FIN-1), pacemaker messages and timers go over
//     the network;
//   - M miners (impl/miner) build convergence blocks (MINE-1);
//   - every final block is applied to each harvester's own state.Store
//     (FIN-2) and, once per round, to every farmer's state store and
//     mempool (FIN-7, through farmer.Host.Finalize).
//
// After every finalization the driver checks: honest final chains are
// prefixes of one another (FIN-4); no digest is finalized twice and at most
// one transfer per (from, nonce) (FIN-5); no transfer a final block rejected
// is applied later (CONV-14); every finalized transfer has a transaction
// certificate of verdict valid (PB-4); the state root after the block
// equals the block's StateRoot at every harvester, at a reference store and
// at every farmer (FIN-2, FIN-7); supply is conserved and the fee sink holds
// exactly the fees of finalized transfers (FIN-8, CONV-10). Every honest
// convergence vote is for a block that the elected miner of its rank sent
// and that recomputes from the canonical chain (MINE-3, CONV-13). A round
// must become final every Config.StallTime (liveness). At the end every
// transfer certified valid must be finalized or rejected with a reason
// (FIN-6): the rest are lost, and each is a violation.
//
// The DOT output is the DAG as the first honest harvester received it
// (proposal blocks, convergence blocks, final ones in bold), kept in a
// dag.Store of the driver's that is never pruned: the harvester's own store
// keeps only the rounds not yet final (DAG-3).
//
// Fault presets (Faults) make a harvester equivocate, a miner omit proposal
// blocks or stay silent, or clients send conflicting transfers; planted
// bugs (harvester.Mutations with Config.CorruptBlocks) show the checker
// catches what it should.
//
// With Config.History the run also records a client history: every
// distinct transfer (first submission → its outcome, returning at the first
// honest finalization of the round that resolved it) and balance reads at
// honest harvesters that wait for a read index (history.go, which says why
// a correct run gives a linearizable history). History.Check verifies it
// with porcupine against a sequential ledger model (linearizability.go),
// per account, which is exact for the simulator's workload. Recording adds
// no events: the run is the same with or without it.
//
// Everything the protocol does is a function of Config.Seed: two runs with
// one seed write the same NDJSON trace. Only the wall-clock and CPU figures
// of the Report vary.
package ledger
