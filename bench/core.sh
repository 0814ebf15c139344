#!/usr/bin/env bash
# SIP/IP Core load benchmark: SIPp UAC -> proxy -> SIPp UAS with MESSAGE, for cpm's core and,
# when installed, for Kamailio configured as the equivalent stateful proxy + registrar
# (bench/kamailio.cfg), in the same invocation.
#
# For each server: bob (the UAS) registers; a ladder of short probe runs finds the highest
# rate with 0 failed messages and 0 retransmissions; a run of BENCH_MSGS messages at that rate
# is measured (lower rates if it fails): messages/s from SIPp's statistics, the server's
# CPU-seconds (all its processes) per 10,000 messages. Then both are measured again at a
# common rate below both maxima (80% of the lower one), because CPU per message depends on
# the rate and is noisy at a server's limit. Then the ratios cpm/Kamailio: throughput from
# the maxima, CPU per message from the common rate. See bench/README.md.
#
# Usage: bench/core.sh                       (100,000 messages per measured run)
#        BENCH_MSGS=20000 bench/core.sh      (a quick run)
# Environment (all optional):
#   BENCH_MSGS         messages of each measured run (default 100000)
#   BENCH_PROBE_MSGS   most messages of a ladder probe (default BENCH_MSGS/5, 5000..20000);
#                      a probe lasts about 2 s: min(this, max(2000, 2 x rate)) messages
#   BENCH_RATES        the ladder, messages/s ascending (default below)
#   BENCH_SERVERS      which servers, in order (default "kamailio cpm")
#   BENCH_CPU_RATE     the common rate of the CPU comparison (default: the highest rung at
#                      or below 80% of the lower of the two maxima)
#   BENCH_PORT         the proxy's UDP port on 127.0.0.1 (default 25060; UAS +20, UAC +30)
#   BENCH_TIME_LIMIT   hard bound of the whole script in seconds (default 1800)
#   KAMAILIO_CHILDREN  Kamailio UDP worker processes (default 2, the machine's cores)
#   CPM_BIN            a prebuilt cpm binary (default: cargo build --release -p cpm)
#   BENCH_KEEP=1       keep the work directory (server logs, SIPp CSVs and screens)
# Needs: sipp (Debian sip-tester), python3, and for the comparison kamailio (Debian kamailio).
set -euo pipefail

if [[ -z "${BENCH_INNER:-}" ]]; then
  # The hard time bound: the whole script, SIPp and servers included, under timeout(1).
  export BENCH_INNER=1
  exec timeout --foreground -k 15 "${BENCH_TIME_LIMIT:-1800}" "$0" "$@"
fi

cd "$(dirname "$0")/.."
ROOT=$PWD
MSGS=${BENCH_MSGS:-100000}
PROBE=${BENCH_PROBE_MSGS:-$((MSGS / 5))}
if [[ -z "${BENCH_PROBE_MSGS:-}" ]]; then
  ((PROBE >= 5000)) || PROBE=5000
  ((PROBE <= 20000)) || PROBE=20000
fi
((PROBE <= MSGS)) || PROBE=$MSGS
RATES=${BENCH_RATES:-"1000 2000 3000 4000 5000 6000 7000 8000 9000 10000 11000 12000 13000 14000 15000 16000 17000 18000 19000 20000 22000 24000 26000 28000 30000"}
SERVERS=${BENCH_SERVERS:-"kamailio cpm"}
PORT=${BENCH_PORT:-25060}
UAS_PORT=$((PORT + 20))
UAC_PORT=$((PORT + 30))
DOMAIN=bench.test
PASSWORD=secret
KAMAILIO_CHILDREN=${KAMAILIO_CHILDREN:-2}
BUFF=4194304 # SIPp drops packets on this machine without a 4 MiB socket buffer, both sides
TCK=$(getconf CLK_TCK)

WORK=$(mktemp -d /tmp/cpm-bench-core.XXXXXX)
SERVER_PID=""
UAS_PID=""
CPM_BIN_PATH=""
CPM_LABEL="cpm not run"

