# smtpot - SMTP honeypot. See README.md.
#
#   make            build ./smtpot
#   make run        install what is missing, start smtpot on 127.0.0.1:2525
#   make check      install what is missing, run every test
#   make check-sanitize   the unit, transcript and end-to-end tests under ASan+UBSan
#   make fuzz       the libFuzzer harnesses, 60 s each (make fuzz-ci: 10 s each)
#   make bench      smtpot against peers, see bench/README.md

CC ?= cc
PKG_CONFIG ?= pkg-config
PREFIX ?= /usr/local
SBINDIR ?= $(PREFIX)/sbin
MANDIR ?= $(PREFIX)/share/man
# The TLS module's place is compiled into the program (build/tlsmoddir.stamp
# rebuilds it when PREFIX or TLSMODDIR changes).
TLSMODDIR ?= $(PREFIX)/lib/smtpot

WARN = -Wall -Wextra -Wshadow -Wformat=2 -Wstrict-prototypes -Wmissing-prototypes \
       -Wpointer-arith -Wcast-qual -Wwrite-strings -Wvla
HARDEN = -fstack-protector-strong -D_FORTIFY_SOURCE=2 -fPIE -fno-strict-overflow
OPT ?= -O2 -g
PKG_CFLAGS = $(shell $(PKG_CONFIG) --cflags json-c 2>/dev/null)
# json-c is linked statically: each connection is a new process, and mapping
# and relocating one more shared library is a measurable part of its start.
PKG_LIBS = -Wl,-Bstatic $(shell $(PKG_CONFIG) --libs json-c 2>/dev/null) -Wl,-Bdynamic
ALL_CFLAGS = -std=c11 -D_GNU_SOURCE $(OPT) $(WARN) $(HARDEN) $(PKG_CFLAGS) \
	-DDEFAULT_TLS_MODULE='"$(TLSMODDIR)/smtpot-tls"' $(CFLAGS)
ALL_LDFLAGS = -pie -Wl,-z,relro,-z,now -Wl,--as-needed $(LDFLAGS)
# smtpot itself is a static PIE built against musl: no dynamic loader, no
# library mapped or relocated at start, and none of glibc's start-up probing
# of the CPU's caches with CPUID, which traps to the hypervisor in a virtual
# machine (there it was half of a short session's CPU). It has no TLS code
# and needs no dlopen or NSS. Debian's libjson-c.a is linked in as it is;
# src/musl/glibc_chk.c gives it the few glibc functions it calls. The other
# programs (smtpot-tls, the tests) are built with $(CC) against glibc.
MUSL_CC ?= musl-gcc
MULTIARCH := $(shell $(CC) -print-multiarch 2>/dev/null)
MUSL_LIBDIR ?= /usr/lib/$(subst -gnu,-musl,$(MULTIARCH))
# musl's headers first; the kernel's (linux/, asm/) and json-c's from the system.
MUSL_CFLAGS = -std=c11 -D_GNU_SOURCE $(OPT) $(WARN) -fstack-protector-strong -fPIE \
	-fno-strict-overflow -idirafter /usr/include -idirafter /usr/include/$(MULTIARCH) \
	$(PKG_CFLAGS) -DDEFAULT_TLS_MODULE='"$(TLSMODDIR)/smtpot-tls"' $(CFLAGS)
JSONC_A = $(shell $(PKG_CONFIG) --variable=libdir json-c 2>/dev/null)/libjson-c.a
MUSL_OBJS = $(SRCS:src/%.c=build-musl/%.o) build-musl/glibc_chk.o

