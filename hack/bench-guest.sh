#!/usr/bin/env bash
# Guest boot benchmark (QEMU microvm, TCG; issue 4). Not a test: prints numbers and whether targets are met, asserts
# nothing. Both series boot the same Tinyx kernel with the same QEMU flags and cmdline:
#
#   baseline  a static /init that prints a marker on the console (ttyS0) and reboots: time from QEMU exec to the marker
#   agent     the guest image from hack/build-guest.sh: time from QEMU exec to the agent's answer to a Ping over the
#             virtio-serial port, sent by the real host client (hack/bench/GuestBench); then Stats (agent RSS) and
#             Shutdown (lightvm.halt=reboot + -no-reboot: QEMU exits)
#
# Ends with one table: min/median/max of both, agent/baseline median ratio, initramfs and vmlinux sizes, agent RSS.
# Env: N (boots per series, default 10), LIGHTVM_CACHE_DIR (guest cache, default /var/cache/lightvm),
#      SMP (default 1), MEM (default 256M).
set -euo pipefail
source "$(dirname "$0")/lib/common.sh"
cd "$LIGHTVM_REPO"

N=${N:-10}
SMP=${SMP:-1}
MEM=${MEM:-256M}
export LIGHTVM_CACHE_DIR=${LIGHTVM_CACHE_DIR:-/var/cache/lightvm}
work=$(mktemp -d /tmp/lightvm-bench-guest.XXXXXX)
trap 'rm -rf "$work"' EXIT

ensure_dotnet
# QEMU, and what hack/build-guest.sh builds the kernel, the NativeAOT agent, its static helpers and the initramfs with.
ensure_packages qemu-system-x86 linux-source-6.1 build-essential bc bison flex libelf-dev libssl-dev xz-utils \
    clang zlib1g-dev musl-tools cpio

log "guest image (hack/build-guest.sh; cached after the first build)"
hack/build-guest.sh >"$work/build-guest.log" 2>&1 || { cat "$work/build-guest.log" >&2; die "hack/build-guest.sh failed"; }
# shellcheck disable=SC1091
source "$LIGHTVM_CACHE_DIR/guest/current.env"
vmlinux=$KERNEL
agent_initramfs=$INITRD

log "bench driver (Release)"
dotnet build -c Release -v quiet -nologo hack/bench/GuestBench/GuestBench.csproj >"$work/build.log" 2>&1 \
    || { cat "$work/build.log" >&2; die "building hack/bench/GuestBench failed"; }
bench=hack/bench/GuestBench/bin/Release/net10.0/GuestBench

cat > "$work/marker-init.c" <<'C'
#include <sys/reboot.h>
#include <unistd.h>
int main(void) {
    static const char marker[] = "LIGHTVM-BOOT-MARKER\n";
    write(1, marker, sizeof marker - 1);
    sync();
    reboot(RB_AUTOBOOT);
    for (;;) pause();
}
C
gcc -static -Os -o "$work/marker-init" "$work/marker-init.c"
marker_initramfs=$(hack/guest/tinyx.sh initramfs --cache "$work/cache" --init "$work/marker-init" | awk '/^initramfs:/ {print $2}')

# TCG runs the guest TSC at the host rate; telling the guest avoids a failed calibration (TSC marked unstable).
khz=$(awk -F: '/^cpu MHz/ {printf "%d", $2 * 1000; exit}' /proc/cpuinfo)
append="console=ttyS0 acpi=off reboot=t panic=-1 quiet${khz:+ tsc_early_khz=$khz}"

