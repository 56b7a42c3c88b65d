# faults.mk — `make test-faults`: the fault matrix (tests/faults/test_*.sh)
# against the binaries in $(BUILD), with the same report as make test
# ("N passed, N failed, N skipped"). Storage rows mount small tmpfs file
# systems and need root. Rows so far: webhook slow / garbage / closing /
# down, two KMS on one cert_dir, cert_dir read-only and full during
# bootstrap, PCCS down with a warm and a cold collateral cache.
.PHONY: test-faults
test-faults: deps $(BINS) $(BUILD)/tests/simtee
	@BUILD=$(BUILD) tests/run.sh tests/faults
