#!/usr/bin/env bash
# systemd-verify: the installed units load cleanly ("systemd-analyze
# verify", including their man pages), the sandbox of both session templates
# rates SAFE (exposure 1.0 or lower) in "systemd-analyze security", the two
# templates differ only in their comments, description and --tls= mode, and
# the catalog compiles and has one entry per MESSAGE_ID in the source, and
# no other.
set -u
. "$(dirname "$0")/lib.sh"

need_cmd systemd-analyze journalctl python3 "$MAKE"
make_tmp
install_tree
units=$ROOT/usr/lib/systemd/system

all_units="smtpot.socket smtpot@.service smtpot-tls.socket smtpot-tls@.service smtpot-tlscert.service"
templates="smtpot@.service smtpot-tls@.service"

# verify checks that ExecStart= names an executable on this host; point it
# at the installed programs in the tree, change nothing else.
[ -x "$ROOT/usr/lib/smtpot/smtpot-tlscert" ] || fail "make install did not install usr/lib/smtpot/smtpot-tlscert"
[ -x "$ROOT/usr/lib/smtpot/smtpot-tls" ] || fail "make install did not install usr/lib/smtpot/smtpot-tls"
mkdir "$TMP/units"
for u in $all_units; do
	[ -f "$units/$u" ] || fail "make install did not install $u"
	sed -e "s|/usr/sbin/smtpot|$ROOT/usr/sbin/smtpot|g" \
		-e "s|/usr/lib/smtpot/|$ROOT/usr/lib/smtpot/|g" "$units/$u" >"$TMP/units/$u"
done
# With man(1) at hand, verify also finds every Documentation=man: page in
# the tree.
man=--man=no
command -v man >/dev/null 2>&1 && man=--man=yes || say "no man(1): man pages not checked"
args=()
for u in $all_units; do args+=("./$u"); done
if ! (cd "$TMP/units" && MANPATH=$ROOT/usr/share/man \
	systemd-analyze verify "$man" "${args[@]}") \
	>"$TMP/verify.log" 2>&1 || [ -s "$TMP/verify.log" ]; then
	cat "$TMP/verify.log"
	fail "systemd-analyze verify reports problems"
fi
say "systemd-analyze verify: clean"

# The shipped files, not the copies: exposure is rated on the settings
# alone.  The session templates face the network and must rate SAFE; the
# certificate maker runs once as root on no outside input, and is shown.
for u in $templates smtpot-tlscert.service; do
	systemd-analyze security --offline=true --no-pager "$units/$u" >"$TMP/security.log" 2>&1
	exposure=$(sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p' "$TMP/security.log")
	[ -n "$exposure" ] || { cat "$TMP/security.log"; fail "no exposure level for $u from systemd-analyze security"; }
	say "systemd-analyze security: $u: exposure $exposure"
	case $u in smtpot-tlscert.service) continue ;; esac
	# --threshold= counts tenths: 10 is an exposure of 1.0.
	if ! systemd-analyze security --offline=true --threshold=10 --no-pager \
		"$units/$u" >/dev/null 2>&1; then
		grep '✗' "$TMP/security.log"
		fail "$u: exposure $exposure is above 1.0"
	fi
done

# The two templates: the same unit but for --tls=starttls/implicit and the
# description.  Comments may differ.
settings() { # FILE: its settings, continuation lines joined
	sed -e '/^[#;]/d' -e '/^[[:space:]]*$/d' "$1" | sed -e ':a' -e '/\\$/{N;s/\\\n//;ba' -e '}' |
		sed -e 's/--tls=\(starttls\|implicit\)/--tls=MODE/' -e '/^Description=/d'
}
settings "$units/smtpot@.service" >"$TMP/plain.settings"
settings "$units/smtpot-tls@.service" >"$TMP/tls.settings"
grep -q -- '--tls=MODE' "$TMP/plain.settings" || fail "smtpot@.service passes no --tls="
diff -u "$TMP/plain.settings" "$TMP/tls.settings" >"$TMP/templates.diff" ||
	{ cat "$TMP/templates.diff"; fail "smtpot@.service and smtpot-tls@.service differ in more than --tls="; }
grep -q -- '--tls=starttls' "$units/smtpot@.service" && grep -q -- '--tls=implicit' "$units/smtpot-tls@.service" ||
	fail "smtpot@.service must pass --tls=starttls, smtpot-tls@.service --tls=implicit"
say "smtpot@.service and smtpot-tls@.service: the same but for --tls="

