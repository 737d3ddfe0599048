#!/usr/bin/env bash
# nspawn: boots a real systemd in a container (this host's /usr, a volatile
# root, the "make install" tree laid over /usr), starts the installed
# smtpot.socket on two loopback ports and smtpot-tls.socket on a third, and
# talks to them from the host.  The container shares the host's network, so
# its listeners are reachable; drop-ins in place before boot bind them to
# 127.0.0.1 only, and the test checks that the container listens nowhere
# else.
#
# Checked: two concurrent connections get their own process, each with a
# dynamic user, no capabilities, a seccomp filter, a network namespace of
# its own holding only "lo", and its own session id, which is the instance's
# invocation id; messages sent with swaks in plain text, after STARTTLS and
# over implicit TLS are stored under their SHA-256; the first connection
# makes the self-signed certificate (smtpot-tlscert.service) for the host
# name in the banner, both TLS ports serve it, a second start keeps it, the
# example drop-in (systemd/smtpot-tlscert.service.d/example.conf) renames
# it without disturbing a session held open meanwhile, and the
# real-certificate lines of systemd/smtpot@.service.d/example.conf replace
# it; every TLS handshake is a "tls" event with result "success" and
# a JA3 MD5; smtpot's own seccomp filter is on in every session; the log
# file and the journal ("journalctl -o cat SYSLOG_IDENTIFIER=smtpot") hold
# the same well-formed events, with catalog text for "journalctl -x"; an
# IPv4 client of an IPv6 dual-stack listener is logged as plain IPv4; no
# instance fails; and the example drop-in
# (systemd/smtpot@.service.d/example.conf), uncommented, changes banner and
# sensor.
set -u
. "$(dirname "$0")/lib.sh"

need_root
need_cmd systemd-nspawn nsenter swaks python3 ss pgrep timeout openssl "$MAKE"
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
mkdir -p "$TMP/smtpot.socket.d" "$TMP/smtpot-tls.socket.d"
cat >"$TMP/smtpot.socket.d/loopback.conf" <<EOF
[Socket]
ListenStream=
ListenStream=127.0.0.1:$PORT1
ListenStream=[::ffff:127.0.0.1]:$PORT2
EOF
cat >"$TMP/smtpot-tls.socket.d/loopback.conf" <<EOF
[Socket]
ListenStream=
ListenStream=127.0.0.1:$PORT3
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
	--bind-ro="$TMP/smtpot-tls.socket.d:/etc/systemd/system/smtpot-tls.socket.d" \
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
inside test -x /usr/lib/smtpot/smtpot-tlscert || fail "no /usr/lib/smtpot/smtpot-tlscert in the container"
inside test ! -e /var/lib/smtpot-tls || fail "/var/lib/smtpot-tls exists before the first connection"
inside systemctl enable --now smtpot.socket smtpot-tls.socket 2>"$TMP/enable.log" || {
	cat "$TMP/enable.log"
	inside journalctl -u smtpot.socket -u smtpot-tls.socket --no-pager
	fail "smtpot.socket or smtpot-tls.socket did not start"
}
wait_listen "$PORT1" 10 && wait_listen "$PORT2" 10 || fail "smtpot.socket does not listen on $PORT1 and $PORT2"
wait_listen "$PORT3" 10 || fail "smtpot-tls.socket does not listen on $PORT3"
say "smtpot.socket listens on 127.0.0.1:$PORT1 and [::ffff:127.0.0.1]:$PORT2, smtpot-tls.socket on 127.0.0.1:$PORT3"
# The network is the host's: whatever the container's systemd listens on,
# the world could reach.  Only loopback addresses, only our three ports.
ss -Hltnp >"$TMP/listen" 2>&1 || fail "ss -Hltnp failed"
grep -F "pid=$init," "$TMP/listen" | awk '{ print $4 }' | sort >"$TMP/listen.init"
printf '%s\n' "127.0.0.1:$PORT1" "127.0.0.1:$PORT3" "[::ffff:127.0.0.1]:$PORT2" | sort >"$TMP/listen.want"
cmp -s "$TMP/listen.init" "$TMP/listen.want" || {
	grep -F "pid=$init," "$TMP/listen"
	fail "the container's systemd listens on other addresses than the three loopback ports"
}

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
host=$(head -n 1 "$TMP/ready" | cut -d ' ' -f 2)

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

# --- the certificate --------------------------------------------------
# The first connection started smtpot-tlscert.service, which made the
# certificate for the host name the banner shows.
inside systemctl is-active --quiet smtpot-tlscert.service ||
	{ inside journalctl -u smtpot-tlscert.service --no-pager; fail "smtpot-tlscert.service is not active"; }
