# fuzz.mk — `make fuzz-smoke`: every libFuzzer target in tests/fuzz built with
# clang (as `make fuzz` builds them, in build-fuzz/), then run over a copy of
# its in-tree seed corpus tests/fuzz/corpus/<target> for a bounded time by
# scripts/fuzz-smoke.sh (at most 5 minutes in all on 2 cores). Fails on any
# crash, leak or timeout, naming the target and the input. Never skips: with
# no clang or no libFuzzer runtime it fails and says which package
# (scripts/install-deps.sh lists both) is missing.
#   FUZZ_SMOKE_SECONDS  seconds per target (default: FUZZ_SMOKE_BUDGET shared out)
#   FUZZ_SMOKE_BUDGET   seconds for all the runs (default 210)
#   FUZZ_SMOKE_JOBS     targets run at a time (default 2)
.PHONY: fuzz-smoke fuzz-toolchain
# Keep the target objects between runs (the pattern rule would delete them).
.PRECIOUS: $(BUILD)/obj/tests/fuzz/%.o

fuzz-toolchain:
	@command -v clang >/dev/null 2>&1 || { \
	  echo "fuzz-smoke: clang not found (Debian package clang; scripts/install-deps.sh installs it)" >&2; \
	  exit 1; }
	@printf 'int LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n)\n{ (void)d; (void)n; return 0; }\n' \
	  | clang -x c -fsanitize=fuzzer -o /dev/null - 2>/dev/null || { \
	  echo "fuzz-smoke: clang cannot link -fsanitize=fuzzer (Debian package libclang-rt-14-dev)" >&2; \
	  exit 1; }

fuzz-smoke: fuzz-toolchain
	@start=$$(date +%s); \
	$(MAKE) --no-print-directory -j2 CC=clang BUILD=build-fuzz SAN=fuzz fuzz-build && \
	scripts/fuzz-smoke.sh && \
	echo "fuzz-smoke: build and runs took $$(( $$(date +%s) - start )) s"
