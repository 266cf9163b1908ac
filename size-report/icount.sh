#!/usr/bin/env bash
# Native instruction counts per allocator call: quick feedback for speed work
# on talcum's core. About 12 s warm on 2 cores (other jobs holding the load
# near 3; 26 s at 4 to 6), plus 7 s to relink talcum's two binaries after a
# change to the core, where `cargo size-report` takes 6 minutes.
#
#   bash size-report/icount.sh [WORKLOAD...]
#
# Builds size-report/icount: one binary per allocator (talcum's default core
# and its tiny allocator, in icount/talcum/, from the repository root by
# path, so a changed core is measured as it stands; talc 5 and dlmalloc at
# the bench module's versions; the floor, the bench's bump allocator), each
# the global
# allocator of the wasm bench module's own workloads (module/src/workloads.rs
# and adverse.rs, included by path) run natively, every allocator growing an
# emulated linear memory. For each workload and allocator it runs the binary
# once natively with every byte of every block written and checked, then
# once under valgrind's callgrind, and prints instructions per allocator
# call over the floor:
#
#   (Ir of the allocator's run - Ir of the floor's run) / allocator calls
#
# and the ratio to talc 5's figure. Ir counts only the measured calls of a
# run (`icount_measured`), which follow two untimed calls that grow memory
# and settle the heap, as in the wasm bench's timing instances. Counts are
# deterministic: two runs print the same table, so any change is the code's.
#
# Workloads (default: random small realloc app): random small realloc app
# walk-1100-20k walk-300-20k band steps pair.
#
# Environment:
#   ICOUNT_OPT=z          build at opt-level "z" (default 3, the bench's speed
#                         profile; both with fat LTO and one codegen unit)
#   ICOUNT_ALLOCS="..."   allocators (default: talcum tiny talc dlmalloc;
#                         the floor always runs)
#   ICOUNT_REPS=N         measured calls per run, the i-th (from 0) with
#                         the workload's seed plus i (default: random 1,
#                         small 1, realloc 8, app 4, worst cases 1; enough
#                         that two sets of seeds agree within 1%)
#   ICOUNT_SEED=K         add K to every workload's seed (default 0: the
#                         report's seeds), to see what a figure owes to one
#                         random sequence
#   ICOUNT_JOBS=N         runs at once (default: the number of CPUs)
#   CARGO_TARGET_DIR      cargo's target directory (default: the
#                         repository's target/)
#
# The callgrind profiles stay in $CARGO_TARGET_DIR/icount/ (one per
# allocator and workload), for `callgrind_annotate --inclusive=yes FILE`.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
crate="$root/size-report/icount"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target}"

case "${ICOUNT_OPT:-3}" in
  3) profile=release ;;
  z) profile=oz ;;
  *) echo "icount: ICOUNT_OPT is 3 or z" >&2; exit 2 ;;
esac
bin="$CARGO_TARGET_DIR/$profile"
out="$CARGO_TARGET_DIR/icount"
reps="${ICOUNT_REPS:-0}"
jobs="${ICOUNT_JOBS:-$(nproc)}"
read -r -a allocs <<<"${ICOUNT_ALLOCS:-talcum tiny talc dlmalloc}"
if [ "$#" -gt 0 ]; then workloads=("$@"); else workloads=(random small realloc app); fi

command -v valgrind >/dev/null || { echo "icount: needs valgrind (callgrind)" >&2; exit 2; }

start=$EPOCHREALTIME

# The competitors' versions must be the bench module's.
version() { awk -v n="\"$1\"" '$1 == "name" && $3 == n { getline; gsub(/"/, "", $3); print $3 }' "$2"; }
for dep in talc dlmalloc; do
  ours=$(version "$dep" "$crate/Cargo.lock" 2>/dev/null || true)
  theirs=$(version "$dep" "$root/size-report/module/Cargo.lock")
  if [ -n "$ours" ] && [ "$ours" != "$theirs" ]; then
    echo "icount: warning: $dep $ours here, $theirs in size-report/module (pin it in size-report/icount/Cargo.toml)" >&2
  fi
done

cargo build --quiet --profile "$profile" --workspace --bins --manifest-path "$crate/Cargo.toml"

