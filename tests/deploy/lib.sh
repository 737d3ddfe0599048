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

# Two free TCP ports on 127.0.0.1, in PORT1 and PORT2.
free_ports() {
	# shellcheck disable=SC2046 # two numbers, split on purpose
	set -- $(python3 - <<'EOF'
import socket
socks = []
for _ in range(2):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
EOF
)
	PORT1=$1 PORT2=$2
	[ -n "$PORT1" ] && [ -n "$PORT2" ] || fail "cannot find free loopback ports"
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
