# tests/deploy/lib.sh - shared by the deployment tests; sourced, not run.
# Result lines are "PASS: name", "FAIL: name: why" or "SKIP: name: why";
# exit status 0, 1 or 77 (automake's "skipped").  Every test installs the
# project with "make install DESTDIR=..." and tests what got installed.

TEST_NAME=${TEST_NAME:-$(basename "$0" .sh)}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TOP=${SMTPOT_TOP:-$(cd "$HERE/../.." && pwd)}
MAKE=${MAKE:-make}
TMP=

say() { printf '%s: %s\n' "$TEST_NAME" "$*"; }
skip() { printf 'SKIP: %s: %s\n' "$TEST_NAME" "$*"; exit 77; }
fail() { printf 'FAIL: %s: %s\n' "$TEST_NAME" "$*"; exit 1; }
pass() { printf 'PASS: %s\n' "$TEST_NAME"; exit 0; }

need_root() {
	[ "$(id -u)" = 0 ] || skip "needs root"
}

need_cmd() {
	local c
	for c in "$@"; do
		command -v "$c" >/dev/null 2>&1 || skip "needs $c (not found)"
	done
}

# A private scratch directory, removed at exit with whatever the test
# registered in CLEANUP (a shell command run first).
CLEANUP=:
make_tmp() {
	TMP=$(mktemp -d "${TMPDIR:-/tmp}/smtpot-$TEST_NAME.XXXXXX") || fail "mktemp"
	chmod 0755 "$TMP"
	trap 'eval "$CLEANUP"; rm -rf "$TMP"' EXIT
	trap 'fail "interrupted"' INT TERM HUP
}

# Installs into $TMP/root the way a package would (PREFIX=/usr, units and
# catalog below /usr/lib), so the tree can be laid over a root file system.
# Sets ROOT.
install_tree() {
	ROOT=$TMP/root
	[ -x "$TOP/smtpot" ] || fail "$TOP/smtpot not built (run make first)"
	if ! "$MAKE" -s -C "$TOP" install DESTDIR="$ROOT" PREFIX=/usr \
		SBINDIR=/usr/sbin MANDIR=/usr/share/man \
		SYSTEMDUNITDIR=/usr/lib/systemd/system \
		CATALOGDIR=/usr/lib/systemd/catalog \
		XINETDDIR=/etc/xinetd.d >"$TMP/install.log" 2>&1; then
		cat "$TMP/install.log" >&2
		fail "make install DESTDIR=$ROOT failed"
	fi
	[ -x "$ROOT/usr/sbin/smtpot" ] || fail "make install did not install usr/sbin/smtpot"
}

# Three free TCP ports on 127.0.0.1, in PORT1, PORT2 and PORT3.
free_ports() {
	# shellcheck disable=SC2046 # three numbers, split on purpose
	set -- $(python3 - <<'EOF'
import socket
socks = []
for _ in range(3):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
EOF
)
	PORT1=${1:-} PORT2=${2:-} PORT3=${3:-}
	[ -n "$PORT1" ] && [ -n "$PORT2" ] && [ -n "$PORT3" ] || fail "cannot find free loopback ports"
}

# wait_listen PORT SECONDS: until something listens on 127.0.0.1:PORT.
# Looks at the socket table only: a probe connection would be a session.
wait_listen() {
	local n=$(( $2 * 5 ))
	while [ $n -gt 0 ]; do
		ss -Hltn "sport = :$1" 2>/dev/null | grep -q . && return 0
		sleep 0.2
		n=$((n - 1))
	done
	return 1
}

# stop_pid PID [SECONDS]: SIGTERM, wait, then SIGKILL; only that PID.
stop_pid() {
	local pid=$1 n=$(( ${2:-20} * 10 ))
	kill -0 "$pid" 2>/dev/null || return 0
	kill -TERM "$pid" 2>/dev/null
	while [ $n -gt 0 ] && kill -0 "$pid" 2>/dev/null; do
		sleep 0.1
		n=$((n - 1))
	done
	if kill -0 "$pid" 2>/dev/null; then
		say "PID $pid did not stop, sending SIGKILL"
		kill -KILL "$pid" 2>/dev/null
	fi
	wait "$pid" 2>/dev/null
	return 0
}

# smtp_send PORT LOG MARKER [SWAKS-OPTION...]: one message to 127.0.0.1:PORT
# with swaks, the transcript in LOG; fails the test unless the message was
# queued and QUIT answered.  In the transcript "<-" lines came in plain
# text, "<~" lines inside TLS.  --tls (STARTTLS) and --tls-on-connect make
# swaks give up when TLS does not start.
smtp_send() {
	local port=$1 log=$2 marker=$3
	shift 3
	timeout 30 swaks --server 127.0.0.1 --port "$port" --timeout 10 \
		--ehlo client.test.example --from sender@test.example --to rcpt@test.example \
		--header "Subject: $marker" --body "deploy test $marker" "$@" >"$log" 2>&1 ||
		{ cat "$log"; fail "swaks $* to port $port failed"; }
	grep -Eq '^<[-~]  250 .*queued' "$log" && grep -Eq '^<[-~]  221 ' "$log" ||
		{ cat "$log"; fail "message not accepted on port $port"; }
}

# banner_of LOG: the host name in the 220 greeting of a swaks transcript.
banner_of() {
	sed -n -E 's/^<[-~]  220 ([^ ]*) .*/\1/p' "$1" | head -n 1
}

# cert_fp FILE, cert_cn FILE: a PEM certificate's SHA-256 fingerprint and
# subject CN.
cert_fp() {
	openssl x509 -in "$1" -noout -fingerprint -sha256 | sed 's/.*=//'
}
cert_cn() {
	openssl x509 -in "$1" -noout -subject -nameopt RFC2253 |
		sed -n 's/^subject=\(.*,\)\{0,1\}CN=\([^,]*\).*/\2/p'
}
