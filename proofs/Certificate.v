(** * Certificate uniqueness, validity and the tightness of the bound (Theorem 2)

    Model of one slot (spec/certification.md CERT-2): the slot's vote log is
    a list of (member, value) pairs; a Byzantine member may appear with any
    number of values, an honest member with at most one (CERT-5).  A
    certificate for value [v] is a set of at least [q] distinct roster
    members (CERT-4, CERT-7) each of which voted [v] (CERT-9).  The
    threshold signature itself is abstracted away: a certificate exists
    exactly when such a set exists. *)

From Coq Require Import Arith Lia List.
From FHBFT Require Import Quorum.
Import ListNotations.

(** CERT-5: honest members (those outside [byz]) vote at most one value. *)
Definition honest_once {V : Type} (byz : list nat) (votes : list (nat * V)) : Prop :=
  forall m v w, ~ In m byz -> In (m, v) votes -> In (m, w) votes -> v = w.

(** CERT-9: [S] certifies [v]: at least [q] distinct roster members, each voted [v]. *)
Definition certificate {V : Type} (n q : nat) (votes : list (nat * V))
  (S : list nat) (v : V) : Prop :=
  NoDup S /\ incl S (members n) /\ q <= length S /\ forall m, In m S -> In (m, v) votes.

(** ** CERT-11 (safety direction): with [b < 2q - n] Byzantine members,
    two certificates in one slot certify the same value.  [byz] need not be
    duplicate-free nor inside the roster; only its length counts. *)
Theorem certificate_uniqueness : forall (V : Type) (n q : nat) (byz : list nat)
  (votes : list (nat * V)) (S1 S2 : list nat) (v w : V),
  length byz + n < 2 * q ->
  honest_once byz votes ->
  certificate n q votes S1 v -> certificate n q votes S2 w -> v = w.
Proof.
  intros V n q byz votes S1 S2 v w Hb Hh [N1 [I1 [L1 V1]]] [N2 [I2 [L2 V2]]].
  destruct (quorum_honest_witness (members n) byz S1 S2 q N1 N2 I1 I2 L1 L2)
    as [r [R1 [R2 Rh]]].
  - rewrite members_length. exact Hb.
  - exact (Hh r v w Rh (V1 r R1) (V2 r R2)).
Qed.

(** ** CERT-12 validity: a certificate has at least [q - b] honest
    supporters, each of whom voted the certified value. *)
Theorem certificate_validity : forall (V : Type) (n q : nat) (byz : list nat)
  (votes : list (nat * V)) (S : list nat) (v : V),
  certificate n q votes S v ->
  q <= length (diff S byz) + length byz /\
  forall m, In m (diff S byz) -> ~ In m byz /\ In (m, v) votes.
Proof.
  intros V n q byz votes S v [N [I [L Vs]]]. split.
  - pose proof (inter_diff_length S byz).
    assert (length (inter S byz) <= length byz).
    { apply NoDup_incl_length. apply inter_NoDup. exact N.
      intros x Hx. apply inter_spec in Hx. tauto. }
    lia.
  - intros m Hm. apply diff_spec in Hm. split; [tauto|]. apply Vs. tauto.
Qed.

(** ** Tightness: with [2q - n] Byzantine members two certificates for
    different values exist, for every [q <= n].

    Members [0 .. n-q-1] vote [v], members [q .. n-1] vote [w], and the
    [2q - n] Byzantine members [n-q .. q-1] vote both.  Then [0 .. q-1]
    certifies [v] and [n-q .. n-1] certifies [w].  (When [2q <= n] the two
    sets are disjoint and no Byzantine member is needed at all: such a
    threshold is rejected by CERT-1.) *)
Definition split_byz (n q : nat) : list nat := seq (n - q) (2 * q - n).

Definition split_votes {V : Type} (n q : nat) (v w : V) : list (nat * V) :=
  map (fun m => (m, v)) (seq 0 q) ++ map (fun m => (m, w)) (seq (n - q) q).

Lemma in_split_votes : forall (V : Type) n q (v w : V) m x,
  In (m, x) (split_votes n q v w) <-> (m < q /\ x = v) \/ (n - q <= m < n - q + q /\ x = w).
Proof.
  intros. unfold split_votes. rewrite in_app_iff, !in_map_iff. split.
  - intros [[m' [E H]]|[m' [E H]]]; apply in_seq in H; inversion E; subst; lia || tauto.
  - intros [[H E]|[H E]]; subst; [left|right]; exists m; split; auto; apply in_seq; lia.
Qed.

