# erpulse — one non-recursive GNU Makefile.
#
# Sources are found by wildcard, so adding a file to lib/, agent/, probes/,
# collector/, tests/unit/, tests/fuzz/ or tests/tools/ needs no edit here.
#   lib/*.c                 -> $(B)/libep.a            (both binaries)
#   agent/*.c probes/**.c   -> $(B)/libagent.a + bin/erpulse-agent  (agent/main.c holds main)
#   collector/**.c          -> $(B)/libcoll.a + bin/erpulse-collector (collector/main.c holds main)
#   tests/unit/test_X.c     -> $(B)/tests/unit/test_X   (cmocka, links all three archives)
#   tests/tools/X.c         -> $(B)/tests/tools/X       (helpers used by integration tests)
#   tests/fuzz/fuzz_X.c     -> $(O)/build/fuzz/fuzz_X  (clang libFuzzer)
#   tests/bench/X.c         -> $(B)/tests/bench/X
#
# O= puts everything (build/ and bin/) below another directory, so several
# builds can share one tree:  make O=/tmp/mybuild
# SAN=1 builds with AddressSanitizer + UndefinedBehaviorSanitizer into build/asan.

O        ?= .
SAN      ?= 0
WERROR   ?= 0
PREFIX   ?= /usr/local
DESTDIR  ?=
SYSCONFDIR ?= /etc
# systemd directories (the RPM spec passes %{_unitdir}, %{_sysusersdir}, %{_tmpfilesdir})
UNITDIR     ?= /lib/systemd/system
SYSUSERSDIR ?= /usr/lib/sysusers.d
TMPFILESDIR ?= /usr/lib/tmpfiles.d
VERSION  := $(shell cat VERSION 2>/dev/null || echo 0.0.0)

ifeq ($(SAN),1)
B        := $(O)/build/asan
BIN      := $(O)/build/asan/bin
else
B        := $(O)/build/obj
BIN      := $(O)/bin
endif

# pkg-config name -> Debian package (for the one-line "missing" message)
PKGS := libpq odbc libcurl jansson yajl libsystemd libsodium libmicrohttpd gnutls sqlite3 libpcre2-8 inih \
        pangocairo cairo-pdf libzstd
TEST_PKGS := cmocka
# the collector's allocator (docs/decisions.md "jemalloc"): linked into
# erpulse-collector only, and not with the sanitizers (they bring their own)
ALLOC_PKGS := jemalloc

CC       ?= cc
FUZZ_CC  ?= clang
PKG_CONFIG ?= pkg-config

WARN := -Wall -Wextra -Wformat=2 -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
        -Wpointer-arith -Wcast-qual -Wwrite-strings -Wundef -Wvla -Wimplicit-fallthrough
ifeq ($(WERROR),1)
WARN += -Werror
endif
HARDEN_CFLAGS  := -D_FORTIFY_SOURCE=2 -fstack-protector-strong -fPIE
HARDEN_LDFLAGS := -pie -Wl,-z,relro,-z,now -Wl,--as-needed
SAN_FLAGS := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer

# Lazily evaluated: a target that does not compile never runs pkg-config.
DEP_CFLAGS = $(shell $(PKG_CONFIG) --cflags $(PKGS))
DEP_LIBS   = $(shell $(PKG_CONFIG) --libs $(PKGS)) -lpthread -lm
TEST_CFLAGS = $(shell $(PKG_CONFIG) --cflags $(TEST_PKGS))
TEST_LIBS   = $(shell $(PKG_CONFIG) --libs $(TEST_PKGS))
ALLOC_LIBS  = $(if $(filter 1,$(SAN)),,$(shell $(PKG_CONFIG) --libs $(ALLOC_PKGS)))

BASE_CFLAGS := -std=c11 -D_GNU_SOURCE -DEP_VERSION='"$(VERSION)"' \
               -DEP_SYSCONFDIR='"$(SYSCONFDIR)"' -Iinclude -I. $(WARN) -g -MMD -MP
