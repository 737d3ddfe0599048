# smtpot - SMTP honeypot. See README.md.
#
#   make            build ./smtpot
#   make run        install what is missing, start smtpot on 127.0.0.1:2525
#   make check      install what is missing, run every test
#   make check-sanitize   the unit and transcript tests under ASan+UBSan

CC ?= cc
PKG_CONFIG ?= pkg-config
PREFIX ?= /usr/local
SBINDIR ?= $(PREFIX)/sbin
MANDIR ?= $(PREFIX)/share/man

WARN = -Wall -Wextra -Wshadow -Wformat=2 -Wstrict-prototypes -Wmissing-prototypes \
       -Wpointer-arith -Wcast-qual -Wwrite-strings -Wvla
HARDEN = -fstack-protector-strong -D_FORTIFY_SOURCE=2 -fPIE -fno-strict-overflow
OPT ?= -O2 -g
# libsystemd's header only: the library itself is loaded on demand (sink_journal.c).
PKG_CFLAGS = $(shell $(PKG_CONFIG) --cflags json-c libsystemd 2>/dev/null)
PKG_LIBS = $(shell $(PKG_CONFIG) --libs json-c 2>/dev/null)
ALL_CFLAGS = -std=c11 -D_GNU_SOURCE $(OPT) $(WARN) $(HARDEN) $(PKG_CFLAGS) $(CFLAGS)
ALL_LDFLAGS = -pie -Wl,-z,relro,-z,now -Wl,--as-needed $(LDFLAGS)

SRCS = $(wildcard src/*.c)
LIB_SRCS = $(filter-out src/main.c,$(SRCS))
OBJS = $(SRCS:src/%.c=build/%.o)
LIB_OBJS = $(LIB_SRCS:src/%.c=build/%.o)
TEST_SRCS = $(wildcard tests/check_*.c) tests/testlib.c
CHECK_CFLAGS = $(shell $(PKG_CONFIG) --cflags check 2>/dev/null)
CHECK_LIBS = $(shell $(PKG_CONFIG) --libs check 2>/dev/null)

# Debian packages each target needs; installed when missing (as root), else the
# exact command is printed.
BUILD_PKGS = gcc make pkg-config libjson-c-dev libsystemd-dev libssl-dev
RUN_PKGS = $(BUILD_PKGS) systemd swaks openssl
TEST_PKGS = $(BUILD_PKGS) check systemd swaks python3 curl jq valgrind openssl \
	libnet-ssleay-perl libio-socket-ssl-perl libauthen-sasl-perl libdigest-hmac-perl

.PHONY: all run check check-unit check-e2e check-sanitize deps-build deps-run deps-test clean

all: smtpot smtpot-tls.so

# OpenSSL is linked only into the TLS module, loaded when a session starts TLS.
SSL_CFLAGS = $(shell $(PKG_CONFIG) --cflags libssl 2>/dev/null)
SSL_LIBS = $(shell $(PKG_CONFIG) --libs libssl libcrypto 2>/dev/null)
smtpot-tls.so: src/tls/module.c src/tls.h src/conn.h
	$(CC) $(ALL_CFLAGS) $(SSL_CFLAGS) -fPIC -shared -Wl,-z,relro,-z,now -o $@ src/tls/module.c $(SSL_LIBS)

smtpot: $(OBJS)
	$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $(OBJS) $(PKG_LIBS)

build/%.o: src/%.c $(wildcard src/*.h) | build
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

build build-san:
	mkdir -p $@

deps-build deps-run deps-test: deps-%:
	@sh tests/deps.sh $($(shell echo $* | tr a-z A-Z)_PKGS)

RUN_PORT ?= 2525
run: deps-run
	$(MAKE) smtpot smtpot-tls.so
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
	$(MAKE) smtpot smtpot-tls.so tests/check_smtpot
	$(MAKE) check-unit check-e2e check-sanitize

check-unit: tests/check_smtpot
	tests/check_smtpot

check-e2e: smtpot
	python3 tests/e2e.py

# The same unit and transcript tests, built with ASan and UBSan.
SAN = -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
check-sanitize: | build-san
	$(MAKE) OPT="-O1 -g $(SAN)" LDFLAGS="$(SAN)" BUILD=build-san \
		tests/check_smtpot-san smtpot-san
	CK_FORK=no ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 tests/check_smtpot-san

SAN_OBJS = $(SRCS:src/%.c=build-san/%.o)
SAN_LIB_OBJS = $(LIB_SRCS:src/%.c=build-san/%.o)
build-san/%.o: src/%.c $(wildcard src/*.h) | build-san
	$(CC) $(ALL_CFLAGS) -c -o $@ $<
smtpot-san: $(SAN_OBJS)
	$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $(SAN_OBJS) $(PKG_LIBS)
tests/check_smtpot-san: $(TEST_SRCS) $(SAN_LIB_OBJS) tests/testlib.h
	$(CC) $(ALL_CFLAGS) $(CHECK_CFLAGS) -Isrc -o $@ $(TEST_SRCS) $(SAN_LIB_OBJS) $(PKG_LIBS) $(CHECK_LIBS)

clean:
	rm -rf build build-san smtpot smtpot-san smtpot-tls.so tests/check_smtpot tests/check_smtpot-san
