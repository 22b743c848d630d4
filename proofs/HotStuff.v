(** * Chained-HotStuff safety on a block-tree abstraction (Theorem 6)

    PM-* (spec/pacemaker.md, a later issue; stated here ahead of it), after
    seeds/001 (modified chained HotStuff): a replica votes at most once per
    view, votes only for a block that extends its locked block or whose
    justify QC is from a higher view than its lock (safeNode), locks on the
    2-chain ([lock := b.justify.node.justify.node] when voting [b], if higher),
    and commits [z] on a 3-chain [z <- y <- x] of direct parents in
    consecutive views once [x] has a QC.

    The abstraction: blocks are numbers; each has a [parent], a view and a
    [justify] block (the block its QC certifies).  Only genesis is
    constrained globally (it is its own parent, view 0).  Whether a block
    is well-formed (view above its parent's, justify an ancestor from an
    earlier view) is PM-37, checked by honest replicas before they vote:
    a field of [honest_replica], not a property of every block.  The votes
    of the whole execution are a relation [voted r b]; [lock r b] is the
    block replica [r] had locked when it voted for [b].  Byzantine replicas
    vote arbitrarily; the honest rules are [honest_replica] below, among
    them PM-36 (vote only above the lock).  Timing and message delivery do
    not matter for safety and are abstracted away. *)

From Coq Require Import Arith Lia List.
From FHBFT Require Import Quorum.
Import ListNotations.

Definition ancestor_of (parent : nat -> nat) (b a : nat) : Prop :=
  exists k, Nat.iter k parent b = a.

(** The block store: every number is a block with a parent, a view and a
    justify block.  Nothing is assumed about blocks in general beyond the
    root: a Byzantine leader may propose anything, so a block's parent or
    justify may be malformed.  The constraints honest replicas check before
    voting are [well_formed] (PM-37) below, a precondition of honest voting. *)
Record tree := mkTree {
  genesis : nat;
  parent : nat -> nat;
  view : nat -> nat;
  justify : nat -> nat;
  parent_genesis : parent genesis = genesis;
  view_genesis : view genesis = 0
}.

(** [ancestor T b a]: [b] extends [a] (reflexive). *)
Definition ancestor (T : tree) (b a : nat) : Prop := ancestor_of (parent T) b a.

Definition conflicting (T : tree) (a b : nat) : Prop := ~ ancestor T a b /\ ~ ancestor T b a.

(** PM-37 (well-formed proposal): the block's view is above its parent's,
    and its justify block is an ancestor from an earlier view.  (Genesis is
    not well-formed: its parent is itself, so nobody honest votes for it.) *)
Definition well_formed (T : tree) (b : nat) : Prop :=
  view T (parent T b) < view T b /\
  ancestor T b (justify T b) /\
  view T (justify T b) < view T b.

(** A QC for [b]: [q] distinct replicas out of [n] voted for [b]. *)
Definition qc (n q : nat) (voted : nat -> nat -> Prop) (b : nat) : Prop :=
  exists S, NoDup S /\ incl S (members n) /\ q <= length S /\ forall r, In r S -> voted r b.

(** Genesis is certified by convention. *)
Definition certified (T : tree) (n q : nat) (voted : nat -> nat -> Prop) (b : nat) : Prop :=
  b = genesis T \/ qc n q voted b.