ifeq ($(SAN),1)
OPT := -O1 $(SAN_FLAGS)
SAN_LD := $(SAN_FLAGS) -Wl,--as-needed
else
OPT := -O2 $(HARDEN_CFLAGS)
SAN_LD := $(HARDEN_LDFLAGS)
endif
# The user's CFLAGS/LDFLAGS are appended, never replaced.
ALL_CFLAGS = $(BASE_CFLAGS) $(OPT) $(DEP_CFLAGS) $(CFLAGS)
ALL_LDFLAGS = $(SAN_LD) $(LDFLAGS)

LIB_SRC   := $(sort $(wildcard lib/*.c))
AGENT_SRC := $(sort $(filter-out agent/main.c,$(wildcard agent/*.c)) $(wildcard probes/*.c probes/*/*.c))
COLL_SRC  := $(sort $(filter-out collector/main.c,$(wildcard collector/*.c collector/*/*.c)))
UNIT_SRC  := $(sort $(wildcard tests/unit/test_*.c))
TOOL_SRC  := $(sort $(wildcard tests/tools/*.c))
BENCH_SRC := $(sort $(wildcard tests/bench/*.c))
FUZZ_SRC  := $(sort $(wildcard tests/fuzz/fuzz_*.c))

obj = $(patsubst %.c,$(B)/%.o,$(1))
LIB_OBJ   := $(call obj,$(LIB_SRC))
AGENT_OBJ := $(call obj,$(AGENT_SRC))
COLL_OBJ  := $(call obj,$(COLL_SRC))
UNIT_BIN  := $(patsubst tests/unit/%.c,$(B)/tests/unit/%,$(UNIT_SRC))
TOOL_BIN  := $(patsubst tests/tools/%.c,$(B)/tests/tools/%,$(TOOL_SRC))
BENCH_BIN := $(patsubst tests/bench/%.c,$(B)/tests/bench/%,$(BENCH_SRC))
FUZZ_BIN  := $(patsubst tests/fuzz/%.c,$(O)/build/fuzz/%,$(FUZZ_SRC))

LIBEP    := $(B)/libep.a
LIBAGENT := $(B)/libagent.a
LIBCOLL  := $(B)/libcoll.a
AGENT    := $(BIN)/erpulse-agent
COLLECTOR := $(BIN)/erpulse-collector
# the agent daemon's resident supervisor (agent/supervisor/, rule below)
AGENTD     := $(BIN)/erpulse-agentd
AGENTD_OBJ := $(call obj,$(sort $(wildcard agent/supervisor/*.c)))

.PHONY: all deps-ok check check-run unit unit-san integration fuzz-smoke fuzz bench \
        install format format-check lint demo clean tests tools help man docs

all: deps-ok $(AGENT) $(AGENTD) $(COLLECTOR)

help:
	@echo "make            build bin/erpulse-agent, bin/erpulse-agentd and bin/erpulse-collector"
	@echo "make check      install what is missing, build with -Werror, run every test"
	@echo "make demo       install what is missing, build, run collector + agent + PostgreSQL"
	@echo "make install DESTDIR= PREFIX=   install binaries, units and example configs"
	@echo "make man        the manuals into build/man; make docs: docs/configuration.md's option tables"
	@echo "make format | format-check | lint | fuzz | bench | clean"

# One line naming the missing package instead of a wall of compiler errors.
deps-ok:
	@missing=""; for p in $(PKGS) $(ALLOC_PKGS); do $(PKG_CONFIG) --exists $$p || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "erpulse: missing build dependency (pkg-config):$$missing -- run: sudo scripts/install-deps" >&2; exit 1; fi

$(B)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

$(LIBEP): $(LIB_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^
$(LIBAGENT): $(AGENT_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^
$(LIBCOLL): $(COLL_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(AGENT): $(B)/agent/main.o $(LIBAGENT) $(LIBEP)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(ALL_LDFLAGS) $(DEP_LIBS)
$(COLLECTOR): $(B)/collector/main.o $(LIBCOLL) $(LIBEP)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(ALL_LDFLAGS) $(ALLOC_LIBS) $(DEP_LIBS)

# erpulse-agentd: the agent daemon's small resident supervisor (docs/agent.md,
# "Daemon"). Its own sources only (agent/supervisor/*.c, outside the agent/*.c
# wildcard) and libc only: no $(DEP_LIBS), so the long-lived process maps no
# libcurl/OpenSSL/libpq/ODBC/PCRE2. `erpulse-agent run` execs it from its own
# directory, else from ../libexec/erpulse next to it, else from
# $(PREFIX)/libexec/erpulse (EP_LIBEXECDIR below).
$(AGENTD): $(AGENTD_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(ALL_LDFLAGS)
$(B)/agent/daemon.o: BASE_CFLAGS += -DEP_LIBEXECDIR='"$(PREFIX)/libexec"'

$(B)/tests/unit/%: tests/unit/%.c $(LIBAGENT) $(LIBCOLL) $(LIBEP)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(TEST_CFLAGS) -o $@ $< $(LIBAGENT) $(LIBCOLL) $(LIBEP) $(ALL_LDFLAGS) $(DEP_LIBS) $(TEST_LIBS)
$(B)/tests/tools/%: tests/tools/%.c $(LIBAGENT) $(LIBCOLL) $(LIBEP)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $< $(LIBAGENT) $(LIBCOLL) $(LIBEP) $(ALL_LDFLAGS) $(DEP_LIBS)
$(B)/tests/bench/%: tests/bench/%.c $(LIBAGENT) $(LIBCOLL) $(LIBEP)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $< $(LIBAGENT) $(LIBCOLL) $(LIBEP) $(ALL_LDFLAGS) $(DEP_LIBS)

# libFuzzer targets: every source is compiled once more with clang and the
# fuzzer instrumentation into build/fuzzobj/, archived, and linked per target.
FUZZ_CFLAGS = -std=c11 -D_GNU_SOURCE -DEP_VERSION='"$(VERSION)"' -DEP_SYSCONFDIR='"$(SYSCONFDIR)"' -Iinclude -I. -g -O1 \
              -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all $(DEP_CFLAGS)
FUZZ_OBJ := $(patsubst %.c,$(O)/build/fuzzobj/%.o,$(LIB_SRC) $(AGENT_SRC) $(COLL_SRC))
$(O)/build/fuzzobj/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -MMD -MP -c $< -o $@
$(O)/build/fuzzobj/libfuzzall.a: $(FUZZ_OBJ)
	rm -f $@ && ar rcs $@ $^
$(O)/build/fuzz/%: tests/fuzz/%.c $(O)/build/fuzzobj/libfuzzall.a
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $< $(O)/build/fuzzobj/libfuzzall.a $(DEP_LIBS)

tests: all $(UNIT_BIN) $(TOOL_BIN)
tools: $(TOOL_BIN)

# ---- the README's test command -------------------------------------------
# Installs what is missing, then builds with -Werror and runs everything;
# the last line is "N passed, N failed".
check:
	@scripts/install-deps --if-needed
	@$(MAKE) --no-print-directory WERROR=1 check-run

check-run:
	@$(MAKE) --no-print-directory WERROR=1 tests
	@$(MAKE) --no-print-directory WERROR=1 SAN=1 $(patsubst $(O)/build/obj/%,$(O)/build/asan/%,$(UNIT_BIN))
	@$(MAKE) --no-print-directory $(FUZZ_BIN)
	@O=$(O) scripts/run-tests all

unit: tests
	@O=$(O) scripts/run-tests unit
unit-san:
	@$(MAKE) --no-print-directory WERROR=1 SAN=1 $(patsubst $(O)/build/obj/%,$(O)/build/asan/%,$(UNIT_BIN))
	@O=$(O) scripts/run-tests unit-san
integration: tests
	@O=$(O) scripts/run-tests integration
fuzz-smoke: $(FUZZ_BIN)
	@O=$(O) scripts/run-tests fuzz
fuzz: $(FUZZ_BIN)
	@O=$(O) FUZZ_SECONDS=$${FUZZ_SECONDS:-300} scripts/run-tests fuzz
bench:
	@scripts/install-deps --if-needed --bench
	@$(MAKE) --no-print-directory all $(BENCH_BIN) $(TOOL_BIN)
	@O=$(O) scripts/run-bench

# The build's compiler lines go to a log (the demo shows the product, not
# the compiler); on failure the end of the log is shown.
demo:
	@scripts/install-deps --if-needed
	@mkdir -p $(O)/build
	@echo "building (log: $(O)/build/demo-build.log)"
	@$(MAKE) --no-print-directory all tools >$(O)/build/demo-build.log 2>&1 || \
	  { tail -n 40 $(O)/build/demo-build.log >&2; echo "demo: build failed" >&2; exit 1; }
	@O=$(O) scripts/demo

# Manuals, generated from the option tables (scripts/gen-docs, tests/tools/optdoc.c).
MAN_DIR := $(O)/build/man
man: all $(B)/tests/tools/optdoc
	@O=$(O) BIN=$(BIN) OPTDOC=$(B)/tests/tools/optdoc scripts/gen-docs man $(MAN_DIR)
# docs/configuration.md's option sections, from the same tables.
docs: all $(B)/tests/tools/optdoc
	@O=$(O) OPTDOC=$(B)/tests/tools/optdoc scripts/gen-docs config

install: all man
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(SYSCONFDIR)/erpulse
	install -m 0755 $(AGENT) $(COLLECTOR) $(DESTDIR)$(PREFIX)/bin/
	install -d $(DESTDIR)$(PREFIX)/libexec/erpulse
	install -m 0755 $(AGENTD) $(DESTDIR)$(PREFIX)/libexec/erpulse/
	install -d $(DESTDIR)$(UNITDIR) $(DESTDIR)$(SYSUSERSDIR) $(DESTDIR)$(TMPFILESDIR)
	install -m 0644 packaging/systemd/*.service $(DESTDIR)$(UNITDIR)/
	install -m 0644 packaging/systemd/erpulse.sysusers.conf $(DESTDIR)$(SYSUSERSDIR)/erpulse.conf
	install -m 0644 packaging/systemd/erpulse.tmpfiles.conf $(DESTDIR)$(TMPFILESDIR)/erpulse.conf
	install -m 0644 packaging/systemd/erpulse-collector.sysusers.conf $(DESTDIR)$(SYSUSERSDIR)/erpulse-collector.conf
	install -m 0644 packaging/systemd/erpulse-collector.tmpfiles.conf $(DESTDIR)$(TMPFILESDIR)/erpulse-collector.conf
	install -m 0644 packaging/agent.conf.example $(DESTDIR)$(SYSCONFDIR)/erpulse/agent.conf.example
	install -m 0644 packaging/collector.conf.example $(DESTDIR)$(SYSCONFDIR)/erpulse/collector.conf.example
	install -d $(DESTDIR)$(PREFIX)/share/man/man5 $(DESTDIR)$(PREFIX)/share/man/man8
	install -m 0644 $(MAN_DIR)/erpulse-agent.8 $(MAN_DIR)/erpulse-collector.8 $(DESTDIR)$(PREFIX)/share/man/man8/
	install -m 0644 $(MAN_DIR)/erpulse-agent.conf.5 $(MAN_DIR)/erpulse-collector.conf.5 $(DESTDIR)$(PREFIX)/share/man/man5/
	install -d $(DESTDIR)$(PREFIX)/share/bash-completion/completions
	install -m 0644 packaging/completion/erpulse-agent packaging/completion/erpulse-collector \
	    $(DESTDIR)$(PREFIX)/share/bash-completion/completions/

C_FILES = $(shell git ls-files '*.c' '*.h' 2>/dev/null || find agent collector lib include probes tests -name '*.[ch]')
format:
	clang-format -i $(C_FILES)
format-check:
	@clang-format --dry-run --Werror $(C_FILES) && echo "format OK"

# Banned calls (curl's list), then cppcheck.
lint:
	@if grep -nE '\b(sprintf|vsprintf|strcpy|strcat|strtok|atoi|atol|system)[[:space:]]*\(' \
	    $(filter %.c %.h,$(C_FILES)); then echo "lint: banned function above" >&2; exit 1; fi
	cppcheck --quiet --error-exitcode=1 --enable=warning,portability --inline-suppr \
	    --std=c11 -Iinclude -D__GNUC__ --suppress=missingIncludeSystem agent collector lib probes
	@echo "lint OK"

clean:
	rm -rf $(O)/build $(O)/bin

-include $(shell find $(O)/build -name '*.d' 2>/dev/null)
