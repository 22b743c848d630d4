(** * Determinism of the convergence function (Theorem 5)

    A model of the miner's convergence step over the round's transactions
    (BRIEF §2 step 8; spec/dag.md CONV-3, CONV-4, CONV-5, CONV-12).  A
    transaction carries its sender [from], its [nonce], its identity [txid]
    and a [key] (its position in the round's conflict-resolution order).
    One transfer included by several proposers appears once per proposer,
    with that proposer's position as its key; since such copies share a
    slot, the copy with the least key is the one kept, which is CONV-3's
    "least position".  The function

    1. drops duplicate transactions,
    2. for every slot [(from, nonce)] keeps the minimum by a total order
       (key first, then txid, from, nonce as tie-breaks),
    3. sorts the result by that total order.

    Proved: the output depends only on the SET of input transactions
    (so it is invariant under permutation and duplication), never holds two
    transactions of one slot, contains only input transactions, keeps the
    winner of every slot, and is sorted. *)

From Coq Require Import Arith Bool Lia List Permutation Sorted.
Import ListNotations.

Record tx := mkTx { from : nat; nonce : nat; txid : nat; key : nat }.

Definition tx_eq_dec : forall t u : tx, {t = u} + {t <> u}.
Proof. decide equality; apply Nat.eq_dec. Defined.

(** ** A total order on transactions: lexicographic on (key, txid, from, nonce). *)
Fixpoint lex (a b : list nat) : comparison :=
  match a, b with
  | [], [] => Eq
  | [], _ :: _ => Lt
  | _ :: _, [] => Gt
  | x :: a', y :: b' => match Nat.compare x y with Eq => lex a' b' | c => c end
  end.

Lemma lex_eq : forall a b, lex a b = Eq -> a = b.
Proof.
  induction a as [|x a IH]; intros [|y b]; simpl; try congruence.
  destruct (Nat.compare_spec x y); try congruence. subst. intro H. f_equal. auto.
Qed.

Lemma lex_refl : forall a, lex a a = Eq.
Proof. induction a as [|x a IH]; simpl; [reflexivity|]. rewrite Nat.compare_refl. exact IH. Qed.

Lemma lex_opp : forall a b, lex b a = CompOpp (lex a b).
Proof.
  induction a as [|x a IH]; intros [|y b]; simpl; try reflexivity.
  rewrite (Nat.compare_antisym y x).
  destruct (Nat.compare y x); simpl; auto.
Qed.

Lemma lex_lt_trans : forall a b c, lex a b = Lt -> lex b c = Lt -> lex a c = Lt.
Proof.
  induction a as [|x a IH]; intros [|y b] [|z c]; simpl; try congruence.
  destruct (Nat.compare_spec x y) as [E1|E1|E1]; destruct (Nat.compare_spec y z) as [E2|E2|E2];
    intros H1 H2; try congruence; subst.
  - rewrite Nat.compare_refl. eauto.
  - apply Nat.compare_lt_iff in E2. rewrite E2. reflexivity.
  - apply Nat.compare_lt_iff in E1. rewrite E1. reflexivity.
  - replace (Nat.compare x z) with Lt; [reflexivity|]. symmetry. apply Nat.compare_lt_iff. lia.
Qed.

Definition tx_key (t : tx) : list nat := [key t; txid t; from t; nonce t].

Lemma tx_key_inj : forall t u, tx_key t = tx_key u -> t = u.
Proof. intros [] [] H. unfold tx_key in H. simpl in H. inversion H. reflexivity. Qed.

Definition tx_leb (t u : tx) : bool :=
  match lex (tx_key t) (tx_key u) with Gt => false | _ => true end.

Definition tx_le (t u : tx) : Prop := tx_leb t u = true.

Lemma tx_le_total : forall t u, tx_le t u \/ tx_le u t.
Proof.
  intros t u. unfold tx_le, tx_leb. rewrite (lex_opp (tx_key t) (tx_key u)).
  destruct (lex (tx_key t) (tx_key u)); simpl; auto.
Qed.

Lemma tx_le_not : forall t u, tx_leb t u = false -> tx_le u t.
Proof.
  intros t u. unfold tx_le, tx_leb. rewrite (lex_opp (tx_key t) (tx_key u)).
  destruct (lex (tx_key t) (tx_key u)); simpl; congruence.
Qed.

Lemma tx_le_antisym : forall t u, tx_le t u -> tx_le u t -> t = u.
Proof.
  intros t u. unfold tx_le, tx_leb. rewrite (lex_opp (tx_key t) (tx_key u)).
  destruct (lex (tx_key t) (tx_key u)) eqn:E; simpl; try congruence.
  intros _ _. apply tx_key_inj, lex_eq. exact E.
Qed.

Lemma tx_le_trans : forall t u w, tx_le t u -> tx_le u w -> tx_le t w.
Proof.
  intros t u w. unfold tx_le, tx_leb.
  destruct (lex (tx_key t) (tx_key u)) eqn:E1; try congruence; intros _;
  destruct (lex (tx_key u) (tx_key w)) eqn:E2; try congruence; intros _.
  - apply lex_eq in E1, E2. rewrite E1, E2. rewrite lex_refl. reflexivity.
  - apply lex_eq in E1. rewrite E1, E2. reflexivity.
  - apply lex_eq in E2. rewrite <- E2, E1. reflexivity.
  - rewrite (lex_lt_trans _ _ _ E1 E2). reflexivity.
Qed.

(** ** The convergence function. *)

Definition same_slot (t u : tx) : bool := Nat.eqb (from t) (from u) && Nat.eqb (nonce t) (nonce u).

Lemma same_slot_spec : forall t u, same_slot t u = true <-> from t = from u /\ nonce t = nonce u.
Proof. intros. unfold same_slot. rewrite Bool.andb_true_iff, !Nat.eqb_eq. tauto. Qed.

(** [t] wins its slot in [l]: it is [<=] every transaction of [l] in its slot. *)
Definition is_winner (l : list tx) (t : tx) : bool :=
  forallb (fun u => negb (same_slot u t) || tx_leb t u) l.

Lemma is_winner_spec : forall l t,
  is_winner l t = true <-> forall u, In u l -> same_slot u t = true -> tx_le t u.
Proof.
  intros l t. unfold is_winner, tx_le. rewrite forallb_forall. split.
  - intros H u Hu Hs. specialize (H u Hu). rewrite Hs in H. exact H.
  - intros H u Hu. destruct (same_slot u t) eqn:Hs; simpl; auto.
Qed.

Definition winners (l : list tx) : list tx := filter (is_winner l) (nodup tx_eq_dec l).

Fixpoint insert (t : tx) (l : list tx) : list tx :=
  match l with
  | [] => [t]
  | u :: l' => if tx_leb t u then t :: u :: l' else u :: insert t l'
  end.

Fixpoint isort (l : list tx) : list tx :=
  match l with [] => [] | t :: l' => insert t (isort l') end.

