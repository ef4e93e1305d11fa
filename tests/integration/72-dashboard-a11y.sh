#!/bin/bash
# The dashboard's accessibility in real Chromium (driven over the DevTools
# protocol by dashboard-a11y.py, no extra package), in English and Chinese,
# on the sign-in page, the fleet, a host page and a customer's portal:
# WCAG AA contrast of every visible text and of the marks that carry a
# meaning; Tab from top to end with a visible focus ring and an accessible
# name at each stop and no trap; skip link, sorting, a host opened with Enter
# and left with the back link or Escape, the language switch by keyboard; at
# 700 px no horizontal page scroll and charts inside their cards.
# DASH_SCREENSHOTS=DIR saves the 700 px views (docs/screenshots/).
. "$(dirname "$0")/dashboard-lib.sh"
dash_fixture

for L in en zh-CN; do
	/usr/bin/python3 "$SRC/tests/integration/dashboard-a11y.py" "$CHROMIUM" "$T/chromium-$L" "$COLL_URL/" \
		"$VENDOR" "$ACME" "$A" "$L" "${DASH_SCREENSHOTS:-$T}" >"$T/a11y-$L.out" 2>&1
	rc=$?
	while IFS= read -r line; do
		case $line in
		"ok - "*) tap_ok "${line#ok - }" ;;
		"not ok - "*) tap_fail "${line#not ok - }" ;;
		*) echo "$line" ;;
		esac
	done <"$T/a11y-$L.out"
	# a crash that printed no failure of its own still fails the test
	[ "$rc" -eq 0 ] || grep -q '^not ok' "$T/a11y-$L.out" || tap_fail "dashboard-a11y.py ($L) exited with status $rc"
done
tap_check "the collector is still running" kill -0 "$COLL_PID"
tap_done
