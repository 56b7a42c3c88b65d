#!/usr/bin/env bash
# test_kms_listen.sh — the listening socket under contention (issue: bounded
# behaviour under hostile load):
#  - a second KMS started on a port one already serves fails to bind and
#    says why (no SO_REUSEPORT sharing that would split clients between two
#    key sets), and the first keeps serving;
#  - at the file-descriptor limit the KMS pauses accepting instead of
#    spinning: with 400 idle connections against a 96-descriptor limit it
#    uses little CPU, logs the condition a bounded number of times, and
#    serves again once the connections go away.
set -u
cd "$(dirname "$0")/../.."
. tests/integration/lib.sh
KMS="$BUILD/dstack-kms"

PORT=$(free_port)
cp tests/vectors/intel_sgx_root_ca.der "$TMP/root.der"
sim_kms_config "$TMP/kms.toml" "$PORT" "http://127.0.0.1:$(free_port)" "$TMP/release.log" "$(free_port)"
# the descriptor limit, not the per-client cap (every test client is
# 127.0.0.1), is what this test reaches
sed -i "s/^port = $PORT\$/&\nmax_connections_per_client = 1000/" "$TMP/kms.toml"
# the first run makes the key set; the limit applies to the serving process
prlimit --nofile=96:96 "$KMS" --config "$TMP/kms.toml" >"$TMP/kms.log" 2>&1 &
KPID=$!
PIDS+=("$KPID")
wait_http "https://127.0.0.1:$PORT/health" 150 || { fail kms_starts "$(tail -3 "$TMP/kms.log")"; finish; }

# --- a second process on the same port ------------------------------------------
# its own copy of the key set (a shared cert_dir is refused before the port)
cp -a "$TMP/certs" "$TMP/certs2" && rm -f "$TMP/certs2/.kms.lock"
sed "s#$TMP/release.log#$TMP/release2.log#; s#$TMP/certs#$TMP/certs2#g" "$TMP/kms.toml" >"$TMP/kms2.toml"
timeout 20 "$KMS" --config "$TMP/kms2.toml" >"$TMP/kms2.log" 2>&1
rc=$?
expect_eq second_kms_same_port_exits_1 "$rc" 1
expect_contains second_kms_says_why "$(cat "$TMP/kms2.log")" "cannot listen on 127.0.0.1:$PORT: Address already in use (another process serves this port)"
ok=0
for _ in $(seq 20); do curl -sfk --max-time 2 -o /dev/null "https://127.0.0.1:$PORT/health" && ok=$((ok + 1)); done
expect_eq first_kms_serves_every_request "$ok" 20

# --- the descriptor limit ----------------------------------------------------------
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$KPID/stat"; }
$PY - "$PORT" "$TMP/hold.ready" "$TMP/hold.release" <<'PYEOF' &
import os, socket, sys, time
port, ready, release = int(sys.argv[1]), sys.argv[2], sys.argv[3]
socks = []
for _ in range(400):
    s = socket.socket()
    s.settimeout(2)
    try:
        s.connect(("127.0.0.1", port))   # completes from the backlog even when not accepted
    except OSError:
        pass
    socks.append(s)
open(ready, "w").close()
for _ in range(600):                      # at most 60 s
    if os.path.exists(release):
        break
    time.sleep(0.1)
for s in socks:
    s.close()
PYEOF
HOLD=$!
PIDS+=("$HOLD")
for _ in $(seq 300); do [ -f "$TMP/hold.ready" ] && break; sleep 0.1; done
[ -f "$TMP/hold.ready" ] || fail idle_connections_opened "the holder did not get ready"
sleep 1
t0=$(cpu_ticks)
sleep 3
t1=$(cpu_ticks)
hz=$(getconf CLK_TCK)
used_ms=$(( (t1 - t0) * 1000 / hz ))
echo "# CPU used by the KMS in 3 s at the descriptor limit: ${used_ms} ms"
if [ "$used_ms" -lt 600 ]; then pass fd_limit_no_accept_spin; else fail fd_limit_no_accept_spin "${used_ms} ms of CPU in 3 s"; fi
expect_eq kms_alive_at_fd_limit "$(kill -0 "$KPID" 2>/dev/null && echo yes)" yes
n=$(grep -c "cannot accept connections" "$TMP/kms.log")
if [ "$n" -ge 1 ] && [ "$n" -le 3 ]; then pass fd_limit_logged_bounded; else fail fd_limit_logged_bounded "$n lines"; fi
expect_contains fd_limit_message_names_remedy "$(grep -m1 'cannot accept connections' "$TMP/kms.log")" "Too many open files"

touch "$TMP/hold.release"
wait "$HOLD" 2>/dev/null
ok=0
for _ in $(seq 100); do
  curl -sfk --max-time 2 -o /dev/null "https://127.0.0.1:$PORT/health" && { ok=1; break; }
  sleep 0.1
done
expect_eq serves_again_after_idle_connections_close "$ok" 1
ok=0
for _ in $(seq 20); do curl -sfk --max-time 2 -o /dev/null "https://127.0.0.1:$PORT/health" && ok=$((ok + 1)); done
expect_eq serves_every_request_afterwards "$ok" 20
finish