Definition converge (l : list tx) : list tx := isort (winners l).

(** ** Sorting facts. *)

Lemma insert_perm : forall t l, Permutation (insert t l) (t :: l).
Proof.
  intros t l. induction l as [|u l IH]; simpl; [reflexivity|].
  destruct (tx_leb t u); [reflexivity|].
  transitivity (u :: t :: l); [constructor; exact IH|constructor].
Qed.

Lemma isort_perm : forall l, Permutation (isort l) l.
Proof.
  induction l as [|t l IH]; simpl; [reflexivity|].
  rewrite insert_perm. constructor. exact IH.
Qed.

Lemma insert_sorted : forall t l, StronglySorted tx_le l -> StronglySorted tx_le (insert t l).
Proof.
  intros t l. induction l as [|u l IH]; intros H; simpl.
  - repeat constructor.
  - inversion H as [|? ? Hl Hf]; subst. destruct (tx_leb t u) eqn:E.
    + constructor; [exact H|]. constructor; [exact E|].
      rewrite Forall_forall in *. intros w Hw. apply tx_le_trans with u; auto.
    + constructor; [auto|]. apply tx_le_not in E.
      rewrite Forall_forall in *. intros w Hw.
      apply (Permutation_in _ (insert_perm t l)) in Hw. destruct Hw; subst; auto.
