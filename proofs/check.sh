#!/usr/bin/env bash
# Build the Coq proofs and check that every theorem is closed under the
# global context (no Admitted, no axioms).  Used by `make proofs`.
#   proofs/check.sh              build and check
#   proofs/check.sh --selftest   show that the checks catch planted bugs
#   FHBFT_PROOFS_PER_THEOREM=1   run Print Assumptions once per theorem
#                                (slower; by default one bundle is checked)
# Build artifacts go to a temporary directory; the source tree is untouched.
set -euo pipefail

self="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/$(basename "${BASH_SOURCE[0]}")"
# PROOFS_DIR lets --selftest run this script on a doctored copy.
here="${PROOFS_DIR:-$(dirname "$self")}"

# Compilation order (dependencies first).  Every .v file in proofs/ must be
# listed here, so a new file cannot be skipped silently.
ORDER=(Quorum Certificate Liveness SeedBFT Convergence HotStuff)

if ! command -v coqc >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    echo "proofs: coqc not found, installing Debian's coq"
    if ! DEBIAN_FRONTEND=noninteractive apt-get install -y coq >/dev/null; then
      apt-get update >/dev/null
      DEBIAN_FRONTEND=noninteractive apt-get install -y coq >/dev/null
    fi
  else
    echo "proofs: coqc not available, skipped"
    exit 0
  fi
fi