# The certificate script, run as smtpot-tlscert.service would, into a
# scratch directory: it makes cert.pem, key.pem (0600) and hostname.env for
# one name, keeps them on the next run, makes new ones for a name set in
# SMTPOT_HOSTNAME and refuses a name that cannot be a certificate's.
if command -v openssl >/dev/null 2>&1; then
	tlsdir=$TMP/smtpot-tls
	mkdir -m 0700 "$tlsdir"
	gen() { env -u SMTPOT_HOSTNAME STATE_DIRECTORY="$tlsdir" "$@" "$ROOT/usr/lib/smtpot/smtpot-tlscert"; }
	gen >"$TMP/gen1.log" 2>&1 || { cat "$TMP/gen1.log"; fail "smtpot-tlscert failed"; }
	name=$(sed -n 's/^SMTPOT_HOSTNAME=//p' "$tlsdir/hostname.env")
	[ -n "$name" ] || fail "smtpot-tlscert wrote no SMTPOT_HOSTNAME= to hostname.env"
	[ "$(cert_cn "$tlsdir/cert.pem")" = "$name" ] || fail "smtpot-tlscert: CN is not $name"
	[ "$(stat -c %a "$tlsdir/key.pem")" = 600 ] || fail "smtpot-tlscert: key.pem is not mode 600"
	openssl x509 -in "$tlsdir/cert.pem" -noout -ext subjectAltName | grep -qF "DNS:$name" ||
		fail "smtpot-tlscert: no subjectAltName DNS:$name"
	fp=$(cert_fp "$tlsdir/cert.pem")
	gen >"$TMP/gen2.log" 2>&1 || { cat "$TMP/gen2.log"; fail "smtpot-tlscert failed on its second run"; }
	[ "$(cert_fp "$tlsdir/cert.pem")" = "$fp" ] && [ ! -s "$TMP/gen2.log" ] ||
		fail "smtpot-tlscert made a new certificate on its second run"
	gen SMTPOT_HOSTNAME=mx.deploy-test.example >"$TMP/gen3.log" 2>&1 ||
		{ cat "$TMP/gen3.log"; fail "smtpot-tlscert failed with SMTPOT_HOSTNAME"; }
	[ "$(cert_cn "$tlsdir/cert.pem")" = mx.deploy-test.example ] &&
		grep -qx 'SMTPOT_HOSTNAME=mx.deploy-test.example' "$tlsdir/hostname.env" ||
		fail "smtpot-tlscert did not follow SMTPOT_HOSTNAME"
	gen >/dev/null 2>&1 && [ "$(cert_cn "$tlsdir/cert.pem")" = mx.deploy-test.example ] ||
		fail "smtpot-tlscert did not keep the name it recorded"
	if gen SMTPOT_HOSTNAME='bad name;x' >"$TMP/gen4.log" 2>&1; then
		fail "smtpot-tlscert accepted the host name 'bad name;x'"
	fi
	[ "$(cert_cn "$tlsdir/cert.pem")" = mx.deploy-test.example ] ||
		fail "smtpot-tlscert changed the certificate on a bad name"
	for f in "$tlsdir"/* "$tlsdir"/.[!.]*; do
		case ${f##*/} in cert.pem|key.pem|hostname.env|'*'|'.[!.]*') ;;
		*) fail "smtpot-tlscert left $f behind" ;; esac
	done
	say "smtpot-tlscert: made, kept and renamed ($name, then mx.deploy-test.example)"
else
	say "no openssl: smtpot-tlscert not run"
fi

# The catalog: compiled into a private database in the tree, then listed.
# Every entry is in the database, defined by smtpot, and the entries are
# exactly the MESSAGE_IDs in the source.
catalog=$ROOT/usr/lib/systemd/catalog/smtpot.catalog
[ -f "$catalog" ] || fail "make install did not install the catalog"
journalctl --root="$ROOT" --update-catalog >"$TMP/catalog.log" 2>&1 ||
	{ cat "$TMP/catalog.log"; fail "journalctl --update-catalog failed"; }
sed -n 's/^-- \([0-9a-f]\{32\}\)$/\1/p' "$catalog" | sort >"$TMP/catalog.ids"
journalctl --root="$ROOT" --list-catalog 2>/dev/null |
	awk '$2 == "smtpot:" { print $1 }' | sort >"$TMP/listed.ids"
grep -ohE '"[0-9a-f]{32}"' "$TOP"/src/*.c | tr -d '"' | sort -u >"$TMP/source.ids"
[ -s "$TMP/source.ids" ] || fail "no MESSAGE_ID found in src/*.c"
cmp -s "$TMP/catalog.ids" "$TMP/listed.ids" || {
	diff "$TMP/catalog.ids" "$TMP/listed.ids"
	fail "catalog entries missing from the compiled catalog or without Defined-By: smtpot"
}
cmp -s "$TMP/catalog.ids" "$TMP/source.ids" || {
	diff "$TMP/source.ids" "$TMP/catalog.ids" |
		sed -n 's/^</missing from the catalog:/p; s/^>/not in the source:/p'
	fail "catalog and source MESSAGE_IDs differ"
}
say "catalog: $(wc -l <"$TMP/catalog.ids") entries, one per MESSAGE_ID in src"
pass
