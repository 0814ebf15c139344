#!/usr/bin/env bash
# Instruction counts (valgrind --tool=callgrind) of parsing each test input N times with
# cpm-sip and with rsip, and their ratio. Counts repeat exactly on a noisy machine.
# Usage: bench/parse-callgrind.sh [ITERATIONS]   (default 2000)
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-2000}
command -v valgrind >/dev/null || { echo "valgrind is needed (apt-get install valgrind)" >&2; exit 1; }
cargo build --release -q -p cpm-sip --example parse_count
bin=target/release/examples/parse_count
count() { # parser file iterations -> instructions
  valgrind --tool=callgrind --callgrind-out-file=/dev/null "$bin" "$1" "$2" "$3" 2>&1 |
    sed -n 's/.*Collected : \([0-9]*\).*/\1/p'
}
printf '%-22s %14s %14s %9s\n' input "cpm instr/msg" "rsip instr/msg" rsip/cpm
for f in crates/sip/testdata/*.sip; do
  base_c=$(count cpm "$f" 1); base_r=$(count rsip "$f" 1)
  c=$(count cpm "$f" "$n"); r=$(count rsip "$f" "$n")
  pc=$(( (c - base_c) / (n - 1) )); pr=$(( (r - base_r) / (n - 1) ))
  printf '%-22s %14d %14d %8.2fx\n' "$(basename "$f" .sip)" "$pc" "$pr" "$(awk -v a="$pr" -v b="$pc" 'BEGIN{print a/b}')"
done