inside stat -c '%U %a %n' /var/lib/smtpot-tls /var/lib/smtpot-tls/key.pem >"$TMP/tls.stat" ||
	fail "no /var/lib/smtpot-tls/key.pem"
printf '%s\n' "root 700 /var/lib/smtpot-tls" "root 600 /var/lib/smtpot-tls/key.pem" |
	cmp -s - "$TMP/tls.stat" || { cat "$TMP/tls.stat"; fail "/var/lib/smtpot-tls or its key is not root's alone"; }
inside cat /var/lib/smtpot-tls/hostname.env >"$TMP/hostname.env" || fail "no hostname.env"
[ "$(cat "$TMP/hostname.env")" = "SMTPOT_HOSTNAME=$host" ] ||
	fail "hostname.env says '$(cat "$TMP/hostname.env")', the banner '$host'"
getcert() { # FILE: the container's certificate
	inside cat /var/lib/smtpot-tls/cert.pem >"$1" || fail "no /var/lib/smtpot-tls/cert.pem"
}
getcert "$TMP/cert1.pem"
[ "$(cert_cn "$TMP/cert1.pem")" = "$host" ] ||
	fail "certificate CN '$(cert_cn "$TMP/cert1.pem")', banner host name '$host'"
fp1=$(cert_fp "$TMP/cert1.pem")
say "certificate: CN $host, SHA-256 $fp1"

# --- messages: plain text, STARTTLS, implicit TLS ---------------------------
# check_tls LOG CERT: the session in LOG ran TLS with the certificate CERT.
check_tls() {
	grep -q '^=== TLS started' "$1" || { cat "$1"; fail "$1: no TLS"; }
	cmp -s "$1.pem" "$2" && return 0
	[ -s "$1.pem" ] && [ "$(cert_fp "$1.pem")" = "$(cert_fp "$2")" ] ||
		fail "$1: the server's certificate is not $2"
}
marker="nspawn-$$-$RANDOM"
smtp_send "$PORT1" "$TMP/swaks1.log" "$marker"
say "swaks: $(grep '^<-  250 .*queued' "$TMP/swaks1.log")"
smtp_send "$PORT1" "$TMP/starttls1.log" "$marker" --tls --tls-get-peer-cert "$TMP/starttls1.log.pem"
check_tls "$TMP/starttls1.log" "$TMP/cert1.pem"
grep -q '^<-  220 2.0.0 Ready to start TLS' "$TMP/starttls1.log" || fail "no 220 reply to STARTTLS"
say "swaks --tls: $(grep '^<~  250 .*queued' "$TMP/starttls1.log")"
smtp_send "$PORT3" "$TMP/implicit1.log" "$marker" --tls-on-connect --tls-get-peer-cert "$TMP/implicit1.log.pem"
check_tls "$TMP/implicit1.log" "$TMP/cert1.pem"
[ "$(banner_of "$TMP/implicit1.log")" = "$host" ] ||
	fail "port $PORT3 greets as '$(banner_of "$TMP/implicit1.log")', not '$host'"
say "swaks --tls-on-connect: $(grep '^<~  250 .*queued' "$TMP/implicit1.log")"

# A second start keeps the certificate.
inside systemctl restart smtpot-tlscert.service || fail "smtpot-tlscert.service did not restart"
getcert "$TMP/cert2.pem"
[ "$(cert_fp "$TMP/cert2.pem")" = "$fp1" ] || fail "a second start of smtpot-tlscert.service made a new certificate"
made=$(inside journalctl -o cat --no-pager -u smtpot-tlscert.service | grep -c 'made a self-signed certificate')
[ "$made" = 1 ] || fail "smtpot-tlscert.service made $made certificates, expected 1"
say "smtpot-tlscert.service restarted: certificate kept"

# --- the example drop-ins ----------------------------------------------
# smtpot-tlscert.service.d/example.conf names the host; restarting the
# service makes a certificate for that name, which both ports then use.  A
# session held open across the restart goes on undisturbed.
timeout 90 python3 "$HERE/hold.py" "$TMP/ready2" "$TMP/release2" "$PORT1" >"$TMP/hold2.log" 2>&1 &
hpid2=$!
CLEANUP='touch "$TMP/release2"; stop_pid "$hpid2" 5; '$CLEANUP
n=200
while [ $n -gt 0 ] && [ ! -e "$TMP/ready2" ]; do
	kill -0 "$hpid2" 2>/dev/null || break
	sleep 0.1
	n=$((n - 1))
