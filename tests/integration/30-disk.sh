#!/bin/bash
# The disk probe live on this machine: its figures for / against df(1), I/O
# counters across two cycles around a real write, and (in a private mount
# namespace, so no other test sees them) a real ext4 loop filesystem that
# fills up, is bind-mounted twice and is then made read-only by the kernel
# after an error (errors=remount-ro, via ext4's trigger_fs_error).
. "$(dirname "$0")/lib.sh"

PROBE_RUN=$TOOLS/probe_run
[ -x "$PROBE_RUN" ] || bail "probe_run not built ($PROBE_RUN): make tests"
printf '[disk]\n' >"$T/disk.conf"

# pyq FILE EXPR [ARGS...]: evaluates a Python expression over the JSON in
# FILE (as d; ARGS as a[0], a[1], ...); prints true/false/null like JSON.
pyq() {
	python3 -c 'import json, re, sys
d = json.load(open(sys.argv[1]))
a = sys.argv[3:]
v = eval(sys.argv[2])
print("true" if v is True else "false" if v is False else "null" if v is None else v)' "$@"
}
FS='d["metrics"]["filesystems"]'
# sev FILE KIND OBJECT: severity of that finding, empty when there is none
sev() { pyq "$1" 'next((f["severity"] for f in d["findings"] if f["kind"] == a[0] and f["object"] == a[1]), "")' "$2" "$3"; }

# within A B TOLERANCE: |A - B| <= TOLERANCE
within() { python3 -c 'import sys; a,b,t=map(float,sys.argv[1:]); sys.exit(0 if abs(a-b)<=t else 1)' "$@"; }

# ---- / against df ------------------------------------------------------------
read -r size used avail pcent < <(df -B1 --output=size,used,avail,pcent / | tail -1)
read -r itotal iused iavail < <(df --output=itotal,iused,iavail / | tail -1)
"$PROBE_RUN" "$T/disk.conf" disk >"$T/live.json" 2>"$T/live.err" || bail "probe_run failed: $(cat "$T/live.err")"
read -r used2 < <(df -B1 --output=used / | tail -1)
tap_is "probe status ok" "$(pyq "$T/live.json" 'd["status"]')" ok
R="${FS}[\"/\"]"
tap_is "/ bytes_total = df size" "$(pyq "$T/live.json" "${R}[\"bytes_total\"]")" "$size"
tap_is "/ inodes_total = df -i Inodes" "$(pyq "$T/live.json" "${R}[\"inodes_total\"]")" "$itotal"
# Other tests write to / meanwhile: allow what changed during the run plus 64 MiB.
tol=$(( (used2 > used ? used2 - used : used - used2) + 64 * 1024 * 1024 ))
tap_check "/ bytes_used = df Used (+-$tol)" within "$(pyq "$T/live.json" "${R}[\"bytes_used\"]")" "$used" "$tol"
tap_check "/ bytes_avail = df Avail (+-$tol)" within "$(pyq "$T/live.json" "${R}[\"bytes_avail\"]")" "$avail" "$tol"
tap_check "/ inodes_used = df -i IUsed (+-5000)" within "$(pyq "$T/live.json" "${R}[\"inodes_used\"]")" "$iused" 5000
tap_check "/ inodes_avail = df -i IFree (+-5000)" within "$(pyq "$T/live.json" "${R}[\"inodes_avail\"]")" "$iavail" 5000
tap_check "/ usage_pct = df Use% (+-1)" within "$(pyq "$T/live.json" "${R}[\"usage_pct\"]")" "${pcent%\%}" 1
tap_is "/ device = findmnt SOURCE" "$(pyq "$T/live.json" "${R}[\"device\"]")" "$(findmnt -n -o SOURCE /)"
tap_is "/ fstype = findmnt FSTYPE" "$(pyq "$T/live.json" "${R}[\"fstype\"]")" "$(findmnt -n -o FSTYPE /)"