(** The rules one honest replica [r] follows, for every vote it cast. *)
Record honest_replica (T : tree) (n q : nat) (voted : nat -> nat -> Prop)
  (lock : nat -> nat -> nat) (r : nat) : Prop := {
  (* at most one vote per view *)
  once_per_view : forall b1 b2, voted r b1 -> voted r b2 -> view T b1 = view T b2 -> b1 = b2;
  (* PM-37: only well-formed blocks get honest votes *)
  votes_well_formed : forall b, voted r b -> well_formed T b;
  (* safeNode: the block extends the lock, or its justify QC is newer than the lock *)
  safe_node : forall b, voted r b ->
    ancestor T b (lock r b) \/ view T (lock r b) < view T (justify T b);
  (* the 2-chain lock taken when voting [b1] holds at every later vote *)
  lock_monotone : forall b1 b2, voted r b1 -> voted r b2 -> view T b1 < view T b2 ->
    view T (justify T (justify T b1)) <= view T (lock r b2);
  (* a lock is a certified block *)
  lock_certified : forall b, voted r b -> certified T n q voted (lock r b);
  (* PM-36: vote only above the lock *)
  vote_above_lock : forall b, voted r b -> view T (lock r b) < view T b;
  (* the replica checks the QC a block carries *)
  justify_certified : forall b, voted r b -> certified T n q voted (justify T b)
}.

Definition hs_honest (T : tree) (n q : nat) (byz : list nat)
  (voted : nat -> nat -> Prop) (lock : nat -> nat -> nat) : Prop :=
  forall r, ~ In r byz -> honest_replica T n q voted lock r.

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

Lemma ancestors_comparable : forall T b a1 a2,
  ancestor T b a1 -> ancestor T b a2 -> ancestor T a1 a2 \/ ancestor T a2 a1.
Proof.
  intros T b a1 a2 [k1 H1] [k2 H2]. destruct (le_lt_dec k1 k2) as [H|H].
  - left. exists (k2 - k1). rewrite <- H1, <- iter_add. replace (k2 - k1 + k1) with k2 by lia. exact H2.
  - right. exists (k1 - k2). rewrite <- H2, <- iter_add. replace (k1 - k2 + k2) with k1 by lia. exact H1.
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

(** A block with a QC got an honest vote, so it is well-formed (PM-37) and
    in particular not genesis: its view is positive. *)
Lemma qc_view_pos : forall T n q byz voted lock b,
  length byz + n < 2 * q -> hs_honest T n q byz voted lock ->
  qc n q voted b -> 0 < view T b.
Proof.
  intros T n q byz voted lock b Hb Hh Q.
  destruct (qc_honest_voter n q byz voted b Hb Q) as [r [Rh Rv]].
  destruct (votes_well_formed _ _ _ _ _ _ (Hh r Rh) b Rv) as [P _]. lia.
