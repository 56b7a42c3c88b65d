# systemd.mk — `make test-systemd`: the services under a real systemd (a
# Debian 12 container booted with systemd-nspawn, Ansible against it, the
# restart/reboot/verification checks). Needs root, systemd-container,
# debootstrap (first run; the rootfs is cached in $(BUILD)/systemd) and
# ansible, and the test chain (anvil and the contracts' npm tree) for the
# real dstack-auth-eth; prints "SKIP: test-systemd: <reason>" and succeeds
# where the machine cannot run it — with KMS_TEST_REQUIRED=1 (.ci/run) that
# is a failure instead. The simulated TEE ($(BUILD)/tests/simtee) is the
# GetAppKey caller. See tests/systemd/run.sh.
.PHONY: test-systemd clean-systemd

test-systemd: $(BINS) $(BUILD)/dstack-kmsctl $(BUILD)/tests/simtee
	@BUILD=$(BUILD) tests/systemd/run.sh

# Drops the cached rootfs (the next test-systemd runs debootstrap again).
clean-systemd:
	rm -rf $(BUILD)/systemd
