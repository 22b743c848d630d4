// Package pacemaker is the harvester quorum's consensus replica: chained
// HotStuff with the pacemaker of seeds/001 (the dissertation's Algorithms 1
// and 2), specified in spec/pacemaker.md by rules PM-1..PM-22 and
// PM-31..PM-35 (PM-23..PM-30 are the properties its tests check), modelled
// by tla/Pacemaker.tla and model/pacemaker under the same names (Replica,
// View, Block, QC, TC, qcHigh, bLock, bLeaf, bExec, vheight, Proposal, Vote,
// NewView, Complain, NextView, Commit).
//
// A Replica is a pure step function (BRIEF §4, in the style of etcd raft):
// Step takes one Event (a delivered message, a timer firing, a client
// command, the passage of time) and returns the Effects it caused (messages
// to send, a timer to set, blocks committed, certificates formed, inputs
// dropped with a typed Reason). It does no I/O, reads no clock, starts no
// goroutine, draws no randomness, and no result depends on map order.
//
// QCs and TCs are certification.Certificates of kinds KindQC and
// KindComplaint (spec/certification.md); votes and complaints are collected
// with certification.Collector, and every certificate received is verified
// with one pairing check (Certificate.Verify) before any use, with verified
// certificates cached by the hash of their encoding. Proposals carry the
// leader's partial signature (PM-31), so every message authenticates
// itself and the sender a driver reports is only an address.
//
// Timeouts (PM-21, PM-22) are computed by the timeout sub-package.
package pacemaker
