(** * Liveness arithmetic and the tolerated fault counts (Theorem 3)

    CERT-13: a certificate forms when at least [q] honest active members
    vote the same value; with fewer, or when they split their votes and
    neither side has [q], the Byzantine members (by withholding their
    votes) and the crashed members (by staying silent) prevent it.  The
    statements quantify over every Byzantine behaviour.  Then the default
    threshold [q = ceil(0.6 n)] (CERT-1), computed in nat as [(3n + 4) / 5],
    the exact numbers of crashes and Byzantine members it tolerates as
    functions of [n], and those numbers restated as certificate guarantees. *)

From Coq Require Import Arith Lia List.
From FHBFT Require Import Quorum Certificate.
Import ListNotations.

(** ** CERT-13, sufficiency: [q] members that all voted [v] form a certificate. *)
Theorem liveness_sufficient : forall (V : Type) (n q : nat) (H : list nat)
  (votes : list (nat * V)) (v : V),
  NoDup H -> incl H (members n) -> q <= length H ->
  (forall m, In m H -> In (m, v) votes) ->
  certificate n q votes H v.
Proof. intros. unfold certificate. auto. Qed.

(** ** CERT-13, necessity: if only the members in [H] vote (Byzantine
    members withhold, crashed members are silent), every certificate needs
    [q <= |H|]. *)
Theorem liveness_necessary : forall (V : Type) (n q : nat) (H : list nat)
  (votes : list (nat * V)) (S : list nat) (v : V),
  (forall m x, In (m, x) votes -> In m H) ->
  certificate n q votes S v -> q <= length H.
Proof.
  intros V n q H votes S v Hv [N [I [L Vs]]].
  assert (incl S H) as Hinc by (intros m Hm; exact (Hv m v (Vs m Hm))).
  pose proof (NoDup_incl_length N Hinc). lia.
Qed.

(** The vote log when exactly the honest active members [H] vote, all for [v]. *)
Definition unanimous {V : Type} (H : list nat) (v : V) : list (nat * V) :=
  map (fun m => (m, v)) H.

(** ** Theorem 3: a certificate can form iff at least [q] honest members are active. *)
Theorem liveness_iff : forall (V : Type) (n q : nat) (H : list nat) (v : V),
  NoDup H -> incl H (members n) ->
  ((exists S, certificate n q (unanimous H v) S v) <-> q <= length H).
Proof.
  intros V n q H v N I. split.
  - intros [S C]. apply (liveness_necessary V n q H (unanimous H v) S v); auto.
    intros m x Hm. unfold unanimous in Hm. apply in_map_iff in Hm as [m' [E Hm']].
    inversion E; subst. exact Hm'.
  - intros L. exists H. apply liveness_sufficient; auto.
    intros m Hm. unfold unanimous. apply in_map_iff. exists m. auto.
Qed.

(** ** CERT-13 against every adversary.

    [liveness_iff] fixes the vote log.  The statements below quantify over
    the adversary instead.  The slot's log is the honest active members'
    votes followed by [bv], anything the Byzantine members choose to send:
    any values, several per member, or nothing at all (withholding,
    [bv = []]).  Members that are neither in [H] nor in [byz] are crashed
    and send nothing. *)
Definition byz_votes {V : Type} (byz : list nat) (bv : list (nat * V)) : Prop :=
  forall m x, In (m, x) bv -> In m byz.

Lemma byz_votes_nil : forall (V : Type) byz, @byz_votes V byz [].
Proof. intros V byz m x []. Qed.

Lemma in_unanimous : forall (V : Type) (H : list nat) (v : V) m x,
  In (m, x) (unanimous H v) <-> In m H /\ x = v.
