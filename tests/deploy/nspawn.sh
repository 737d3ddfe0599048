#!/usr/bin/env bash
# nspawn: boots a real systemd in a container (this host's /usr, a volatile
# root, the "make install" tree laid over /usr), starts the installed
# smtpot.socket on two loopback ports and talks to it from the host.  The
# container shares the host's network, so its listeners are reachable, and
# the drop-in binds them to 127.0.0.1 only.
#
# Checked: two concurrent connections get their own process, each with a
# dynamic user, no capabilities, a seccomp filter, a network namespace of
# its own holding only "lo", and its own session id, which is the instance's
# invocation id; a message sent with swaks is stored under its SHA-256; the
# log file and the journal ("journalctl -o cat SYSLOG_IDENTIFIER=smtpot")
# hold the same well-formed events, with catalog text for "journalctl -x";
# an IPv4 client of an IPv6 dual-stack listener is logged as plain IPv4; no
# instance fails; and the example drop-in
# (systemd/smtpot@.service.d/example.conf), uncommented, changes host name,
# banner and sensor.
set -u
. "$(dirname "$0")/lib.sh"

need_root
need_cmd systemd-nspawn nsenter swaks python3 ss pgrep timeout "$MAKE"
[ -e /usr/lib/os-release ] || skip "no /usr/lib/os-release: systemd-nspawn cannot boot this /usr"
[ -x /usr/lib/systemd/systemd ] || skip "no /usr/lib/systemd/systemd to boot"
[ -e /proc/net/if_inet6 ] || skip "needs IPv6 (for the dual-stack listener)"
make_tmp
install_tree
free_ports

DYN_MIN=61184 DYN_MAX=65519 # systemd's DynamicUser= range (systemd.exec(5))

# --- boot ---------------------------------------------------------------
machine=smtpot-test-$$
# The container shares the host's network, and its /etc starts empty.  An
# empty /etc would be a first boot, which enables every unit the presets
# name; a machine id of its own makes it an ordinary boot that starts only
# what /usr wants, and only up to basic.target (the id is read-only, so
# nothing is to commit it).  The loopback drop-in is in place before
# anything could start smtpot.socket.
od -An -N16 -tx1 /dev/urandom | tr -d ' \n' >"$TMP/machine-id"
echo >>"$TMP/machine-id"
mkdir -p "$TMP/smtpot.socket.d"
cat >"$TMP/smtpot.socket.d/loopback.conf" <<EOF
[Socket]
ListenStream=
ListenStream=127.0.0.1:$PORT1
ListenStream=[::ffff:127.0.0.1]:$PORT2
EOF
# On a host without systemd as PID 1 (a bare VM, a CI container) nspawn
# must stay in the caller's cgroup; under systemd it gets a scope unit as
# usual.  timeout is the safety net should this script die without its
# traps; the container is stopped by the nspawn PID below.
keep_unit=--keep-unit
[ -d /run/systemd/system ] && keep_unit=
timeout 600 systemd-nspawn --quiet -D / --volatile=yes --register=no $keep_unit \
	--machine="$machine" --overlay-ro="/usr:$ROOT/usr:/usr" \
	--bind-ro="$TMP/machine-id:/etc/machine-id" \
	--bind-ro="$TMP/smtpot.socket.d:/etc/systemd/system/smtpot.socket.d" \
	-b --console=passive -- systemd.firstboot=off systemd.unit=basic.target \
	systemd.mask=systemd-machine-id-commit.service \
	>"$TMP/boot.log" 2>&1 &
tpid=$!
nspawn='' init=''
CLEANUP='stop_container'

# Stops the container by the nspawn PID: SIGTERM makes nspawn halt the
# container's systemd and exit.  Should that not happen in time, the
# container's init gets SIGKILL (which ends its PID namespace), then nspawn.
stop_container() {
	[ -n "$nspawn" ] && stop_pid "$nspawn" 30
	[ -n "$init" ] && kill -0 "$init" 2>/dev/null && {
		say "container init $init still running, sending SIGKILL"
		kill -KILL "$init"
	}
	stop_pid "$tpid" 5
	nspawn='' init=''
}

