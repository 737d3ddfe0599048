#!/usr/bin/env bash
# xinetd: the installed xinetd/smtpot and xinetd/smtpot-tls, moved to
# 127.0.0.1 on free ports and run as "nobody" under a private xinetd
# (-dontfork, own config and log), with a certificate made the way
# xinetd/smtpot describes (the installed smtpot-tlscert script), serve
# SMTP sessions from swaks: a plain one and a STARTTLS one on the first
# port, an implicit-TLS one on the second.  The transcripts are normal
# deliveries, TLS sessions present that certificate (CN: the banner's host
# name), the event log holds three well-formed sessions from 127.0.0.1, two
# with a successful "tls" event and its JA3, the messages are in the spool
# under their SHA-256, and every smtpot exits with status 0.
set -u
. "$(dirname "$0")/lib.sh"

need_root
need_cmd xinetd swaks python3 ss openssl "$MAKE"
id nobody >/dev/null 2>&1 || skip "needs the user nobody"
make_tmp
install_tree
free_ports

for f in smtpot smtpot-tls; do
	[ -f "$ROOT/etc/xinetd.d/$f" ] || fail "make install did not install etc/xinetd.d/$f"
	grep -Eq '^[[:space:]]*disable[[:space:]]*=[[:space:]]*yes' "$ROOT/etc/xinetd.d/$f" ||
		fail "xinetd/$f is not shipped disabled"
done

# The run directories: smtpot runs as nobody and writes only these.
group=$(id -gn nobody)
mkdir -p "$TMP/xinetd.d" "$TMP/log" "$TMP/spool"
chown nobody "$TMP/log" "$TMP/spool"
chmod 0700 "$TMP/log" "$TMP/spool"

# The certificate, as xinetd/smtpot says, with nobody's group for smtpot's
# and $TMP/tls for /etc/smtpot/tls.
steps=$(sed -n 's/^#[[:space:]]*//p' "$ROOT/etc/xinetd.d/smtpot")
# shellcheck disable=SC2016,SC1003 # literal text of the stanza's comments
for want in 'install -d -o root -g smtpot -m 0750 /etc/smtpot/tls' \
	'STATE_DIRECTORY=/etc/smtpot/tls SMTPOT_HOSTNAME="$(uname -n)" \' \
	'/usr/lib/smtpot/smtpot-tlscert' 'chgrp smtpot /etc/smtpot/tls/key.pem' \
	'chmod 0640 /etc/smtpot/tls/key.pem'; do
	printf '%s\n' "$steps" | grep -qxF -- "$want" || fail "xinetd/smtpot no longer says: $want"
done
install -d -o root -g "$group" -m 0750 "$TMP/tls"
STATE_DIRECTORY=$TMP/tls SMTPOT_HOSTNAME="$(uname -n)" "$ROOT/usr/lib/smtpot/smtpot-tlscert" \
	>"$TMP/tlscert.log" 2>&1 || { cat "$TMP/tlscert.log"; fail "smtpot-tlscert failed"; }
chgrp "$group" "$TMP/tls/key.pem"
chmod 0640 "$TMP/tls/key.pem"
cn=$(cert_cn "$TMP/tls/cert.pem")
[ "$cn" = "$(uname -n)" ] || fail "certificate CN '$cn', expected '$(uname -n)'"

# The shipped stanzas with only what a test run must change: enabled, on
# loopback and a free port (a port other than the service's needs
# UNLISTED), as nobody, writing into the run directories, reading the
# certificate from $TMP/tls, running the installed tree.
adapt() { # NAME SERVICE PORT
	sed -e 's/^\([[:space:]]*disable[[:space:]]*=\).*/\1 no/' \
		-e 's/^\([[:space:]]*port[[:space:]]*=\).*/\1 '"$3"'\n\tbind = 127.0.0.1\n\ttype = UNLISTED/' \
		-e "s/^service $2\$/service $1-test/" \
		-e 's/^\([[:space:]]*user[[:space:]]*=\).*/\1 nobody/' \
		-e 's/^\([[:space:]]*group[[:space:]]*=\).*/\1 '"$group"'/' \
		-e "s|/var/log/smtpot/|$TMP/log/|g" \
		-e "s|/var/lib/smtpot|$TMP/spool|g" \
		-e "s|/etc/smtpot/tls/|$TMP/tls/|g" \
		"$ROOT/etc/xinetd.d/$1" >"$TMP/xinetd.d/$1"
	grep -q "bind = 127.0.0.1" "$TMP/xinetd.d/$1" || fail "could not adapt the stanza $1 (no port line?)"
	grep -q "^service $1-test\$" "$TMP/xinetd.d/$1" || fail "xinetd/$1 is not 'service $2'"
	grep -q "server[[:space:]]*=[[:space:]]*/usr/sbin/smtpot" "$TMP/xinetd.d/$1" ||
		fail "the installed stanza $1 does not run /usr/sbin/smtpot"
	grep -q -- "--tls-module=/usr/lib/smtpot/smtpot-tls" "$TMP/xinetd.d/$1" ||
		fail "the installed stanza $1 does not load /usr/lib/smtpot/smtpot-tls"
	sed -i -e "s|/usr/sbin/smtpot|$ROOT/usr/sbin/smtpot|" \
		-e "s|/usr/lib/smtpot/|$ROOT/usr/lib/smtpot/|" "$TMP/xinetd.d/$1"
}
adapt smtpot smtp "$PORT1"
adapt smtpot-tls submissions "$PORT2"
cat >"$TMP/xinetd.conf" <<EOF
defaults
{
	log_type = FILE $TMP/xinetd.log
}
includedir $TMP/xinetd.d
EOF

