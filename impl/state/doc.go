// Package state is the farmer's state store: accounts {Balance, Nonce}
// keyed by tx.AccountID, a Merkle root over the whole state with inclusion
// and non-inclusion proofs, and the all-or-nothing application of batches
// of certified transfers, wrapped in a left-right value so that validator
// cores read it without ever waiting ("Integral DB - a Left-Right Wrapped
// Persistent Database with Merkle Proofing", seeds/000).
//
// It implements spec/farmer.md rules FARM-8 … FARM-13 (tree, hashing,
// proofs, apply semantics, conservation, store) on top of the left-right
// rules FARM-1 … FARM-3 (impl/leftright).
//
// # Structure
//
// The state is a compact sparse Merkle tree (Tree): the binary trie over
// 256-bit paths pathOf(id) = SHA-256("FHBFT/state/path/v1" ‖ id), with
// empty subtrees hashed to the constant Empty and a subtree holding one
// account replaced by that account's leaf. Chosen over the alternatives
// because:
//
//   - the shape is a function of the set of accounts, so the root is
//     independent of insertion order by construction, not by re-sorting;
//   - an update of k accounts rehashes about k·log2(n/k) nodes, and the
//     tree is persistent (path copying), so one tree is shared by both
//     left-right copies and by readers that keep a snapshot for proofs;
//   - a non-inclusion proof is one path, like an inclusion proof (a
//     sorted-leaf tree needs two neighbour proofs and shifts every leaf
//     after an insertion);
//   - unlike a plain 256-level sparse tree, a proof and an update cost
//     log2(n) hashes, not 256.
//
// Paths are hashes of IDs rather than the IDs themselves so that
// structured IDs cannot make deep paths.
//
// # Concurrency and persistence
//
// Store has one writer (Apply, Publish) and wait-free Readers that see
// published state only. Apply does all the work (rules, hashing) once and
// appends a single left-right operation that installs the result in each
// copy. Every batch is written through to a Backend (MemBackend for now),
// from which Open rebuilds the state; a persistent Backend can be added
// without changing callers.
package state