Qed.

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
  - subst b1. exfalso.
    pose proof (qc_view_pos T n q byz voted lock b2 Hb Hh (ex_intro _ S2 (conj N2 (conj I2 (conj L2 V2))))).
    rewrite view_genesis in Hv. lia.
  - subst b2. exfalso.
    pose proof (qc_view_pos T n q byz voted lock b1 Hb Hh (ex_intro _ S1 (conj N1 (conj I1 (conj L1 V1))))).
    rewrite view_genesis in Hv. lia.
  - destruct (quorum_honest_witness (members n) byz S1 S2 q N1 N2 I1 I2 L1 L2) as [r [R1 [R2 Rh]]].
    { rewrite members_length. exact Hb. }
    apply (once_per_view _ _ _ _ _ _ (Hh r Rh) b1 b2); auto.
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
    rewrite <- Jx. exact (justify_certified _ _ _ _ _ _ (Hh r Rh) x Rv). }
  assert (Cz : certified T n q voted z).
  { destruct Cy as [G|Qy].
    - exfalso. rewrite G, view_genesis in Vy. lia.
    - destruct (qc_honest_voter n q byz voted y Hb Qy) as [r [Rh Rv]].
      rewrite <- Jy. exact (justify_certified _ _ _ _ _ _ (Hh r Rh) y Rv). }
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
    destruct (Hh r Rh) as [_ WF Safe Lock LockC AboveLock Hj].
    pose proof (Lock x B (Vx' r Rx) (VB r RB) ltac:(lia)) as HL.
    rewrite Jx, Jy in HL.
    pose proof (LockC B (VB r RB)) as CL. pose proof (AboveLock B (VB r RB)) as VL.
    destruct (Safe B (VB r RB)) as [Ext|Newer].
    - (* first branch of safeNode: [B] extends the lock, which extends [z] *)
      apply ancestor_trans with (lock r B); [exact Ext|]. apply Sub; auto.
    - (* second branch: [B.justify] is newer than the lock, hence certified
         and not older than [z]; PM-37 puts it below [B] on [B]'s branch *)
      destruct (WF B (VB r RB)) as [_ [JA JV]].
      apply ancestor_trans with (justify T B); [exact JA|].
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
    rules prescribe, commits block 1.  The smallest model; the example
    after it exercises the rules. *)

Lemma iter_pred : forall k b, Nat.iter k (fun c => c - 1) b = b - k.
Proof. induction k as [|k IH]; intros b; simpl; [lia|]. rewrite IH. lia. Qed.

Definition chain_tree : tree := mkTree 0 (fun b => b - 1) (fun b => b) (fun b => b - 1) eq_refl eq_refl.

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
  - intros r _. unfold voted, lock. constructor; simpl.
    + intros b1 b2 _ _ E. exact E.
    + intros b Hb. unfold well_formed; simpl. split; [lia|]. split; [apply chain_ancestor; lia|lia].
    + intros b Hb. left. apply chain_ancestor. lia.
    + intros b1 b2 _ _ H. lia.
    + intros b Hb. apply Cert. lia.
    + intros b Hb. lia.
    + intros b Hb. apply Cert. lia.
  - exists 2, 3. simpl. repeat split; try reflexivity.
    exists [0]. split; [repeat constructor; simpl; tauto|]. split.
    + intros r [E|[]]. subst. apply in_members. lia.
    + split; [simpl; lia|]. intros r [E|[]]. subst. unfold voted. lia.
Qed.

(** ** A run with a fork, an equivocating Byzantine leader and safeNode's
    second branch: [n = 4], [q = 3], replica 3 Byzantine ([1 < 2q - n = 2]).

<<
    view:   0     1     2     3     4     5     6     7
            0 --- 1 --------- 3 --- 4                      branch A
             \
              --------- 2 --- 8                            branch B
                         \
                          --------------- 5 --- 6 --- 7    branch B, committed 5
>>
    Every block's justify is its parent.  Votes:
    - block 1 (view 1): 0, 1, 3       QC
    - block 2 (view 2): 0, 1, 2       QC      (conflicts with 1)
    - block 3 (view 3): 0, 1, 3       QC      the Byzantine leader of view 3
    - block 8 (view 3): 2, 3          no QC   proposes both 3 and 8 and votes both
    - block 4 (view 4): 0, 1          no QC
    - blocks 5, 6, 7 (views 5-7): 0, 1, 2   QC each, so 5 is committed.
    Replicas 0 and 1 lock on block 1 when they vote 4 (4.justify.justify
    = 1).  The leader of view 5 proposes 5 on branch B with justify 2: it
    does not extend their lock 1, but its justify (view 2) is newer than
    the lock (view 1), so safeNode's second branch accepts it, and again
    for 6 (justify 5).  Voting 7 moves their lock to 2. *)

Definition fork_parent (b : nat) : nat :=
  match b with 3 => 1 | 4 => 3 | 5 => 2 | 6 => 5 | 7 => 6 | 8 => 2 | _ => 0 end.
Definition fork_view (b : nat) : nat := match b with 8 => 3 | _ => b end.
Definition fork_tree : tree := mkTree 0 fork_parent fork_view fork_parent eq_refl eq_refl.
Definition fork_byz : list nat := [3].

Definition fork_votedb (r b : nat) : bool :=
  match r with
  | 0 | 1 => (1 <=? b) && (b <=? 7)
  | 2 => existsb (Nat.eqb b) [2; 8; 5; 6; 7]
  | 3 => existsb (Nat.eqb b) [1; 3; 8]
  | _ => false
  end.
Definition fork_voted (r b : nat) : Prop := fork_votedb r b = true.

(** Each honest replica's lock when it voted [b]: the highest
    [b'.justify.justify] over its earlier votes [b']. *)
Definition fork_lock (r b : nat) : nat :=
  match r, b with
  | (0 | 1), (5 | 6) => 1
  | (0 | 1 | 2), 7 => 2
  | _, _ => 0
  end.

Lemma iter_closed : forall (f : nat -> nat) (P : nat -> Prop),
  (forall x, P x -> P (f x)) -> forall k x, P x -> P (Nat.iter k f x).
Proof. intros f P Hf k. induction k as [|k IH]; intros x Hx; simpl; auto. Qed.

(** [b]'s ancestors all lie in [A], so nothing outside [A] is an ancestor. *)
Lemma fork_not_ancestor : forall (A : list nat) b a,
  (forall x, In x A -> In (fork_parent x) A) -> In b A -> ~ In a A ->
  ~ ancestor fork_tree b a.
Proof.
  intros A b a Hc Hb Ha [k Hk]. apply Ha. rewrite <- Hk.
  apply (iter_closed fork_parent (fun x => In x A)); auto.
Qed.

Ltac fork_closed := intros x Hx; simpl in Hx;
  repeat (destruct Hx as [Hx|Hx]; [subst x; simpl; tauto|]); contradiction.

Ltac fork_anc := first [exists 0; reflexivity | exists 1; reflexivity |
                        exists 2; reflexivity | exists 3; reflexivity].

Ltac fork_qc S :=
  exists S; split; [repeat constructor; simpl; intuition discriminate|];
  split; [intros r Hr; apply in_members; simpl in Hr; intuition lia|];
  split; [simpl; lia|];
  intros r Hr; simpl in Hr; repeat (destruct Hr as [Hr|Hr]; [subst r; reflexivity|]); contradiction.

Lemma fork_certified : forall b, In b [0; 1; 2; 3; 5; 6; 7] -> certified fork_tree 4 3 fork_voted b.
Proof.
  intros b Hb. simpl in Hb.
  repeat (destruct Hb as [Hb|Hb]; [subst b|]); try contradiction;
    [left; reflexivity| right ..].
  - fork_qc [0; 1; 3].
  - fork_qc [0; 1; 2].
  - fork_qc [0; 1; 3].
  - fork_qc [0; 1; 2].
  - fork_qc [0; 1; 2].
  - fork_qc [0; 1; 2].
Qed.

(** Only replicas 0-3 vote, and only for blocks 1-8. *)
Lemma fork_voted_range : forall r b, fork_voted r b ->
  (r = 0 \/ r = 1 \/ r = 2 \/ r = 3) /\
  (b = 1 \/ b = 2 \/ b = 3 \/ b = 4 \/ b = 5 \/ b = 6 \/ b = 7 \/ b = 8).
Proof.
  intros r b H. unfold fork_voted, fork_votedb in H.
  destruct r as [|[|[|[|r]]]]; try discriminate;
    (split; [lia|]);
    do 9 (destruct b as [|b]; [try discriminate; lia|]); discriminate.
Qed.

(** Case analysis on a vote [H : fork_voted r b]: one goal per vote
    actually cast by replicas 0, 1, 2 (a hypothesis [r <> 3] rules out the
    Byzantine replica); every other case is closed. *)
Ltac fork_vote_cases H :=
  lazymatch type of H with fork_voted ?r ?b =>
    let Er := fresh "Er" in let Eb := fresh "Eb" in
    destruct (fork_voted_range r b H) as [Er Eb];
    destruct Er as [Er|[Er|[Er|Er]]]; first [subst r | discriminate Er | clear Er];
    destruct Eb as [Eb|[Eb|[Eb|[Eb|[Eb|[Eb|[Eb|Eb]]]]]]]; first [subst b | discriminate Eb | clear Eb];
    try match goal with N : ?x <> ?x |- _ => exfalso; exact (N eq_refl) end;
    try (exfalso; unfold fork_voted in H; simpl in H; discriminate H)
  end.

Example hotstuff_fork_example :
  length fork_byz + 4 < 2 * 3 /\
  hs_honest fork_tree 4 3 fork_byz fork_voted fork_lock /\
  (* the Byzantine replica equivocated: it is not an honest replica *)
  ~ honest_replica fork_tree 4 3 fork_voted fork_lock 3 /\
  (* a fork: two conflicting blocks proposed in view 3, both voted *)
  view fork_tree 3 = view fork_tree 8 /\ conflicting fork_tree 3 8 /\
  fork_voted 3 3 /\ fork_voted 3 8 /\ fork_voted 0 3 /\ fork_voted 2 8 /\
  (* and two conflicting certified blocks *)
  certified fork_tree 4 3 fork_voted 1 /\ certified fork_tree 4 3 fork_voted 2 /\
  conflicting fork_tree 1 2 /\
  (* safeNode's second branch: honest replica 0 votes 5, which does not
     extend its lock 1, because 5.justify is newer than the lock *)
  ~ In 0 fork_byz /\ fork_voted 0 5 /\ fork_lock 0 5 = 1 /\
  ~ ancestor fork_tree 5 (fork_lock 0 5) /\
  view fork_tree (fork_lock 0 5) < view fork_tree (justify fork_tree 5) /\
  (* and a commit: 5 <- 6 <- 7 with a QC for 7 *)
  committed fork_tree 4 3 fork_voted 5.
Proof.
  split; [simpl; lia|]. split.
  { intros r Hr. assert (r <> 3) as R3 by (intro E; apply Hr; left; symmetry; exact E).
    constructor.
    - intros b1 b2 H1 H2 E.
      fork_vote_cases H1; fork_vote_cases H2; first [reflexivity | cbn in E; lia].
    - intros b H. unfold well_formed. fork_vote_cases H; cbn; (split; [lia|]); (split; [fork_anc|lia]).
    - intros b H. fork_vote_cases H; cbn;
        first [left; fork_anc | right; lia].
    - intros b1 b2 H1 H2 E.
      fork_vote_cases H1; fork_vote_cases H2; cbn in *; lia.
    - intros b H. fork_vote_cases H; cbn; apply fork_certified; simpl; tauto.
    - intros b H. fork_vote_cases H; cbn; lia.
    - intros b H. fork_vote_cases H; cbn; apply fork_certified; simpl; tauto. }
  split.
  { intros Hh. assert (3 = 8) as E by (apply (once_per_view _ _ _ _ _ _ Hh); reflexivity).
    discriminate E. }
  assert (A58 : forall x, In x [5; 2; 0] -> In (fork_parent x) [5; 2; 0]) by fork_closed.
  assert (A2 : forall x, In x [2; 0] -> In (fork_parent x) [2; 0]) by fork_closed.
  assert (A8 : forall x, In x [8; 2; 0] -> In (fork_parent x) [8; 2; 0]) by fork_closed.
  assert (A1 : forall x, In x [1; 0] -> In (fork_parent x) [1; 0]) by fork_closed.
  assert (A3 : forall x, In x [3; 1; 0] -> In (fork_parent x) [3; 1; 0]) by fork_closed.
  split; [reflexivity|]. split.
  { split; [apply (fork_not_ancestor [3; 1; 0])|apply (fork_not_ancestor [8; 2; 0])];
      auto; simpl; intuition discriminate. }
  do 4 (split; [reflexivity|]).
  split; [apply fork_certified; simpl; tauto|].
  split; [apply fork_certified; simpl; tauto|].
  split.
  { split; [apply (fork_not_ancestor [1; 0])|apply (fork_not_ancestor [2; 0])];
      auto; simpl; intuition discriminate. }
  split; [simpl; intuition discriminate|].
  split; [reflexivity|]. split; [reflexivity|].
  split; [apply (fork_not_ancestor [5; 2; 0]); auto; simpl; intuition discriminate|].
  split; [cbn; lia|].
  exists 6, 7. cbn. do 6 (split; [reflexivity|]). fork_qc [0; 1; 2].
Qed.
