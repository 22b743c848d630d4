(** * The seed's network "BFT" formula (Theorem 4)

    seeds/000, section "Byzantine Fault Tolerance", defines
    [BFT = N_{m or f} / N_t]: the number of malicious or faulty nodes over
    the total number of nodes, summed over all quorums of the network
    (farmer quorums and the harvester quorum).  It is a network-wide ratio
    and nothing more.  Safety, however, is a per-quorum property (CERT-11):
    a quorum of [n] with threshold [q] and [b >= 2q - n] Byzantine members
    can certify two conflicting values in one slot, whatever the other
    quorums look like.  Spec: spec/overview.md, "Fault model". *)

From Coq Require Import Arith Lia List ZArith.
From FHBFT Require Import Quorum Certificate Liveness.
Import ListNotations.

(** A quorum: size [n], threshold [q], number of faulty members. *)
Record quorum := mkQuorum { qsize : nat; qthr : nat; qfaulty : nat }.

Definition sum (l : list nat) : nat := fold_right plus 0 l.
Definition total_faulty (net : list quorum) : nat := sum (map qfaulty net).
Definition total_size (net : list quorum) : nat := sum (map qsize net).

(** What the formula computes: the fraction [total_faulty / total_size],
    kept as a numerator/denominator pair. *)
Definition seed_bft (net : list quorum) : nat * nat := (total_faulty net, total_size net).

(** The per-quorum safety condition of CERT-11: [b < 2q - n]. *)
Definition within_bound (Q : quorum) : Prop := qfaulty Q + qsize Q < 2 * qthr Q.

(** ** Network safety is exactly "every quorum within its bound";
    the network-wide ratio does not appear in it. *)
Theorem network_safety_per_quorum : forall net : list quorum,
  Forall (fun Q => qthr Q <= qsize Q) net ->
  (Forall (fun Q => safe bool (qsize Q) (qthr Q) (qfaulty Q)) net <->
   Forall within_bound net).
Proof.
  intros net Hq. rewrite !Forall_forall in *. split; intros H Q HQ.
  - unfold within_bound. apply (safety_bound_iff bool true false); auto. discriminate.
  - apply (safety_bound_iff bool true false); auto. discriminate. apply H. exact HQ.
Qed.

(** A network of [K + 1] quorums of [n] members with threshold [q]: the
    first has [f0] faulty members, the other [K] none. *)
Definition one_bad_net (n q K f0 : nat) : list quorum :=
  mkQuorum n q f0 :: repeat (mkQuorum n q 0) K.

Lemma one_bad_net_totals : forall n q K f0,
  total_faulty (one_bad_net n q K f0) = f0 /\
  total_size (one_bad_net n q K f0) = n + K * n /\
  length (one_bad_net n q K f0) = K + 1.
Proof.
  intros n q K f0. unfold total_faulty, total_size, one_bad_net. simpl.
  induction K as [|K IH]; simpl in *; lia.
Qed.

(** ** Theorem 4a: a low network ratio does not give safety.  For every
    number [K >= 1] of other quorums and every quorum size [n >= 3] with
    the default threshold, there is a network whose ratio is below 40 %,
    the lowest figure the seed claims (0.4, 0.46663, 0.5636, 0.5959), in
    which one quorum has [2q - n] Byzantine members and therefore admits
    two conflicting certificates in one slot. *)
Theorem seed_ratio_not_sufficient : forall K n, 1 <= K -> 3 <= n ->
  let net := one_bad_net n (q60 n) K (2 * q60 n - n) in
  length net = K + 1 /\
  5 * total_faulty net < 2 * total_size net /\
  In (mkQuorum n (q60 n) (2 * q60 n - n)) net /\
  ~ within_bound (mkQuorum n (q60 n) (2 * q60 n - n)) /\
  conflicting_certificates n (q60 n) (2 * q60 n - n).
Proof.
  intros K n HK Hn net. destruct (one_bad_net_totals n (q60 n) K (2 * q60 n - n)) as [F [T L]].
  pose proof (q60_spec n) as Hq. unfold net. rewrite F, T.
  split; [exact L|]. split; [nia|]. split; [left; reflexivity|]. split.
  - unfold within_bound. simpl. lia.
  - apply conflicting_certificates_iff; lia.
Qed.

(** ** Theorem 4b: the ratio can be made smaller than any positive
    fraction [a / c] while safety is lost in one quorum. *)
Theorem seed_ratio_arbitrarily_small : forall n a c, 1 <= n -> 1 <= a ->
  exists K,
    let net := one_bad_net n (q60 n) K (2 * q60 n - n) in
    c * total_faulty net < a * total_size net /\
    conflicting_certificates n (q60 n) (2 * q60 n - n).