done
[ -e "$TMP/ready2" ] || { cat "$TMP/hold2.log"; fail "no banner on the connection held across the restart"; }
example=$TOP/systemd/smtpot@.service.d/example.conf
tlsexample=$TOP/systemd/smtpot-tlscert.service.d/example.conf
[ -f "$example" ] || fail "no $example"
[ -f "$tlsexample" ] || fail "no $tlsexample"
dropin() { # UNIT FILE: a drop-in for UNIT from standard input
	inside sh -c "mkdir -p /etc/systemd/system/$1.d && cat >/etc/systemd/system/$1.d/$2"
}
sed -n -E 's/^#(\[Service\]|ExecStart=.*|    --.*|RuntimeMaxSec=.*|MemoryMax=.*)$/\1/p' "$example" |
	dropin smtpot@.service local.conf
sed -n -E 's/^#(\[Service\]|Environment=.*)$/\1/p' "$tlsexample" | dropin smtpot-tlscert.service local.conf
inside systemctl daemon-reload || fail "daemon-reload failed"
inside systemctl restart smtpot-tlscert.service || fail "smtpot-tlscert.service did not restart"
touch "$TMP/release2"
wait "$hpid2" || { cat "$TMP/hold2.log"; fail "the session held across the restart of smtpot-tlscert.service broke"; }
say "a session held across the restart of smtpot-tlscert.service ended normally"
ex_host=$(sed -n 's/^#Environment=SMTPOT_HOSTNAME=//p' "$tlsexample")
ex_sensor=$(sed -n 's/^#.*--sensor=\([^ ]*\).*/\1/p' "$example")
ex_banner=$(sed -n 's/^#.*--banner="\([^"]*\)".*/\1/p' "$example")
[ -n "$ex_host" ] && [ -n "$ex_sensor" ] && [ -n "$ex_banner" ] ||
	fail "cannot read host name, sensor and banner from the example drop-ins"
getcert "$TMP/cert3.pem"
[ "$(cert_cn "$TMP/cert3.pem")" = "$ex_host" ] ||
	fail "after the example drop-in the certificate's CN is '$(cert_cn "$TMP/cert3.pem")', not '$ex_host'"
smtp_send "$PORT1" "$TMP/starttls2.log" "$marker" --tls --tls-get-peer-cert "$TMP/starttls2.log.pem"
check_tls "$TMP/starttls2.log" "$TMP/cert3.pem"
grep -qF "<-  220 $ex_host $ex_banner" "$TMP/starttls2.log" ||
	{ grep '^<-  220' "$TMP/starttls2.log"; fail "example drop-in: banner is not '220 $ex_host $ex_banner'"; }
say "example drop-ins: 220 $ex_host $ex_banner, certificate CN $ex_host"
smtp_send "$PORT3" "$TMP/implicit2.log" "$marker" --tls-on-connect --tls-get-peer-cert "$TMP/implicit2.log.pem"
check_tls "$TMP/implicit2.log" "$TMP/cert3.pem"
[ "$(banner_of "$TMP/implicit2.log")" = "$ex_host" ] ||
	fail "port $PORT3 greets as '$(banner_of "$TMP/implicit2.log")', not '$ex_host'"

# The real-certificate lines of smtpot@.service.d/example.conf, with a
# certificate made here in the place they name, in a drop-in for
# smtpot-tls@.service as the example says.
real=$(sed -n 's/^#LoadCredential=cert.pem:\(.*\)/\1/p' "$example")
realkey=$(sed -n 's/^#LoadCredential=key.pem:\(.*\)/\1/p' "$example")
[ -n "$real" ] && [ -n "$realkey" ] || fail "no LoadCredential= lines in $example"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
	-subj "/CN=$ex_host" -addext "subjectAltName=DNS:$ex_host" \
	-keyout "$TMP/real.key" -out "$TMP/real.pem" 2>/dev/null || fail "openssl req failed"
inside sh -c "umask 077 && mkdir -p '${real%/*}' '${realkey%/*}' && cat >'$real'" <"$TMP/real.pem"
inside sh -c "umask 077 && cat >'$realkey'" <"$TMP/real.key"
{ echo '[Service]'; sed -n -E 's/^#(LoadCredential=.*)$/\1/p' "$example"; } | dropin smtpot-tls@.service real.conf
inside systemctl daemon-reload || fail "daemon-reload failed"
smtp_send "$PORT3" "$TMP/implicit3.log" "$marker" --tls-on-connect --tls-get-peer-cert "$TMP/implicit3.log.pem"
check_tls "$TMP/implicit3.log" "$TMP/real.pem"
say "real certificate drop-in: port $PORT3 serves $real"

# --- what the container recorded -------------------------------------
n=100
while [ $n -gt 0 ] && [ "$(inside grep -c '"disconnect"' /var/log/smtpot/events.jsonl 2>/dev/null)" != 9 ]; do
	sleep 0.1
	n=$((n - 1))
