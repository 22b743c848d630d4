------------------------ MODULE HarvesterCertification ------------------------
(***************************************************************************)
(* Threshold certification of one value per slot by a harvester quorum.  *)
(*                                                                         *)
(* A quorum of n Members certifies, per slot, a value (subject digest and *)
(* verdict, abstracted to an integer).  A certificate for <<s, v>> can be  *)
(* formed by anyone holding Quorum (q) matching votes for v in slot s.     *)
(* Honest members that are active vote at most once per slot; crashed or   *)
(* silent honest members (Members \ Byzantine \ Active) never vote;        *)
(* Byzantine members sign any number of values in any slot.                *)
(*                                                                         *)
(* Signatures are abstracted away: a tuple in votes is a vote that exists  *)
(* and verifies against its member's share (spec CERT-3, CERT-4, CERT-6),  *)
(* and a set of tuples already deduplicates members (CERT-7).              *)
(*                                                                         *)
(* Rules of spec/certification.md modelled here:                          *)
(*   CERT-5   once per slot for honest members        (CastVote)           *)
(*   CERT-9   certificate formation at q votes        (FormCertificate)    *)
(*   CERT-11  safety bound: unique per slot iff b < 2q - n                 *)
(*                                           (CertificateUniqueness)       *)
(*   CERT-12  at least q - b honest supporters        (CertificateValidity)*)
(*   CERT-13  liveness with q honest, active, agreeing members             *)
(*                                           (Termination under FairSpec)  *)
(*                                                                         *)
(* The model/certification Go package implements the same state space;    *)
(* tla/manifest.json records the state counts both must agree on.         *)
(***************************************************************************)
EXTENDS Naturals, FiniteSets

CONSTANTS
    Members,       \* member indices of the quorum roster
    Byzantine,     \* members that may sign anything
    Active,        \* honest members that are up and vote; the rest are silent
    Quorum,        \* threshold q
    Slots,         \* slot ids
    Values,        \* values a vote can carry (subject digest + verdict)
    HonestValues   \* values honest members may vote for

ASSUME ConstantsOK ==
    /\ IsFiniteSet(Members)
    /\ Byzantine \subseteq Members
    /\ Active \subseteq Members \ Byzantine
    /\ HonestValues \subseteq Values
    /\ Quorum \in 1..Cardinality(Members)

Honest == Members \ Byzantine

VARIABLES
    votes,         \* set of <<m, s, v>>: votes that exist and verify
    certificates   \* set of <<s, v>>: certificates that have been formed

vars == <<votes, certificates>>

Init ==
    /\ votes = {}
    /\ certificates = {}

\* spec: CERT-5, CERT-13. An honest, active member votes at most once per slot.
CastVote(m, s, v) ==
    /\ m \in Honest \cap Active
    /\ v \in HonestValues
    /\ ~\E w \in Values : <<m, s, w>> \in votes
    /\ votes' = votes \cup {<<m, s, v>>}
    /\ UNCHANGED certificates

\* Byzantine members sign anything, any number of values per slot.
ByzantineVote(m, s, v) ==
    /\ m \in Byzantine
    /\ v \in Values
    /\ <<m, s, v>> \notin votes
    /\ votes' = votes \cup {<<m, s, v>>}
    /\ UNCHANGED certificates

Supporters(s, v) == {m \in Members : <<m, s, v>> \in votes}

\* spec: CERT-9. Anyone holding q matching votes can combine them.
FormCertificate(s, v) ==
    /\ Cardinality(Supporters(s, v)) >= Quorum
    /\ <<s, v>> \notin certificates
    /\ certificates' = certificates \cup {<<s, v>>}
    /\ UNCHANGED votes

Next ==
    \E m \in Members, s \in Slots, v \in Values :
        \/ CastVote(m, s, v)
        \/ ByzantineVote(m, s, v)
        \/ FormCertificate(s, v)

Spec == Init /\ [][Next]_vars

\* Only honest behaviour is assumed fair: Byzantine members may stay silent.
Fairness ==
    /\ \A m \in Honest \cap Active, s \in Slots, v \in HonestValues :
           WF_vars(CastVote(m, s, v))
    /\ \A s \in Slots, v \in Values : WF_vars(FormCertificate(s, v))

FairSpec == Spec /\ Fairness

-----------------------------------------------------------------------------
TypeOK ==
    /\ votes \subseteq Members \X Slots \X Values
    /\ certificates \subseteq Slots \X Values

\* spec: CERT-11. Holds for every behaviour iff Cardinality(Byzantine) < 2q - n.
CertificateUniqueness ==
    \A s \in Slots, v1, v2 \in Values :
        (<<s, v1>> \in certificates /\ <<s, v2>> \in certificates) => v1 = v2

\* spec: CERT-12.
CertificateValidity ==
    \A c \in certificates :
        Cardinality(Supporters(c[1], c[2]) \cap Honest)
            >= Quorum - Cardinality(Byzantine)

\* spec: CERT-13. Checked under FairSpec on the liveness models only.
Termination ==
    \A s \in Slots : <>(\E v \in Values : <<s, v>> \in certificates)
=============================================================================