# Every real filesystem df lists is reported (as a key or as another mount point of one).
missing=""
while read -r target; do
	got=$(pyq "$T/live.json" 'any(k == a[0] or a[0] in (v.get("also_mounted_at") or []) for k, v in '"$FS"'.items())' "$target")
	[ "$got" = true ] || missing="$missing $target"
done < <(df --output=target -x tmpfs -x devtmpfs -x squashfs -x overlay -x proc -x sysfs 2>/dev/null | tail -n +2)
tap_is "every real filesystem df lists is reported" "$missing" ""
tap_is "no pseudo filesystem reported" "$(pyq "$T/live.json" 'len([v for v in '"$FS"'.values() if re.fullmatch("proc|sysfs|tmpfs|devtmpfs|cgroup2?|devpts|squashfs", v["fstype"])])')" 0

# ---- I/O across two cycles ---------------------------------------------------
dev=$(pyq "$T/live.json" "${R}[\"major_minor\"]")
# the whole disk holding / (or / itself when it has no partition table)
disk=$(awk -v mm="$dev" '{ if ($1 ":" $2 == mm) print $3 }' /proc/diskstats)
[ -e "/sys/class/block/$disk/partition" ] && disk=$(basename "$(readlink -f "/sys/class/block/$disk/..")")
# diskstats read before the first and after the second cycle: a wider window
[ -n "$disk" ] && w0=$(awk -v d="$disk" '$3 == d { print $8 }' /proc/diskstats)
"$PROBE_RUN" "$T/disk.conf" disk --state "$T/state.json" >"$T/io1.json" 2>&1
tap_is "first cycle: no deltas yet" "$(pyq "$T/io1.json" 'd["metrics"]["io_status"]')" first_sample
if [ -z "$disk" ]; then
	# / on an overlay or network filesystem: no block device to compare with
	tap_ok "# SKIP / ($dev) has no block device in /proc/diskstats"
else
	dd if=/dev/zero of="$T/io.bin" bs=1M count=32 oflag=direct status=none
	sleep 1
	"$PROBE_RUN" "$T/disk.conf" disk --state "$T/state.json" >"$T/io2.json" 2>&1
	w1=$(awk -v d="$disk" '$3 == d { print $8 }' /proc/diskstats)
	tap_is "second cycle: deltas" "$(pyq "$T/io2.json" 'd["metrics"]["io_status"]')" ok
	D="d[\"metrics\"][\"devices\"][\"$disk\"]"
	tap_is "device $disk holds /" "$(pyq "$T/io2.json" "\"/\" in ${D}[\"mounts\"]")" true
	writes=$(pyq "$T/io2.json" "${D}[\"writes\"]")
	tap_check "$disk: the 32 direct 1 MiB writes are counted (got $writes, diskstats says $((w1 - w0)) in a wider window)" \
		python3 -c "import sys; w=float(sys.argv[1]); sys.exit(0 if 32 <= w <= float(sys.argv[2]) else 1)" "$writes" "$((w1 - w0))"
	tap_check "$disk: at least the 32 MiB written counted in write_bytes" \
		test "$(pyq "$T/io2.json" "${D}[\"write_bytes\"]")" -ge $((32 * 1048576))
	tap_check "$disk: utilisation within 0-100%" \
		python3 -c "import sys; u=float(sys.argv[1]); sys.exit(0 if 0 <= u <= 100 else 1)" "$(pyq "$T/io2.json" "${D}[\"util_pct\"]")"
fi
rm -f "$T/io.bin"

# ---- a real ext4 that fills up and goes read-only after an error -------------
if [ "$(id -u)" != 0 ] || ! command -v mkfs.ext4 >/dev/null || ! unshare --mount true 2>/dev/null; then
	tap_ok "# SKIP loop filesystem checks need root, mkfs.ext4 and unshare"
	tap_done
	exit $?
