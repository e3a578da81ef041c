#!/usr/bin/env bash
# Guest boot benchmark (QEMU microvm, TCG). Not a test: prints numbers, asserts nothing.
#
#   baseline  a static /init that prints a marker on the console (ttyS0) and reboots: time from QEMU exec to the marker line
#   agent     (when AGENT_INITRAMFS is set) the same kernel with the agent image: exec -> AGENT_READY line,
#             printed with its ratio to the baseline median measured in this same run
#
# Env: N (boots per series, default 10), LIGHTVM_CACHE_DIR (kernel cache, default /var/cache/lightvm),
#      AGENT_INITRAMFS, AGENT_READY (pattern, default LIGHTVM-AGENT-READY), SMP (default 1), MEM (default 256M).
set -euo pipefail

N=${N:-10}
SMP=${SMP:-1}
MEM=${MEM:-256M}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

vmlinux=$("$here/guest/build-kernel.sh" | awk '/^vmlinux:/ {print $2}')

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
marker_initramfs=$("$here/guest/tinyx.sh" initramfs --cache "$work/cache" --init "$work/marker-init" | awk '/^initramfs:/ {print $2}')

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
        echo "bench-guest: '$pattern' never appeared on the console" >&2
        return 1
    fi
    end=$(date +%s%N)
    wait "$pid" || true
    echo $(((end - start) / 1000000))
}

# series LABEL INITRAMFS PATTERN: N boots; prints min/median/max and leaves the median in $median.
series() {
    local label=$1 initramfs=$2 pattern=$3 times=() i
    for ((i = 0; i < N; i++)); do
        times+=("$(boot_ms "$initramfs" "$pattern")")
    done
    mapfile -t times < <(printf '%s\n' "${times[@]}" | sort -n)
    if ((N % 2)); then
        median=${times[N / 2]}
    else
        median=$(((times[N / 2 - 1] + times[N / 2]) / 2))
    fi
    printf '%-10s n=%d  min %5d ms  median %5d ms  max %5d ms  (initramfs %d bytes)\n' \
        "$label" "$N" "${times[0]}" "$median" "${times[N - 1]}" "$(stat -c %s "$initramfs")"
}

echo "kernel:    $vmlinux ($(stat -c %s "$vmlinux") bytes)"
echo "cmdline:   $append"
series baseline "$marker_initramfs" LIGHTVM-BOOT-MARKER
baseline=$median

if [[ -n ${AGENT_INITRAMFS:-} ]]; then
    series agent "$AGENT_INITRAMFS" "${AGENT_READY:-LIGHTVM-AGENT-READY}"
    awk -v a="$median" -v b="$baseline" 'BEGIN { printf "agent/baseline median ratio: %.2f\n", a / b }'
fi