# until_child PID NAME: the child of PID named NAME, once it has one.
until_child() {
	local c n=150
	while [ $n -gt 0 ]; do
		c=$(pgrep -P "$1" -x "$2" | head -n 1)
		[ -n "$c" ] && { echo "$c"; return 0; }
		kill -0 "$1" 2>/dev/null || return 1
		sleep 0.2
		n=$((n - 1))
	done
	return 1
}
# Until the container has booted nothing of smtpot is involved: a container
# that cannot boot here is a skip, not a failure.
cannot_boot() {
	tail -n 5 "$TMP/boot.log" | sed "s/^/$TEST_NAME: boot: /"
	skip "cannot boot a container here: $*"
}
nspawn=$(until_child "$tpid" systemd-nspawn) || cannot_boot "systemd-nspawn did not start"
init=$(until_child "$nspawn" systemd) || cannot_boot "no systemd in the container"

inside() { nsenter -t "$init" -a -- timeout 30 "$@"; }

# Until the manager answers and start-up is over (failed units are fine),
# for at most 90 s.
deadline=$((SECONDS + 90))
while :; do
	state=$(nsenter -t "$init" -a -- timeout 10 systemctl is-system-running --wait 2>&1)
	case $state in running|degraded) break ;; esac
	[ $SECONDS -lt $deadline ] && kill -0 "$init" 2>/dev/null || break
	sleep 1
done
case $state in
running|degraded) say "container booted ($state), nspawn PID $nspawn, init PID $init" ;;
*) cannot_boot "state '$state'" ;;
esac

# --- the units in the container --------------------------------------
inside test -f /usr/lib/systemd/system/smtpot.socket || fail "the tree is not visible in the container"
inside journalctl --update-catalog || fail "journalctl --update-catalog failed in the container"
inside systemctl enable --now smtpot.socket 2>"$TMP/enable.log" || {
	cat "$TMP/enable.log"
	inside journalctl -u smtpot.socket --no-pager
	fail "smtpot.socket did not start"
}
wait_listen "$PORT1" 10 && wait_listen "$PORT2" 10 || fail "smtpot.socket does not listen on $PORT1 and $PORT2"
say "smtpot.socket listens on 127.0.0.1:$PORT1 and [::ffff:127.0.0.1]:$PORT2"

# --- two concurrent sessions, held open --------------------------------
timeout 90 python3 "$HERE/hold.py" "$TMP/ready" "$TMP/release" "$PORT1" "$PORT2" \
	>"$TMP/hold.log" 2>&1 &
hpid=$!
CLEANUP='touch "$TMP/release"; stop_pid "$hpid" 5; '$CLEANUP
n=200
while [ $n -gt 0 ] && [ ! -e "$TMP/ready" ]; do
	kill -0 "$hpid" 2>/dev/null || break
	sleep 0.1
	n=$((n - 1))
done
[ -e "$TMP/ready" ] || { cat "$TMP/hold.log"; fail "no banners on the held connections"; }
while read -r line; do
	case $line in 220\ *) ;; *) fail "banner: '$line'" ;; esac
done <"$TMP/ready"
say "banner: $(head -n 1 "$TMP/ready")"

units=$(inside systemctl list-units --no-legend --plain --state=running 'smtpot@*.service' | awk '{ print $1 }')
[ "$(echo "$units" | grep -c .)" = 2 ] || fail "expected 2 running instances, got: $units"
host_net=$(readlink /proc/"$init"/ns/net)
pids='' invocations=''
for u in $units; do
	pid=$(inside systemctl show -p MainPID --value "$u")
	inv=$(inside systemctl show -p InvocationID --value "$u")
	[ "$pid" -gt 0 ] 2>/dev/null || fail "$u has no main PID"
	inside cat /proc/"$pid"/status >"$TMP/status" || fail "$u: no /proc/$pid/status"
	uid=$(awk '/^Uid:/ { print $2 }' "$TMP/status")
	for want in 'NoNewPrivs:.1' 'Seccomp:.2' 'CapEff:.0000000000000000' 'CapBnd:.0000000000000000'; do
		grep -q "^$want\$" "$TMP/status" ||
			fail "$u: /proc/$pid/status has $(grep "^${want%%:*}:" "$TMP/status"), expected $want"
	done
	[ "$uid" -ge $DYN_MIN ] && [ "$uid" -le $DYN_MAX ] ||
		fail "$u runs as UID $uid, not a dynamic user ($DYN_MIN-$DYN_MAX)"
	net=$(inside readlink /proc/"$pid"/ns/net)
	[ -n "$net" ] && [ "$net" != "$host_net" ] || fail "$u shares the host network namespace"
	ifs=$(inside cat /proc/"$pid"/net/dev | awk -F: 'NR > 2 { gsub(/ /, "", $1); print $1 }' | tr '\n' ' ')
	[ "$ifs" = "lo " ] || fail "$u sees network interfaces: $ifs"
	say "$u: PID $pid, UID $uid, network $net with only lo, invocation $inv"
	pids="$pids $pid" invocations="$invocations $inv"
