# Makefile — builds dstack-kms, dstack-kmsctl and the tests.
#
#   make            build/dstack-kms, build/dstack-kmsctl
#   make test       install missing deps, build, run unit + integration tests
#   make run        a throwaway KMS on 127.0.0.1:9100 (dev auth, host mode)
#   make asan       the same build with ASan+UBSan in build-asan/, then its unit tests
#   make fuzz       every libFuzzer target in tests/fuzz for FUZZ_SECONDS (30) each
#   make fmt        clang-format every source file; make fmt-check fails on drift
BUILD    ?= build
CC       ?= gcc
PKGS     := openssl libevent libevent_openssl libevent_pthreads libcurl libsecp256k1 jansson libprotobuf-c libsystemd libcrypt
VERSION  := 0.6.0

# Missing Debian packages are installed before anything is built (README: the
# two commands do all set-up on a fresh Debian 12 machine).
DEPS_OK  := $(shell scripts/install-deps.sh --check >/dev/null 2>&1 && echo yes)
ifneq ($(DEPS_OK),yes)
ifeq ($(filter clean fmt fmt-check,$(MAKECMDGOALS)),)
DEPS_RC  := $(shell scripts/install-deps.sh >&2; echo $$?)
ifneq ($(DEPS_RC),0)
$(error scripts/install-deps.sh failed; see its output above)
endif
DEPS_OK  := yes
endif
endif
ifeq ($(DEPS_OK),yes)
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS))
PKG_LIBS   := $(shell pkg-config --libs $(PKGS))
endif

WARN     := -Wall -Wextra -Werror -Wformat=2 -Wshadow -Wstrict-prototypes -Wvla
HARDEN   := -D_FORTIFY_SOURCE=2 -fstack-protector-strong -fPIE
CFLAGS   ?= -O2 -g
ifeq ($(SAN),1)
HARDEN   := -fPIE
# -Wformat-truncation's range analysis is weaker at -O1 under instrumentation
# (false positives on lengths checked elsewhere); the -O2 build keeps it.
CFLAGS   := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined \
            -Wno-format-truncation
LDSAN    := -fsanitize=address,undefined
endif
ifeq ($(SAN),fuzz)
HARDEN   := -fPIE
CFLAGS   := -O1 -g -fno-omit-frame-pointer -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined
LDSAN    := -fsanitize=fuzzer,address,undefined
endif
ALL_CFLAGS := -std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE $(WARN) $(HARDEN) $(CFLAGS) \
              -Isrc -I$(BUILD)/gen $(PKG_CFLAGS) -MMD -MP
LDFLAGS  += -pie -Wl,-z,relro,-z,now $(LDSAN)
LIBS     := $(PKG_LIBS) -lpthread

