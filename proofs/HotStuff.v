(** * Chained-HotStuff safety on a block-tree abstraction (Theorem 6)

    PM-* (spec/pacemaker.md, a later issue; stated here ahead of it), after
    seeds/001 (modified chained HotStuff): a replica votes at most once per
    view, votes only for a block that extends its locked block or whose
    justify QC is from a higher view than its lock (safeNode), locks on the
    2-chain ([lock := b.justify.node.justify.node] when voting [b], if higher),
    and commits [z] on a 3-chain [z <- y <- x] of direct parents in
    consecutive views once [x] has a QC.

    The abstraction: blocks are numbers in a tree given by [parent]; every
    block has a view (strictly increasing from parent to child) and a
    [justify] block (the block its QC certifies, an ancestor).  The votes
    of the whole execution are a relation [voted r b]; [lock r b] is the
    block replica [r] had locked when it voted for [b].  Byzantine replicas
    vote arbitrarily; the honest rules are [hs_honest] below.  Timing and
    message delivery do not matter for safety and are abstracted away. *)

From Coq Require Import Arith Lia List.
From FHBFT Require Import Quorum.
Import ListNotations.

Definition ancestor_of (parent : nat -> nat) (b a : nat) : Prop :=
  exists k, Nat.iter k parent b = a.

Record tree := mkTree {
  genesis : nat;
  parent : nat -> nat;
  view : nat -> nat;
  justify : nat -> nat;
  parent_genesis : parent genesis = genesis;
  view_genesis : view genesis = 0;
  parent_view : forall b, b <> genesis -> view (parent b) < view b;
  justify_ancestor : forall b, ancestor_of parent b (justify b);
  justify_view : forall b, b <> genesis -> view (justify b) < view b
}.

(** [ancestor T b a]: [b] extends [a] (reflexive). *)
Definition ancestor (T : tree) (b a : nat) : Prop := ancestor_of (parent T) b a.

Definition conflicting (T : tree) (a b : nat) : Prop := ~ ancestor T a b /\ ~ ancestor T b a.

(** A QC for [b]: [q] distinct replicas out of [n] voted for [b]. *)
Definition qc (n q : nat) (voted : nat -> nat -> Prop) (b : nat) : Prop :=
  exists S, NoDup S /\ incl S (members n) /\ q <= length S /\ forall r, In r S -> voted r b.

(** Genesis is certified by convention. *)
Definition certified (T : tree) (n q : nat) (voted : nat -> nat -> Prop) (b : nat) : Prop :=
  b = genesis T \/ qc n q voted b.