done
set -- $pids
[ "$1" != "$2" ] || fail "both connections are served by PID $1"
touch "$TMP/release"
wait "$hpid" || { cat "$TMP/hold.log"; fail "the held sessions did not end with 250/221"; }

# --- a message from swaks ------------------------------------------------
marker="nspawn-$$-$RANDOM"
send() { # PORT LOG: one message through swaks
	timeout 30 swaks --server 127.0.0.1 --port "$1" --timeout 10 \
		--ehlo client.test.example --from sender@test.example --to rcpt@test.example \
		--header "Subject: $marker" --body "deploy test $marker" >"$2" 2>&1 ||
		{ cat "$2"; fail "swaks failed"; }
	grep -q '^<-  250 .*queued' "$2" && grep -q '^<-  221 ' "$2" ||
		{ cat "$2"; fail "message not accepted"; }
}
send "$PORT1" "$TMP/swaks1.log"
say "swaks: $(grep '^<-  250 .*queued' "$TMP/swaks1.log")"

# --- the example drop-in ----------------------------------------------
example=$TOP/systemd/smtpot@.service.d/example.conf
[ -f "$example" ] || fail "no $example"
sed -n -E 's/^#(\[Service\]|ExecStart=.*|    --.*|RuntimeMaxSec=.*|MemoryMax=.*)$/\1/p' "$example" |
	inside sh -c 'mkdir -p /etc/systemd/system/smtpot@.service.d &&
		cat >/etc/systemd/system/smtpot@.service.d/local.conf'
inside systemctl daemon-reload || fail "daemon-reload failed"
ex_host=$(sed -n 's/^#.*--hostname=\([^ ]*\).*/\1/p' "$example")
ex_sensor=$(sed -n 's/^#.*--sensor=\([^ ]*\).*/\1/p' "$example")
ex_banner=$(sed -n 's/^#.*--banner="\([^"]*\)".*/\1/p' "$example")
send "$PORT1" "$TMP/swaks2.log"
grep -qF "<-  220 $ex_host $ex_banner" "$TMP/swaks2.log" ||
	{ grep '^<-  220' "$TMP/swaks2.log"; fail "example drop-in: banner is not '220 $ex_host $ex_banner'"; }
say "example drop-in: 220 $ex_host $ex_banner"

# --- what the container recorded -------------------------------------
n=100
while [ $n -gt 0 ] && [ "$(inside grep -c '"disconnect"' /var/log/smtpot/events.jsonl 2>/dev/null)" != 4 ]; do
	sleep 0.1
	n=$((n - 1))
done
inside cat /var/log/smtpot/events.jsonl >"$TMP/events.jsonl" || fail "no /var/log/smtpot/events.jsonl"
mkdir "$TMP/spool"
inside tar -C /var/lib/smtpot -cf - . | tar -C "$TMP/spool" -xf - || fail "cannot copy /var/lib/smtpot"
python3 "$HERE/events.py" "$TMP/events.jsonl" --sessions 4 --messages 2 \
	--source-ip 127.0.0.1 --spool "$TMP/spool" --marker "$marker" --no-errors \
	>"$TMP/sessions" || { cat "$TMP/events.jsonl"; fail "event log check failed"; }
sed "s/^/$TEST_NAME: /" "$TMP/sessions"

inside sh -c 'stat -c "%u %a %n" /var/lib/smtpot/*.eml' >"$TMP/spool.stat" || fail "no stored messages"
while read -r uid mode name; do
	[ "$mode" = 600 ] && [ "$uid" -ge $DYN_MIN ] && [ "$uid" -le $DYN_MAX ] ||
		fail "$name: owner $uid mode $mode, expected a dynamic user and 600"
