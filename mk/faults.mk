# faults.mk — `make test-faults`: the fault matrix (tests/faults/test_*.sh)
# against the binaries in $(BUILD), with the same report as make test
# ("N passed, N failed, N skipped"). Storage rows mount small tmpfs file
# systems and need root. Rows: webhook slow / garbage / closing / down
# (test_webhook_faults.sh); two KMS on one cert_dir, cert_dir read-only and
# full during bootstrap, PCCS down with a warm and a cold collateral cache
# (test_storage_pccs_faults.sh); chain RPC answering 429, hanging, garbage,
# JSON-RPC errors between auth-eth and anvil (test_chain_faults.sh); kill -9
# during bootstrap and onboarding, 1,000 bad-certificate handshakes, 10,000
# idle connections at a 4,096 fd limit, oversized headers and Content-Length
# (test_conn_faults.sh).
.PHONY: test-faults
test-faults: deps $(BINS) $(BUILD)/tests/simtee
	@BUILD=$(BUILD) tests/run.sh tests/faults
