# bench.mk — `make bench`: the KMS under HTTPS load (bench/kms.sh): GetMeta,
# GetAppEnvEncryptPubKey, GetAppKey (RA-TLS client certificate, warm
# collateral, local webhook), SignCert, new mTLS handshakes, then
# bench-auth-eth; each scenario beside its crypto floor measured in the same
# run (bench/kms_floor.c on libkms.a), RssAnon idle / under load, and
# time-to-ready. Not a test and not part of `make test`: nothing fails on a
# slow run. About 3 minutes; BENCH_SECONDS (5) per scenario.
.PHONY: bench bench-tools
BENCH_TOOLS := $(BUILD)/bench/kms_loadgen $(BUILD)/bench/kms_floor $(BUILD)/bench/webhook $(BUILD)/bench/loadgen

$(BUILD)/bench/kms_loadgen: bench/kms_loadgen.c
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	@$(CC) -std=gnu11 -O2 -Wall -Wextra -pthread -o $@ $< $(shell pkg-config --libs openssl)
$(BUILD)/bench/webhook: bench/webhook.c
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	@$(CC) -std=gnu11 -O2 -Wall -Wextra -pthread -o $@ $<
$(BUILD)/bench/kms_floor: bench/kms_floor.c $(BUILD)/libkms.a $(LIB_FILES)
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	@$(CC) $(filter-out -D_POSIX_C_SOURCE=200809L -MMD -MP,$(ALL_CFLAGS)) $(LDFLAGS) -o $@ $^ $(LIBS)

bench-tools: deps $(BINS) $(BUILD)/tests/simtee $(BENCH_TOOLS)

# the table goes to stdout (and to $(BENCH_OUT) when set); docs/PERFORMANCE.md
# keeps the last measured one. BENCH_PROFILE=1 adds perf profiles.
bench: bench-tools
	@BUILD=$(BUILD) bench/kms.sh