Theorem certificate_tight : forall (V : Type) (n q : nat) (v w : V),
  q <= n ->
  NoDup (split_byz n q) /\ incl (split_byz n q) (members n) /\
  length (split_byz n q) = 2 * q - n /\
  honest_once (split_byz n q) (split_votes n q v w) /\
  certificate n q (split_votes n q v w) (seq 0 q) v /\
  certificate n q (split_votes n q v w) (seq (n - q) q) w.
Proof.
  intros V n q v w Hqn. unfold split_byz.
  split; [apply seq_NoDup|]. split.
  { intros x Hx. apply in_seq in Hx. apply in_members. lia. }
  split; [apply seq_length|]. split.
  { intros m a c Hm Ha Hc. apply in_split_votes in Ha, Hc.
    assert (~ (n - q <= m < n - q + (2 * q - n))) as Hm'.
    { intro H. apply Hm. apply in_seq. exact H. }
    destruct Ha as [[Ha Ea]|[Ha Ea]]; destruct Hc as [[Hc Ec]|[Hc Ec]]; subst;
      try reflexivity; exfalso; apply Hm'; lia. }
  split.
  - split; [apply seq_NoDup|]. split.
    { intros x Hx. apply in_seq in Hx. apply in_members. lia. }
    split; [rewrite seq_length; lia|].
    intros m Hm. apply in_seq in Hm. apply in_split_votes. left. split; [lia|reflexivity].
  - split; [apply seq_NoDup|]. split.
    { intros x Hx. apply in_seq in Hx. apply in_members. lia. }
    split; [rewrite seq_length; lia|].
    intros m Hm. apply in_seq in Hm. apply in_split_votes. right. split; [lia|reflexivity].
Qed.

(** [safe V n q b]: for every behaviour of at most [b] Byzantine roster
    members, certificates in one slot are unique. *)
Definition safe (V : Type) (n q b : nat) : Prop :=
  forall (byz : list nat) (votes : list (nat * V)) (S1 S2 : list nat) (v w : V),
    NoDup byz -> incl byz (members n) -> length byz <= b ->
    honest_once byz votes ->
    certificate n q votes S1 v -> certificate n q votes S2 w -> v = w.

(** ** CERT-11 exactly: certificates are unique for every behaviour iff
    [b < 2q - n] (written [b + n < 2q]), for any value type with two
    distinct values and any threshold [q <= n]. *)
Theorem safety_bound_iff : forall (V : Type) (v0 w0 : V) (n q b : nat),
  v0 <> w0 -> q <= n -> (safe V n q b <-> b + n < 2 * q).
Proof.
  intros V v0 w0 n q b Hvw Hqn. split.
  - intros Hs. destruct (lt_dec (b + n) (2 * q)) as [H|H]; [exact H|].
    exfalso. destruct (certificate_tight V n q v0 w0 Hqn) as [N [I [L [Ho [C1 C2]]]]].
    apply Hvw. apply (Hs (split_byz n q) (split_votes n q v0 w0) (seq 0 q) (seq (n - q) q));
      auto. lia.
  - intros Hb byz votes S1 S2 v w _ _ Hl Ho C1 C2.
    apply (certificate_uniqueness V n q byz votes S1 S2 v w); auto. lia.
Qed.

(** Two conflicting certificates are possible with [b] Byzantine members. *)
Definition conflicting_certificates (n q b : nat) : Prop :=
  exists (byz : list nat) (votes : list (nat * bool)) (S1 S2 : list nat),
    NoDup byz /\ incl byz (members n) /\ length byz <= b /\
    honest_once byz votes /\
    certificate n q votes S1 true /\ certificate n q votes S2 false.

Theorem conflicting_certificates_iff : forall n q b,
  q <= n -> (conflicting_certificates n q b <-> 2 * q <= b + n).
Proof.
  intros n q b Hqn. split.
  - intros [byz [votes [S1 [S2 [N [I [L [Ho [C1 C2]]]]]]]]].
    destruct (le_lt_dec (2 * q) (b + n)) as [H|H]; [exact H|].
    exfalso. assert (true = false); [|discriminate].
    apply (certificate_uniqueness bool n q byz votes S1 S2); auto. lia.
  - intros H. destruct (certificate_tight bool n q true false Hqn) as [N [I [L [Ho [C1 C2]]]]].
    exists (split_byz n q), (split_votes n q true false), (seq 0 q), (seq (n - q) q).
    refine (conj N (conj I (conj _ (conj Ho (conj C1 C2))))). lia.
Qed.
