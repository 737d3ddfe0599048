#!/usr/bin/env bash
# xinetd: the installed xinetd/smtpot, moved to 127.0.0.1 on a free port and
# run as "nobody" under a private xinetd (-dontfork, own config and log),
# serves one SMTP session from swaks: the transcript is a normal delivery,
# the event log holds one well-formed session from 127.0.0.1, and the
# message is in the spool under its SHA-256.
set -u
. "$(dirname "$0")/lib.sh"

need_root
need_cmd xinetd swaks python3 ss "$MAKE"
id nobody >/dev/null 2>&1 || skip "needs the user nobody"
make_tmp
install_tree
free_ports

stanza=$ROOT/etc/xinetd.d/smtpot
[ -f "$stanza" ] || fail "make install did not install etc/xinetd.d/smtpot"
grep -Eq '^[[:space:]]*disable[[:space:]]*=[[:space:]]*yes' "$stanza" ||
	fail "xinetd/smtpot is not shipped disabled"

# The run directories: smtpot runs as nobody and writes only these.
mkdir -p "$TMP/xinetd.d" "$TMP/log" "$TMP/spool"
chown nobody "$TMP/log" "$TMP/spool"
chmod 0700 "$TMP/log" "$TMP/spool"

# The shipped stanza with only what a test run must change: enabled, on
# loopback and a free port (a port other than smtp's needs UNLISTED), as
# nobody, writing into the run directories.
sed -e 's/^\([[:space:]]*disable[[:space:]]*=\).*/\1 no/' \
	-e 's/^\([[:space:]]*port[[:space:]]*=\).*/\1 '"$PORT1"'\n\tbind = 127.0.0.1\n\ttype = UNLISTED/' \
	-e 's/^service smtp$/service smtpot-test/' \
	-e 's/^\([[:space:]]*user[[:space:]]*=\).*/\1 nobody/' \
	-e 's/^\([[:space:]]*group[[:space:]]*=\).*/\1 '"$(id -gn nobody)"'/' \
	-e "s|/var/log/smtpot/|$TMP/log/|g" \
	-e "s|/var/lib/smtpot|$TMP/spool|g" \
	"$stanza" >"$TMP/xinetd.d/smtpot"
grep -q "bind = 127.0.0.1" "$TMP/xinetd.d/smtpot" || fail "could not adapt the stanza (no port line?)"
grep -q "server[[:space:]]*=[[:space:]]*/usr/sbin/smtpot" "$TMP/xinetd.d/smtpot" ||
	fail "the installed stanza does not run /usr/sbin/smtpot"
sed -i "s|/usr/sbin/smtpot|$ROOT/usr/sbin/smtpot|" "$TMP/xinetd.d/smtpot"
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
if ! wait_listen "$PORT1" 10; then
	cat "$TMP/xinetd.out" "$TMP/xinetd.log" 2>/dev/null
	fail "xinetd does not listen on 127.0.0.1:$PORT1"
fi
xpid=$(pgrep -P "$tpid" -x xinetd) || fail "no xinetd process under PID $tpid"
say "xinetd (PID $xpid) listens on 127.0.0.1:$PORT1"

marker="xinetd-$$-$RANDOM"
timeout 30 swaks --server 127.0.0.1 --port "$PORT1" --timeout 10 \
	--ehlo client.test.example --from sender@test.example --to rcpt@test.example \
	--header "Subject: $marker" --body "deploy test $marker" \
	>"$TMP/swaks.log" 2>&1 ||
	{ cat "$TMP/swaks.log"; fail "swaks failed (exit $?)"; }
grep -q '^<-  220 ' "$TMP/swaks.log" || { cat "$TMP/swaks.log"; fail "no 220 banner"; }
grep -q '^<-  250 .*queued' "$TMP/swaks.log" || { cat "$TMP/swaks.log"; fail "message not accepted"; }
grep -q '^<-  221 ' "$TMP/swaks.log" || { cat "$TMP/swaks.log"; fail "no 221 after QUIT"; }

# smtpot writes its disconnect event after the client has gone.
log=$TMP/log/events.jsonl
n=50
while [ $n -gt 0 ] && ! grep -q '"disconnect"' "$log" 2>/dev/null; do
	sleep 0.1
	n=$((n - 1))
done
[ -s "$log" ] || { cat "$TMP/xinetd.log" 2>/dev/null; fail "no event log at $log"; }
python3 "$HERE/events.py" "$log" --sessions 1 --messages 1 --source-ip 127.0.0.1 \
	--spool "$TMP/spool" --marker "$marker" --no-errors >"$TMP/sessions" ||
	{ cat "$log"; fail "event log check failed"; }
sed "s/^/$TEST_NAME: /" "$TMP/sessions"
for f in "$TMP"/spool/*.eml; do
	[ "$(stat -c '%U %a' "$f")" = "nobody 600" ] ||
		fail "$f: owner and mode $(stat -c '%U %a' "$f"), expected nobody 600"
done
# xinetd logs the exit status (log_on_success has EXIT): a client-caused
# end is status 0.
n=50
while [ $n -gt 0 ] && ! grep -q 'EXIT: smtpot ' "$TMP/xinetd.log" 2>/dev/null; do
	sleep 0.1
	n=$((n - 1))
done
exit_line=$(grep 'EXIT: smtpot ' "$TMP/xinetd.log")
case $exit_line in
*status=0\ *) say "exit: $(echo "$exit_line" | sed 's/.*EXIT: //')" ;;
*) cat "$TMP/xinetd.log"; fail "smtpot did not exit with status 0" ;;
esac
stop_xinetd
CLEANUP=:
pass