# boot_ms INITRAMFS PATTERN: one boot; prints milliseconds from exec to the first console line matching PATTERN.
boot_ms() {
    local initramfs=$1 pattern=$2 start end pid fifo=$work/console
    [[ -p $fifo ]] || mkfifo "$fifo"
    start=$(date +%s%N)
    timeout 120 qemu-system-x86_64 \
        -M microvm,acpi=off,rtc=on -accel tcg -cpu max -m "$MEM" -smp "$SMP" \
        -nodefaults -no-user-config -nographic -no-reboot \
        -kernel "$vmlinux" -initrd "$initramfs" -append "$append" \
        -chardev stdio,id=console -serial chardev:console </dev/null >"$fifo" 2>&1 &
    pid=$!
    if ! grep -m1 -q -- "$pattern" <"$fifo"; then
        wait "$pid" || true
        die "'$pattern' never appeared on the console"
    fi
    end=$(date +%s%N)
    wait "$pid" || true
    echo $(((end - start) / 1000000))
}

# stats: reads milliseconds, one a line; prints "min median max".
stats() {
    sort -n | awk '{ a[NR] = $1 } END { m = NR % 2 ? a[(NR + 1) / 2] : int((a[NR / 2] + a[NR / 2 + 1]) / 2); print a[1], m, a[NR] }'
}

log "baseline: $N boots to the console marker"
for ((i = 1; i <= N; i++)); do
    ms=$(boot_ms "$marker_initramfs" LIGHTVM-BOOT-MARKER)
    echo "$ms" >>"$work/baseline.txt"
    log "baseline $i: $ms ms"
done

log "agent: $N boots to Ping answered over virtio-serial"
"$bench" "$vmlinux" "$agent_initramfs" "$N" "$MEM" "$SMP" "$append lightvm.halt=reboot" | tee "$work/agent.out" >&2
awk '/^boot / { print $3 }' "$work/agent.out" >"$work/agent.txt"
rss=$(awk '/^rss / { print $2 }' "$work/agent.out")
(($(wc -l <"$work/agent.txt") == N)) && [[ -n $rss ]] || die "the agent bench reported $(wc -l <"$work/agent.txt") of $N boots"

read -r b_min b_med b_max < <(stats <"$work/baseline.txt")
read -r a_min a_med a_max < <(stats <"$work/agent.txt")
initramfs_bytes=$(stat -c %s "$agent_initramfs")
vmlinux_bytes=$(stat -c %s "$vmlinux")

# verdict OK: "met" when OK is 1.
verdict() { if (($1)); then echo met; else echo "NOT met"; fi; }
mib() { awk -v b="$1" 'BEGIN { printf "%.2f MiB", b / 1048576 }'; }
ratio=$(awk -v a="$a_med" -v b="$b_med" 'BEGIN { printf "%.2f", a / b }')
ratio_ok=$(awk -v r="$ratio" 'BEGIN { print (r <= 1.25) }')

echo
echo "kernel:    $vmlinux"
echo "initramfs: $agent_initramfs"
echo "cmdline:   $append lightvm.halt=reboot   (QEMU -M microvm TCG, -m $MEM, -smp $SMP; N=$N)"
printf '%-36s %-30s %-24s %s\n' metric value target verdict
printf '%-36s %-30s %-24s %s\n' "baseline: exec -> marker" "$b_min / $b_med / $b_max ms" "(min / median / max)" ""
printf '%-36s %-30s %-24s %s\n' "agent: exec -> Ping answered" "$a_min / $a_med / $a_max ms" "(min / median / max)" ""
printf '%-36s %-30s %-24s %s\n' "agent / baseline median" "$ratio" "<= 1.25" "$(verdict "$ratio_ok")"
printf '%-36s %-30s %-24s %s\n' "agent initramfs size" "$(mib "$initramfs_bytes") ($initramfs_bytes B)" "<= 8 MiB" \
    "$(verdict $((initramfs_bytes <= 8 * 1024 * 1024)))"
printf '%-36s %-30s %-24s %s\n' "vmlinux size (baseline boot median)" "$(mib "$vmlinux_bytes") ($b_med ms)" "boots in <= 1200 ms" \
    "$(verdict $((b_med <= 1200)))"
printf '%-36s %-30s %-24s %s\n' "agent RSS in the guest (Stats)" "$(mib "$rss")" "<= 20 MiB" \
    "$(verdict $((rss <= 20 * 1024 * 1024)))"
