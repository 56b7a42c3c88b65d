# systemd.mk — `make test-systemd`: the services under a real systemd (a
# Debian 12 container booted with systemd-nspawn, Ansible against it, the
# restart/reboot/verification checks). Needs root, systemd-container,
# debootstrap (first run; the rootfs is cached in $(BUILD)/systemd) and
# ansible; prints "SKIP: test-systemd: <reason>" and succeeds where the
# machine cannot run it. See tests/systemd/run.sh.
.PHONY: test-systemd clean-systemd

test-systemd: $(BINS) $(BUILD)/dstack-kmsctl
	@BUILD=$(BUILD) tests/systemd/run.sh

# Drops the cached rootfs (the next test-systemd runs debootstrap again).
clean-systemd:
	rm -rf $(BUILD)/systemd