log() { echo "$*" >&2; }

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  if [[ -n "$UAS_PID" ]]; then
    pkill -TERM -P "$UAS_PID" 2>/dev/null || true
    kill "$UAS_PID" 2>/dev/null || true
  fi
  stop_server
  if [[ "${BENCH_KEEP:-0}" == 1 ]]; then
    log "work directory kept: $WORK"
  else
    rm -rf "$WORK"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'log "bench/core.sh: interrupted or out of time"; exit 130' INT TERM

for tool in sipp python3 setsid; do
  command -v "$tool" >/dev/null || {
    log "bench/core.sh needs $tool (sipp: apt-get install sip-tester)"
    exit 1
  }
done

# --- the server process ------------------------------------------------------------------

# Starts "$@" as the leader of a new session, so that its CPU and that of every process it
# forks (Kamailio's workers, timers, ...) can be summed by session id.
start_server() { # name logfile cmd...
  local name=$1 logf=$2
  shift 2
  setsid "$@" >"$logf" 2>&1 &
  SERVER_PID=$!
  log "$name: started (pid $SERVER_PID): $*"
}

stop_server() {
  [[ -n "$SERVER_PID" ]] || return 0
  kill -TERM -- "-$SERVER_PID" 2>/dev/null || kill -TERM "$SERVER_PID" 2>/dev/null || true
  for _ in $(seq 50); do
    kill -0 "$SERVER_PID" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL -- "-$SERVER_PID" 2>/dev/null || true
  wait "$SERVER_PID" 2>/dev/null || true
  SERVER_PID=""
}

# utime+stime (and that of reaped children), in clock ticks, of every process in the
# server's session: all of Kamailio's processes, all of cpm's threads.
server_ticks() {
  local total=0 line rest f
  for f in /proc/[0-9]*/stat; do
    { read -r line <"$f"; } 2>/dev/null || continue
    rest=${line##*) } # fields from 3 (state) on; the command name may contain spaces
    # shellcheck disable=SC2086
    set -- $rest
    [[ "$4" == "$SERVER_PID" ]] && total=$((total + ${12} + ${13} + ${14} + ${15}))
  done
  echo "$total"
}

# --- SIPp ----------------------------------------------------------------------------------

# Field NAME of the last line of a SIPp -trace_stat CSV.
stat_field() { # csv name
  awk -F';' -v n="$2" 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == n) c = i; next }
    NF > 1 && c { v = $c } END { print (v == "" ? 0 : v) + 0 }' "$1"
}

# REGISTERs bob from the UAS's port (digest if challenged) with bench/register.py: SIPp 3.6
# cannot answer cpm's SHA-256-first challenge. On failure the reason is in $WORK/register.reason.
register() { # attempts
  local i
  for i in $(seq "$1"); do
    if python3 "$ROOT/bench/register.py" "127.0.0.1:$PORT" "$UAS_PORT" bob "$DOMAIN" "$PASSWORD" \
      2>"$WORK/register.reason"; then
      return 0
    fi
    kill -0 "$SERVER_PID" 2>/dev/null || return 1
    sleep 0.5
  done
  return 1
}

