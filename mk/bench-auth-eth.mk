# bench-auth-eth.mk — `make bench-auth-eth`: keep-alive load on dstack-auth-eth
# and on a raw eth_call to the same anvil (bench/auth-eth.sh prints both
# rates, their ratio, p99 and RSS). Not a test: nothing fails on a slow run.
.PHONY: bench-auth-eth
$(BUILD)/bench/loadgen: bench/loadgen.c
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	@$(CC) -std=gnu11 -O2 -Wall -Wextra -pthread -o $@ $<

bench-auth-eth: deps $(BUILD)/dstack-auth-eth $(BUILD)/bench/loadgen
	@BUILD=$(BUILD) bench/auth-eth.sh
