# sanitizers.mk — the whole test suite under the sanitizers.
#
#   make test-asan       build-asan/: every binary, the unit tests and simtee
#                        built with ASan+UBSan (SAN=1), then tests/run.sh (unit
#                        and integration) against them by scripts/test-asan.sh:
#                        any report — in a test or in a server a test started
#                        — fails it (reports kept in build-asan/sanitizer-reports/)
#   make test-valgrind   build-valgrind/: the normal build, then a subset of the
#                        integration tests (VALGRIND_TESTS) with dstack-kms and
#                        dstack-auth-eth run under memcheck by
#                        scripts/test-valgrind.sh; fails on any memcheck error
#                        or "definitely lost" block (logs in build-valgrind/vg/)
#                        and on any failed check not named in VALGRIND_ALLOW_FAIL
#                        (timing checks only; empty today); ~2.5 min in all
ASAN_TARGETS := tests/unit-tests tests/simtee dstack-kms dstack-kmsctl $(if $(AE_SRC),dstack-auth-eth)
VALGRIND_TESTS ?= test_kms_rpc test_kms_release test_auth_eth

.PHONY: test-asan test-valgrind
test-asan: deps
	@start=$$(date +%s); \
	$(MAKE) --no-print-directory -j2 BUILD=build-asan SAN=1 $(addprefix build-asan/,$(ASAN_TARGETS)) && \
	scripts/test-asan.sh && \
	echo "test-asan: build and suite took $$(( $$(date +%s) - start )) s"

test-valgrind: deps
	@command -v valgrind >/dev/null 2>&1 || { \
	  echo "test-valgrind: valgrind not found (Debian package valgrind)" >&2; exit 1; }
	@start=$$(date +%s); \
	$(MAKE) --no-print-directory -j2 BUILD=build-valgrind $(addprefix build-valgrind/,$(ASAN_TARGETS)) && \
	scripts/test-valgrind.sh $(VALGRIND_TESTS) && \
	echo "test-valgrind: build and runs took $$(( $$(date +%s) - start )) s"
