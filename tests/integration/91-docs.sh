#!/bin/bash
# The documentation that is generated or checked: no broken link in the READMEs,
# docs/*.md and the example configurations (scripts/check-links);
# docs/configuration.md's option sections equal what the option tables say
# (scripts/gen-docs config --check); the four manuals render without a groff
# warning, list every option and every command; the bash completion knows
# every command of --help; make install puts manuals and completions in place.
. "$(dirname "$0")/lib.sh"

OPTDOC=$TOOLS/optdoc
[ -x "$OPTDOC" ] || bail "no optdoc at $OPTDOC (make tools)"
cd "$SRC" || bail "no source tree"

out=$(scripts/check-links 2>&1)
tap_is "no broken link in the READMEs, docs/*.md, packaging/*.example" "$?" 0
tap_like "  ... (it read them)" "$out" "^[0-9]+ file\(s\) checked, 0 broken link"
printf 'see docs/no-such-page.md and [x](nowhere.md) and [y](configuration.md#no-such-heading)\n' >"$T/bad.md"
out=$(scripts/check-links "$T/bad.md" 2>&1)
tap_is "a broken link fails the check" "$?" 1
tap_like "  ... a mentioned path" "$out" "bad.md:1: broken link 'docs/no-such-page.md' \(no such file\)"
tap_like "  ... a Markdown link" "$out" "broken link 'nowhere.md' \(no such file\)"

OPTDOC=$OPTDOC O=$O scripts/gen-docs config --check >"$T/gen" 2>&1
tap_is "docs/configuration.md's option sections are up to date" "$?" 0
tap_like "  ... and hold the agent's keys" "$(cat docs/configuration.md)" '\| `spool_max_mb` \| integer \| `64` \| 1 to 102400 \|'
tap_like "  ... and the collector's" "$(cat docs/configuration.md)" '\| `max_body_kb` \| integer \| `1024` \|'

OPTDOC=$OPTDOC O=$O BIN=$BIN scripts/gen-docs man "$T/man" || bail "gen-docs man failed"
for page in erpulse-agent.8 erpulse-collector.8 erpulse-agent.conf.5 erpulse-collector.conf.5; do
	warn=$(groff -man -Tutf8 -ww -z "$T/man/$page" 2>&1)
	tap_is "$page renders without a groff warning" "$warn" ""
done
text=$(MANWIDTH=100 man -l "$T/man/erpulse-agent.conf.5" 2>/dev/null)
missing=""
for key in $(sed -n 's/^	{"\([a-z_]*\)", EP_OPT_.*/\1/p' agent/conf.c); do
	grep -Eq "^       $key( |\$)" <<<"$text" || missing="$missing $key"
done
tap_is "erpulse-agent.conf(5) lists every [agent] key" "$missing" ""
tap_like "  ... and the probes' sections" "$text" "\[postgres\] or \[postgres.NAME\]"

commands() { # the commands of PROGRAM --help (not the agent's list of probes)
	"$1" --help | sed '/^Probes:/,$d' | sed -n 's/^  \([a-z][a-z-]*\)\( .*\)\{0,1\}$/\1/p' | sort -u
}
for prog in agent collector; do
	bin=$BIN/erpulse-$prog
	missing=""
	for c in $(commands "$bin"); do
		grep -q "commands=\".*\b$c\b" "packaging/completion/erpulse-$prog" || missing="$missing $c"
		grep -q -- "$c" "$T/man/erpulse-$prog.8" || missing="$missing man:$c"
	done
	tap_is "erpulse-$prog: completion and manual know every command of --help" "$missing" ""
	got=$(bash -c ". packaging/completion/erpulse-$prog
		COMP_WORDS=(erpulse-$prog che); COMP_CWORD=1; _erpulse_${prog}; echo \"\${COMPREPLY[*]}\"")
	tap_is "  ... 'erpulse-$prog che<TAB>' completes" "$got" "check-config"
done

make -s O="$O" DESTDIR="$T/root" PREFIX=/usr install >"$T/install.log" 2>&1
tap_is "make install: exit 0" "$?" 0
for f in share/man/man8/erpulse-agent.8 share/man/man8/erpulse-collector.8 \
	share/man/man5/erpulse-agent.conf.5 share/man/man5/erpulse-collector.conf.5 \
	share/bash-completion/completions/erpulse-agent share/bash-completion/completions/erpulse-collector; do
	tap_check "  ... installs /usr/$f" test -s "$T/root/usr/$f"
done

tap_done