SRCS = $(wildcard src/*.c)
LIB_SRCS = $(filter-out src/main.c,$(SRCS))
OBJS = $(SRCS:src/%.c=build/%.o)
LIB_OBJS = $(LIB_SRCS:src/%.c=build/%.o)
TEST_SRCS = $(wildcard tests/check_*.c) tests/testlib.c
CHECK_CFLAGS = $(shell $(PKG_CONFIG) --cflags check 2>/dev/null)
CHECK_LIBS = $(shell $(PKG_CONFIG) --libs check 2>/dev/null)

# Debian packages each target needs; installed when missing (as root), else the
# exact command is printed.
BUILD_PKGS = gcc make pkg-config musl-tools libjson-c-dev libssl-dev libseccomp-dev
RUN_PKGS = $(BUILD_PKGS) systemd swaks openssl
TEST_PKGS = $(BUILD_PKGS) check systemd swaks python3 curl jq valgrind openssl strace gdb \
	systemd-container xinetd mandoc clang-14 libclang-rt-14-dev \
	libnet-ssleay-perl libio-socket-ssl-perl libauthen-sasl-perl libdigest-hmac-perl

.PHONY: all run check check-unit check-e2e check-sanitize check-valgrind check-deploy \
	deps-build deps-run deps-test \
	install uninstall clean

all: smtpot smtpot-tls

# OpenSSL is linked only into the TLS module, smtpot-tls: the same program,
# dynamically linked with src/tls/module.c, which smtpot executes in its own
# place when a session starts TLS (src/tls.c).
SSL_CFLAGS = $(shell $(PKG_CONFIG) --cflags libssl 2>/dev/null)
SSL_LIBS = $(shell $(PKG_CONFIG) --libs libssl libcrypto 2>/dev/null)
build/tls_module.o build-san/tls_module.o: src/tls/module.c src/tls.h src/conn.h
	$(CC) $(ALL_CFLAGS) $(SSL_CFLAGS) -c -o $@ src/tls/module.c
smtpot-tls: $(OBJS) build/tls_module.o
	$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $(OBJS) build/tls_module.o $(PKG_LIBS) $(SSL_LIBS)

smtpot: $(MUSL_OBJS)
	$(MUSL_CC) -static-pie -nostartfiles -Wl,-Bstatic -Wl,--no-dynamic-linker \
		-Wl,-z,relro,-z,now $(LDFLAGS) -o $@ \
		$(MUSL_LIBDIR)/rcrt1.o $(MUSL_LIBDIR)/crti.o $(shell $(CC) -print-file-name=crtbeginS.o) \
		$(MUSL_OBJS) $(JSONC_A) $(shell $(CC) -print-file-name=crtendS.o) $(MUSL_LIBDIR)/crtn.o

build-musl/%.o: src/%.c $(wildcard src/*.h) | build-musl
	$(MUSL_CC) $(MUSL_CFLAGS) -Ibuild -c -o $@ $<
build-musl/glibc_chk.o: src/musl/glibc_chk.c | build-musl
	$(MUSL_CC) $(MUSL_CFLAGS) -c -o $@ $<
build-musl/sandbox.o: build/sandbox_bpf.h
build-musl/config.o: build/tlsmoddir.stamp

build/tlsmoddir.stamp: FORCE | build
	@echo '$(TLSMODDIR)' | cmp -s - $@ || echo '$(TLSMODDIR)' > $@
build/config.o build-san/config.o build-fuzz/obj/config.o: build/tlsmoddir.stamp
.PHONY: FORCE
FORCE:

build/%.o: src/%.c $(wildcard src/*.h) | build
	$(CC) $(ALL_CFLAGS) -Ibuild -c -o $@ $<

# The seccomp filter is compiled by libseccomp here, once, not in every session.
build/sandbox_bpf.h: src/sandbox/gen.c src/sandbox.h | build
	$(CC) $(ALL_CFLAGS) -o build/sandbox-gen $< $(shell $(PKG_CONFIG) --libs libseccomp)
	build/sandbox-gen > $@.tmp && mv $@.tmp $@
build/sandbox.o build-san/sandbox.o: build/sandbox_bpf.h

build build-san build-musl:
	mkdir -p $@

deps-build deps-run deps-test: deps-%:
	@sh tests/deps.sh $($(shell echo $* | tr a-z A-Z)_PKGS)

RUN_PORT ?= 2525
run: deps-run
	$(MAKE) smtpot smtpot-tls
	@mkdir -p run/spool run/tls
	@test -s run/tls/cert.pem || openssl req -x509 -newkey rsa:2048 -nodes -days 825 \
		-subj /CN=mx.example.com -addext subjectAltName=DNS:mx.example.com \
		-keyout run/tls/key.pem -out run/tls/cert.pem 2>/dev/null
	@echo "smtpot: listening on 127.0.0.1:$(RUN_PORT); events in ./run/events.jsonl, messages in ./run/spool/"
	@echo "smtpot: try: swaks --server 127.0.0.1:$(RUN_PORT) --to victim@example.com"
	@echo "smtpot:  or: tail -f run/events.jsonl | jq .   (Ctrl-C here stops smtpot)"
	exec systemd-socket-activate --inetd -a -l 127.0.0.1:$(RUN_PORT) \
		$(CURDIR)/smtpot --log-file=$(CURDIR)/run/events.jsonl --spool-dir=$(CURDIR)/run/spool \
		--hostname=mx.example.com --tls-cert=$(CURDIR)/run/tls/cert.pem --tls-key=$(CURDIR)/run/tls/key.pem

tests/check_smtpot: $(TEST_SRCS) $(LIB_OBJS) tests/testlib.h
	$(CC) $(ALL_CFLAGS) $(CHECK_CFLAGS) -Isrc -o $@ $(TEST_SRCS) $(LIB_OBJS) $(PKG_LIBS) $(CHECK_LIBS)

check: deps-test
	$(MAKE) smtpot smtpot-tls tests/check_smtpot
	$(MAKE) check-unit check-valgrind check-sanitize check-e2e check-deploy fuzz-ci

check-unit: tests/check_smtpot
	tests/check_smtpot

E2E_TESTS = $(sort $(wildcard tests/e2e*.py))
check-e2e: smtpot smtpot-tls tests/sandbox_probe.so
	@rc=0; for t in $(E2E_TESTS); do echo "== $$t"; python3 $$t || rc=1; done; exit $$rc

tests/sandbox_probe.so: tests/sandbox_probe.c
	$(CC) -O2 -shared -fPIC -o $@ $<

# The unit and transcript tests under valgrind memcheck: no error, no leak.
check-valgrind: tests/check_smtpot
	CK_FORK=no valgrind -q --leak-check=full --errors-for-leak-kinds=definite,indirect \
		--error-exitcode=1 tests/check_smtpot

# The same unit and transcript tests, built with ASan and UBSan.
SAN = -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
check-sanitize: smtpot smtpot-tls tests/sandbox_probe.so | build-san
	$(MAKE) OPT="-O1 -g $(SAN)" LDFLAGS="$(SAN)" BUILD=build-san \
		tests/check_smtpot-san smtpot-san
	CK_FORK=no ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 tests/check_smtpot-san
	@echo "== the end-to-end suites against smtpot-san"
	@rc=0; for t in $(E2E_TESTS); do SMTPOT=$(CURDIR)/smtpot-san python3 $$t -q || rc=1; done; exit $$rc

SAN_OBJS = $(SRCS:src/%.c=build-san/%.o)
SAN_LIB_OBJS = $(LIB_SRCS:src/%.c=build-san/%.o)
build-san/%.o: src/%.c $(wildcard src/*.h) | build-san
	$(CC) $(ALL_CFLAGS) -Ibuild -c -o $@ $<
# Dynamically linked (the sanitizers need it) and with TLS in-process.
smtpot-san: $(SAN_OBJS) build-san/tls_module.o tests/san_options.c
	$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $(SAN_OBJS) build-san/tls_module.o tests/san_options.c \
		$(PKG_LIBS) $(SSL_LIBS)
tests/check_smtpot-san: $(TEST_SRCS) $(SAN_LIB_OBJS) tests/testlib.h
	$(CC) $(ALL_CFLAGS) $(CHECK_CFLAGS) -Isrc -o $@ $(TEST_SRCS) $(SAN_LIB_OBJS) $(PKG_LIBS) $(CHECK_LIBS)

# systemd reads units and catalogs from fixed places, not from under PREFIX;
# ask systemd.pc where, once.
ifndef SYSTEMDUNITDIR
SYSTEMDUNITDIR := $(or $(shell $(PKG_CONFIG) --variable=systemdsystemunitdir systemd 2>/dev/null),/usr/lib/systemd/system)
endif
ifndef CATALOGDIR
CATALOGDIR := $(or $(shell $(PKG_CONFIG) --variable=catalogdir systemd 2>/dev/null),/usr/lib/systemd/catalog)
endif
XINETDDIR ?= /etc/xinetd.d
INSTALL ?= install

MANPAGES = man/smtpot.8 man/smtpot.conf.5 man/smtpot-events.7
UNITS = systemd/smtpot.socket systemd/smtpot@.service \
	systemd/smtpot-tls.socket systemd/smtpot-tls@.service systemd/smtpot-tlscert.service
XINETD_FILES = xinetd/smtpot xinetd/smtpot-tls
# The units and xinetd files name /usr/sbin/smtpot and /usr/lib/smtpot/ (the
# TLS module, the certificate script); install rewrites both to where they go.
SBIN_SED = sed -e 's|/usr/sbin/smtpot|$(SBINDIR)/smtpot|g' -e 's|/usr/lib/smtpot/|$(TLSMODDIR)/|g'

# The catalog takes effect once compiled into journald's database: install
# and uninstall do that when they change the running system; a package or
# image build (DESTDIR set) leaves it to the target.
install: smtpot smtpot-tls
	$(INSTALL) -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(TLSMODDIR) $(DESTDIR)$(SYSTEMDUNITDIR) \
		$(DESTDIR)$(CATALOGDIR) $(DESTDIR)$(XINETDDIR) \
		$(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man7 $(DESTDIR)$(MANDIR)/man8
	$(INSTALL) -m 0755 smtpot $(DESTDIR)$(SBINDIR)/smtpot
	$(INSTALL) -m 0755 smtpot-tls $(DESTDIR)$(TLSMODDIR)/smtpot-tls
	$(INSTALL) -m 0755 systemd/smtpot-tlscert $(DESTDIR)$(TLSMODDIR)/smtpot-tlscert
	set -e; for f in $(UNITS) $(XINETD_FILES); do \
		case $$f in systemd/*) d=$(SYSTEMDUNITDIR);; *) d=$(XINETDDIR);; esac; \
		t=$(DESTDIR)$$d/$${f##*/}; \
		$(SBIN_SED) $$f > $$t.tmp; chmod 0644 $$t.tmp; mv -f $$t.tmp $$t; \
	done
	$(INSTALL) -m 0644 systemd/smtpot.catalog $(DESTDIR)$(CATALOGDIR)/smtpot.catalog
	for m in $(MANPAGES); do \
		$(INSTALL) -m 0644 $$m $(DESTDIR)$(MANDIR)/man$${m##*.}/$${m#man/} || exit 1; \
	done
	@if [ -z "$(DESTDIR)" ] && command -v journalctl >/dev/null 2>&1; then \
		echo journalctl --update-catalog; journalctl --update-catalog || :; \
	fi

uninstall:
	rm -f $(DESTDIR)$(SBINDIR)/smtpot $(DESTDIR)$(TLSMODDIR)/smtpot-tls \
		$(DESTDIR)$(TLSMODDIR)/smtpot-tlscert \
		$(addprefix $(DESTDIR)$(SYSTEMDUNITDIR)/,$(notdir $(UNITS))) \
		$(DESTDIR)$(CATALOGDIR)/smtpot.catalog \
		$(addprefix $(DESTDIR)$(XINETDDIR)/,$(notdir $(XINETD_FILES)))
	for m in $(MANPAGES); do rm -f $(DESTDIR)$(MANDIR)/man$${m##*.}/$${m#man/}; done
	@if [ -z "$(DESTDIR)" ] && command -v journalctl >/dev/null 2>&1; then \
		echo journalctl --update-catalog; journalctl --update-catalog || :; \
	fi

# Deployment tests: the units and catalog (systemd-analyze), a booted
# systemd in a container, xinetd.  Each installs with DESTDIR into a scratch
# directory and tests that tree; the container and xinetd tests need root
# and skip (exit 77) otherwise, or when a tool is missing.
DEPLOY_TESTS = tests/deploy/systemd-verify.sh tests/deploy/nspawn.sh tests/deploy/xinetd.sh

check-deploy: smtpot smtpot-tls
	@pass=0; fail=0; skip=0; \
	for t in $(DEPLOY_TESTS); do \
		SMTPOT_TOP=$(CURDIR) MAKE="$(MAKE)" bash $$t; rc=$$?; \
		case $$rc in 0) pass=$$((pass+1));; 77) skip=$$((skip+1));; \
		*) fail=$$((fail+1));; esac; \
	done; \
	echo "check-deploy: $$pass passed, $$fail failed, $$skip skipped"; \
	[ $$fail -eq 0 ]