Qed.

Lemma isort_sorted : forall l, StronglySorted tx_le (isort l).
Proof. induction l; simpl; [constructor|]. apply insert_sorted. assumption. Qed.

(** Two sorted lists that are permutations of each other are equal (the
    order is antisymmetric). *)
Lemma sorted_perm_eq : forall l1 l2,
  StronglySorted tx_le l1 -> StronglySorted tx_le l2 -> Permutation l1 l2 -> l1 = l2.
Proof.
  induction l1 as [|x l1 IH]; intros l2 S1 S2 P.
  - symmetry. apply Permutation_nil. exact P.
  - destruct l2 as [|y l2]; [apply Permutation_sym, Permutation_nil in P; discriminate|].
    inversion S1 as [|? ? S1' F1]; inversion S2 as [|? ? S2' F2]; subst.
    rewrite Forall_forall in F1, F2.
    assert (x = y) as E.
    { apply tx_le_antisym.
      - assert (In y (x :: l1)) as Hy by (apply (Permutation_in _ (Permutation_sym P)); left; reflexivity).
        destruct Hy as [Hy|Hy]; [subst; unfold tx_le, tx_leb; rewrite lex_refl; reflexivity|auto].
      - assert (In x (y :: l2)) as Hx by (apply (Permutation_in _ P); left; reflexivity).
        destruct Hx as [Hx|Hx]; [subst; unfold tx_le, tx_leb; rewrite lex_refl; reflexivity|auto]. }
    subst. f_equal. apply IH; auto. apply Permutation_cons_inv with y. exact P.
Qed.

(** ** Theorem 5a: the output depends only on the set of input transactions. *)

Lemma forallb_same_set : forall (f : tx -> bool) l1 l2,
  (forall x, In x l1 <-> In x l2) -> forallb f l1 = forallb f l2.
Proof.
  intros f l1 l2 H. destruct (forallb f l1) eqn:E1; destruct (forallb f l2) eqn:E2; auto.
  - rewrite forallb_forall in E1. rewrite <- E2. symmetry. apply forallb_forall.
    intros x Hx. apply E1, H, Hx.
  - rewrite forallb_forall in E2. rewrite <- E1. apply forallb_forall.
    intros x Hx. apply E2, H, Hx.
Qed.

Lemma In_winners : forall l t, In t (winners l) <-> In t l /\ is_winner l t = true.
Proof. intros. unfold winners. rewrite filter_In, nodup_In. tauto. Qed.

Theorem converge_set_invariant : forall l1 l2,
  (forall t, In t l1 <-> In t l2) -> converge l1 = converge l2.
Proof.
  intros l1 l2 H. unfold converge. apply sorted_perm_eq; try apply isort_sorted.
  rewrite !isort_perm. apply NoDup_Permutation.
  - apply NoDup_filter, NoDup_nodup.
  - apply NoDup_filter, NoDup_nodup.
  - intros t. rewrite !In_winners. unfold is_winner.
    rewrite (forallb_same_set _ l1 l2 H). rewrite H. tauto.
Qed.

Corollary converge_perm : forall l1 l2, Permutation l1 l2 -> converge l1 = converge l2.
Proof.
  intros l1 l2 P. apply converge_set_invariant. intros t. split; intro Ht.
  - exact (Permutation_in _ P Ht).
  - exact (Permutation_in _ (Permutation_sym P) Ht).
Qed.