# --selftest: each planted bug must make the check fail with the expected
# message (BRIEF §5: a checker must be shown to catch a planted bug).
if [ "${1:-}" = "--selftest" ]; then
  st="$(mktemp -d "${TMPDIR:-/tmp}/fhbft-proofs-selftest.XXXXXX")"
  trap 'rm -rf "$st"' EXIT
  status=0
  plant() { # description, expected message, file to append to, text
    rm -rf "$st/src"; mkdir "$st/src"; cp "$here"/*.v "$st/src/"
    printf '%s\n' "$4" >>"$st/src/$3"
    if PROOFS_DIR="$st/src" bash "$self" >"$st/out" 2>&1; then
      echo "proofs selftest: FAIL planted $1 was not caught"; status=1
    elif grep -q "$2" "$st/out"; then
      echo "proofs selftest: ok   planted $1 caught: $(grep -m1 "$2" "$st/out")"
    else
      echo "proofs selftest: FAIL planted $1 failed for another reason:"; cat "$st/out"; status=1
    fi
  }
  plant "Admitted lemma" "forbidden outside comments" HotStuff.v \
    'Lemma planted : False. Admitted.'
  plant "Axiom" "forbidden outside comments" Certificate.v \
    'Axiom planted_ax : False.'
  plant "classical axiom used by a theorem" "FAIL HotStuff.planted_em depends on" HotStuff.v \
    'From Coq Require Classical_Prop. Theorem planted_em : forall P : Prop, P \/ ~ P. Proof. exact Classical_Prop.classic. Qed.'
  plant "false theorem" "FAIL compiling" Liveness.v \
    'Theorem planted_wrong : 1 + 1 = 3. Proof. reflexivity. Qed.'
  plant "file missing from ORDER" "not listed in ORDER" Extra.v \
    'Theorem planted_extra : True. Proof. exact I. Qed.'
  exit $status
fi

start=$(date +%s.%N)
echo "proofs: $(coqc --version | head -n1)"

fail=0

# 1. Every source is in ORDER and every ORDER entry exists.
for f in "$here"/*.v; do
  b="$(basename "$f" .v)"
  listed=0
  for o in "${ORDER[@]}"; do [ "$o" = "$b" ] && listed=1; done
  if [ $listed = 0 ]; then echo "proofs: FAIL $b.v is not listed in ORDER in check.sh"; fail=1; fi
done
for o in "${ORDER[@]}"; do
  [ -f "$here/$o.v" ] || { echo "proofs: FAIL $o.v listed in ORDER but missing"; fail=1; }
done
[ $fail = 0 ] || exit 1

build="$(mktemp -d "${TMPDIR:-/tmp}/fhbft-proofs.XXXXXX")"
[ -n "${FHBFT_PROOFS_KEEP:-}" ] || trap 'rm -rf "$build"' EXIT

# Strip (nested) comments and string literals, keeping line numbers, so that
# the scans below only see Coq commands.
strip_comments() {
  perl -0777 -ne '
    my $out = ""; my $depth = 0; my $i = 0; my $n = length($_); my $instr = 0;
    while ($i < $n) {
      my $two = substr($_, $i, 2); my $c = substr($_, $i, 1);
      if ($depth == 0 && !$instr && $c eq "\"") { $instr = 1; $i++; next; }
      if ($instr) { if ($c eq "\"") { $instr = 0; } $out .= "\n" if $c eq "\n"; $i++; next; }
      if ($two eq "(*") { $depth++; $i += 2; next; }
      if ($depth > 0 && $two eq "*)") { $depth--; $i += 2; next; }
      if ($depth > 0) { $out .= "\n" if $c eq "\n"; $i++; next; }
      $out .= $c; $i++;
    }
    print $out;' "$1"
}

# 2. No escape hatches outside comments.
forbidden='\b(Admitted|admit|Admit|Axiom|Axioms|Parameter|Parameters|Hypothesis|Hypotheses|Conjecture|Variable|Variables|Context)\b'
for o in "${ORDER[@]}"; do
  strip_comments "$here/$o.v" >"$build/$o.stripped"
  if grep -nE "$forbidden" "$build/$o.stripped" >"$build/hits"; then
    while IFS= read -r line; do echo "proofs: FAIL $o.v:$line (forbidden outside comments)"; done <"$build/hits"
    fail=1
  fi
done
[ $fail = 0 ] || exit 1

# 3. Compile in dependency order.
for o in "${ORDER[@]}"; do cp "$here/$o.v" "$build/"; done
for o in "${ORDER[@]}"; do
  if ! (cd "$build" && coqc -q -Q . FHBFT "$o.v"); then
    echo "proofs: FAIL compiling $o.v"
    exit 1
  fi
done
compiled=$(date +%s.%N)

# 4. Print Assumptions for every Theorem, Corollary and Example (the
# statements README.md cites) and, in the bundle, for every Lemma,
# Definition and Fixpoint as well.
: >"$build/theorems"; : >"$build/aux"
for o in "${ORDER[@]}"; do
  perl -0777 -ne '
    while (/(?:^|(?<=[\s.]))(Theorem|Corollary|Example|Lemma|Proposition|Fact|Remark|Definition|Fixpoint)\s+([A-Za-z_][A-Za-z0-9_]*)/g) {
      my ($kind, $name) = ($1, $2);
      print(($kind =~ /^(Theorem|Corollary|Example)$/ ? "T " : "A ") . "'"$o"'.$name\n");
    }' "$build/$o.stripped" >"$build/$o.names"
  sed -n 's/^T //p' "$build/$o.names" >>"$build/theorems"
  sed -n 's/^A //p' "$build/$o.names" >>"$build/aux"
done
total=$(wc -l <"$build/theorems")
if [ "$total" = 0 ]; then echo "proofs: FAIL no theorems found"; exit 1; fi

run_coq() { # file -> output in $build/$1.out; fails loudly on a Coq error
  if ! (cd "$build" && coqc -q -Q . FHBFT "$1") >"$build/$1.out" 2>&1; then
    cat "$build/$1.out"; echo "proofs: FAIL running Print Assumptions ($1)"; exit 1
  fi
}

# Fast path: one Print Assumptions over a tuple of every theorem; it is
# closed exactly when each component is.
per_theorem="${FHBFT_PROOFS_PER_THEOREM:-0}"
if [ "$per_theorem" = 0 ]; then
  {
    echo "From FHBFT Require ${ORDER[*]}."
    echo "Definition fhbft_all_theorems := ($(cat "$build/theorems" "$build/aux" | sed 's/^/@FHBFT./' | paste -sd, -))."
    echo "Print Assumptions fhbft_all_theorems."
  } >"$build/AllAssumptions.v"
  run_coq AllAssumptions.v
  if [ "$(tr -s ' \n' ' ' <"$build/AllAssumptions.v.out" | sed 's/^ //; s/ $//')" = "Closed under the global context" ]; then
    while read -r t; do echo "proofs: ok   $t (closed under the global context)"; done <"$build/theorems"
    echo "proofs: ok   $(wc -l <"$build/aux") lemmas and definitions (closed under the global context)"
  else
    echo "proofs: bundle depends on assumptions; checking each theorem"
    per_theorem=1
  fi
fi
if [ "$per_theorem" != 0 ]; then
  {
    echo "From FHBFT Require ${ORDER[*]}."
    while read -r t; do
      echo "Goal True. idtac \"@@ $t\". exact I. Qed."
      echo "Print Assumptions FHBFT.$t."
    done < <(cat "$build/theorems" "$build/aux")
  } >"$build/EachAssumptions.v"
  run_coq EachAssumptions.v
  awk '
    /^@@ / { if (name != "") print name "\t" body; name = $2; body = ""; next }
    { gsub(/^[ \t]+|[ \t]+$/, ""); if ($0 != "") body = (body == "" ? $0 : body " | " $0) }
    END { if (name != "") print name "\t" body }
  ' "$build/EachAssumptions.v.out" >"$build/summary"
  [ "$(wc -l <"$build/summary")" = "$(cat "$build/theorems" "$build/aux" | wc -l)" ] || { echo "proofs: FAIL could not parse Print Assumptions output"; exit 1; }
  while IFS=$'\t' read -r name body; do
    if [ "$body" = "Closed under the global context" ]; then
      echo "proofs: ok   $name (closed under the global context)"
    else
      fail=1; echo "proofs: FAIL $name depends on: $body"
    fi
  done <"$build/summary"
fi

end=$(date +%s.%N)
times=$(awk -v s="$start" -v c="$compiled" -v e="$end" 'BEGIN { printf "compile %.1fs, total %.1fs", c - s, e - s }')
if [ $fail != 0 ]; then echo "proofs: FAIL ($times)"; exit 1; fi
echo "proofs: PASS $total theorems closed under the global context (${#ORDER[@]} files; $times)"