# timeout is the safety net should this script die without its traps;
# xinetd itself is stopped by its PID.
timeout 120 xinetd -dontfork -f "$TMP/xinetd.conf" -pidfile "$TMP/xinetd.pid" \
	>"$TMP/xinetd.out" 2>&1 &
tpid=$!
xpid=
stop_xinetd() {
	[ -n "$xpid" ] && stop_pid "$xpid" 10
	stop_pid "$tpid" 5
}
CLEANUP=stop_xinetd
if ! wait_listen "$PORT1" 10 || ! wait_listen "$PORT2" 10; then
	cat "$TMP/xinetd.out" "$TMP/xinetd.log" 2>/dev/null
	fail "xinetd does not listen on 127.0.0.1:$PORT1 and 127.0.0.1:$PORT2"
fi
xpid=$(pgrep -P "$tpid" -x xinetd) || fail "no xinetd process under PID $tpid"
say "xinetd (PID $xpid) listens on 127.0.0.1:$PORT1 (smtpot) and 127.0.0.1:$PORT2 (smtpot-tls)"

marker="xinetd-$$-$RANDOM"
smtp_send "$PORT1" "$TMP/swaks.log" "$marker"
grep -q '^<-  220 ' "$TMP/swaks.log" || { cat "$TMP/swaks.log"; fail "no 220 banner"; }
grep -q 'STARTTLS' "$TMP/swaks.log" || { cat "$TMP/swaks.log"; fail "EHLO does not offer STARTTLS"; }
say "plain: $(grep '^<-  250 .*queued' "$TMP/swaks.log")"
for t in "starttls $PORT1 --tls" "implicit $PORT2 --tls-on-connect"; do
	# shellcheck disable=SC2086 # three words, split on purpose
	set -- $t
	log=$TMP/$1.log
	smtp_send "$2" "$log" "$marker" "$3" --tls-get-peer-cert "$log.pem"
	grep -q '^=== TLS started' "$log" || { cat "$log"; fail "$1: no TLS"; }
	[ -s "$log.pem" ] && [ "$(cert_fp "$log.pem")" = "$(cert_fp "$TMP/tls/cert.pem")" ] ||
		fail "$1: the server's certificate is not $TMP/tls/cert.pem"
	[ "$(banner_of "$log")" = "$cn" ] || fail "$1: banner host name '$(banner_of "$log")', certificate CN '$cn'"
	say "$1: $(grep '^<~  250 .*queued' "$log"), certificate CN $cn"
done

# smtpot writes its disconnect event after the client has gone.
log=$TMP/log/events.jsonl
n=50
while [ $n -gt 0 ] && [ "$(grep -c '"disconnect"' "$log" 2>/dev/null)" != 3 ]; do
	sleep 0.1
	n=$((n - 1))
done
[ -s "$log" ] || { cat "$TMP/xinetd.log" 2>/dev/null; fail "no event log at $log"; }
python3 "$HERE/events.py" "$log" --sessions 3 --messages 3 --source-ip 127.0.0.1 \
	--spool "$TMP/spool" --marker "$marker" --no-errors --tls-sessions 2 >"$TMP/sessions" ||
	{ cat "$log"; fail "event log check failed"; }
sed "s/^/$TEST_NAME: /" "$TMP/sessions"
for f in "$TMP"/spool/*.eml; do
	[ "$(stat -c '%U %a' "$f")" = "nobody 600" ] ||
		fail "$f: owner and mode $(stat -c '%U %a' "$f"), expected nobody 600"
done
# xinetd logs the exit status (log_on_success has EXIT): a client-caused
# end is status 0.
n=50
while [ $n -gt 0 ] && [ "$(grep -c 'EXIT: smtpot' "$TMP/xinetd.log" 2>/dev/null)" != 3 ]; do
	sleep 0.1
	n=$((n - 1))
done
grep 'EXIT: smtpot' "$TMP/xinetd.log" >"$TMP/exits"
[ "$(grep -c 'EXIT: smtpot ' "$TMP/exits")" = 2 ] && [ "$(grep -c 'EXIT: smtpot-tls ' "$TMP/exits")" = 1 ] ||
	{ cat "$TMP/xinetd.log"; fail "expected two exits of smtpot and one of smtpot-tls"; }
grep -v 'status=0 ' "$TMP/exits" && { cat "$TMP/xinetd.log"; fail "smtpot did not exit with status 0"; }
while read -r line; do say "exit: ${line#*EXIT: }"; done <"$TMP/exits"
stop_xinetd
CLEANUP=:
pass