GEN_PB   := $(BUILD)/gen/kms_rpc.pb-c.c
# One static library per folder under src/ (README "Layout"); programs link
# them top-down: services -> shared (prpc, collateral, audit) -> domain
# (attest, crypto, abi) -> platform (net, util). A folder may only include
# headers of the folders below it (scripts/check-layers.sh, run by make test).
LIB_DIRS := prpc collateral audit attest abi crypto net util
lib_src   = $(wildcard src/$(1)/*.c)
obj = $(patsubst %.c,$(BUILD)/obj/%.o,$(1))
LIB_FILES := $(foreach d,$(LIB_DIRS),$(if $(call lib_src,$(d)),$(BUILD)/lib$(d).a))
PB_OBJ   := $(BUILD)/obj/gen/kms_rpc.pb-c.o
KMS_SRC  := $(filter-out src/kms/main.c,$(wildcard src/kms/*.c))
CTL_SRC  := $(wildcard src/kmsctl/*.c)
AE_SRC   := $(wildcard src/auth-eth/*.c)
UNIT_SRC := $(wildcard tests/unit/*.c)

KMS_OBJ  := $(call obj,$(KMS_SRC))
CTL_OBJ  := $(call obj,$(CTL_SRC)) $(BUILD)/obj/src/kms/config.o
AE_OBJ   := $(call obj,$(AE_SRC))
UNIT_OBJ := $(call obj,$(UNIT_SRC))

BINS := $(BUILD)/dstack-kms $(BUILD)/dstack-kmsctl
ifneq ($(AE_SRC),)
BINS += $(BUILD)/dstack-auth-eth
endif

.PHONY: all deps test unit run asan fuzz fuzz-build fmt fmt-check clean print-cflags print-libs check-layers
all: deps $(BINS)

deps:
	@scripts/install-deps.sh --check

$(BUILD)/gen/kms_rpc.pb-c.c $(BUILD)/gen/kms_rpc.pb-c.h: proto/kms_rpc.proto
	@mkdir -p $(BUILD)/gen
	protoc-c --proto_path=proto --c_out=$(BUILD)/gen proto/kms_rpc.proto

$(BUILD)/gen/version.h: FORCE
	@mkdir -p $(BUILD)/gen
	@rev=$$(git rev-parse HEAD 2>/dev/null | cut -c1-20); [ -n "$$rev" ] || rev=00000000000000000000; \
	 mod=$$(git status --porcelain --untracked-files=no 2>/dev/null | grep -q . && echo -modified); \
	 printf '#define KMS_VERSION "%s"\n#define KMS_GIT_REV "%s%s"\n' "$(VERSION)" "$$rev" "$$mod" > $@.tmp; \
	 cmp -s $@.tmp $@ && rm -f $@.tmp || mv $@.tmp $@
FORCE:

$(BUILD)/obj/gen/%.o: $(BUILD)/gen/%.c
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	@$(CC) $(ALL_CFLAGS) -Wno-unused-parameter -c $< -o $@

$(BUILD)/obj/%.o: %.c $(BUILD)/gen/kms_rpc.pb-c.h $(BUILD)/gen/version.h
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	@$(CC) $(ALL_CFLAGS) -c $< -o $@

define lib_rule
$(BUILD)/lib$(1).a: $(call obj,$(call lib_src,$(1))) $(if $(filter prpc,$(1)),$(PB_OBJ))
	@rm -f $$@; ar rcs $$@ $$^
endef
$(foreach d,$(LIB_DIRS),$(eval $(call lib_rule,$(d))))
$(BUILD)/libkms.a: $(KMS_OBJ)
	@rm -f $@; ar rcs $@ $^

$(BUILD)/dstack-kms: $(BUILD)/obj/src/kms/main.o $(BUILD)/libkms.a $(LIB_FILES)
	@echo "  LD      $@"
	@$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)
$(BUILD)/dstack-kmsctl: $(CTL_OBJ) $(LIB_FILES)
	@echo "  LD      $@"
	@$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)
$(BUILD)/dstack-auth-eth: $(AE_OBJ) $(LIB_FILES)
	@echo "  LD      $@"
	@$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)
$(BUILD)/tests/unit-tests: $(UNIT_OBJ) $(BUILD)/libkms.a $(LIB_FILES)
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	@$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)

check-layers:
	@scripts/check-layers.sh

FUZZ_SRC  := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BINS := $(patsubst tests/fuzz/%.c,$(BUILD)/fuzz/%,$(FUZZ_SRC))
FUZZ_SECONDS ?= 30
$(BUILD)/fuzz/%: $(BUILD)/obj/tests/fuzz/%.o $(BUILD)/libkms.a $(LIB_FILES)
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	@$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)
fuzz-build: $(FUZZ_BINS)

# make fuzz: every libFuzzer target for FUZZ_SECONDS each (corpus kept in build-fuzz/corpus).
fuzz:
	$(MAKE) CC=clang BUILD=build-fuzz SAN=fuzz fuzz-build
	@for b in build-fuzz/fuzz/*; do \
	  n=$$(basename $$b); mkdir -p build-fuzz/corpus/$$n; \
	  echo "== $$n ($(FUZZ_SECONDS) s)"; \
	  $$b -max_total_time=$(FUZZ_SECONDS) -timeout=5 -print_final_stats=1 build-fuzz/corpus/$$n \
	    > build-fuzz/$$n.log 2>&1 || { tail -30 build-fuzz/$$n.log; exit 1; }; \
	  grep -E '^(#[0-9]+.*DONE|stat::number_of_executed_units)' build-fuzz/$$n.log | tail -1; \
	done

unit: deps $(BUILD)/tests/unit-tests
	$(BUILD)/tests/unit-tests $(T)

test: deps $(BINS) $(BUILD)/tests/unit-tests
	@scripts/check-layers.sh
	@BUILD=$(BUILD) tests/run.sh

run: deps $(BINS) $(BUILD)/tests/simtee
	@scripts/run-dev.sh $(BUILD)

asan:
	$(MAKE) BUILD=build-asan SAN=1 build-asan/tests/unit-tests $(subst $(BUILD)/,build-asan/,$(BINS))
	ASAN_OPTIONS=detect_leaks=1 build-asan/tests/unit-tests

FMT_FILES = $(shell git ls-files 'src/*.c' 'src/*.h' 'tests/*.c' 'tests/*.h' 2>/dev/null)
fmt:
	clang-format -i $(FMT_FILES)
fmt-check:
	clang-format --dry-run --Werror $(FMT_FILES)

print-cflags:
	@echo $(ALL_CFLAGS)
print-libs:
	@echo $(LIBS)
print-libfiles:
	@echo $(BUILD)/libkms.a $(LIB_FILES)

clean:
	rm -rf build build-asan build-fuzz

# Feature-specific targets (install, benchmarks, systemd tests ...) live in mk/*.mk.
-include $(sort $(wildcard mk/*.mk))

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