.PHONY: install uninstall check-deploy

# --- fuzzing: libFuzzer harnesses in tests/fuzz/ (clang) --------------------
#   make fuzz          replay tests/fuzz/regressions/, then each harness for
#                      FUZZ_SECONDS (default 60); fails on any crash
#   make fuzz-ci       the same in about a minute (10 s per harness)
#   make fuzz-regress  replay tests/fuzz/regressions/ only
FUZZ_CC ?= clang-14
FUZZ_SECONDS ?= 60
FUZZERS = line address data message session tlsfp
FUZZ_PKGS = $(BUILD_PKGS) clang-14 libclang-rt-14-dev python3
FUZZ_CFLAGS = -std=c11 -D_GNU_SOURCE -O1 -g $(WARN) $(PKG_CFLAGS) \
	-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
# Coverage only where it guides: the code under test, not the harnesses' checks.
FUZZ_LIB_OBJS = $(LIB_SRCS:src/%.c=build-fuzz/obj/%.o)
FUZZ_BINS = $(FUZZERS:%=build-fuzz/fuzz_%)
# fuzz_session sees the bytes the DATA machine emits by wrapping data_init.
FUZZ_LDFLAGS_session = -Wl,--wrap=data_init

.PHONY: fuzz fuzz-ci fuzz-build fuzz-regress deps-fuzz
.SECONDARY: $(FUZZ_LIB_OBJS) $(FUZZERS:%=build-fuzz/obj/fuzz_%.o) build-fuzz/obj/fuzz_util.o