Proof.
  intros n a c Hn Ha. exists (c * (2 * q60 n - n)).
  set (K := c * (2 * q60 n - n)).
  destruct (one_bad_net_totals n (q60 n) K (2 * q60 n - n)) as [F [T _]].
  pose proof (q60_spec n) as Hq. cbv zeta. rewrite F, T. split.
  - assert (n + K * n <= a * (n + K * n)) by nia.
    assert (K <= K * n) by nia. unfold K in *. lia.
  - apply conflicting_certificates_iff; lia.
Qed.

(** ** Theorem 4c: the seed's own scenario.  The seed lets "every other
    farmer quorum" hold up to 59.9999 % faulty members.  With [q - 1] faulty
    members (the most that stays below 60 %) a quorum of [n >= 3] admits two
    conflicting certificates. *)
Theorem seed_59_percent_unsafe : forall n, 3 <= n ->
  5 * (q60 n - 1) < 3 * n /\ conflicting_certificates n (q60 n) (q60 n - 1).
Proof.
  intros n Hn. pose proof (q60_spec n). split; [lia|].
  apply conflicting_certificates_iff; lia.
Qed.

(** The seed's per-quorum claim of 40 % faulty members: [floor(2n/5)]
    faulty members admit conflicting certificates for every [n] except
    1, 2, 4 and 7. *)
Theorem seed_40_percent_unsafe : forall n, 1 <= n ->
  (conflicting_certificates n (q60 n) ((2 * n) / 5) <->
   (n <> 1 /\ n <> 2 /\ n <> 4 /\ n <> 7)).
Proof.
  intros n Hn. pose proof (q60_spec n).
  pose proof (Nat.div_mod (2 * n) 5 ltac:(discriminate)).
  pose proof (Nat.mod_upper_bound (2 * n) 5 ltac:(discriminate)).
  rewrite conflicting_certificates_iff by lia. lia.
Qed.

(** The seed's example quorum of 25: [q = 15], bound [b < 5]; the seed's
    40 % (10 members) and 59.999 % (14 members) are both past it. *)
Example seed_quorum_25 :
  q60 25 = 15 /\ byz_tol 25 = 4 /\
  conflicting_certificates 25 15 5 /\ conflicting_certificates 25 15 10 /\
  conflicting_certificates 25 15 14.
Proof.
  split; [reflexivity|]. split; [reflexivity|].
  split; [|split]; apply conflicting_certificates_iff; lia.
Qed.

(** ** Theorem 4d: the ratio does not determine safety.  Two networks of
    two 25-member quorums with the same ratio 8/50: one is safe, the other
    has a quorum that admits conflicting certificates. *)
Theorem seed_ratio_not_a_criterion :
  let net1 := [mkQuorum 25 15 4; mkQuorum 25 15 4] in
  let net2 := [mkQuorum 25 15 8; mkQuorum 25 15 0] in
  seed_bft net1 = seed_bft net2 /\
  Forall within_bound net1 /\
  conflicting_certificates 25 15 8.
Proof.
  simpl. split; [reflexivity|]. split.
  - repeat constructor; unfold within_bound; simpl; lia.
  - apply conflicting_certificates_iff; lia.
Qed.

(** ** What the ratio does guarantee. *)

Lemma sum_map_mul : forall (f : quorum -> nat) (c : nat) net,
  sum (map (fun Q => f Q * c) net) = sum (map f net) * c.
Proof. intros f c net. induction net as [|Q net IH]; simpl; [reflexivity|]. rewrite IH. lia. Qed.

Lemma exists_le_or_all_gt : forall (g h : quorum -> nat) net,
  (exists Q, In Q net /\ g Q <= h Q) \/ (forall Q, In Q net -> h Q < g Q).
Proof.
  intros g h net. induction net as [|Q net [[P [HP HPle]]|Hall]].
  - right. intros Q [].
  - left. exists P. simpl. auto.
  - destruct (le_lt_dec (g Q) (h Q)) as [Hle|Hlt].
    + left. exists Q. simpl. auto.
    + right. intros P [HP|HP]; [subst; exact Hlt|auto].
Qed.

Lemma sum_lt : forall (g h : quorum -> nat) net, net <> [] ->
  (forall Q, In Q net -> h Q < g Q) -> sum (map h net) < sum (map g net).
Proof.
  intros g h net Hne Hall. induction net as [|Q net IH]; [congruence|].
  simpl. assert (h Q < g Q) by (apply Hall; left; reflexivity).
  destruct net as [|Q' net'].
  - simpl. lia.
  - assert (sum (map h (Q' :: net')) < sum (map g (Q' :: net'))).
    { apply IH; [discriminate|]. intros P HP. apply Hall. right. exact HP. }
    lia.
Qed.

(** Guarantee 1 (averaging): some quorum's faulty fraction is at most the
    network ratio: [f_Q / n_Q <= F / T]. *)