done <"$TMP/spool.stat"

inside journalctl -o cat --no-pager SYSLOG_IDENTIFIER=smtpot >"$TMP/journal.cat"
inside journalctl -o json --no-pager SYSLOG_IDENTIFIER=smtpot >"$TMP/journal.json"
inside journalctl -x --no-pager SYSLOG_IDENTIFIER=smtpot >"$TMP/journal.x"
python3 - "$TMP" "$DYN_MIN" "$DYN_MAX" "$PORT1" "$PORT2" "$ex_sensor" $invocations <<'EOF' >"$TMP/journal.out" ||
import json, sys
tmp, dmin, dmax, port1, port2, ex_sensor = sys.argv[1:7]
held = sys.argv[7:]
def die(msg):
    sys.exit("journal: " + msg)
log = open(tmp + "/events.jsonl").read().splitlines()
cat = open(tmp + "/journal.cat").read().splitlines()
if sorted(log) != sorted(cat):
    extra = set(cat) - set(log)
    missing = set(log) - set(cat)
    die("the journal and the log file differ; only in the journal: %s; only in the file: %s"
        % (sorted(extra)[:3], sorted(missing)[:3]))
events = {}
checked_inv = 0
for line in open(tmp + "/journal.json"):
    j = json.loads(line)
    ev = json.loads(j["MESSAGE"])
    events.setdefault(ev["session"], []).append(ev)
    want = {"SMTPOT_EVENT": ev["event"], "SMTPOT_SESSION": ev["session"],
            "SMTPOT_SEQ": str(ev["seq"]), "SMTPOT_SOURCE_IP": ev["source_ip"],
            "SMTPOT_LEVEL": ev["level"],
            "PRIORITY": {"INFO": "6", "WARN": "4", "ERROR": "3"}[ev["level"]]}
    for k, v in want.items():
        if j.get(k) != v:
            die("%s seq %s: %s=%r, expected %r" % (ev["event"], ev["seq"], k, j.get(k), v))
    if len(j.get("MESSAGE_ID", "")) != 32:
        die("%s: MESSAGE_ID %r" % (ev["event"], j.get("MESSAGE_ID")))
    if not dmin <= j.get("_UID", "0") <= dmax or len(j["_UID"]) != len(dmin):
        die("%s: _UID %r is not a dynamic user" % (ev["event"], j.get("_UID")))
    if not j.get("_SYSTEMD_UNIT", "").startswith("smtpot@"):
        die("%s: _SYSTEMD_UNIT %r" % (ev["event"], j.get("_SYSTEMD_UNIT")))
    inv = j.get("_SYSTEMD_INVOCATION_ID")
    if inv is not None:
        checked_inv += 1
        if inv != ev["session"]:
            die("session %s logged by invocation %s" % (ev["session"], inv))
for inv in held:
    if inv not in events:
        die("no session with the id of invocation %s" % inv)
ports = sorted(evs[0]["dest_port"] for evs in events.values())
if ports != sorted([int(port1)] * 3 + [int(port2)]):
    die("dest_ports %s, expected %s three times and %s once" % (ports, port1, port2))
sensors = sorted(evs[0]["sensor"] for evs in events.values())
if sensors.count(ex_sensor) != 1:
    die("sensors %s: expected %r once (the example drop-in)" % (sensors, ex_sensor))
x = open(tmp + "/journal.x").read()
for s in events:
    if "Subject: SMTP session %s ended" % s not in x:
        die("journalctl -x shows no catalog text for session %s" % s)
if "Subject: SMTP connection from 127.0.0.1" not in x:
    die("journalctl -x shows no catalog text for connect")
print("%d entries, as in the file; session = _SYSTEMD_INVOCATION_ID on %d; catalog text shown"
      % (len(cat), checked_inv))
EOF
	fail "journal check failed"
say "journal: $(cat "$TMP/journal.out")"

failed=$(inside journalctl -o cat --no-pager _PID=1 | grep -E '^smtpot@.*(Failed with result|Main process exited, code=(killed|dumped))')
[ -z "$failed" ] || fail "instances failed: $failed"

stop_container
CLEANUP=:
pass
