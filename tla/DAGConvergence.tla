--------------------------- MODULE DAGConvergence ---------------------------
(***************************************************************************)
(* Proposal blocks, convergence and finality (spec/dag.md), round by       *)
(* round, with Byzantine harvesters and miners and certification          *)
(* abstracted away.                                                        *)
(*                                                                         *)
(* Each round: honest harvesters propose one block holding their whole     *)
(* pool (PB-3, MEV-6; block capacity is not modelled) and send it at once  *)
(* to every miner that has not built yet. Byzantine harvesters send blocks *)
(* with any content of ByzBlocks (certified transfers only: PB-4 drops     *)
(* anything else) to the miners they choose: an Equivocator up to two      *)
(* different blocks (PB-5), a Withholder one block, to some miners or to   *)
(* none. A miner holding at least MinRefs counted proposers (CONV-2)       *)
(* builds Converge over its inbox once (MINE-1) and the harvester quorum   *)
(* certifies the block (MINE-3) while the round has fewer than             *)
(* CertsPerRound certified blocks: 1 is CERT-11's uniqueness (b < 2q - n), *)
(* 2 models b >= 2q - n, where two certified blocks of a round can reach   *)
(* different nodes. Each honest harvester (a node) finalizes a certified   *)
(* block (FIN-1, FIN-2); the next round starts when every node has         *)
(* finalized the same block (DAG-1, FIN-3).                                *)
(*                                                                         *)
(* Abstractions: signatures, hashes and certificates are abstracted: a     *)
(* proposal block is [proposer, txs], a transfer an index into Universe    *)
(* whose order is the digest order, a convergence block its CONV-1 content *)
(* without quorum, epoch, prev, beacon, miner and rank (CONV-12). Prev is  *)
(* implicit: every block of round r is built on the round r - 1 block all  *)
(* nodes finalized. The conflict-resolution order of round r is a fixed    *)
(* rotation (Pos) standing for ORD-2's beacon-drawn permutation.           *)
(* Evidence is two blocks of one proposer in one inbox (no evidence        *)
(* gossip). Delivery delays are interleavings.                             *)
(*                                                                         *)
(* Byzantine miners (FIN-6): a miner in ByzMiners builds Converge over ANY *)
(* subset of its inbox with at least MinRefs counted proposers, which      *)
(* CONV-13 accepts (harvesters recompute only what the block names); it    *)
(* may omit honest blocks, or one block of an equivocator so that the      *)
(* other counts. It still builds (weak fairness): a silent miner is the    *)
(* fallback ranks' matter (MINE-3), and ranks are not modelled. Without    *)
(* block capacity every honest block carries the whole pool, so MinRefs >  *)
(* b forces an honest block, and with it every transfer all honest pools   *)
(* hold, into every valid block; omission censors only a transfer that     *)
(* some honest blocks lack. SoloTxs stands for that (certificates not yet  *)
(* spread, or MEV-3's capacity slices): only the least honest harvester    *)
(* holds them. A miner may build from any inbox with MinRefs counted       *)
(* blocks, a race that honest miners lose only with SoloTxs; MinersWait    *)
(* makes every miner wait for a block of every honest harvester, as        *)
(* MINE-1's wait does after GST (a Byzantine miner loses nothing by it: it *)
(* still names any subset). Byzantine miners do not sign or equivocate: a  *)
(* block is authenticated by its certificate only (MINE-2), and each miner *)
(* builds at most once per round, as ranks give one slot each (MINE-3).    *)
(*                                                                         *)
(* Converge is a fold over a sequence of inputs, so OrderIndependent       *)
(* compares two real input orders; ResolveByInputOrder plants the bug that *)
(* a slot goes to the candidate met first.                                 *)
(*                                                                         *)
(* A node's ledger (CONV-14) is the post state of its last final block and *)
(* its rejected set, RejectedSet(chain): the digests its final blocks      *)
(* rejected whose slot is still open. Both are functions of the node's     *)
(* chain of final blocks, so they are operators, not variables; the set is *)
(* the one a node keeps incrementally (Finalize adds a block's rejected    *)
(* digests and drops those whose sender's nonce passed them) and it is     *)
(* dropped per slot exactly as CONV-14 says, NOT kept for ever: a digest   *)
(* whose slot closed and that is proposed again must be rejected as a      *)
(* replay (CONV-6), which the models reach (transfer 2 after 1), so        *)
(* keeping it for ever would change the blocks. IgnoreRejected turns       *)
(* CONV-14 off (the set is taken as empty), which RejectionsFinal catches. *)
(*                                                                         *)
(* model/dag implements the same state space in Go; tla/manifest.json      *)
(* holds the state counts both must reach.                                 *)
(***************************************************************************)
EXTENDS Naturals, Sequences, FiniteSets

CONSTANTS
    Harvesters,     \* 1..n
    Equivocators,   \* Byzantine: up to two different blocks per round
    Withholders,    \* Byzantine: one block per round, to some miners or none
    MinRefs,        \* CONV-2: counted proposers a convergence block needs
    Miners,         \* miner ids
    MaxRound,       \* rounds 1..MaxRound are played
    MaxDeferRounds, \* CONV-9
    InitBalance,    \* genesis balance of each account
    Certified,      \* transfers (indices into Universe) with a tx certificate
    LateTxs,        \* those of Certified certified only from round 2 on
    ByzBlocks,      \* transfer sets Byzantine proposal blocks may carry
    CertsPerRound,  \* certified convergence blocks per round (1: CERT-11)
    ResolveByInputOrder, \* planted bug in Converge (CONV-4, CONV-5)
    IgnoreRejected, \* planted bug: CONV-14 off, the rejected set is ignored
    ByzMiners,      \* Byzantine miners: build from any subset of their inbox
    SoloTxs,        \* certified transfers only the least honest harvester holds
    MinersWait      \* miners build only with every honest block (MINE-1)

\* The transfer universe, in digest order (TX-5): two accounts, to = the
\* other one. 1 and 2 conflict on slot (1, 0); 3 follows either and may
\* overdraw; 4, 5, 6 are account 2's nonces 0, 1, 2.
Universe == <<
    [from |-> 1, nonce |-> 0, amount |-> 2, fee |-> 1],
    [from |-> 1, nonce |-> 0, amount |-> 1, fee |-> 1],
    [from |-> 1, nonce |-> 1, amount |-> 1, fee |-> 1],
    [from |-> 2, nonce |-> 0, amount |-> 2, fee |-> 1],
    [from |-> 2, nonce |-> 1, amount |-> 1, fee |-> 1],
    [from |-> 2, nonce |-> 2, amount |-> 1, fee |-> 1] >>

TxIds == 1..Len(Universe)
Accounts == {1, 2}

ASSUME ConstantsOK ==
    /\ Harvesters = 1..Cardinality(Harvesters)
    /\ Equivocators \subseteq Harvesters
    /\ Withholders \subseteq Harvesters \ Equivocators
    /\ Harvesters \ (Equivocators \cup Withholders) # {}
    /\ MinRefs \in 1..Cardinality(Harvesters)
    /\ Miners # {}
    /\ MaxRound \in Nat /\ MaxDeferRounds \in Nat /\ InitBalance \in Nat
    /\ Certified \subseteq TxIds
    /\ LateTxs \subseteq Certified
    /\ ByzBlocks \subseteq SUBSET TxIds
    /\ CertsPerRound \in {1, 2}
    /\ ResolveByInputOrder \in BOOLEAN
    /\ IgnoreRejected \in BOOLEAN
    /\ ByzMiners \subseteq Miners
    /\ SoloTxs \subseteq Certified
    /\ MinersWait \in BOOLEAN

N == Cardinality(Harvesters)
Byzantine == Equivocators \cup Withholders
Honest == Harvesters \ Byzantine
Nodes == Honest   \* the honest harvesters finalize

Tx(t) == Universe[t]
From(t) == Tx(t).from
To(t) == 3 - From(t)
Cost(t) == Tx(t).amount + Tx(t).fee
Slot(t) == <<From(t), Tx(t).nonce>>

\* Transfers with a certificate in round r (LateTxs from round 2 on).
CertifiedBy(r) == IF r = 1 THEN Certified \ LateTxs ELSE Certified

\* spec: ORD-2. pos_r(h): a rotation by round, 1-based.
Pos(r, h) == ((h + r - 2) % N) + 1

Reverse(s) == [i \in 1..Len(s) |-> s[Len(s) + 1 - i]]
Min(S) == CHOOSE x \in S : \A y \in S : x <= y
Reasons == {"conflict", "replay", "overdraft", "gap-expired"}

-----------------------------------------------------------------------------
(* Ledger states (FARM-11, FARM-12) and blocks. *)

GenesisState == [bal |-> [a \in Accounts |-> InitBalance],
                 nonce |-> [a \in Accounts |-> 0],
                 sink |-> 0]

\* FARM-11: apply one transfer (its nonce and funds checked by the caller).
ApplyTx(st, t) ==
    [bal |-> [st.bal EXCEPT ![From(t)] = @ - Cost(t), ![To(t)] = @ + Tx(t).amount],
     nonce |-> [st.nonce EXCEPT ![From(t)] = @ + 1],
     sink |-> st.sink + Tx(t).fee]

\* spec: DAG-1, CONV-1. A convergence block without miner, rank, prev and
\* beacon; post is the state after applied (its stateRoot).
GenesisBlock == [round |-> 0, refs |-> {}, equivocations |-> {}, applied |-> << >>,
                 rejected |-> {}, deferred |-> {}, fees |-> 0, post |-> GenesisState]

DeferredIds(blk) == {d[1] : d \in blk.deferred}
Since(blk, t) == (CHOOSE d \in blk.deferred : d[1] = t)[2]
RejectedIds(blk) == {x[1] : x \in blk.rejected}

Range(s) == {s[i] : i \in DOMAIN s}

\* A chain is a node's final blocks, rounds 1..Len(c); its state is the
\* post of the last one.
TipOf(c) == IF c = << >> THEN GenesisState ELSE c[Len(c)].post
ChainApplied(c) == UNION {Range(c[i].applied) : i \in DOMAIN c}
ChainRejected(c) == UNION {RejectedIds(c[i]) : i \in DOMAIN c}

\* spec: CONV-14. The ledger's rejected set after chain c: every digest a
\* final block rejected while its slot is open (nonce >= the sender's).
RejectedSet(c) == {t \in ChainRejected(c) : Tx(t).nonce >= TipOf(c).nonce[From(t)]}

\* What Converge excludes after chain c: the rejected set, or nothing with
\* the planted bug.
Excluded(c) == IF IgnoreRejected THEN {} ELSE RejectedSet(c)

\* Proposal blocks are [proposer, txs]; Code orders them (proposer, then
\* the transfer set as a bit mask) so that sequences of inputs are defined
\* the same way in TLA+ and Go.
RECURSIVE Mask(_)
Mask(S) == IF S = {} THEN 0 ELSE LET t == Min(S) IN 2^(t - 1) + Mask(S \ {t})
Code(b) == b.proposer * 2^Len(Universe) + Mask(b.txs)

RECURSIVE SortBlocks(_)
SortBlocks(S) ==
    IF S = {} THEN << >>
    ELSE LET b == CHOOSE b \in S : \A c \in S : Code(b) <= Code(c)
         IN <<b>> \o SortBlocks(S \ {b})

RECURSIVE SortIds(_)
SortIds(S) == IF S = {} THEN << >> ELSE LET t == Min(S) IN <<t>> \o SortIds(S \ {t})

-----------------------------------------------------------------------------
(* The convergence function (spec/dag.md section 5). *)

\* spec: CONV-2. Proposers with two distinct blocks among the inputs.
EquivOf(S) == {h \in Harvesters : \E b, c \in S : b # c /\ b.proposer = h /\ c.proposer = h}
CountedOf(S) == {b \in S : b.proposer \notin EquivOf(S)}

\* Keys <<rank, digest>> compared lexicographically (CONV-3).
Less(k1, k2) == k1[1] < k2[1] \/ (k1[1] = k2[1] /\ k1[2] < k2[2])

\* The transfers of a sequence of blocks, each block's in digest order.
RECURSIVE Stream(_)
Stream(bs) == IF bs = << >> THEN << >> ELSE SortIds(Head(bs).txs) \o Stream(Tail(bs))

\* spec: CONV-4, CONV-5. Fold over the candidate stream keeping, per slot,
\* the candidate with the least key; with the planted bug, the first met.
RECURSIVE FoldSlots(_, _, _)
FoldSlots(acc, s, key) ==
    IF s = << >> THEN acc
    ELSE LET t == Head(s)
             rival == {u \in acc : Slot(u) = Slot(t)}
             next == IF rival = {} THEN acc \cup {t}
                     ELSE LET u == CHOOSE u \in rival : TRUE
                          IN IF ~ResolveByInputOrder /\ Less(key[t], key[u])
                             THEN (acc \ {u}) \cup {t} ELSE acc
         IN FoldSlots(next, Tail(s), key)

\* spec: CONV-7, CONV-8. Apply ready winners, least key first; a ready
\* winner its sender cannot pay for is rejected and its nonce not advanced.
RECURSIVE ApplyReady(_, _, _, _, _)
ApplyReady(rest, st, applied, over, key) ==
    LET ready == {t \in rest : Tx(t).nonce = st.nonce[From(t)]}
    IN IF ready = {} THEN [rest |-> rest, st |-> st, applied |-> applied, over |-> over]
       ELSE LET t == CHOOSE t \in ready : \A u \in ready : ~Less(key[u], key[t])
            IN IF st.bal[From(t)] < Cost(t)
               THEN ApplyReady(rest \ {t}, st, applied, over \cup {t}, key)
               ELSE ApplyReady(rest \ {t}, ApplyTx(st, t), Append(applied, t), over, key)

\* spec: CONV-1..CONV-10, CONV-14. Converge(round, prev, rej, inputs):
\* prev is the round r - 1 final block (its post is the state), rej the
\* ledger's rejected set (with post, the node's ledger), ins a sequence of
\* proposal blocks (duplicates and equivocation pairs allowed).
Converge(r, prev, rej, ins) ==
    LET S == Range(ins)
        eq == EquivOf(S)
        counted == CountedOf(S)
        defIds == DeferredIds(prev)
        \* CONV-3, CONV-14: less the rejected set.
        cands == (defIds \cup UNION {b.txs : b \in counted}) \ rej
        \* CONV-3: rank 0 if carried in prev.deferred, else least position.
        key == [t \in cands |->
                   <<IF t \in defIds THEN 0
                     ELSE Min({Pos(r, b.proposer) : b \in {c \in counted : t \in c.txs}}), t>>]
        stream == SelectSeq(SortIds(defIds) \o Stream(SelectSeq(ins, LAMBDA b : b \in counted)),
                            LAMBDA t : t \notin rej)
        winners == FoldSlots({}, stream, key)
        \* CONV-6
        stale == {t \in winners : Tx(t).nonce < prev.post.nonce[From(t)]}
        run == ApplyReady(winners \ stale, prev.post, << >>, {}, key)
        \* CONV-9: never ready; expired after MaxDeferRounds deferrals.
        since(t) == IF t \in defIds THEN Since(prev, t) ELSE r
        expired == {t \in run.rest : r - since(t) >= MaxDeferRounds}
    IN [round |-> r,
        refs |-> counted,
        equivocations |-> eq,
        applied |-> run.applied,
        rejected |-> {<<t, "conflict">> : t \in cands \ winners}
                     \cup {<<t, "replay">> : t \in stale}
                     \cup {<<t, "overdraft">> : t \in run.over}
                     \cup {<<t, "gap-expired">> : t \in expired},
        deferred |-> {<<t, since(t)>> : t \in run.rest \ expired},
        fees |-> run.st.sink - prev.post.sink,
        post |-> run.st]

-----------------------------------------------------------------------------
VARIABLES
    round,  \* the round being played; MaxRound + 1 when done
    final,  \* final[n]: node n's final blocks, rounds 1..Len(final[n])
    inbox,  \* inbox[m]: the valid proposal blocks miner m holds this round
    built,  \* miners that built (and had certified) a block this round
    cert    \* certified convergence blocks of this round

vars == <<round, final, inbox, built, cert>>

Init ==
    /\ round = 1
    /\ final = [n \in Nodes |-> << >>]
    /\ inbox = [m \in Miners |-> {}]
    /\ built = {}
    /\ cert = {}

\* All nodes agree on rounds 1..round - 1 when round starts (NextRound).
AnyNode == CHOOSE n \in Nodes : TRUE
Tip == IF round = 1 THEN GenesisBlock ELSE final[AnyNode][round - 1]
Chain == SubSeq(final[AnyNode], 1, round - 1)

Resolved(c, t) == t \in ChainApplied(c) \cup ChainRejected(c)

\* spec: MEV-6. Certified, not applied or rejected by a final block, and
\* not carried as deferred by the tip.
Pool == CertifiedBy(round) \ (ChainApplied(Chain) \cup ChainRejected(Chain) \cup DeferredIds(Tip))

\* Harvester h's pool: SoloTxs only at the least honest harvester.
SoloHolder == Min(Honest)
PoolOf(h) == IF h = SoloHolder THEN Pool ELSE Pool \ SoloTxs

Sent == UNION {inbox[m] : m \in Miners}

\* Proposals and builds stop once the round has its certified blocks or a
\* node has finalized it (MINE-1: a miner that learns the round is final
\* does not build).
RoundOpen ==
    /\ round <= MaxRound
    /\ Cardinality(cert) < CertsPerRound
    /\ \A n \in Nodes : Len(final[n]) < round

\* Deliver b to every miner in ms that has not built (its inbox is then frozen).
Deliver(b, ms) ==
    inbox' = [m \in Miners |-> IF m \in ms \ built THEN inbox[m] \cup {b} ELSE inbox[m]]

\* spec: PB-1, PB-3, MEV-6. An honest harvester proposes once per round,
\* its whole pool, to every miner.
Propose(h) ==
    /\ h \in Honest
    /\ RoundOpen
    /\ ~\E b \in Sent : b.proposer = h
    /\ Miners \ built # {}
    /\ Deliver([proposer |-> h, txs |-> PoolOf(h)], Miners)
    /\ UNCHANGED <<round, final, built, cert>>

\* spec: PB-4, PB-5. An equivocator sends any valid block to a miner, with
\* at most two different blocks in the round.
EquivocatorSend(h, txs, m) ==
    LET b == [proposer |-> h, txs |-> txs] IN
    /\ h \in Equivocators
    /\ RoundOpen
    /\ txs \in ByzBlocks /\ txs \subseteq CertifiedBy(round)
    /\ m \in Miners \ built
    /\ b \notin inbox[m]
    /\ Cardinality({c \in Sent : c.proposer = h} \cup {b}) <= 2
    /\ Deliver(b, {m})
    /\ UNCHANGED <<round, final, built, cert>>

\* A withholder signs one block per round and sends it to some miners only.
WithholderSend(h, txs, m) ==
    LET b == [proposer |-> h, txs |-> txs] IN
    /\ h \in Withholders
    /\ RoundOpen
    /\ txs \in ByzBlocks /\ txs \subseteq CertifiedBy(round)
    /\ m \in Miners \ built
    /\ b \notin inbox[m]
    /\ \A c \in Sent : c.proposer = h => c = b
    /\ Deliver(b, {m})
    /\ UNCHANGED <<round, final, built, cert>>

\* What miner m may build from: an honest miner its whole inbox, a
\* Byzantine one any subset of it (FIN-6).
Inputs(m) == IF m \in ByzMiners THEN SUBSET inbox[m] ELSE {inbox[m]}

\* MINE-1 after GST (with MinersWait): miner m holds a block of every
\* honest harvester before it builds.
Waited(m) == MinersWait => \A h \in Honest : \E b \in inbox[m] : b.proposer = h

\* spec: MINE-1, MINE-3, CONV-2, CONV-13, CONV-14, FIN-6. Miner m builds
\* once from S (its inbox, or for a Byzantine miner any subset), in the
\* order SortBlocks gives, on the nodes' ledger (Tip's post and the
\* rejected set), and the block is certified.
Build(m, S) ==
    LET blk == Converge(round, Tip, Excluded(Chain), SortBlocks(S)) IN
    /\ m \in Miners \ built
    /\ RoundOpen
    /\ Waited(m)
    /\ Cardinality(CountedOf(S)) >= MinRefs
    /\ blk \notin cert
    /\ cert' = cert \cup {blk}
    /\ built' = built \cup {m}
    /\ UNCHANGED <<round, final, inbox>>

Certify(m) == \E S \in Inputs(m) : Build(m, S)

\* spec: FIN-1, FIN-2. Node n finalizes a certified block of its next round.
Finalize(n, b) ==
    /\ n \in Nodes
    /\ b \in cert
    /\ Len(final[n]) = round - 1
    /\ final' = [final EXCEPT ![n] = Append(@, b)]
    /\ UNCHANGED <<round, inbox, built, cert>>

\* spec: DAG-1, FIN-3. The round ends when every node has finalized the
\* same block of it.
NextRound ==
    /\ round <= MaxRound
    /\ \A n \in Nodes : Len(final[n]) = round
    /\ \A n1, n2 \in Nodes : final[n1][round] = final[n2][round]
    /\ round' = round + 1
    /\ inbox' = [m \in Miners |-> {}]
    /\ built' = {}
    /\ cert' = {}
    /\ UNCHANGED final

Next ==
    \/ \E h \in Honest : Propose(h)
    \/ \E h \in Equivocators, txs \in ByzBlocks, m \in Miners : EquivocatorSend(h, txs, m)
    \/ \E h \in Withholders, txs \in ByzBlocks, m \in Miners : WithholderSend(h, txs, m)
    \/ \E m \in Miners : Certify(m)
    \/ \E n \in Nodes, b \in cert : Finalize(n, b)
    \/ NextRound

Spec == Init /\ [][Next]_vars

\* After GST: honest harvesters, miners and nodes act; Byzantine
\* harvesters may stay silent forever. Byzantine miners build too, from
\* what they choose (a silent one is the fallback ranks' matter).
Fairness ==
    /\ \A h \in Honest : WF_vars(Propose(h))
    /\ \A m \in Miners : WF_vars(Certify(m))
    /\ \A n \in Nodes : WF_vars(\E b \in cert : Finalize(n, b))
    /\ WF_vars(NextRound)

LiveSpec == Spec /\ Fairness

-----------------------------------------------------------------------------
(* Properties. *)

Prefix(a, b) == Len(a) <= Len(b) /\ \A i \in 1..Len(a) : a[i] = b[i]
Prev(c, i) == IF i = 1 THEN GenesisBlock ELSE c[i - 1]

RECURSIVE SumFees(_)
SumFees(s) == IF s = << >> THEN 0 ELSE Tx(Head(s)).fee + SumFees(Tail(s))

RECURSIVE ChainFees(_)
ChainFees(c) == IF c = << >> THEN 0 ELSE SumFees(Head(c).applied) + ChainFees(Tail(c))

\* FARM-11 replay of a block's applied list: every step ready and paid for.
RECURSIVE Replay(_, _)
Replay(st, s) ==
    IF s = << >> THEN [ok |-> TRUE, st |-> st]
    ELSE LET t == Head(s)
         IN IF Tx(t).nonce = st.nonce[From(t)] /\ st.bal[From(t)] >= Cost(t)
            THEN Replay(ApplyTx(st, t), Tail(s))
            ELSE [ok |-> FALSE, st |-> st]

ProposalBlock(b) == b \in [proposer : Harvesters, txs : SUBSET TxIds]

IsBlock(b, r) ==
    /\ b.round = r
    /\ \A x \in b.refs : ProposalBlock(x)
    /\ b.equivocations \subseteq Harvesters
    /\ b.applied \in Seq(TxIds)
    /\ b.rejected \subseteq TxIds \X Reasons
    /\ b.deferred \subseteq TxIds \X (1..r)
    /\ b.fees \in Nat
    /\ b.post \in [bal : [Accounts -> Nat], nonce : [Accounts -> Nat], sink : Nat]

TypeOK ==
    /\ round \in 1..MaxRound + 1
    /\ DOMAIN final = Nodes
    /\ \A n \in Nodes : Len(final[n]) <= round /\ \A i \in DOMAIN final[n] : IsBlock(final[n][i], i)
    /\ DOMAIN inbox = Miners
    /\ \A m \in Miners : \A b \in inbox[m] : ProposalBlock(b) /\ b.txs \subseteq CertifiedBy(round)
    /\ built \subseteq Miners
    /\ Cardinality(cert) <= CertsPerRound
    /\ \A b \in cert : IsBlock(b, round)

\* spec: CONV-5, CONV-12. Converge over a miner's inbox in two sequence
\* orders (reversed, then with every input repeated) gives one block.
OrderIndependent ==
    \A m \in Miners \ built :
        (RoundOpen /\ Cardinality(CountedOf(inbox[m])) >= MinRefs) =>
            LET asc == SortBlocks(inbox[m])
            IN Converge(round, Tip, Excluded(Chain), asc)
                 = Converge(round, Tip, Excluded(Chain), Reverse(asc) \o asc)

\* spec: FIN-4.
ChainsPrefix ==
    \A n1, n2 \in Nodes : Prefix(final[n1], final[n2]) \/ Prefix(final[n2], final[n1])

\* spec: FIN-5. No transfer is applied twice in a node's chain.
NoDoubleFinalize ==
    \A n \in Nodes : LET c == final[n] IN
        \A i, j \in DOMAIN c : \A k \in DOMAIN c[i].applied, l \in DOMAIN c[j].applied :
            c[i].applied[k] = c[j].applied[l] => i = j /\ k = l

\* spec: FIN-5, CONV-4. Applied transfers of one slot are one transfer.
OnePerSlot ==
    \A n \in Nodes : LET c == final[n] IN
        \A i, j \in DOMAIN c : \A k \in DOMAIN c[i].applied, l \in DOMAIN c[j].applied :
            Slot(c[i].applied[k]) = Slot(c[j].applied[l]) => c[i].applied[k] = c[j].applied[l]

\* spec: PB-4, FIN-2. Every transfer finalized in round i was certified by then.
FinalizedWereCertified ==
    \A n \in Nodes : \A i \in DOMAIN final[n] : Range(final[n][i].applied) \subseteq CertifiedBy(i)

\* spec: FIN-8, CONV-10. Supply constant; the sink holds the finalized fees.
Conservation ==
    \A n \in Nodes : LET st == TipOf(final[n]) IN
        /\ st.bal[1] + st.bal[2] + st.sink = 2 * InitBalance
        /\ st.sink = ChainFees(final[n])

\* spec: CONV-10, CONV-3, FIN-2. applied, rejected and deferred partition
\* the candidates (less what Converge excludes), one reason each; fees are
\* the applied fees; post is the replay of applied on the previous state.
\* With IgnoreRejected nothing is excluded, so Accounting checks CONV-10 of
\* that (buggy) Converge and only RejectionsFinal sees the bug.
Accounting ==
    \A n \in Nodes : LET c == final[n] IN
        \A i \in DOMAIN c :
            LET b == c[i]
                p == Prev(c, i)
                cands == (DeferredIds(p) \cup UNION {x.txs : x \in b.refs}) \ Excluded(SubSeq(c, 1, i - 1))
                A == Range(b.applied)
                R == RejectedIds(b)
                D == DeferredIds(b)
                rp == Replay(p.post, b.applied)
            IN /\ A \cup R \cup D = cands
               /\ A \cap R = {} /\ A \cap D = {} /\ R \cap D = {}
               /\ Len(b.applied) = Cardinality(A)
               /\ Cardinality(b.rejected) = Cardinality(R)
               /\ Cardinality(b.deferred) = Cardinality(D)
               /\ b.fees = SumFees(b.applied)
               /\ rp.ok /\ rp.st = b.post

\* spec: CONV-14, FIN-2. A digest a final block rejected is never applied
\* by a later final block of the same node.
RejectionsFinal ==
    \A n \in Nodes : LET c == final[n] IN
        \A i, j \in DOMAIN c : i < j => RejectedIds(c[i]) \cap Range(c[j].applied) = {}

\* spec: CONV-9, FIN-6 (bounded). A transfer in an honest counted block of
\* round i is applied or rejected once round i + MaxDeferRounds is final.
Deadline ==
    \A n \in Nodes : LET c == final[n] IN
        \A i \in DOMAIN c : Len(c) >= i + MaxDeferRounds =>
            \A b \in c[i].refs : b.proposer \in Honest => \A t \in b.txs : Resolved(c, t)

\* spec: FIN-6. Under LiveSpec every certified transfer ends applied or
\* rejected at every honest node.
EventuallyFinal == <>(\A n \in Nodes, t \in Certified : Resolved(final[n], t))
=============================================================================