Theorem seed_ratio_averaging : forall net, net <> [] ->
  exists Q, In Q net /\ qfaulty Q * total_size net <= total_faulty net * qsize Q.
Proof.
  intros net Hne.
  destruct (exists_le_or_all_gt (fun Q => qfaulty Q * total_size net)
              (fun Q => total_faulty net * qsize Q) net) as [H|H]; [exact H|].
  exfalso. pose proof (sum_lt _ _ net Hne H) as Hs.
  rewrite sum_map_mul in Hs.
  assert (forall c l, sum (map (fun Q => c * qsize Q) l) = c * sum (map qsize l)) as E.
  { intros c l. induction l as [|Q l IH]; simpl; [lia|]. rewrite IH. lia. }
  rewrite E in Hs. unfold total_faulty, total_size in *. lia.
Qed.

(** So, for quorums of one size [n] and threshold [q], a ratio below
    [(2q - n) / n] guarantees that at least ONE quorum is within its bound,
    and no more (Theorem 4a: the others may not be). *)
Theorem seed_ratio_one_quorum_safe : forall net n q, net <> [] ->
  Forall (fun Q => qsize Q = n /\ qthr Q = q) net ->
  total_faulty net * n < (2 * q - n) * total_size net ->
  exists Q, In Q net /\ within_bound Q.
Proof.
  intros net n q Hne Hu Hr.
  destruct (seed_ratio_averaging net Hne) as [Q [HQ Hle]].
  exists Q. split; [exact HQ|].
  rewrite Forall_forall in Hu. destruct (Hu Q HQ) as [Hs Ht].
  unfold within_bound. rewrite Hs, Ht. rewrite Hs in Hle.
  assert (qfaulty Q * total_size net < (2 * q - n) * total_size net) as H by lia.
  apply Nat.mul_lt_mono_pos_r in H; [lia|].
  destruct (Nat.eq_dec (total_size net) 0) as [Z|Z]; [|lia].
  rewrite Z in Hr. lia.
Qed.

Lemma In_le_sum : forall (f : quorum -> nat) net Q, In Q net -> f Q <= sum (map f net).
Proof.
  intros f net Q HQ. induction net as [|P net IH]; [destruct HQ|].
  simpl in *. destruct HQ as [E|HQ]; [subst; lia|]. specialize (IH HQ). lia.
Qed.

(** Guarantee 2: if the total number of faulty nodes in the whole
    network is below every quorum's bound, every quorum is safe.  As a
    ratio this is [F / T < (2q - n) / T]: it shrinks as the network grows,
    the opposite of the seed's claim that the tolerance grows with [K]. *)
Theorem seed_total_guarantee : forall net,
  (forall Q, In Q net -> total_faulty net + qsize Q < 2 * qthr Q) ->
  Forall within_bound net.
Proof.
  intros net H. rewrite Forall_forall. intros Q HQ. unfold within_bound.
  pose proof (In_le_sum qfaulty net Q HQ). specialize (H Q HQ).
  unfold total_faulty in H. lia.
Qed.

(** The seed's worked examples, in units of [N / 100000] (so 0.59999 N is
    59999).  Ten farmer quorums: [9 * 0.59999 N + 0.4 N + 0.4 N] is
    6.19991 N, not the 6.59991 N printed.  The printed ratio 0.5636 comes
    from the corrected sum (6.19991 / 11 = 0.56363); the printed sum would
    give 6.59991 / 11 = 0.59999.  A hundred farmer quorums: the sum is
    60.19901 N, not the 60.1901 N printed; here the printed ratio 0.5959
    comes from the printed sum (60.1901 / 101 = 0.59594), while the correct
    sum gives 60.19901 / 101 = 0.59603.  The slips do not matter: the
    formula itself is not a safety criterion (Theorem 4a-4d). *)
Example seed_example_10_quorums :
  (9 * 59999 + 40000 + 40000 = 619991 /\ 619991 <> 659991)%Z.
Proof. split; [reflexivity|discriminate]. Qed.
Example seed_example_100_quorums :
  (99 * 59999 + 40000 + 40000 = 6019901 /\ 6019901 <> 6019010)%Z.
Proof. split; [reflexivity|discriminate]. Qed.

(** The four ratios, truncated to 4 decimals (5 for 0.59999): corrected and
    printed sum for ten quorums, printed and corrected sum for a hundred. *)
Example seed_example_ratios :
  (619991 * 10000 / (11 * 100000) = 5636 /\
   659991 * 100000 / (11 * 100000) = 59999 /\
   6019010 * 10000 / (101 * 100000) = 5959 /\
   6019901 * 10000 / (101 * 100000) = 5960)%Z.
Proof. repeat split; reflexivity. Qed.