Corollary converge_dup : forall l t, In t l -> converge (t :: l) = converge l.
Proof.
  intros l t Ht. apply converge_set_invariant. intros u. simpl. split; [intros [E|H]; subst; auto|auto].
Qed.

Corollary converge_app_self : forall l, converge (l ++ l) = converge l.
Proof. intros l. apply converge_set_invariant. intros t. rewrite in_app_iff. tauto. Qed.

Corollary converge_nodup : forall l, converge (nodup tx_eq_dec l) = converge l.
Proof. intros l. apply converge_set_invariant. intros t. apply nodup_In. Qed.

(** ** Theorem 5b: no two output transactions share a slot [(from, nonce)]. *)

Lemma In_converge : forall l t, In t (converge l) <-> In t l /\ is_winner l t = true.
Proof.
  intros l t. unfold converge. rewrite <- In_winners. split; apply Permutation_in;
    [apply isort_perm|apply Permutation_sym, isort_perm].
Qed.

Theorem converge_no_conflict : forall l t u,
  In t (converge l) -> In u (converge l) ->
  from t = from u -> nonce t = nonce u -> t = u.
Proof.
  intros l t u Ht Hu Ef En. apply In_converge in Ht as [Ht Wt]. apply In_converge in Hu as [Hu Wu].
  rewrite is_winner_spec in Wt, Wu. apply tx_le_antisym.
  - apply Wt; auto. apply same_slot_spec. auto.
  - apply Wu; auto. apply same_slot_spec. auto.
Qed.

Theorem converge_NoDup : forall l, NoDup (converge l).
Proof.
  intros l. unfold converge. apply (Permutation_NoDup (Permutation_sym (isort_perm _))).
  apply NoDup_filter, NoDup_nodup.
Qed.

Theorem converge_sorted : forall l, StronglySorted tx_le (converge l).
Proof. intros. apply isort_sorted. Qed.

(** ** Theorem 5c: only input transactions are output, and every input
    transaction's slot keeps its minimum. *)

Theorem converge_sound : forall l t, In t (converge l) -> In t l.
Proof. intros l t H. apply In_converge in H. tauto. Qed.

Lemma exists_min : forall l, l <> [] -> exists m, In m l /\ forall u, In u l -> tx_le m u.
Proof.
  induction l as [|a l IH]; intros Hne; [congruence|].
  destruct l as [|b l'].
  - exists a. split; [left; reflexivity|]. intros u [E|[]]; subst.
    unfold tx_le, tx_leb. rewrite lex_refl. reflexivity.
  - destruct IH as [m [Hm Hmin]]; [discriminate|].
    destruct (tx_le_total a m) as [Ham|Hma].
    + exists a. split; [left; reflexivity|]. intros u [E|Hu]; subst.
      * unfold tx_le, tx_leb. rewrite lex_refl. reflexivity.
      * apply tx_le_trans with m; auto.
    + exists m. split; [right; exact Hm|]. intros u [E|Hu]; subst; auto.
Qed.

Theorem converge_complete : forall l t, In t l ->
  exists u, In u (converge l) /\ from u = from t /\ nonce u = nonce t /\ tx_le u t.
Proof.
  intros l t Ht.
  set (slot := filter (fun u => same_slot u t) l).
  destruct (exists_min slot) as [m [Hm Hmin]].
  - intro E. assert (In t slot) as H.
    { apply filter_In. split; auto. apply same_slot_spec. auto. }
    rewrite E in H. destruct H.
  - apply filter_In in Hm as [Hm Hs]. apply same_slot_spec in Hs as [Ef En].
    exists m. split; [|split; [exact Ef|split; [exact En|]]].
    + apply In_converge. split; auto. apply is_winner_spec. intros u Hu Hus.
      apply same_slot_spec in Hus. apply Hmin. apply filter_In. split; auto.
      apply same_slot_spec. lia.
    + apply Hmin. apply filter_In. split; auto. apply same_slot_spec. auto.
Qed.
