# sanitizers.mk — `make test-asan`: the binaries, the unit tests and the test
# tools built with ASan + UBSan into build-asan/, then the whole suite
# (tests/run.sh: unit and integration) against them by scripts/test-asan.sh,
# which makes every sanitizer report fatal, collects the reports of servers
# the test scripts start (ASAN_OPTIONS log_path) and fails on any.
.PHONY: test-asan
test-asan:
	$(MAKE) --no-print-directory -j2 BUILD=build-asan SAN=1 all build-asan/tests/unit-tests build-asan/tests/simtee
	@BUILD=build-asan scripts/test-asan.sh