Proof.
  intros V H v m x. unfold unanimous. rewrite in_map_iff. split.
  - intros [m' [E Hm]]. inversion E; subst. auto.
  - intros [Hm E]. subst. exists m. auto.
Qed.

(** Unanimous case, "for every behaviour" direction: whatever the
    Byzantine members send or withhold, a certificate for the value the
    honest active members [H] all vote forms iff [q <= |H|]. *)
Theorem liveness_adversarial : forall (V : Type) (n q : nat) (H byz : list nat) (v : V),
  NoDup H -> incl H (members n) -> (forall m, In m H -> ~ In m byz) ->
  ((forall bv, byz_votes byz bv -> exists S, certificate n q (unanimous H v ++ bv) S v)
   <-> q <= length H).
Proof.
  intros V n q H byz v N I D. split.
  - intros All. destruct (All [] (byz_votes_nil V byz)) as [S C].
    rewrite app_nil_r in C. apply (proj1 (liveness_iff V n q H v N I)). exists S. exact C.
  - intros L bv _. exists H. apply liveness_sufficient; auto.
    intros m Hm. apply in_or_app. left. apply in_unanimous. auto.
Qed.

(** Unanimous case, "some behaviour prevents it" direction: with fewer
    than [q] honest active members, the Byzantine members have a behaviour
    (withholding) under which no certificate forms for any value, and only
    then. *)
Theorem liveness_preventable : forall (V : Type) (n q : nat) (H byz : list nat) (v : V),
  NoDup H -> incl H (members n) -> (forall m, In m H -> ~ In m byz) ->
  (length H < q <->
   exists bv, byz_votes byz bv /\ forall S x, ~ certificate n q (unanimous H v ++ bv) S x).
Proof.
  intros V n q H byz v N I D. split.
  - intros L. exists []. split; [apply byz_votes_nil|]. intros S x C.
    rewrite app_nil_r in C.
    assert (q <= length H); [|lia].
    apply (liveness_necessary V n q H (unanimous H v) S x); auto.
    intros m y Hm. apply in_unanimous in Hm. tauto.
  - intros [bv [_ No]]. destruct (le_lt_dec q (length H)) as [L|L]; [|exact L].
    exfalso. apply (No H v). apply liveness_sufficient; auto.
    intros m Hm. apply in_or_app. left. apply in_unanimous. auto.
Qed.

(** Split votes with everyone Byzantine withholding: if [Hv] vote [v],
    [Hw] vote [w <> v] and neither side has [q] members, no certificate
    forms, for any value. *)
Lemma split_withheld_no_certificate : forall (V : Type) (n q : nat) (Hv Hw : list nat)
  (v w : V) (S : list nat) (x : V),
  v <> w -> length Hv < q -> length Hw < q ->
  ~ certificate n q (unanimous Hv v ++ unanimous Hw w) S x.
Proof.
  intros V n q Hv Hw v w S x Hvw Lv Lw [N [_ [L Vs]]].
  assert (Side : forall m, In m S -> (In m Hv /\ x = v) \/ (In m Hw /\ x = w)).
  { intros m Hm. specialize (Vs m Hm). apply in_app_iff in Vs.
    rewrite !in_unanimous in Vs. exact Vs. }
  destruct S as [|m0 S']; [simpl in L; lia|].
  destruct (Side m0 (or_introl eq_refl)) as [[_ E]|[_ E]]; subst x.
  - assert (incl (m0 :: S') Hv) as Inc.
    { intros m Hm. destruct (Side m Hm) as [[A _]|[_ E]]; [exact A|congruence]. }
    pose proof (NoDup_incl_length N Inc). lia.
  - assert (incl (m0 :: S') Hw) as Inc.
    { intros m Hm. destruct (Side m Hm) as [[_ E]|[A _]]; [congruence|exact A]. }
    pose proof (NoDup_incl_length N Inc). lia.
Qed.

(** CERT-13, split case: honest active members [Hv] vote [v] and [Hw]
    vote [w <> v].  A certificate (for some value) forms for every
    Byzantine behaviour iff one side alone has [q] members; when neither
    side has [q], Byzantine withholding prevents every certificate. *)
Theorem liveness_split : forall (V : Type) (n q : nat) (Hv Hw byz : list nat) (v w : V),
  v <> w -> NoDup Hv -> NoDup Hw -> incl Hv (members n) -> incl Hw (members n) ->
  (forall m, In m Hv -> ~ In m Hw) ->
  (forall m, In m Hv -> ~ In m byz) -> (forall m, In m Hw -> ~ In m byz) ->
  ((forall bv, byz_votes byz bv ->
      exists S x, certificate n q (unanimous Hv v ++ unanimous Hw w ++ bv) S x)
   <-> q <= length Hv \/ q <= length Hw).
Proof.
  intros V n q Hv Hw byz v w Hvw Nv Nw Iv Iw _ _ _. split.
  - intros All. destruct (All [] (byz_votes_nil V byz)) as [S [x C]].
    rewrite app_nil_r in C.
    destruct (le_lt_dec q (length Hv)) as [Lv|Lv]; [left; exact Lv|].
    destruct (le_lt_dec q (length Hw)) as [Lw|Lw]; [right; exact Lw|].
    exfalso. exact (split_withheld_no_certificate V n q Hv Hw v w S x Hvw Lv Lw C).
  - intros [Lv|Lw] bv _.
    + exists Hv, v. apply liveness_sufficient; auto.
      intros m Hm. apply in_or_app. left. apply in_unanimous. auto.
    + exists Hw, w. apply liveness_sufficient; auto.
      intros m Hm. apply in_or_app. right. apply in_or_app. left. apply in_unanimous. auto.
Qed.

(** The split case as the spec words it: when neither side has [q], the
    Byzantine members have a behaviour (withholding) that prevents any
    certificate in the slot. *)
Corollary liveness_split_preventable : forall (V : Type) (n q : nat) (Hv Hw byz : list nat) (v w : V),
  v <> w -> length Hv < q -> length Hw < q ->
  exists bv, byz_votes byz bv /\
    forall S x, ~ certificate n q (unanimous Hv v ++ unanimous Hw w ++ bv) S x.
Proof.
  intros V n q Hv Hw byz v w Hvw Lv Lw. exists []. split; [apply byz_votes_nil|].
  intros S x. rewrite app_nil_r. apply split_withheld_no_certificate; assumption.
Qed.

(** ** The default threshold [q = ceil(0.6 n)] (CERT-1). *)
Definition q60 (n : nat) : nat := (3 * n + 4) / 5.

Lemma q60_spec : forall n, 3 * n <= 5 * q60 n /\ 5 * q60 n < 3 * n + 5.
Proof.
  intros n. unfold q60.
  pose proof (Nat.div_mod (3 * n + 4) 5 ltac:(discriminate)).
  pose proof (Nat.mod_upper_bound (3 * n + 4) 5 ltac:(discriminate)). lia.
Qed.

(** [q60 n] is the least [k] with [3n <= 5k], i.e. the ceiling of [0.6 n]. *)
Theorem q60_is_ceiling : forall n k, 3 * n <= 5 * k <-> q60 n <= k.
Proof. intros n k. pose proof (q60_spec n). lia. Qed.

(** CERT-1 accepts the default threshold for every [n >= 1]. *)
Theorem q60_valid : forall n, 1 <= n -> 1 <= q60 n /\ q60 n <= n /\ n < 2 * q60 n.
Proof. intros n Hn. pose proof (q60_spec n). lia. Qed.

Definition crash_tol (n : nat) : nat := n - q60 n.
Definition byz_tol (n : nat) : nat := 2 * q60 n - n - 1.

(** ** Crash tolerance: with [c] crashed (or silent) members out of [n] and
    everyone else honest, a certificate can form iff [c <= n - q]. *)
Theorem crash_tolerance : forall n c, c <= n -> (q60 n <= n - c <-> c <= crash_tol n).
Proof. intros n c Hc. unfold crash_tol. pose proof (q60_spec n). lia. Qed.

(** With [b] Byzantine members withholding and [c] crashed: liveness iff
    [b + c <= n - q]. *)
Theorem withhold_tolerance : forall n b c, b + c <= n ->
  (q60 n <= n - b - c <-> b + c <= crash_tol n).
Proof. intros n b c Hc. unfold crash_tol. pose proof (q60_spec n). lia. Qed.

(** ** The tolerated counts in terms of certificates.  The roster is
    split into Byzantine members [byz], crashed members [C], and the
    honest active rest [active n byz C], who all vote [v]. *)
Definition active (n : nat) (byz C : list nat) : list nat := diff (diff (members n) byz) C.

Lemma diff_length_incl : forall A B, NoDup A -> NoDup B -> incl B A ->
  length (diff A B) = length A - length B.
Proof.
  intros A B NA NB IB. pose proof (inter_diff_length A B).
  assert (length (inter A B) <= length B).
  { apply NoDup_incl_length; [apply inter_NoDup; exact NA|].
    intros x Hx. apply inter_spec in Hx. tauto. }
  assert (length B <= length (inter A B)).
  { apply NoDup_incl_length; [exact NB|]. intros x Hx. apply inter_spec. auto. }
  lia.
Qed.

Lemma active_spec : forall n byz C,
  NoDup byz -> NoDup C -> incl byz (members n) -> incl C (members n) ->
  (forall m, In m byz -> ~ In m C) ->
  NoDup (active n byz C) /\ incl (active n byz C) (members n) /\
  (forall m, In m (active n byz C) -> ~ In m byz) /\
  length byz + length C <= n /\
  length (active n byz C) = n - length byz - length C.
Proof.
  intros n byz C Nb NC Ib IC D. unfold active.
  assert (Nm : NoDup (members n)) by apply seq_NoDup.
  assert (ICd : incl C (diff (members n) byz)).
  { intros m Hm. apply diff_spec. split; [apply IC; exact Hm|]. intro Hb. exact (D m Hb Hm). }
  pose proof (diff_length_incl (members n) byz Nm Nb Ib) as L1.
  pose proof (diff_length_incl (diff (members n) byz) C (diff_NoDup _ _ Nm) NC ICd) as L2.
  pose proof (NoDup_incl_length NC ICd) as L3.
  pose proof (NoDup_incl_length Nb Ib) as L4.
  rewrite members_length in L1, L4.
  split; [apply diff_NoDup, diff_NoDup, Nm|]. split.
  { intros m Hm. apply diff_spec in Hm as [Hm _]. apply diff_spec in Hm. tauto. }
  split.
  { intros m Hm. apply diff_spec in Hm as [Hm _]. apply diff_spec in Hm. tauto. }
  lia.
Qed.

(** With [q = ceil(0.6 n)], [b] Byzantine and [c] crashed members: a
    certificate for the honest active members' value is guaranteed against
    every Byzantine behaviour iff [b + c <= n - q]. *)
Corollary withhold_tolerance_certificate : forall (V : Type) (n : nat) (byz C : list nat) (v : V),
  NoDup byz -> NoDup C -> incl byz (members n) -> incl C (members n) ->
  (forall m, In m byz -> ~ In m C) ->
  ((forall bv, byz_votes byz bv ->
      exists S, certificate n (q60 n) (unanimous (active n byz C) v ++ bv) S v)
   <-> length byz + length C <= crash_tol n).
Proof.
  intros V n byz C v Nb NC Ib IC D.
  destruct (active_spec n byz C Nb NC Ib IC D) as [NA [IA [DA [Le La]]]].
  rewrite (liveness_adversarial V n (q60 n) (active n byz C) byz v NA IA DA), La.
  apply withhold_tolerance. exact Le.
Qed.

(** No Byzantine members, [c] crashed: a certificate forms iff [c <= n - q]. *)
Corollary crash_tolerance_certificate : forall (V : Type) (n : nat) (C : list nat) (v : V),
  NoDup C -> incl C (members n) ->
  ((exists S, certificate n (q60 n) (unanimous (active n [] C) v) S v)
   <-> length C <= crash_tol n).
Proof.
  intros V n C v NC IC.
  destruct (active_spec n [] C (NoDup_nil _) NC (fun m H => match H with end) IC
              (fun m H => match H with end)) as [NA [IA [_ [Le La]]]].
  rewrite (liveness_iff V n (q60 n) (active n [] C) v NA IA), La.
  simpl in *. rewrite Nat.sub_0_r. apply crash_tolerance. exact Le.
Qed.

(** ** Byzantine tolerance for safety (CERT-11 with the default threshold). *)
Theorem byz_tolerance : forall n b, 1 <= n -> (b + n < 2 * q60 n <-> b <= byz_tol n).
Proof. intros n b Hn. unfold byz_tol. pose proof (q60_spec n). lia. Qed.

Theorem byz_tolerance_safe : forall (V : Type) (v0 w0 : V) n b, v0 <> w0 -> 1 <= n ->
  (safe V n (q60 n) b <-> b <= byz_tol n).
Proof.
  intros V v0 w0 n b Hvw Hn. rewrite (safety_bound_iff V v0 w0 n (q60 n) b Hvw).
  - apply byz_tolerance. exact Hn.
  - apply q60_valid. exact Hn.
Qed.

(** About 40 % may crash, about 20 % may be Byzantine:
    [5 (n - q) <= 2n < 5 (n - q) + 5] and [5 b_max <= n + 3 <= 5 b_max + 8]. *)
Theorem tolerance_percentages : forall n, 1 <= n ->
  5 * crash_tol n <= 2 * n < 5 * crash_tol n + 5 /\
  5 * byz_tol n <= n + 3 /\ n + 3 <= 5 * byz_tol n + 8.
Proof. intros n Hn. unfold crash_tol, byz_tol. pose proof (q60_spec n). lia. Qed.

(** ** The table in README.md, checked by computation: (n, q, crash_tol, byz_tol). *)
Definition tolerance_row (n : nat) : nat * nat * nat * nat :=
  (n, q60 n, crash_tol n, byz_tol n).

Example tolerance_table :
  map tolerance_row [4; 5; 6; 7; 8; 9; 10; 25; 100] =
  [(4, 3, 1, 1); (5, 3, 2, 0); (6, 4, 2, 1); (7, 5, 2, 2); (8, 5, 3, 1);
   (9, 6, 3, 2); (10, 6, 4, 1); (25, 15, 10, 4); (100, 60, 40, 19)].
Proof. reflexivity. Qed.