fi
truncate -s 64M "$T/fs.img"
mkfs.ext4 -q -F -N 2048 "$T/fs.img"
mkdir -p "$T/mnt" "$T/bind" "$T/robind"
cat >"$T/ns.sh" <<EOF
set -e
mount --make-rprivate /
mount -o loop,errors=remount-ro "$T/fs.img" "$T/mnt"
mkdir "$T/mnt/sub"
mount --bind "$T/mnt/sub" "$T/bind"
mount --bind -o ro / "$T/robind" 2>/dev/null || mount --bind / "$T/robind"
mount -o remount,bind,ro "$T/robind"
fallocate -l 60M "$T/mnt/big" 2>/dev/null || dd if=/dev/zero of="$T/mnt/big" bs=1M count=60 status=none 2>/dev/null || true
sync
"$PROBE_RUN" "$T/disk.conf" disk >"$T/full.json"
df -B1 --output=size,used,avail "$T/mnt" | tail -1 >"$T/full.df"
dev=\$(basename "\$(findmnt -n -o SOURCE "$T/mnt")")
echo 1 >/sys/fs/ext4/\$dev/trigger_fs_error
sleep 0.2
touch "$T/mnt/after" 2>/dev/null && echo writable >"$T/after" || echo readonly >"$T/after"
"$PROBE_RUN" "$T/disk.conf" disk >"$T/ro.json"
umount "$T/robind" "$T/bind" "$T/mnt"
EOF
if ! unshare --mount bash "$T/ns.sh" >"$T/ns.out" 2>&1; then
	tap_fail "loop filesystem scenario ran"
	sed 's/^/#   /' "$T/ns.out"
	tap_done
	exit 1
fi
M="${FS}[a[0]]"
read -r lsize lused lavail <"$T/full.df"
tap_is "loop fs: bytes_total = df" "$(pyq "$T/full.json" "${M}[\"bytes_total\"]" "$T/mnt")" "$lsize"
tap_is "loop fs: bytes_used = df" "$(pyq "$T/full.json" "${M}[\"bytes_used\"]" "$T/mnt")" "$lused"
tap_is "loop fs: bytes_avail = df" "$(pyq "$T/full.json" "${M}[\"bytes_avail\"]" "$T/mnt")" "$lavail"
tap_is "loop fs: disk_usage critical when full" \
	"$(sev "$T/full.json" disk_usage "$T/mnt")" critical
tap_is "loop fs: bind mount of a subdirectory reported once" \
	"$(pyq "$T/full.json" "\",\".join(${M}[\"also_mounted_at\"])" "$T/mnt"),$(pyq "$T/full.json" "a[0] in $FS" "$T/bind")" "$T/bind,false"
tap_is "loop fs: no read-only finding while healthy" \
	"$(pyq "$T/full.json" 'len([f for f in d["findings"] if f["kind"] == "filesystem_readonly"])')" 0
tap_is "read-only bind of / is not a read-only filesystem" \
	"$(pyq "$T/full.json" "${R}[\"readonly\"]")" false
tap_is "the kernel really made it read-only" "$(cat "$T/after")" readonly
tap_is "loop fs: filesystem_readonly critical after the error" \
	"$(sev "$T/ro.json" filesystem_readonly "$T/mnt")" critical
tap_is "loop fs: readonly metric" "$(pyq "$T/ro.json" "${M}[\"readonly\"]" "$T/mnt")" true
tap_is "loop fs: the superblock's error count" "$(pyq "$T/ro.json" "${M}[\"fs_errors\"]" "$T/mnt")" 1
tap_is "loop fs: filesystem_errors finding" \
	"$(sev "$T/ro.json" filesystem_errors "$T/mnt")" warning
tap_is "the rest of the host has no read-only finding" \
	"$(pyq "$T/ro.json" 'len([f for f in d["findings"] if f["kind"] == "filesystem_readonly" and f["object"] != a[0]])' "$T/mnt")" 0
tap_done
