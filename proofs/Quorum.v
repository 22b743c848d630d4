(** * Quorum intersection (Theorem 1)

    Members are natural numbers; a set of members is a duplicate-free
    list.  Theorem 1 is the counting fact every fault bound in
    spec/certification.md rests on (CERT-11, CERT-12): two quorums drawn
    from [n] members share at least [|A| + |B| - n] of them.  It is stated
    without truncated subtraction, as [|A| + |B| <= n + |A ∩ B|]. *)

From Coq Require Import Arith Lia List.
Import ListNotations.

(** Boolean membership, so that intersections and differences compute. *)
Definition mem (x : nat) (l : list nat) : bool := existsb (Nat.eqb x) l.

Lemma mem_spec : forall x l, mem x l = true <-> In x l.
Proof.
  intros x l. unfold mem. rewrite existsb_exists. split.
  - intros [y [Hy Heq]]. apply Nat.eqb_eq in Heq. subst. exact Hy.
  - intros H. exists x. split; [exact H | apply Nat.eqb_refl].
Qed.

Lemma mem_false : forall x l, mem x l = false <-> ~ In x l.
Proof.
  intros x l. rewrite <- mem_spec. destruct (mem x l); split; intro H;
    try congruence; try reflexivity; exfalso; apply H; reflexivity.
Qed.

Definition inter (A B : list nat) : list nat := filter (fun x => mem x B) A.
Definition diff (A B : list nat) : list nat := filter (fun x => negb (mem x B)) A.

Lemma inter_spec : forall A B x, In x (inter A B) <-> In x A /\ In x B.
Proof. intros. unfold inter. rewrite filter_In, mem_spec. tauto. Qed.

Lemma diff_spec : forall A B x, In x (diff A B) <-> In x A /\ ~ In x B.
Proof.
  intros. unfold diff. rewrite filter_In, <- mem_false.
  destruct (mem x B); simpl; intuition congruence.
Qed.

Lemma inter_NoDup : forall A B, NoDup A -> NoDup (inter A B).
Proof. intros. apply NoDup_filter. assumption. Qed.

Lemma diff_NoDup : forall A B, NoDup A -> NoDup (diff A B).
Proof. intros. apply NoDup_filter. assumption. Qed.

Lemma filter_split_length : forall (f : nat -> bool) l,
  length (filter f l) + length (filter (fun x => negb (f x)) l) = length l.
Proof. intros f l. induction l as [|a l IH]; simpl; [reflexivity|]. destruct (f a); simpl; lia. Qed.

Lemma inter_diff_length : forall A B, length (inter A B) + length (diff A B) = length A.
Proof. intros. apply filter_split_length. Qed.

Lemma NoDup_app_disjoint : forall (l1 l2 : list nat),
  NoDup l1 -> NoDup l2 -> (forall x, In x l1 -> ~ In x l2) -> NoDup (l1 ++ l2).
Proof.
  induction l1 as [|a l1 IH]; intros l2 H1 H2 Hd; simpl; [assumption|].
  inversion H1; subst. constructor.
  - rewrite in_app_iff. intros [H|H]; [contradiction|]. apply (Hd a); simpl; auto.
  - apply IH; auto. intros x Hx. apply Hd. simpl. auto.
Qed.

(** ** Theorem 1, general form: members drawn from any list [U]. *)
Theorem quorum_intersection : forall (U A B : list nat),
  NoDup A -> NoDup B -> incl A U -> incl B U ->
  length A + length B <= length U + length (inter A B).
Proof.
  intros U A B HA HB HAU HBU.
  (* B ++ (A \ B) is the union; it is duplicate-free and inside U. *)
  assert (Hnd : NoDup (B ++ diff A B)).
  { apply NoDup_app_disjoint; auto using diff_NoDup.
    intros x Hx Hx'. apply diff_spec in Hx'. tauto. }
  assert (Hinc : incl (B ++ diff A B) U).
  { intros x Hx. apply in_app_iff in Hx as [Hx|Hx]; auto.
    apply diff_spec in Hx. apply HAU. tauto. }
  pose proof (NoDup_incl_length Hnd Hinc) as Hl.
  rewrite app_length in Hl. pose proof (inter_diff_length A B). lia.
Qed.

Definition members (n : nat) : list nat := seq 0 n.

Lemma members_length : forall n, length (members n) = n.
Proof. intros. apply seq_length. Qed.

Lemma in_members : forall n x, In x (members n) <-> x < n.
Proof. intros. unfold members. rewrite in_seq. lia. Qed.

(** ** Theorem 1 as stated in the spec: members drawn from [0 .. n-1]. *)
Theorem quorum_intersection_n : forall (n : nat) (A B : list nat),
  NoDup A -> NoDup B -> incl A (members n) -> incl B (members n) ->
  length A + length B <= n + length (inter A B).
Proof.
  intros n A B HA HB HAn HBn. rewrite <- (members_length n).
  apply quorum_intersection; assumption.
Qed.

(** Pigeonhole: a duplicate-free list longer than [Byz] has an element
    outside [Byz] ([Byz] may contain duplicates or non-members). *)
Lemma exists_not_in : forall (I Byz : list nat),
  NoDup I -> length Byz < length I -> exists x, In x I /\ ~ In x Byz.
Proof.
  intros I Byz HI Hlt.
  destruct (diff I Byz) as [|x rest] eqn:E.
  - exfalso.
    assert (Hinc : incl I Byz).
    { intros x Hx. destruct (mem x Byz) eqn:M.
      - apply mem_spec. exact M.
      - apply mem_false in M. assert (In x (diff I Byz)) as Hd by (apply diff_spec; auto).
        rewrite E in Hd. destruct Hd. }
    pose proof (NoDup_incl_length HI Hinc). lia.
  - exists x. apply diff_spec. rewrite E. simpl. auto.
Qed.

(** Two quorums of size at least [q] from [U] share a member outside any
    [Byz] with [|Byz| + |U| < 2q], i.e. [|Byz| < 2q - |U|]. *)
Theorem quorum_honest_witness : forall (U Byz S1 S2 : list nat) (q : nat),
  NoDup S1 -> NoDup S2 -> incl S1 U -> incl S2 U ->
  q <= length S1 -> q <= length S2 ->
  length Byz + length U < 2 * q ->
  exists r, In r S1 /\ In r S2 /\ ~ In r Byz.
Proof.
  intros U Byz S1 S2 q H1 H2 H1U H2U Hq1 Hq2 Hb.
  pose proof (quorum_intersection U S1 S2 H1 H2 H1U H2U) as Hi.
  destruct (exists_not_in (inter S1 S2) Byz) as [r [Hr Hnb]].
  - apply inter_NoDup. assumption.
  - lia.
  - apply inter_spec in Hr. exists r. tauto.
Qed.
