# install.mk — `make install` / `make uninstall`: the binaries, the systemd
# units, the example configuration and the service user and directories.
#
#   make install                         as root: installs into /usr/local and /etc
#   make install PREFIX=/opt/kms         binaries in /opt/kms/bin (units rewritten to match)
#   make install DESTDIR=/tmp/stage      staged install (packaging): no user, no chown
#   make -f mk/install.mk install        install already-built binaries without the
#                                        top-level Makefile (no build, no dependency check)
#
# Never overwrites an existing /etc/kms/kms.toml or /etc/kms/auth-eth.env (the
# examples are installed only where no file exists). Without DESTDIR it
# creates the system user dstack-kms (systemd-sysusers, or useradd) and the
# directories with their owners and modes; an existing directory is left as
# it is (`dstack-kmsctl verify` reports a wrong owner with the fix). With
# DESTDIR the sysusers.d/tmpfiles.d files make systemd create them at boot.
# Units go to /etc/systemd/system like the tutorial's; they are replaced on
# every install (they are ours), the configuration never is.

PREFIX      ?= /usr/local
DESTDIR     ?=
BUILD       ?= build
BINDIR      ?= $(PREFIX)/bin
UNITDIR     ?= /etc/systemd/system
SYSUSERSDIR ?= $(PREFIX)/lib/sysusers.d
TMPFILESDIR ?= $(PREFIX)/lib/tmpfiles.d
KMS_CONFDIR ?= /etc/kms
KMS_USER    ?= dstack-kms

INSTALL_PROGS := dstack-kms dstack-kmsctl dstack-auth-eth
INSTALL_UNITS := dstack-auth-eth.service dstack-kms.service
# Included from the top-level Makefile: build first. Standalone: use what is built.
INSTALL_DEPS  := $(BINS)

.PHONY: install uninstall

install: $(INSTALL_DEPS)
	@set -e; d="$(DESTDIR)"; \
	if [ -z "$$d" ] && [ "$$(id -u)" != 0 ]; then \
	  echo "make install: run it as root, or stage it with DESTDIR=<dir>" >&2; exit 1; fi; \
	for p in dstack-kms dstack-kmsctl; do \
	  [ -x "$(BUILD)/$$p" ] || { echo "make install: $(BUILD)/$$p is not built (run make)" >&2; exit 1; }; \
	done; \
	install -d -m 0755 "$$d$(BINDIR)" "$$d$(UNITDIR)" "$$d$(SYSUSERSDIR)" "$$d$(TMPFILESDIR)"; \
	for p in $(INSTALL_PROGS); do \
	  if [ -x "$(BUILD)/$$p" ]; then \
	    install -m 0755 "$(BUILD)/$$p" "$$d$(BINDIR)/$$p.new" && mv -f "$$d$(BINDIR)/$$p.new" "$$d$(BINDIR)/$$p"; \
	    echo "  INSTALL $(BINDIR)/$$p"; \
	  else echo "  SKIP    $(BINDIR)/$$p ($(BUILD)/$$p is not built)"; fi; \
	done; \
	for u in $(INSTALL_UNITS); do \
	  sed 's#/usr/local/bin/#$(BINDIR)/#g' "deploy/systemd/$$u" > "$$d$(UNITDIR)/$$u.new"; \
	  chmod 0644 "$$d$(UNITDIR)/$$u.new"; mv -f "$$d$(UNITDIR)/$$u.new" "$$d$(UNITDIR)/$$u"; \
	  echo "  INSTALL $(UNITDIR)/$$u"; \
	done; \
	install -m 0644 deploy/systemd/dstack-kms.sysusers "$$d$(SYSUSERSDIR)/dstack-kms.conf"; \
	install -m 0644 deploy/systemd/dstack-kms.tmpfiles "$$d$(TMPFILESDIR)/dstack-kms.conf"; \
	echo "  INSTALL $(SYSUSERSDIR)/dstack-kms.conf $(TMPFILESDIR)/dstack-kms.conf"; \
	if [ -z "$$d" ]; then \
	  if ! id -u $(KMS_USER) >/dev/null 2>&1; then \
	    if command -v systemd-sysusers >/dev/null 2>&1; then systemd-sysusers "$(SYSUSERSDIR)/dstack-kms.conf"; \
	    else useradd --system --user-group --home-dir /nonexistent --no-create-home \
	           --shell /usr/sbin/nologin --comment "dstack KMS" $(KMS_USER); fi; \
	    echo "  USER    $(KMS_USER) created"; \
	  fi; \
	  own_kms="-o $(KMS_USER) -g $(KMS_USER)"; own_root="-o root -g root"; grp_kms="$(KMS_USER)"; \
	else own_kms=""; own_root=""; grp_kms=""; fi; \
	mkd() { if [ -d "$$d$$1" ]; then echo "  KEEP    $$1/ (exists)"; \
	        else install -d -m "$$2" $$3 "$$d$$1"; echo "  MKDIR   $$1/ ($$2)"; fi; }; \
	mkd $(KMS_CONFDIR) 0755 "$$own_root"; \
	mkd $(KMS_CONFDIR)/certs 0700 "$$own_kms"; \
	mkd /var/log/kms 0750 "$$own_kms"; \
	mkd /var/cache/dstack-kms 0755 "$$own_root"; \
	mkd /var/cache/dstack-kms/collateral 0750 "$$own_kms"; \
	conf() { if [ -e "$$d$$2" ]; then echo "  KEEP    $$2 (exists; example not installed)"; \
	         else install -m "$$3" "$$1" "$$d$$2"; [ -z "$$4" ] || chgrp "$$4" "$$d$$2"; \
	              echo "  INSTALL $$2 (example: edit it)"; fi; }; \
	conf deploy/examples/kms.toml $(KMS_CONFDIR)/kms.toml 0640 "$$grp_kms"; \
	conf deploy/examples/auth-eth.env $(KMS_CONFDIR)/auth-eth.env 0600 ""; \
	if [ -z "$$d" ] && [ -d /run/systemd/system ]; then systemctl daemon-reload; fi; \
	if [ -n "$$d" ]; then echo "make install: staged in $$d; the user $(KMS_USER) and the owners" \
	  "are applied on the target by systemd-sysusers and systemd-tmpfiles (at boot)"; fi; \
	echo "make install: next: edit $(KMS_CONFDIR)/kms.toml and $(KMS_CONFDIR)/auth-eth.env, then"; \
	echo "  systemctl enable --now dstack-auth-eth dstack-kms && dstack-kmsctl verify"

# Removes what install put in place except the configuration, the keys
# (/etc/kms) and the user.
uninstall:
	@set -e; d="$(DESTDIR)"; \
	for p in $(INSTALL_PROGS); do rm -f "$$d$(BINDIR)/$$p"; done; \
	for u in $(INSTALL_UNITS); do rm -f "$$d$(UNITDIR)/$$u"; done; \
	rm -f "$$d$(SYSUSERSDIR)/dstack-kms.conf" "$$d$(TMPFILESDIR)/dstack-kms.conf"; \
	if [ -z "$$d" ] && [ -d /run/systemd/system ]; then systemctl daemon-reload; fi; \
	echo "make uninstall: kept $(KMS_CONFDIR) (configuration and keys), /var/log/kms and the user $(KMS_USER)"
