# mk/simtee.mk — the simulated TEE, a TEST-ONLY tool (tests/tools/simtee/):
# mock Intel-shaped DCAP PKI, collateral, TDX quotes, RA-TLS client certs and
# a mock PCCS. Built only into $(BUILD)/tests/simtee, never linked into the
# production binaries (dstack-kms, dstack-kmsctl, dstack-auth-eth).
SIMTEE_SRC := $(wildcard tests/tools/simtee/*.c)
SIMTEE_OBJ := $(call obj,$(SIMTEE_SRC))

$(BUILD)/tests/simtee: $(SIMTEE_OBJ) $(LIB_FILES)
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	@$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)

.PHONY: simtee
simtee: deps $(BUILD)/tests/simtee

test: $(BUILD)/tests/simtee
