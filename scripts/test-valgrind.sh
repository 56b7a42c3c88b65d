#!/usr/bin/env bash
# test-valgrind.sh — integration tests with dstack-kms and dstack-auth-eth
# under valgrind memcheck. Usage: test-valgrind.sh test_kms_rpc ... (names
# under tests/integration/; `make test-valgrind` builds build-valgrind/
# first and passes VALGRIND_TESTS).
#
# The tests run with BUILD=build-valgrind/run: there dstack-kms and
# dstack-auth-eth are wrappers that exec valgrind on the real binaries in
# build-valgrind/ (same pid, so the tests' kill/wait/proc reads still work),
# and everything else (dstack-kmsctl, tests/simtee) links to the real
# build. Every process logs to build-valgrind/vg/<name>.<pid>.log. Fails on
# any memcheck error or "definitely lost" block in any log. Test failures
# are reported and fail the run too, except where VALGRIND_ALLOW_FAIL lists
# the check (timing checks a 20-50x slower process cannot meet).
set -u
cd "$(dirname "$0")/.."
REAL="$PWD/build-valgrind"
RUN="$REAL/run"
VG="$REAL/vg"
[ $# -gt 0 ] || set -- test_kms_rpc test_kms_release test_auth_eth
rm -rf "$RUN" "$VG"
mkdir -p "$RUN" "$VG"
chmod 1777 "$VG"
for b in dstack-kms dstack-auth-eth; do
  [ -x "$REAL/$b" ] || { echo "test-valgrind: $REAL/$b is not built" >&2; exit 1; }
  cat >"$RUN/$b" <<EOF
#!/bin/sh
exec valgrind --tool=memcheck --leak-check=full --show-leak-kinds=definite \\
  --errors-for-leak-kinds=definite --error-exitcode=88 --num-callers=30 \\
  --log-file="$VG/$b.%p.log" \${VALGRIND_EXTRA:-} "$REAL/$b" "\$@"
EOF
  chmod +x "$RUN/$b"
done
ln -s ../dstack-kmsctl "$RUN/dstack-kmsctl"
ln -s ../tests "$RUN/tests"

start=$(date +%s)
log="$REAL/test-valgrind.log"
: >"$log"
for t in "$@"; do
  echo "== tests/integration/$t.sh (valgrind)" | tee -a "$log"
  BUILD=build-valgrind/run "tests/integration/$t.sh" 2>&1 | tee -a "$log"
done
secs=$(($(date +%s) - start))

bad=0
nlogs=$(find "$VG" -name '*.log' | wc -l)
for f in $(grep -lE 'ERROR SUMMARY: [1-9]|definitely lost: [1-9]' "$VG"/*.log 2>/dev/null); do
  bad=1
  echo "---- $f"
  sed -n '1,120p' "$f"
done
# VALGRIND_ALLOW_FAIL: space-separated check names (as in "FAIL: name: why")
# whose failure is reported but does not fail the run — only timing checks a
# 20-50x slower process cannot meet, each with its reason where it is set.
# None is needed today for test_kms_rpc test_kms_release test_auth_eth.
allow=" ${VALGRIND_ALLOW_FAIL:-} "
passed=$(grep -c '^PASS: ' "$log")
skipped=$(grep -c '^SKIP: ' "$log")
failed=0
allowed=0
while IFS= read -r line; do
  name=${line#FAIL: }
  name=${name%%:*}
  case "$allow" in
  *" $name "*) allowed=$((allowed + 1)); echo "test-valgrind: allowed failure (VALGRIND_ALLOW_FAIL): ${line:0:300}" ;;
  *) failed=$((failed + 1)); echo "test-valgrind: failed check: ${line:0:300}" ;;
  esac
done < <(grep '^FAIL: ' "$log")
echo "test-valgrind: $passed passed, $failed failed, $skipped skipped; $allowed allowed failures; $nlogs processes under memcheck; took ${secs} s"
[ "$bad" -eq 0 ] || { echo "test-valgrind: memcheck errors (above)"; exit 1; }
[ "$failed" -eq 0 ]