(** The honest replica's rules, for every vote it cast. *)
Definition hs_honest (T : tree) (n q : nat) (byz : list nat)
  (voted : nat -> nat -> Prop) (lock : nat -> nat -> nat) : Prop :=
  forall r, ~ In r byz ->
    (* once per view *)
    (forall b1 b2, voted r b1 -> voted r b2 -> view T b1 = view T b2 -> b1 = b2) /\
    (* safeNode: extends the lock, or justify QC newer than the lock *)
    (forall b, voted r b -> ancestor T b (lock r b) \/ view T (lock r b) < view T (justify T b)) /\
    (* the 2-chain lock taken when voting [b1] holds at every later vote *)
    (forall b1 b2, voted r b1 -> voted r b2 -> view T b1 < view T b2 ->
       view T (justify T (justify T b1)) <= view T (lock r b2)) /\
    (* a lock is always a certified block from an earlier view *)
    (forall b, voted r b -> certified T n q voted (lock r b) /\ view T (lock r b) < view T b) /\
    (* the replica checks the QC a block carries *)
    (forall b, voted r b -> certified T n q voted (justify T b)).

(** Commit rule: [z <- y <- x] direct parents in consecutive views, each
    justifying its parent, and [x] has a QC. *)
Definition committed (T : tree) (n q : nat) (voted : nat -> nat -> Prop) (z : nat) : Prop :=
  exists y x, parent T x = y /\ parent T y = z /\ justify T x = y /\ justify T y = z /\
    view T y = S (view T z) /\ view T x = S (view T y) /\ qc n q voted x.

(** ** Tree facts. *)

Lemma iter_S : forall (f : nat -> nat) k x, Nat.iter (S k) f x = f (Nat.iter k f x).
Proof. reflexivity. Qed.

Lemma iter_add : forall (f : nat -> nat) j k x, Nat.iter (j + k) f x = Nat.iter j f (Nat.iter k f x).
Proof. intros f j k x. induction j as [|j IH]; simpl; congruence. Qed.

Lemma ancestor_refl : forall T b, ancestor T b b.
Proof. intros. exists 0. reflexivity. Qed.

Lemma ancestor_trans : forall T a b c, ancestor T a b -> ancestor T b c -> ancestor T a c.
Proof.
  intros T a b c [k1 H1] [k2 H2]. exists (k2 + k1). rewrite iter_add, H1. exact H2.
Qed.

Lemma ancestor_view : forall T b a, ancestor T b a -> view T a <= view T b /\ (view T a = view T b -> a = b).
Proof.
  intros T b a [k Hk]. subst a. induction k as [|k [IHle IHeq]].
  - simpl. auto.
  - rewrite iter_S. set (c := Nat.iter k (parent T) b) in *.
    destruct (Nat.eq_dec c (genesis T)) as [G|G].
    + rewrite G, parent_genesis. rewrite <- G. auto.
    + pose proof (parent_view T c G). split; [lia|]. intro. lia.
Qed.

Lemma ancestors_comparable : forall T b a1 a2,
  ancestor T b a1 -> ancestor T b a2 -> ancestor T a1 a2 \/ ancestor T a2 a1.
Proof.
  intros T b a1 a2 [k1 H1] [k2 H2]. destruct (le_lt_dec k1 k2) as [H|H].
  - left. exists (k2 - k1). rewrite <- H1, <- iter_add. replace (k2 - k1 + k1) with k2 by lia. exact H2.
  - right. exists (k1 - k2). rewrite <- H2, <- iter_add. replace (k1 - k2 + k2) with k1 by lia. exact H1.
Qed.

Lemma view_pos : forall T b, b <> genesis T -> 0 < view T b.
Proof. intros T b H. pose proof (parent_view T b H). lia. Qed.

(** ** Key lemma: two certified blocks of one view are the same block.
    Two QCs intersect in an honest replica (Theorem 1, [b < 2q - n]), and
    an honest replica votes once per view. *)
Theorem same_view_certified : forall T n q byz voted lock b1 b2,
  length byz + n < 2 * q -> hs_honest T n q byz voted lock ->
  certified T n q voted b1 -> certified T n q voted b2 ->
  view T b1 = view T b2 -> b1 = b2.
Proof.
  intros T n q byz voted lock b1 b2 Hb Hh C1 C2 Hv.
  destruct C1 as [G1|[S1 [N1 [I1 [L1 V1]]]]]; destruct C2 as [G2|[S2 [N2 [I2 [L2 V2]]]]].
  - congruence.
  - subst b1. destruct (Nat.eq_dec b2 (genesis T)) as [G|G]; [auto|].
    pose proof (view_pos T b2 G). rewrite view_genesis in Hv. lia.
  - subst b2. destruct (Nat.eq_dec b1 (genesis T)) as [G|G]; [auto|].
    pose proof (view_pos T b1 G). rewrite view_genesis in Hv. lia.
  - destruct (quorum_honest_witness (members n) byz S1 S2 q N1 N2 I1 I2 L1 L2) as [r [R1 [R2 Rh]]].
    { rewrite members_length. exact Hb. }
    destruct (Hh r Rh) as [Once _]. apply (Once b1 b2); auto.
Qed.

(** Every QC has an honest voter. *)
Lemma qc_honest_voter : forall n q byz (voted : nat -> nat -> Prop) b,
  length byz + n < 2 * q -> qc n q voted b -> exists r, ~ In r byz /\ voted r b.
Proof.
  intros n q byz voted b Hb [S [N [I [L V]]]].
  destruct (quorum_honest_witness (members n) byz S S q N N I I L L) as [r [R1 [_ Rh]]].
  { rewrite members_length. exact Hb. }
  exists r. auto.
Qed.

(** ** The lock lemma: once [z] is committed through [z <- y <- x], every
    certified block from view [view x] on extends [z]. *)
Theorem committed_locks : forall T n q byz voted lock z y x,
  length byz + n < 2 * q -> hs_honest T n q byz voted lock ->
  parent T x = y -> parent T y = z -> justify T x = y -> justify T y = z ->
  view T y = S (view T z) -> view T x = S (view T y) -> qc n q voted x ->
  forall B, certified T n q voted B -> view T x <= view T B -> ancestor T B z.
Proof.
  intros T n q byz voted lock z y x Hb Hh Px Py Jx Jy Vy Vx Qx.
  assert (Cx : certified T n q voted x) by (right; exact Qx).
  (* y and z are certified: honest voters of x and y checked their QCs. *)
  assert (Cy : certified T n q voted y).
  { destruct (qc_honest_voter n q byz voted x Hb Qx) as [r [Rh Rv]].
    destruct (Hh r Rh) as [_ [_ [_ [_ Hj]]]]. rewrite <- Jx. apply Hj. exact Rv. }
  assert (Cz : certified T n q voted z).
  { destruct Cy as [G|Qy].
    - exfalso. rewrite G, view_genesis in Vy. lia.
    - destruct (qc_honest_voter n q byz voted y Hb Qy) as [r [Rh Rv]].
      destruct (Hh r Rh) as [_ [_ [_ [_ Hj]]]]. rewrite <- Jy. apply Hj. exact Rv. }
  assert (Ayz : ancestor T y z) by (exists 1; simpl; exact Py).
  assert (Axz : ancestor T x z) by (exists 2; simpl; rewrite Px; exact Py).
  assert (Main : forall m B, view T B < m -> certified T n q voted B ->
                   view T x <= view T B -> ancestor T B z).
  { induction m as [|m IH]; intros B Hm CB HxB; [lia|].
    (* Blocks below [B] that are certified and not older than [z] extend [z]. *)
    assert (Sub : forall C, certified T n q voted C -> view T z <= view T C ->
                    view T C < view T B -> ancestor T C z).
    { intros C CC H1 H2.
      destruct (Nat.eq_dec (view T C) (view T z)) as [E|E].
      - rewrite (same_view_certified T n q byz voted lock C z Hb Hh CC Cz E). apply ancestor_refl.
      - destruct (Nat.eq_dec (view T C) (view T y)) as [E'|E'].
        + rewrite (same_view_certified T n q byz voted lock C y Hb Hh CC Cy E'). exact Ayz.
        + apply IH; auto; lia. }
    destruct (Nat.eq_dec (view T B) (view T x)) as [E|E].
    { rewrite (same_view_certified T n q byz voted lock B x Hb Hh CB Cx E). exact Axz. }
    destruct CB as [G|QB].
    { exfalso. rewrite G, view_genesis in HxB. lia. }
    destruct QB as [SB [NB [IB [LB VB]]]]. destruct Qx as [Sx [Nx [Ix [Lx Vx']]]].
    destruct (quorum_honest_witness (members n) byz Sx SB q Nx NB Ix IB Lx LB) as [r [Rx [RB Rh]]].
    { rewrite members_length. exact Hb. }
    destruct (Hh r Rh) as [_ [Safe [Lock [LockC Hj]]]].
    pose proof (Lock x B (Vx' r Rx) (VB r RB) ltac:(lia)) as HL.
    rewrite Jx, Jy in HL.
    destruct (LockC B (VB r RB)) as [CL VL].
    destruct (Safe B (VB r RB)) as [Ext|Newer].
    - apply ancestor_trans with (lock r B); [exact Ext|]. apply Sub; auto.
    - assert (B <> genesis T) as G.
      { intro G. rewrite G, view_genesis in HxB. lia. }
      pose proof (justify_view T B G).
      apply ancestor_trans with (justify T B); [apply justify_ancestor|].
      apply Sub; auto; lia. }
  intros B CB HxB. apply (Main (S (view T B))); auto.
Qed.

(** ** Theorem 6: with fewer than [2q - n] Byzantine replicas, no two
    conflicting blocks are committed. *)
Theorem hotstuff_safety : forall T n q byz voted lock z1 z2,
  length byz + n < 2 * q -> hs_honest T n q byz voted lock ->
  committed T n q voted z1 -> committed T n q voted z2 ->
  ~ conflicting T z1 z2.
Proof.
  intros T n q byz voted lock z1 z2 Hb Hh
    [y1 [x1 [P1x [P1y [J1x [J1y [V1y [V1x Q1]]]]]]]]
    [y2 [x2 [P2x [P2y [J2x [J2y [V2y [V2x Q2]]]]]]]] [N12 N21].
  assert (A1 : ancestor T x1 z1) by (exists 2; simpl; rewrite P1x; exact P1y).
  assert (A2 : ancestor T x2 z2) by (exists 2; simpl; rewrite P2x; exact P2y).
  destruct (le_lt_dec (view T x1) (view T x2)) as [H|H].
  - pose proof (committed_locks T n q byz voted lock z1 y1 x1 Hb Hh P1x P1y J1x J1y V1y V1x Q1
                  x2 (or_intror Q2) H) as A.
    destruct (ancestors_comparable T x2 z1 z2 A A2); contradiction.
  - pose proof (committed_locks T n q byz voted lock z2 y2 x2 Hb Hh P2x P2y J2x J2y V2y V2x Q2
                  x1 (or_intror Q1) ltac:(lia)) as A.
    destruct (ancestors_comparable T x1 z2 z1 A A1); contradiction.
Qed.

(** ** The hypotheses are satisfiable: a chain [0 <- 1 <- 2 <- 3] (view =
    height), one honest replica voting for 1, 2 and 3 with the locks the
    rules prescribe, commits block 1.  So [hotstuff_safety] is not vacuous. *)

Lemma iter_pred : forall k b, Nat.iter k (fun c => c - 1) b = b - k.
Proof. induction k as [|k IH]; intros b; simpl; [lia|]. rewrite IH. lia. Qed.

Definition chain_tree : tree.
Proof.
  refine (mkTree 0 (fun b => b - 1) (fun b => b) (fun b => b - 1) _ _ _ _ _);
    try reflexivity; intros b; try lia.
  exists 1. reflexivity.
Defined.

Lemma chain_ancestor : forall b a, a <= b -> ancestor chain_tree b a.
Proof. intros b a H. exists (b - a). simpl. rewrite iter_pred. lia. Qed.

Example hotstuff_nonvacuous :
  let voted := fun r b => r = 0 /\ 1 <= b <= 3 in
  let lock := fun (r b : nat) => b - 3 in
  hs_honest chain_tree 1 1 [] voted lock /\ committed chain_tree 1 1 voted 1.
Proof.
  intros voted lock.
  assert (Cert : forall b, b <= 3 -> certified chain_tree 1 1 voted b).
  { intros b Hb. destruct (Nat.eq_dec b 0) as [Z|Z]; [left; exact Z|right].
    exists [0]. split; [repeat constructor; simpl; tauto|]. split.
    - intros r [E|[]]. subst. apply in_members. lia.
    - split; [simpl; lia|]. intros r [E|[]]. subst. unfold voted. lia. }
  split.
  - intros r _. unfold voted, lock. simpl. split; [|split; [|split; [|split]]].
    + intros b1 b2 _ _ E. exact E.
    + intros b Hb. left. apply chain_ancestor. lia.
    + intros b1 b2 _ _ H. lia.
    + intros b Hb. split; [apply Cert; lia|simpl; lia].
    + intros b Hb. apply Cert. simpl. lia.
  - exists 2, 3. simpl. repeat split; try reflexivity.
    exists [0]. split; [repeat constructor; simpl; tauto|]. split.
    + intros r [E|[]]. subst. apply in_members. lia.
    + split; [simpl; lia|]. intros r [E|[]]. subst. unfold voted. lia.
Qed.
