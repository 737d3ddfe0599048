#!/usr/bin/env bash
# systemd-verify: the installed units load cleanly ("systemd-analyze
# verify", including their man pages), the service's sandbox rates SAFE
# (exposure 1.0 or lower) in "systemd-analyze security", and the catalog
# compiles and has one entry per MESSAGE_ID in the source, and no other.
set -u
. "$(dirname "$0")/lib.sh"

need_cmd systemd-analyze journalctl python3 "$MAKE"
make_tmp
install_tree
units=$ROOT/usr/lib/systemd/system

# verify checks that ExecStart= names an executable on this host; point it
# at the installed binary in the tree, change nothing else.
mkdir "$TMP/units"
for u in smtpot.socket smtpot@.service; do
	[ -f "$units/$u" ] || fail "make install did not install $u"
	sed "s|/usr/sbin/smtpot|$ROOT/usr/sbin/smtpot|g" "$units/$u" >"$TMP/units/$u"
done
# With man(1) at hand, verify also finds every Documentation=man: page in
# the tree.
man=--man=no
command -v man >/dev/null 2>&1 && man=--man=yes || say "no man(1): man pages not checked"
if ! (cd "$TMP/units" && MANPATH=$ROOT/usr/share/man \
	systemd-analyze verify "$man" ./smtpot.socket ./smtpot@.service) \
	>"$TMP/verify.log" 2>&1 || [ -s "$TMP/verify.log" ]; then
	cat "$TMP/verify.log"
	fail "systemd-analyze verify reports problems"
fi
say "systemd-analyze verify: clean"

# The shipped file, not the copy: exposure is rated on the settings alone.
systemd-analyze security --offline=true --no-pager "$units/smtpot@.service" \
	>"$TMP/security.log" 2>&1
exposure=$(sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p' "$TMP/security.log")
[ -n "$exposure" ] || { cat "$TMP/security.log"; fail "no exposure level from systemd-analyze security"; }
# --threshold= counts tenths: 10 is an exposure of 1.0.
if ! systemd-analyze security --offline=true --threshold=10 --no-pager \
	"$units/smtpot@.service" >/dev/null 2>&1; then
	grep '✗' "$TMP/security.log"
	fail "exposure $exposure is above 1.0"
fi
say "systemd-analyze security: exposure $exposure"

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
