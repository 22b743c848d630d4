------------------------------ MODULE Pacemaker ------------------------------
(***************************************************************************)
(* Chained HotStuff with the modified pacemaker of seeds/001 (section 3.2, *)
(* Algorithms 1 and 2), at the level of blocks and quorum certificates.    *)
(* Rule IDs (PM-n) are those of spec/pacemaker.md.                         *)
(*                                                                         *)
(* Abstractions (tla/README.md says more):                                 *)
(*  - Messages are sets that only grow: a proposal, vote, complaint, QC or *)
(*    TC once sent can be received at any later time, any number of times, *)
(*    or never. Timeouts are nondeterministic events.                      *)
(*  - Signatures are abstracted: a vote or complaint in a set exists and   *)
(*    verifies (PM-3); nobody can forge an honest one. A QC exists only if *)
(*    Quorum replicas voted for its block, a TC only if Quorum replicas    *)
(*    complained in its view.                                              *)
(*  - Byzantine replicas hold their own keys, so their vote for any block  *)
(*    and their complaint for any view are always available: they are not  *)
(*    stored but counted in Voters and Complainers. This is exact, since   *)
(*    extra signatures never disable an action. Byzantine replicas see all *)
(*    traffic: they can combine any Quorum of votes or complaints into a   *)
(*    QC or TC at any time (ByzantineFormQC, ByzantineFormTC), and as      *)
(*    leader of v propose up to two blocks in view v (ByzantinePropose),   *)
(*    on any known parent, with any formed QC the parent extends as        *)
(*    justify.                                                             *)
(*  - A block is the sequence of the real blocks from genesis's child to   *)
(*    it, entry i = <<view, justify view>>; the justify node is the        *)
(*    ancestor of that view (genesis for view 0). Dummy blocks (PM-1) are  *)
(*    implicit: a block's direct parent is its predecessor in the sequence *)
(*    only when their views are consecutive. Height = view + 1. Commands   *)
(*    are abstracted away.                                                 *)
(*  - A QC is named by its block (a block has one view); genesis has the   *)
(*    genesis QC. A TC is named by its view.                               *)
(*  - bLeaf is qcHigh's block: an honest leader extends qcHigh.node. It    *)
(*    proposes as it enters the view (ONNEXTSYNCVIEW calls ONBEAT), so     *)
(*    proposing is part of the step that moves it there (NextSyncView).    *)
(*  - NewView(v) is handled by the leader of v + 1 while it is in view v   *)
(*    (earlier ones wait in a buffer, later ones are stale); any message   *)
(*    carrying a QC of a view >= curView is a catch-up.                    *)
(*  - Timers may expire only in TimeoutViews (Spec); after GST (LiveSpec)  *)
(*    only in views whose leader is faulty.                                *)
(*  - Views are bounded by MaxView: nothing is proposed or complained      *)
(*    about after MaxView, so every behaviour is finite.                   *)
(*                                                                         *)
(* model/pacemaker implements the same state space in Go; the state counts *)
(* in tla/manifest.json must agree exactly.                                *)
(***************************************************************************)
EXTENDS Naturals, Sequences, FiniteSets

CONSTANTS
    Replicas,   \* 1..n
    Byzantine,  \* replicas that may do anything their keys allow
    Silent,     \* honest replicas that have crashed: they never act
    Quorum,     \* threshold q for QCs and TCs
    MaxView,    \* last view in which anything is proposed or complained about
    TimeoutViews  \* views in which an honest replica's timer may expire

ASSUME ConstantsOK ==
    /\ Replicas = 1..Cardinality(Replicas)
    /\ Byzantine \subseteq Replicas
    /\ Silent \subseteq Replicas \ Byzantine
    /\ Quorum \in 1..Cardinality(Replicas)
    /\ MaxView \in 1..254
    /\ TimeoutViews \subseteq 1..MaxView

N == Cardinality(Replicas)
Honest == Replicas \ Byzantine
Active == Honest \ Silent
Views == 1..MaxView

\* spec: PM-11. Round robin over replicas 1..n.
Leader(v) == (v % N) + 1

-----------------------------------------------------------------------------
(* Blocks (PM-1, PM-2). *)

Genesis == << >>
View(b) == IF b = Genesis THEN 0 ELSE b[Len(b)][1]
Height(b) == View(b) + 1
Parent(b) == IF b = Genesis THEN Genesis ELSE SubSeq(b, 1, Len(b) - 1)
Extends(b, a) == Len(a) <= Len(b) /\ SubSeq(b, 1, Len(a)) = a
JustifyNode(b) ==
    IF b = Genesis \/ b[Len(b)][2] = 0 THEN Genesis
    ELSE SubSeq(b, 1, CHOOSE i \in 1..Len(b) - 1 : b[i][1] = b[Len(b)][2])
\* spec: PM-1 CREATELEAF: the block of view v on parent with QC justify.
NewBlock(parent, v, justify) == Append(parent, <<v, View(justify)>>)
\* c's parent is p with no dummy in between (consecutive views).
DirectParent(c, p) == c # Genesis /\ Parent(c) = p /\ View(c) = View(p) + 1
\* The real blocks committed with b (PM-7): b and its ancestors but genesis.
Ancestry(b) == {SubSeq(b, 1, k) : k \in 1..Len(b)}

WellFormed(b) ==
    \A i \in 1..Len(b) :
        /\ b[i][1] \in Views
        /\ i > 1 => b[i][1] > b[i - 1][1]
        /\ b[i][2] = 0 \/ \E j \in 1..i - 1 : b[j][1] = b[i][2]

-----------------------------------------------------------------------------
VARIABLES
    curView,     \* curView[r]: the view replica r is in
    vheight,     \* vheight[r]: height of the last block r voted for
    bLock,       \* bLock[r]: the locked block
    qcHigh,      \* qcHigh[r]: the block of the highest QC r knows
    committed,   \* committed[r]: the blocks r has committed
    blocks,      \* every block proposed
    votes,       \* <<r, b>>: honest r voted for b
    complaints,  \* <<r, v>>: honest r complained in view v
    qcs,         \* blocks with a QC
    tcs          \* views with a TC (a NextView certificate)

replicaVars == <<curView, vheight, bLock, qcHigh, committed>>
vars == <<curView, vheight, bLock, qcHigh, committed, blocks, votes, complaints, qcs, tcs>>

\* Byzantine votes and complaints are always available (see the header).
Voters(b) == {r \in Honest : <<r, b>> \in votes} \cup Byzantine
Complainers(v) == {r \in Honest : <<r, v>> \in complaints} \cup Byzantine

\* spec: PM-2. Every replica starts with ONNEXTSYNCVIEW(1): the leader of
\* view 1 proposes at once, if it is active.
Init ==
    /\ curView = [r \in Honest |-> 1]
    /\ vheight = [r \in Honest |-> Height(Genesis)]
    /\ bLock = [r \in Honest |-> Genesis]
    /\ qcHigh = [r \in Honest |-> Genesis]
    /\ committed = [r \in Honest |-> {}]
    /\ blocks = IF Leader(1) \in Active THEN {NewBlock(Genesis, 1, Genesis)} ELSE {}
    /\ votes = {}
    /\ complaints = {}
    /\ qcs = {Genesis}                               \* the genesis QC
    /\ tcs = {}

\* spec: PM-12, UPDATEQCHIGH with the assignment the right way round.
UpdateQCHigh(r, b) == IF Height(b) > Height(qcHigh[r]) THEN b ELSE qcHigh[r]

\* spec: PM-5, the vote rule (safety and liveness rules).
SafeNode(r, b) ==
    /\ Height(b) > vheight[r]
    /\ \/ Extends(b, bLock[r])
       \/ Height(JustifyNode(b)) > Height(bLock[r])

-----------------------------------------------------------------------------
(* Honest replicas (Algorithms 1 and 2). *)

\* spec: PM-13, PM-10. ONNEXTSYNCVIEW(v): r enters view v and, through
\* ONBEAT/ONPROPOSE, proposes at once if it leads v: CREATELEAF on the
\* block of its (new) qcHigh, with that QC as justify. Part of every step
\* that moves r to a view it may lead; qcHigh' must be fixed before it.
NextSyncView(r, v) ==
    /\ curView' = [curView EXCEPT ![r] = v]
    /\ blocks' = IF v \in Views /\ Leader(v) = r /\ \A b \in blocks : View(b) # v
                 THEN blocks \cup {NewBlock(qcHigh'[r], v, qcHigh'[r])}
                 ELSE blocks

\* spec: PM-4, PM-5, PM-6, PM-7, PM-8. ONRECEIVEPROPOSAL for the current
\* view: vote if SafeNode, then UPDATE (qcHigh, lock on the 2-chain head,
\* commit on a 3-chain of direct parents), then move to the next view unless
\* r is the next leader, which waits for the votes.
ReceiveProposal(r, b) ==
    LET v == curView[r]
        vote == SafeNode(r, b)
        b2 == JustifyNode(b)     \* b''
        b1 == JustifyNode(b2)    \* b'
        b0 == JustifyNode(b1)    \* b
    IN
    /\ r \in Active
    /\ b \in blocks
    /\ View(b) = v
    /\ <<r, v>> \notin complaints                   \* PM-15: view abandoned
    /\ votes' = IF vote THEN votes \cup {<<r, b>>} ELSE votes
    /\ vheight' = IF vote THEN [vheight EXCEPT ![r] = Height(b)] ELSE vheight
    /\ qcHigh' = [qcHigh EXCEPT ![r] = UpdateQCHigh(r, b2)]
    /\ bLock' = IF Height(b1) > Height(bLock[r]) THEN [bLock EXCEPT ![r] = b1] ELSE bLock
    /\ committed' = IF DirectParent(b2, b1) /\ DirectParent(b1, b0)
                    THEN [committed EXCEPT ![r] = @ \cup Ancestry(b0)]
                    ELSE committed
    \* r does not lead v + 1 when it moves there: nothing to propose.
    /\ curView' = IF r = Leader(v + 1) THEN curView ELSE [curView EXCEPT ![r] = v + 1]
    /\ UNCHANGED <<blocks, complaints, qcs, tcs>>

\* spec: PM-9. ONRECEIVEVOTE at the q-th vote: the leader of View(b) + 1,
\* still in a view <= View(b), forms the QC, updates qcHigh and moves on
\* to View(b) + 1, where it proposes.
FormQC(r, b) ==
    /\ r \in Active
    /\ b \in blocks
    /\ r = Leader(View(b) + 1)
    /\ curView[r] <= View(b)
    /\ Cardinality(Voters(b)) >= Quorum
    /\ qcs' = qcs \cup {b}
    /\ qcHigh' = [qcHigh EXCEPT ![r] = UpdateQCHigh(r, b)]
    /\ NextSyncView(r, View(b) + 1)
    /\ UNCHANGED <<vheight, bLock, committed, votes, complaints, tcs>>

\* spec: PM-15. ONTIMEOUT: complain once in the current view, which is then
\* abandoned (no more proposals of it are accepted).
Timeout(r) ==
    /\ r \in Active
    /\ curView[r] \in TimeoutViews
    /\ <<r, curView[r]>> \notin complaints
    /\ complaints' = complaints \cup {<<r, curView[r]>>}
    /\ UNCHANGED <<replicaVars, blocks, votes, qcs, tcs>>

\* After GST (LiveSpec only): a replica times out only when the leader of
\* its view is faulty.
TimeoutAfterGST(r) ==
    /\ r \in Active
    /\ Leader(curView[r]) \in Byzantine \cup Silent
    /\ Timeout(r)

\* spec: PM-16. ONRECEIVECOMPLAIN at the q-th complaint: the leader of v + 1,
\* still in a view <= v, forms TC(v) and broadcasts NextView; it receives
\* its own broadcast at once and moves on to v + 1, where it proposes.
FormTC(r, v) ==
    /\ r \in Active
    /\ v \in Views
    /\ r = Leader(v + 1)
    /\ curView[r] <= v
    /\ Cardinality(Complainers(v)) >= Quorum
    /\ tcs' = tcs \cup {v}
    /\ UNCHANGED <<vheight, bLock, qcHigh, committed, votes, complaints, qcs>>
    /\ NextSyncView(r, v + 1)

\* spec: PM-14, PM-17. A message carrying the formed QC of b: a NewView,
\* handled by the next leader while it is in the view before the one it
\* leads (PM-14; earlier NewViews wait in its buffer, later ones are stale,
\* PM-18), or any message whose QC is of a view >= curView, a catch-up
\* (PM-17). Both apply UPDATEQCHIGH; a catch-up then enters View(b) + 1.
ReceiveNewView(r, b) ==
    /\ r \in Active
    /\ b \in qcs
    /\ \/ View(b) >= curView[r]
       \/ r = Leader(curView[r] + 1) /\ Height(b) > Height(qcHigh[r])
    /\ qcHigh' = [qcHigh EXCEPT ![r] = UpdateQCHigh(r, b)]
    /\ IF View(b) >= curView[r]
       THEN NextSyncView(r, View(b) + 1)
       ELSE UNCHANGED <<curView, blocks>>
    /\ UNCHANGED <<vheight, bLock, committed, votes, complaints, qcs, tcs>>

\* spec: PM-17. ONRECEIVENEXTVIEW: catch-up on TC(v) with v >= curView.
ReceiveNextView(r, v) ==
    /\ r \in Active
    /\ v \in tcs
    /\ v >= curView[r]
    /\ UNCHANGED <<vheight, bLock, qcHigh, committed, votes, complaints, qcs, tcs>>
    /\ NextSyncView(r, v + 1)

-----------------------------------------------------------------------------
(* Byzantine replicas: arbitrary behaviour constrained by signatures. *)

\* An equivocating leader: up to two blocks in a view it leads, on any
\* known parent, justified by any formed QC that the parent extends.
ByzantinePropose(r, v, parent, j) ==
    /\ r \in Byzantine
    /\ Leader(v) = r
    /\ parent \in blocks \cup {Genesis}
    /\ View(parent) < v
    /\ j \in qcs
    /\ Extends(parent, j)
    /\ Cardinality({b \in blocks : View(b) = v}) < 2
    /\ NewBlock(parent, v, j) \notin blocks
    /\ blocks' = blocks \cup {NewBlock(parent, v, j)}
    /\ UNCHANGED <<replicaVars, votes, complaints, qcs, tcs>>

\* Combining any Quorum of votes into a QC, at any time: Byzantine
\* replicas see all traffic, not only the votes sent to them.
ByzantineFormQC(r, b) ==
    /\ r \in Byzantine
    /\ b \in blocks \ qcs
    /\ Cardinality(Voters(b)) >= Quorum
    /\ qcs' = qcs \cup {b}
    /\ UNCHANGED <<replicaVars, blocks, votes, complaints, tcs>>

\* Combining any Quorum of complaints into TC(v), at any time.
ByzantineFormTC(r, v) ==
    /\ r \in Byzantine
    /\ v \in Views \ tcs
    /\ Cardinality(Complainers(v)) >= Quorum
    /\ tcs' = tcs \cup {v}
    /\ UNCHANGED <<replicaVars, blocks, votes, complaints, qcs>>

-----------------------------------------------------------------------------
HonestStep(r, timeout) ==
    \/ \E b \in blocks : ReceiveProposal(r, b)
    \/ \E b \in blocks : FormQC(r, b)
    \/ timeout
    \/ \E v \in Views : FormTC(r, v)
    \/ \E b \in qcs : ReceiveNewView(r, b)
    \/ \E v \in tcs : ReceiveNextView(r, v)

ByzantineStep ==
    \E r \in Byzantine :
        \/ \E v \in Views, p \in blocks \cup {Genesis}, j \in qcs :
               ByzantinePropose(r, v, p, j)
        \/ \E b \in blocks : ByzantineFormQC(r, b)
        \/ \E v \in Views : ByzantineFormTC(r, v)

Next == (\E r \in Active : HonestStep(r, Timeout(r))) \/ ByzantineStep

Spec == Init /\ [][Next]_vars

\* After GST: timeouts only in views with a faulty leader.
LiveNext == (\E r \in Active : HonestStep(r, TimeoutAfterGST(r))) \/ ByzantineStep

\* Weak fairness for every honest replica's actions only: messages between
\* active honest replicas are eventually delivered; Byzantine replicas may
\* stay silent forever.
Fairness ==
    \A r \in Active :
        /\ WF_vars(\E b \in blocks : ReceiveProposal(r, b))
        /\ WF_vars(\E b \in blocks : FormQC(r, b))
        /\ WF_vars(TimeoutAfterGST(r))
        /\ WF_vars(\E v \in Views : FormTC(r, v))
        /\ WF_vars(\E b \in qcs : ReceiveNewView(r, b))
        /\ WF_vars(\E v \in tcs : ReceiveNextView(r, v))

LiveSpec == Init /\ [][LiveNext]_vars /\ Fairness

-----------------------------------------------------------------------------
TypeOK ==
    /\ curView \in [Honest -> 1..MaxView + 1]
    /\ vheight \in [Honest -> 1..MaxView + 1]
    /\ \A b \in blocks : b # Genesis /\ WellFormed(b)
    /\ qcs \subseteq blocks \cup {Genesis}
    /\ Genesis \in qcs
    /\ DOMAIN bLock = Honest /\ DOMAIN qcHigh = Honest /\ DOMAIN committed = Honest
    /\ \A r \in Honest :
           /\ bLock[r] \in qcs
           /\ qcHigh[r] \in qcs
           /\ View(qcHigh[r]) < curView[r]
           /\ committed[r] \subseteq blocks
    /\ votes \subseteq Honest \X blocks
    /\ complaints \subseteq Honest \X Views
    /\ tcs \subseteq Views

\* spec: PM-23 (agreement).
NoConflictingCommits ==
    \A r1, r2 \in Honest : \A a \in committed[r1], c \in committed[r2] :
        Extends(a, c) \/ Extends(c, a)

\* spec: PM-24. Holds when |Byzantine| < 2 Quorum - n; pm_n5_q3_b1_bug
\* breaks it at the bound.
UniqueQCPerView ==
    \A a, c \in qcs : View(a) = View(c) => a = c

\* spec: PM-25, an action property.
LockMonotonic == [][\A r \in Honest : Height(bLock'[r]) >= Height(bLock[r])]_vars

\* spec: PM-26. Every committed block is an ancestor (or the head) of the
\* head of a 3-chain of direct parents whose last block has a QC.
CommitOnConsecutive3Chain ==
    \A r \in Honest : \A a \in committed[r] :
        \E b2 \in qcs :
            /\ DirectParent(b2, JustifyNode(b2))
            /\ DirectParent(JustifyNode(b2), JustifyNode(JustifyNode(b2)))
            /\ Extends(JustifyNode(JustifyNode(b2)), a)

\* spec: PM-27, an action property.
ViewMonotonic == [][\A r \in Honest : curView'[r] >= curView[r]]_vars

\* spec: PM-28.
NextViewNeedsComplaintQuorum ==
    \A v \in tcs : Cardinality(Complainers(v)) >= Quorum

\* spec: PM-3. Every QC but genesis's has Quorum voters (a forged QC does not).
QCNeedsVoteQuorum ==
    \A b \in qcs \ {Genesis} : Cardinality(Voters(b)) >= Quorum

\* spec: PM-5. An honest replica votes at most once per view.
VoteOncePerView ==
    \A x, y \in votes : x[1] = y[1] /\ View(x[2]) = View(y[2]) => x = y

\* spec: PM-6. A replica's lock is at least the 2-chain head of every block
\* it voted for (it locked when it processed that block).
LockCoversVotes ==
    \A x \in votes : Height(bLock[x[1]]) >= Height(JustifyNode(JustifyNode(x[2])))

\* spec: PM-29. Checked under LiveSpec only.
Progress == <>(\E r \in Honest : committed[r] # {})
=============================================================================