# One load run: a UAS answering every MESSAGE, a UAC sending COUNT at RATE. Sets RUN_*.
# Returns 0 when every message got its 200 with no failure and no retransmission anywhere:
# neither the UAC's nor the proxy's (a MESSAGE the proxy sends the UAS twice is answered
# twice, so the UAS answering more than COUNT counts as retransmissions).
run_load() { # tag rate count
  local tag=$1 rate=$2 count=$3 bound t0 t1 rc=0
  bound=$((count / rate * 3 + 20))
  rm -f "$WORK/run.$tag".*
  (cd "$WORK" && exec /usr/bin/time -o "run.$tag.uas.time" -f '%U %S' sipp -sf "$ROOT/bench/uas.xml" \
    -i 127.0.0.1 -p "$UAS_PORT" -buff_size "$BUFF" -nostdin -trace_stat -stf "run.$tag.uas.csv" -fd 1 \
    -trace_screen -screen_file "run.$tag.uas.screen" \
    -timeout "$((bound + 5))s" >/dev/null 2>"run.$tag.uas.err") &
  UAS_PID=$!
  sleep 0.3
  t0=$(server_ticks)
  (cd "$WORK" && timeout "$((bound + 10))" /usr/bin/time -o "run.$tag.uac.time" -f '%U %S' sipp -sf "$ROOT/bench/uac-message.xml" -s "$DOMAIN" \
    -i 127.0.0.1 -p "$UAC_PORT" -m "$count" -r "$rate" -rp 1000 -buff_size "$BUFF" -nostdin \
    -trace_stat -stf "run.$tag.uac.csv" -fd 1 -trace_screen -screen_file "run.$tag.uac.screen" \
    -trace_err -error_file "run.$tag.uac.errors" \
    -timeout "${bound}s" -timeout_error "127.0.0.1:$PORT" >/dev/null 2>"run.$tag.uac.err") || rc=$?
  t1=$(server_ticks)
  # Give late retransmissions a moment, then end the UAS (SIPp writes its statistics on
  # SIGTERM; /usr/bin/time, its parent, then writes the CPU times).
  sleep 1.5
  pkill -TERM -P "$UAS_PID" 2>/dev/null || true
  for _ in $(seq 50); do
    kill -0 "$UAS_PID" 2>/dev/null || break
    sleep 0.1
  done
  kill "$UAS_PID" 2>/dev/null || true
  wait "$UAS_PID" 2>/dev/null || true
  UAS_PID=""

  local uac=$WORK/run.$tag.uac.csv uas=$WORK/run.$tag.uas.csv
  RUN_OK=0 RUN_SUCCESS=0 RUN_FAILED=$count RUN_RETRANS=0 RUN_RATE=0 RUN_CPU=0 RUN_SIPP=-
  if [[ ! -s "$uac" || ! -s "$uas" ]]; then
    log "  $tag: SIPp wrote no statistics (UAC exit $rc): $(head -c 300 "$WORK/run.$tag.uac.err")"
    return 1
  fi
  local ok_uac ok_uas fail_uac fail_uas out_uac calls elapsed_rate missing
  ok_uac=$(stat_field "$uac" 'SuccessfulCall(C)')
  ok_uas=$(stat_field "$uas" 'SuccessfulCall(C)')
  fail_uac=$(stat_field "$uac" 'FailedCall(C)')
  fail_uas=$(stat_field "$uas" 'FailedCall(C)')
  out_uac=$(stat_field "$uac" 'OutOfCallMsgs(C)')
  RUN_RETRANS=$(stat_field "$uac" 'Retransmissions(C)')
  ((ok_uas <= count)) || RUN_RETRANS=$((RUN_RETRANS + ok_uas - count))
  calls=$(stat_field "$uac" 'OutgoingCall(C)')
  elapsed_rate=$(stat_field "$uac" 'CallRate(C)') # OutgoingCall(C) / elapsed, ms precision
  # Failed: messages whose 200 never reached the UAC (SIPp's failed calls, or calls unfinished
  # at -timeout), plus what either side saw as unexpected.
  missing=$((count - ok_uac))
  ((missing >= fail_uac)) || missing=$fail_uac
  RUN_FAILED=$((missing + fail_uas + out_uac))
  RUN_SUCCESS=$ok_uac
  # messages/s: successful messages over the UAC's elapsed time (first MESSAGE to last 200).
  RUN_RATE=$(awk -v s="$ok_uac" -v c="$calls" -v r="$elapsed_rate" \
    'BEGIN { printf "%.0f", (c > 0 ? s * r / c : 0) }')
  RUN_CPU=$(awk -v t=$((t1 - t0)) -v k="$TCK" 'BEGIN { printf "%.2f", t / k }')
  # The load generator's own CPU (UAC + UAS), for context: with three processes on two
  # cores, SIPp's share is what the server does not get.
  RUN_SIPP=$(cat "$WORK/run.$tag.uac.time" "$WORK/run.$tag.uas.time" 2>/dev/null |
    awk 'NF == 2 && $1 ~ /^[0-9.]+$/ { s += $1 + $2; n++ } END { if (n == 2) printf "%.2f", s; else print "-" }')
  if ((rc == 0 && RUN_FAILED == 0 && RUN_RETRANS == 0 && ok_uas >= count)); then RUN_OK=1; fi
  log "$(printf '  %-7s %6d/s %6d msgs: ok %6d, uas %6d, failed %5d, retrans %5d, %6d msg/s, server %6.2f CPU-s, SIPp %5s CPU-s  %s' \
    "$tag" "$rate" "$count" "$ok_uac" "$ok_uas" "$RUN_FAILED" "$RUN_RETRANS" "$RUN_RATE" "$RUN_CPU" \
    "$RUN_SIPP" "$([[ $RUN_OK == 1 ]] && echo ok || echo FAIL)")"
  [[ $RUN_OK == 1 ]]
}

