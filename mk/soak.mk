# soak.mk — `make soak`: scripts/soak.sh, a bounded soak of dstack-kms under
# mixed HTTPS load (GetMeta, GetAppEnvEncryptPubKey, GetAppKey with an RA-TLS
# client certificate) at 70 % of its measured maximum while dstack-auth-eth,
# its authorization webhook on a local anvil chain, is restarted every
# SOAK_RESTART_S seconds. Fails on errors outside the restart windows, on a
# growing RSS or fd count. SOAK_SECONDS (600) bounds the load; the CI runs
# `make soak SOAK_SECONDS=60`.
.PHONY: soak
SOAK_SECONDS ?= 600
SOAK_RESTART_S ?= 30

soak: bench-tools
	@BUILD=$(BUILD) SOAK_SECONDS=$(SOAK_SECONDS) SOAK_RESTART_S=$(SOAK_RESTART_S) scripts/soak.sh
