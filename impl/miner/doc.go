// Package miner is one miner's role (spec/dag.md §6, MINE-1, MINE-2,
// ORD-3): it collects a round's valid proposal blocks and equivocation
// evidence, and when its time comes (MinerWait + rank·FallbackDelay after
// the round began at it, or at once for the elected miner holding a
// counted block from every harvester) it runs dag.Converge and sends the
// convergence block to every harvester. Miners are stakeless (MINE-2): the
// block is authenticated only by the harvesters' certificate.
//
// A miner follows finality from the harvesters' notices: when max(1,
// 2qH−nH) distinct harvesters name the same certified block for its
// current round (at least one of them honest while b < 2qH−nH), it applies
// the block to its own state and rejected set (CONV-14: the rejections of
// final blocks, kept while their slot is open; Converge excludes them, so
// the miner builds what harvesters, keeping the same set, reproduce) and
// moves to the next round; a miner that learns the round is final does
// not build.
//
// Miner is a pure step function like impl/harvester.Harvester: Step takes
// one Event and returns Effects; time comes only from Tick and TimerFired
// events; no I/O, goroutines, randomness, or map-order dependence. Bad
// input yields a Rejected effect and changes nothing; input for a later
// round is buffered, bounded.
package miner