# A measured run of MSGS at RATE; appends "name rate msgs failed msgs/s cpu/10k sipp-cpu/10k label"
# to $WORK/results. Returns the run's status.
measure() { # name rate label
  local name=$1 rate=$2 label=$3 per10k sipp10k
  sleep 2 # let the previous run's transactions end
  log "$name: measured run, $MSGS messages at $rate/s ($label)"
  if run_load measure "$rate" "$MSGS"; then
    per10k=$(awk -v c="$RUN_CPU" -v m="$RUN_SUCCESS" 'BEGIN { printf "%.3f", c * 10000 / m }')
    sipp10k=$(awk -v c="$RUN_SIPP" -v m="$RUN_SUCCESS" 'BEGIN { if (c == "-") print "-"; else printf "%.3f", c * 10000 / m }')
    echo "$name $rate $MSGS $RUN_FAILED $RUN_RATE $per10k $sipp10k $label" >>"$WORK/results"
    if [[ "${BENCH_KEEP:-0}" == 1 ]]; then
      for f in "$WORK"/run.measure.*; do cp "$f" "$WORK/$name.$rate.${f##*/run.measure.}"; done
    fi
    return 0
  fi
  return 1
}

# The ladder, then the measured run at the best rung (if the long run fails, again at the
# highest rung at or below 90% of its rate, at most three times). Sets BEST_RATE (empty when
# nothing passed).
ladder_and_measure() { # name
  local name=$1 rate best="" i rungs=() tries=0 n
  BEST_RATE=""
  read -r -a rungs <<<"$RATES"
  log "$name: ladder (probes of up to $PROBE messages): ${rungs[*]}"
  for ((i = 0; i < ${#rungs[@]}; i++)); do
    rate=${rungs[i]}
    n=$((rate * 2))
    ((n >= 2000)) || n=2000
    ((n <= PROBE)) || n=$PROBE
    run_load probe "$rate" "$n" || break
    # Under 95% of the target: the UAC hit its limit of calls in progress, i.e. answers come
    # back too slowly; the rung is not sustained (a long run at it fails), and nor are higher.
    if ((RUN_RATE * 100 < rate * 95)); then
      log "  achieved $RUN_RATE of $rate msg/s: rate not sustained"
      break
    fi
    best=$i
    sleep 1
  done
  if [[ -z "$best" ]]; then
    echo "$name ${rungs[0]} - $RUN_FAILED - - - FAILED(lowest-rung)" >>"$WORK/results"
    return
  fi
  while :; do
    rate=${rungs[best]}
    if measure "$name" "$rate" max; then
      BEST_RATE=$rate
      return
    fi
    tries=$((tries + 1))
    if ((best == 0 || tries >= 4)); then
      echo "$name $rate $MSGS $RUN_FAILED $RUN_RATE - - FAILED" >>"$WORK/results"
      return
    fi
    # Next: the highest rung at or below 90% of the failed rate (at least one rung lower).
    i=$((best - 1))
    while ((i > 0 && rungs[i] * 100 > rate * 90)); do i=$((i - 1)); done
    best=$i
  done
}

# --- the two servers -------------------------------------------------------------------------

start_kamailio() {
  if ! command -v kamailio >/dev/null; then
    log "kamailio: not installed (apt-get install kamailio), skipped"
    echo "kamailio - - - - - - NOT-INSTALLED" >>"$WORK/results"
    return 1
  fi
  start_server kamailio "$WORK/kamailio.log" kamailio -f "$ROOT/bench/kamailio.cfg" -DD -E \
    -m 2048 -M 64 -n "$KAMAILIO_CHILDREN" -A "LISTEN=udp:127.0.0.1:$PORT" -A "DOMAIN=$DOMAIN"
  if ! register 20; then
    log "kamailio: REGISTER failed: $(cat "$WORK/register.reason")"
    tail -5 "$WORK/kamailio.log" >&2
    echo "kamailio - - - - - - REGISTER-FAILED" >>"$WORK/results"
    stop_server
    return 1
  fi
}

start_cpm() {
  if [[ -z "$CPM_BIN_PATH" ]]; then
    CPM_BIN_PATH=${CPM_BIN:-}
    if [[ -z "$CPM_BIN_PATH" ]]; then
      log "cpm: cargo build --release -p cpm"
      cargo build --release -q -p cpm >&2
      # A copy, so that a rebuild in the same tree during the run cannot swap the binary.
      cp "$ROOT/target/release/cpm" "$WORK/cpm"
      CPM_BIN_PATH=$WORK/cpm
      CPM_LABEL="cpm $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
      git diff --quiet HEAD -- crates Cargo.toml Cargo.lock 2>/dev/null ||
        CPM_LABEL="$CPM_LABEL with uncommitted changes"
    else
      CPM_LABEL="cpm $CPM_BIN_PATH"
    fi
  fi
  local data=$WORK/cpm-data conf=$ROOT/bench/cpm-bench.toml reason
  if [[ ! -d "$data" ]]; then
    mkdir -p "$data"
    "$CPM_BIN_PATH" --data "$data" --config "$conf" user add bob --password "$PASSWORD" \
      --domain "$DOMAIN" >"$WORK/cpm-user.log" 2>&1 ||
      log "cpm: 'cpm user add' failed: $(head -c 300 "$WORK/cpm-user.log")"
  fi
  # cpm's stock logging (info, nothing per message), as Kamailio runs at its stock debug=2.
  start_server cpm "$WORK/cpm.log" "$CPM_BIN_PATH" \
    --data "$data" --config "$conf" serve --sip "127.0.0.1:$PORT"
  if ! register 20; then
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then
      reason="serve exited: $(grep -m1 -i error "$WORK/cpm.log" | head -c 200)"
    else
      reason="REGISTER answered: $(cat "$WORK/register.reason")"
    fi
    log "cpm: SKIPPED (serve is not a proxy yet: $reason)"
    echo "cpm - - - - - - SKIPPED" >>"$WORK/results"
    echo "$reason" >"$WORK/cpm.skip"
    stop_server
    return 1
  fi
}

# --- main ------------------------------------------------------------------------------------

LOAD_AT_START=$(cut -d' ' -f1-3 /proc/loadavg)
log "bench/core.sh: $MSGS messages per measured run; work directory $WORK; load average $LOAD_AT_START"
: >"$WORK/results"
declare -A BEST=()
for s in $SERVERS; do
  case $s in
  kamailio | cpm) ;;
  *)
    log "unknown server '$s' (kamailio, cpm)"
    continue
    ;;
  esac
  if "start_$s"; then
    ladder_and_measure "$s"
    [[ -n "$BEST_RATE" ]] && BEST[$s]=$BEST_RATE
    stop_server
  fi
done

# CPU per message only compares at equal rates, and near a server's maximum it is noisy (and
# runs there can collapse): measure both at a common rate below both maxima, the highest rung
# at or below 80% of the lower maximum (BENCH_CPU_RATE overrides it).
CMP=""
if [[ -n "${BEST[kamailio]:-}" && -n "${BEST[cpm]:-}" ]]; then
  low=${BEST[kamailio]}
  ((${BEST[cpm]} >= low)) || low=${BEST[cpm]}
  CMP=${BENCH_CPU_RATE:-}
  if [[ -z "$CMP" ]]; then
    for r in $RATES; do
      ((r * 100 <= low * 80)) && CMP=$r
    done
    [[ -n "$CMP" ]] || CMP=$low
  fi
  for s in $SERVERS; do
    [[ "${BEST[$s]}" == "$CMP" ]] && continue # its own measured run is at that rate
    if "start_$s"; then
      measure "$s" "$CMP" cpu-compare ||
        echo "$s $CMP $MSGS $RUN_FAILED $RUN_RATE - - FAILED(cpu-compare)" >>"$WORK/results"
      stop_server
    fi
  done
fi

echo
echo "SIPp UAC -> proxy -> SIPp UAS, MESSAGE over UDP on 127.0.0.1 ($(nproc) cores)"
echo "$CPM_LABEL; $(command -v kamailio >/dev/null &&
  kamailio -v 2>/dev/null | head -1 | sed 's/^version: //' || echo 'no kamailio'), $KAMAILIO_CHILDREN UDP workers;" \
  "load average at start $LOAD_AT_START, at end $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-9s %7s %7s %7s %9s %15s %15s  %s\n' server "rate/s" msgs failed "msgs/s" "CPU-s/10k msgs" "SIPp CPU-s/10k" run
