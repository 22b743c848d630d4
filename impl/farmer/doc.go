// Package farmer is the farmer role (seeds/000, "Farmer Node"; spec/farmer.md
// rules FARM-24 … FARM-40 and VOTE-1 … VOTE-6): everything one member of a farmer
// quorum decides between a client's transfer and its vote.
//
//	receive ──► entry check ──► relay to the quorum ──► allocate ──► schedule ──► validate ──► vote
//	                 │ not ours                             │ not assigned: takeover timer
//	                 └──► forward to the entry quorum       └──► (silent assignees) take over
//
// In order:
//
//   - Entry check: the entry quorum of a transfer is the Maglev lookup of its
//     signer (impl/maglev, ENTRY-1). A transfer of another quorum is forwarded
//     there through the scheduler's forwarding queue (SCHED-8 D1), with retries
//     until that quorum acknowledges it.
//   - A transfer of this quorum is relayed once to every peer, so that every
//     member holds every transfer of its quorum: each can then order its
//     senders' transfers by nonce and take over when assigned members are
//     silent.
//   - Allocation (the seed's "perfect allocation"): the members are ranked by
//     rendezvous hashing of the transfer's digest (Order); the first q (the
//     certification threshold tF) are assigned and validate and vote; the others
//     validate only if no certificate is announced by their takeover time, one
//     more member per Timeout.
//   - Scheduling: an assigned or taken-over transfer is a scheduler task
//     (impl/scheduler): executed here, or delegated to a less loaded peer, which
//     then votes in this member's place.
//   - Validation: the role asks its driver's validator unit (impl/validator)
//     with a Validate effect and gets the verdict back as a Validated event. It
//     never asks for a transfer before every lower-nonce transfer of the same
//     sender that it holds has a final verdict, validating unassigned
//     predecessors for itself ("shadow" validations: verdict, no vote).
//   - Vote: certification.SignVote over (quorum, epoch, Slot{KindTx, digest},
//     Value{digest, verdict}), at most once per transfer, sent to the
//     harvesters, whose collector forms the transaction certificate.
//
// Role is a pure step function in the style of etcd raft (BRIEF §4): Step
// takes one Event and returns Effects, or a typed *InputError with nothing
// changed. It does no I/O, reads no clock (time is the Tick event), starts no
// goroutine, draws no randomness, and no result depends on map iteration
// order.
package farmer