deps-fuzz:
	@sh tests/deps.sh $(FUZZ_PKGS)

build-fuzz/obj:
	mkdir -p $@

build-fuzz/obj/%.o: src/%.c $(wildcard src/*.h) | build-fuzz/obj
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -Ibuild -c -o $@ $<
build-fuzz/obj/sandbox.o: build/sandbox_bpf.h

build-fuzz/obj/fuzz_%.o: tests/fuzz/fuzz_%.c tests/fuzz/fuzz_util.h $(wildcard src/*.h) | build-fuzz/obj
	$(FUZZ_CC) $(FUZZ_CFLAGS) -Isrc -c -o $@ $<

build-fuzz/fuzz_%: build-fuzz/obj/fuzz_%.o build-fuzz/obj/fuzz_util.o $(FUZZ_LIB_OBJS)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $< build-fuzz/obj/fuzz_util.o \
		$(FUZZ_LIB_OBJS) $(FUZZ_LDFLAGS_$*) $(PKG_LIBS)

build-fuzz/seeds: tests/fuzz/make-seeds.py | build-fuzz/obj
	rm -rf $@ && python3 tests/fuzz/make-seeds.py $@

fuzz-build: $(FUZZ_BINS) build-fuzz/seeds

fuzz: deps-fuzz
	$(MAKE) fuzz-build
	sh tests/fuzz/run-fuzz.sh $(FUZZ_SECONDS) $(FUZZERS)

fuzz-ci:
	$(MAKE) fuzz FUZZ_SECONDS=10

fuzz-regress: deps-fuzz
	$(MAKE) fuzz-build
	sh tests/fuzz/run-regressions.sh $(FUZZERS)

# Benchmark against a do-nothing handler, smtp-sink and aiosmtpd (bench/README.md).
# BENCH_QUICK=1 make bench: a smoke run of a minute or two.
bench: deps-build
	$(MAKE) smtpot
	python3 bench/run

# One session at a time, smtpot against the floor: CPU per session (~1 min).
bench-spawn: deps-build
	$(MAKE) smtpot
	sh bench/spawn-run

.PHONY: bench bench-spawn

clean:
	rm -rf build build-san build-musl build-fuzz smtpot smtpot-san smtpot-tls tests/check_smtpot tests/check_smtpot-san \
		tests/sandbox_probe.so bench/build
