#!/usr/bin/env bash
# test-asan.sh — the whole suite (tests/run.sh: unit + integration) against
# the ASan+UBSan build in $BUILD (default build-asan; `make test-asan` builds
# it first). Every sanitizer report is fatal in the process that makes it,
# and is written to a file under $BUILD/sanitizer-reports/ (ASAN_OPTIONS
# log_path), so a report from a server a test script started and killed is
# seen too. Fails when tests/run.sh fails, when any report file appears, or
# when the suite's log shows a report (a process run with a cleaned
# environment reports on stderr). Prints the reports it found.
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build-asan}
# SAN=1 tells the tests the binaries are sanitized (test_kms_no_core.sh skips
# what ASan's interceptors change) and gives `make print-cflags`, which
# test_simtee.sh compiles a probe with, the sanitizer flags
SAN=1
# Under KMS_TEST_REQUIRED=1 (.ci/run) only these may skip here: ASan's mlock
# interceptor neither locks nor fails, so the checks of locked key pages
# cannot run in this build, and its allocator's quarantine hides what the
# request-bytes budget does to the process's memory (all of them run, and
# must pass, in `make test`).
OPTIONAL_SKIPS="onboard_page_browser kms_key_page_locked test_secret_page_is_locked_and_not_dumped test_secret_page_refused_names_the_limit budget_bounds_memory budget_memory_given_back"
export BUILD SAN OPTIONAL_SKIPS
rep="$PWD/$BUILD/sanitizer-reports"
log="$PWD/$BUILD/test-asan.log"
rm -rf "$rep"
mkdir -p "$rep"
chmod 1777 "$rep" # tests that drop to nobody still write their reports

# exitcode 86: a report is not mistaken for a program's own exit status 1
export ASAN_OPTIONS="detect_leaks=1:halt_on_error=1:abort_on_error=0:exitcode=86:log_path=$rep/asan:strict_string_checks=1:detect_stack_use_after_return=1:check_initialization_order=1"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:exitcode=87:log_path=$rep/ubsan"
export LSAN_OPTIONS="exitcode=86"

start=$(date +%s)
tests/run.sh 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
secs=$(($(date +%s) - start))

bad=0
files=$(find "$rep" -type f | sort)
if [ -n "$files" ]; then
  bad=1
  echo "test-asan: sanitizer reports in $rep:"
  for f in $files; do
    echo "---- $f"
    head -60 "$f"
  done
fi
if grep -nE 'ERROR: AddressSanitizer|runtime error:|LeakSanitizer' "$log" | head -20 | grep .; then
  echo "test-asan: sanitizer report lines in $log (above)"
  bad=1
fi
echo "test-asan: $(tail -1 "$log"); $(echo "$files" | grep -c .) report file(s); took ${secs} s"
[ "$rc" -eq 0 ] && [ "$bad" -eq 0 ]
