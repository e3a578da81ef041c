#!/usr/bin/env bash
# Builds the guest every pod VM boots, the Tinyx way: the minimal kernel (cached by source+config hash) and an
# initramfs holding exactly the agent, its shared-library closure, the exec helper and the tiny init.
# Usage: hack/build-guest.sh [--busybox]      (--busybox adds a debug shell)
# Prints, last, two lines for scripts:  kernel: PATH  and  initrd: PATH ; also writes them to
# $LIGHTVM_CACHE_DIR/guest/current.env (KERNEL=..., INITRD=..., AGENT_DIR=...).
set -euo pipefail
source "$(dirname "$0")/lib/common.sh"
cd "$LIGHTVM_REPO"

cache=${LIGHTVM_CACHE_DIR:-/var/cache/lightvm}
mkdir -p "$cache/guest"
extra=()
[[ "${1:-}" == "--busybox" ]] && extra+=(--busybox)

log "guest: kernel (built once, then taken from $cache/kernel)"
kernel=$(hack/guest/build-kernel.sh | awk '/^vmlinux:/ {print $2}')
[[ -f "$kernel" ]] || die "kernel build did not report a vmlinux"

agent_dir="$cache/guest/agent"
log "guest: agent (NativeAOT) and static helpers -> $agent_dir"
hack/guest/build-agent.sh "$agent_dir" >&2

log "guest: initramfs"
# Its report goes to stderr through a pipe, not "tee /dev/stderr": opening /dev/stderr again truncates a log file
# the caller redirected stderr to.
initrd=$(hack/guest/tinyx.sh initramfs --cache "$cache" \
    --init "$agent_dir/lightvm-init" \
    --elf "$agent_dir/lightvm-agent:/usr/bin/lightvm-agent" \
    --file "$agent_dir/lightvm-exec:/usr/libexec/lightvm/lightvm-exec" \
    --dir /proc --dir /sys --dir /dev --dir /run --dir /tmp:1777 --dir /mnt \
    "${extra[@]}" | tee >(cat >&2) | awk '/^initramfs:/ {print $2}')
[[ -f "$initrd" ]] || die "initramfs build did not report an image"

printf 'KERNEL=%s\nINITRD=%s\nAGENT_DIR=%s\n' "$kernel" "$initrd" "$agent_dir" > "$cache/guest/current.env.tmp"
mv "$cache/guest/current.env.tmp" "$cache/guest/current.env"

# Each agent publish gives a new initramfs hash (NativeAOT output differs between builds): keep the newest few and
# every one a running process names on its command line (a daemon's --toolstack.initrd, a VMM's -initrd), so a
# daemon of another checkout sharing this cache keeps booting pool VMs; drop the rest.
touch "$initrd"
keep=${LIGHTVM_KEEP_INITRAMFS:-4}
in_use=$(cat /proc/[0-9]*/cmdline 2>/dev/null | tr '\0' '\n' | grep -o "$cache/initramfs/[0-9a-f]*\.cpio\.gz" | sort -u || true)
find "$cache/initramfs" -maxdepth 1 -name '*.cpio.gz' -printf '%T@ %p\n' | sort -rn | tail -n +"$((keep + 1))" \
    | while read -r _ old; do
        if grep -qxF "$old" <<<"$in_use"; then log "guest: keeping old initramfs $old (a running process uses it)"
        else log "guest: pruning old initramfs $old"; rm -f "$old"; fi
    done
printf 'kernel: %s (%s bytes)\ninitrd: %s (%s bytes)\n' "$kernel" "$(stat -c %s "$kernel")" "$initrd" "$(stat -c %s "$initrd")"