done
inside cat /var/log/smtpot/events.jsonl >"$TMP/events.jsonl" || fail "no /var/log/smtpot/events.jsonl"
mkdir "$TMP/spool"
inside tar -C /var/lib/smtpot -cf - . | tar -C "$TMP/spool" -xf - || fail "cannot copy /var/lib/smtpot"
python3 "$HERE/events.py" "$TMP/events.jsonl" --sessions 9 --messages 6 --tls-sessions 5 \
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
python3 - "$TMP" "$DYN_MIN" "$DYN_MAX" "$PORT1" "$PORT2" "$PORT3" "$ex_sensor" $invocations <<'EOF' >"$TMP/journal.out" ||
import json, re, sys
tmp, dmin, dmax, port1, port2, port3, ex_sensor = sys.argv[1:8]
held = sys.argv[8:]
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
    unit = "smtpot-tls@" if ev["dest_port"] == int(port3) else "smtpot@"
    if not j.get("_SYSTEMD_UNIT", "").startswith(unit):
        die("%s: _SYSTEMD_UNIT %r, expected %s..." % (ev["event"], j.get("_SYSTEMD_UNIT"), unit))
    inv = j.get("_SYSTEMD_INVOCATION_ID")
    if inv is not None:
        checked_inv += 1
        if inv != ev["session"]:
            die("session %s logged by invocation %s" % (ev["session"], inv))
for inv in held:
    if inv not in events:
        die("no session with the id of invocation %s" % inv)
ports = sorted(evs[0]["dest_port"] for evs in events.values())
if ports != sorted([int(port1)] * 5 + [int(port2)] + [int(port3)] * 3):
    die("dest_ports %s, expected %s five times, %s once and %s three times"
        % (ports, port1, port2, port3))
# TLS: one successful handshake in each session after the held ones on the
# first port, in every session on the third (right after connect), none
# elsewhere; each with a JA3 and JA4 fingerprint.
tls_sessions = 0
for sid, evs in events.items():
    evs.sort(key=lambda e: e["seq"])
    names = [e["event"] for e in evs]
    port = evs[0]["dest_port"]
    tls = [e for e in evs if e["event"] == "tls"]
    if port == int(port3):
        if names[:2] != ["connect", "tls"]:
            die("session %s on %s: %s, expected connect, tls, ..." % (sid, port3, names))
    if not tls:
        continue
    tls_sessions += 1
    if len(tls) != 1:
        die("session %s: %d tls events" % (sid, len(tls)))
    d = tls[0]["data"]
    mode = "implicit" if port == int(port3) else "starttls"
    if d.get("mode") != mode or d.get("result") != "success":
        die("session %s: tls mode %r result %r, expected %s and success"
            % (sid, d.get("mode"), d.get("result"), mode))
    if not re.fullmatch(r"[0-9a-f]{32}", d.get("ja3_md5", "")) or not d.get("ja4"):
        die("session %s: tls event without ja3_md5 or ja4: %s" % (sid, json.dumps(d)))
if tls_sessions != 5:
    die("%d sessions with TLS, expected 5" % tls_sessions)
# smtpot's own seccomp filter stacks on the unit's.
for sid, evs in events.items():
    sandbox = evs[-1]["data"].get("sandbox")
    if sandbox != "seccomp":
        die("session %s: sandbox %r, expected 'seccomp'" % (sid, sandbox))
sensors = sorted(evs[0]["sensor"] for evs in events.values())
if sensors.count(ex_sensor) != 1:
    die("sensors %s: expected %r once (the example drop-in)" % (sensors, ex_sensor))
x = open(tmp + "/journal.x").read()
for s in events:
    if "Subject: SMTP session %s ended" % s not in x:
        die("journalctl -x shows no catalog text for session %s" % s)
for subject in ("SMTP connection from 127.0.0.1", "SMTP TLS handshake in session",
                "SMTP STARTTLS requested by 127.0.0.1"):
    if "Subject: " + subject not in x:
        die("journalctl -x shows no catalog text %r" % subject)
print("%d entries, as in the file; session = _SYSTEMD_INVOCATION_ID on %d; catalog text shown; "
      "%d TLS handshakes with JA3/JA4" % (len(cat), checked_inv, tls_sessions))
EOF
	fail "journal check failed"
say "journal: $(cat "$TMP/journal.out")"

failed=$(inside journalctl -o cat --no-pager _PID=1 |
	grep -E '^smtpot(-tls)?@.*(Failed with result|Main process exited, code=(killed|dumped))|^smtpot-tlscert.*Failed')
[ -z "$failed" ] || fail "instances failed: $failed"

stop_container
CLEANUP=:
pass
