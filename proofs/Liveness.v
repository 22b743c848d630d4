(** * Liveness arithmetic and the tolerated fault counts (Theorem 3)

    CERT-13: a certificate forms when at least [q] honest active members
    vote the same value; with fewer, the Byzantine members (by withholding
    their votes) and the crashed members (by staying silent) prevent it.
    Then the default threshold [q = ceil(0.6 n)] (CERT-1), computed in nat as
    [(3n + 4) / 5], and the exact numbers of crashes and Byzantine members
    it tolerates, as functions of [n]. *)

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