while read -r name rate msgs failed achieved per10k sipp label; do
  printf '%-9s %7s %7s %7s %9s %15s %15s  %s\n' "$name" "$rate" "$msgs" "$failed" "$achieved" "$per10k" "$sipp" "$label"
done <"$WORK/results"
echo "(rate/s: the highest ladder rate with 0 failures and 0 retransmissions; CPU-s/10k msgs: all"
echo " of the server's processes; SIPp: UAC + UAS together, which share the two cores with it)"
if [[ -f "$WORK/cpm.skip" ]]; then echo "cpm: SKIPPED (serve is not a proxy yet: $(cat "$WORK/cpm.skip"))"; fi

# Ratios: throughput from each server's own best run; CPU from the runs at the common rate.
k_max=$(awk '$1 == "kamailio" && $8 == "max"' "$WORK/results")
c_max=$(awk '$1 == "cpm" && $8 == "max"' "$WORK/results")
if [[ -n "$k_max" && -n "$c_max" ]]; then
  r=$CMP
  k_eq=$(awk -v r="$r" '$1 == "kamailio" && $2 == r && $6 != "-"' "$WORK/results" | tail -1)
  c_eq=$(awk -v r="$r" '$1 == "cpm" && $2 == r && $6 != "-"' "$WORK/results" | tail -1)
  echo
  awk -v k="$k_max" -v c="$c_max" -v ke="$k_eq" -v ce="$c_eq" -v r="$r" 'BEGIN {
    split(k, a, " "); split(c, b, " ")
    t = b[5] / a[5]
    printf "cpm/kamailio throughput          %.2fx  (%s vs %s msg/s; target >= 1.20x: %s)\n",
      t, b[5], a[5], (t >= 1.2 ? "met" : "NOT met")
    if (ke != "" && ce != "") {
      split(ke, x, " "); split(ce, y, " ")
      u = y[6] / x[6]
      printf "cpm/kamailio CPU per message     %.2fx  (%s vs %s CPU-s/10k at %s/s; target <= 0.80x: %s)\n",
        u, y[6], x[6], r, (u <= 0.8 ? "met" : "NOT met")
    } else {
      print "cpm/kamailio CPU per message     n/a (no pair of runs at the same rate)"
    }
    printf "(CPU per message at the two maxima: %.2fx, %s vs %s CPU-s/10k at %s vs %s/s)\n",
      b[6] / a[6], b[6], a[6], b[2], a[2]
  }'
fi