known=" $("$bin/icount-floor" --list | tr '\n' ' ')"
for w in "${workloads[@]}"; do
  case "$known" in
    *" $w "*) ;;
    *) echo "icount: no workload $w (workloads:$known)" >&2; exit 2 ;;
  esac
done

mkdir -p "$out"
rm -f "$out"/*.out "$out"/*.res

# One job: verify natively (every byte; fast), then count under callgrind
# with the untimed calls uninstrumented. Writes "<calls> <runs> <Ir>" to a
# .res.
job() {
  local alloc=$1 w=$2
  local file="$out/$alloc.$w"
  if ! "$bin/icount-$alloc" "$w" 1 full >/dev/null 2>"$file.err"; then
    echo "icount: $alloc $w failed natively: $(cat "$file.err")" >&2
    return 1
  fi
  local line
  if ! line=$(valgrind --tool=callgrind --instr-atstart=no --collect-atstart=no \
      --toggle-collect=icount_measured --callgrind-out-file="$file.out" \
      "$bin/icount-$alloc" "$w" "$reps" 2>"$file.err"); then
    echo "icount: $alloc $w failed under callgrind: $(tail -3 "$file.err")" >&2
    return 1
  fi
  rm -f "$file.err"
  local ir
  ir=$(awk '$1 == "summary:" { print $2 }' "$file.out")
  echo "${line#"$w "} $ir" >"$file.res"
}
export -f job
export bin out reps

for w in "${workloads[@]}"; do
  for a in floor "${allocs[@]}"; do
    echo "$a $w"
  done
done | xargs -P "$jobs" -L 1 bash -c 'job "$0" "$1"'

elapsed=$(awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')

# The table: rows allocators, columns workloads.
{
  echo "opt $profile ${ICOUNT_OPT:-3} elapsed $elapsed"
  echo "workloads ${workloads[*]}"
  echo "allocs ${allocs[*]}"
  for w in "${workloads[@]}"; do
    for a in floor "${allocs[@]}"; do
      echo "res $a $w $(cat "$out/$a.$w.res")"
    done
  done
} | awk '
  $1 == "opt" { opt = $3; elapsed = $5 }
  $1 == "workloads" { nw = NF - 1; for (i = 2; i <= NF; i++) W[i - 1] = $i }
  $1 == "allocs" { na = NF - 1; for (i = 2; i <= NF; i++) A[i - 1] = $i }
  $1 == "res" { calls[$2, $3] = $4; runs[$2, $3] = $5; ir[$2, $3] = $6 }
  END {
    bad = 0
    for (j = 1; j <= nw; j++) {
      w = W[j]
      for (i = 1; i <= na; i++) if (calls[A[i], w] != calls["floor", w]) {
        printf "icount: %s made %s calls on %s, the floor %s\n", A[i], calls[A[i], w], w, calls["floor", w] > "/dev/stderr"
        bad = 1
      }
    }
    printf "Instructions per allocator call over the floor (callgrind Ir, x86_64, opt-level %s),\nand the ratio to talc 5'"'"'s (lower is better):\n\n", opt
    head = "| allocator |"; rule = "|---|"
    for (j = 1; j <= nw; j++) { head = head " " W[j] " |"; rule = rule "--:|" }
    print head; print rule
    for (i = 1; i <= na; i++) {
      a = A[i]; row = "| " a " |"
      for (j = 1; j <= nw; j++) {
        w = W[j]
        over = (ir[a, w] - ir["floor", w]) / calls[a, w]
        cell = sprintf("%.1f", over)
        if (("talc", w) in ir) {
          t = (ir["talc", w] - ir["floor", w]) / calls["talc", w]
          if (a != "talc" && t > 0) cell = cell sprintf(" (%.2f×)", over / t)
        }
        row = row " " cell " |"
      }
      print row
    }
    row = "| *floor* (harness only) |"
    for (j = 1; j <= nw; j++) row = row sprintf(" (%.1f) |", ir["floor", W[j]] / calls["floor", W[j]])
    print row
    row = "| *allocator calls* (measured runs) |"
    for (j = 1; j <= nw; j++) row = row sprintf(" %d (%d) |", calls["floor", W[j]], runs["floor", W[j]])
    print row
    printf "\n%.1f s; callgrind profiles in the target directory'"'"'s icount/\n", elapsed
    exit bad
  }'
