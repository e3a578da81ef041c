#!/usr/bin/env bash
# Pod benchmark (issue 5). Not a test: prints numbers, ratios against baselines measured in the same run, and whether
# the targets are met; asserts nothing. The real daemon (hack/bench/PodBench starts it on a temp state root) with the
# guest image from hack/build-guest.sh, a local docker-registry holding busybox, every call through the CRI client:
#
#   (each daemon first runs one untimed pod: start-up work such as accel=auto's KVM test boot is not pod cost)
#   pool off / pool on   PODS pods one after another: RunPodSandbox, CreateContainer+StartContainer (p50/p90), pods
#                        per second; pool on = a pool of PODS VMs filled before timing (the LightVM split: boot ahead
#                        of the request). Baseline: the pool-off series. Then the idle VMM's PSS (guest size baseline).
#   K pods running       RunPodSandbox with K = 0, 10, 30 pods already running: pooled (pool refilled before each
#                        call) and cold (a shape the pool does not keep); ratio to K = 0.
#
# Env: PODS (default 10), KS (default 0,10,30), SAMPLES (per K, default 5), ACCEL (auto|kvm|tcg, default auto),
#      KPOOL (pool size during the K series, default 2), LIGHTVM_CACHE_DIR (guest cache, default /var/cache/lightvm),
#      BENCH_DAEMON_ARGS (extra daemon flags, e.g. "--toolstack.tcg_tb_size_mib=64"), BENCH_DAEMON_LOG (append the
#      daemons' logs to this file).
set -euo pipefail
source "$(dirname "$0")/lib/common.sh"
cd "$LIGHTVM_REPO"

PODS=${PODS:-10}
KS=${KS:-0,10,30}
SAMPLES=${SAMPLES:-5}
ACCEL=${ACCEL:-auto}
KPOOL=${KPOOL:-2}
export LIGHTVM_CACHE_DIR=${LIGHTVM_CACHE_DIR:-/var/cache/lightvm}
work=$(mktemp -d /tmp/lightvm-bench-pods.XXXXXX)
trap 'rm -rf "$work"' EXIT

ensure_dotnet
ensure_packages "${RUNTIME_PACKAGES[@]}" docker-registry apache2-utils busybox-static

log "guest image (hack/build-guest.sh; cached after the first build)"
hack/build-guest.sh >"$work/build-guest.log" 2>&1 || { cat "$work/build-guest.log" >&2; die "hack/build-guest.sh failed"; }
# shellcheck disable=SC1091
source "$LIGHTVM_CACHE_DIR/guest/current.env"

log "bench driver and daemon (Release)"
dotnet build -c Release -v quiet -nologo hack/bench/PodBench/PodBench.csproj >"$work/build.log" 2>&1 \
    || { cat "$work/build.log" >&2; die "building hack/bench/PodBench failed"; }

log "running: PODS=$PODS KS=$KS SAMPLES=$SAMPLES ACCEL=$ACCEL KPOOL=$KPOOL (progress below)"
hack/bench/PodBench/bin/Release/net10.0/PodBench "$KERNEL" "$INITRD" "$PODS" "$KS" "$SAMPLES" "$ACCEL" "$KPOOL" \
    >"$work/results.txt"
grep '^result ' "$work/results.txt" >"$work/r.txt" || die "the bench driver printed no results"

# field NAME... KEY: the value after KEY on the result line named NAME (e.g. field series on run p50).
field() {
    local key=${*: -1} name="${*:1:$#-1}"
    awk -v name="result $name " -v key="$key" 'index($0, name) == 1 { for (i = 1; i < NF; i++) if ($i == key) { print $(i + 1); exit } }' "$work/r.txt"
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }
le() { awk -v a="$1" -v b="$2" 'BEGIN { print (a <= b) ? "met" : "NOT met" }'; }
row() { printf '%-44s %-26s %-10s %-14s %s\n' "$@"; }

off_run=$(field series off run p50); on_run=$(field series on run p50)
off_cs=$(field series off create_start p50); on_cs=$(field series on create_start p50)
on_pss=$(field series on idle_pss_mib p50); guest=$(field series on guest_mib guest_mib)
guest=$(awk '/^result series on guest_mib/ { print $5 }' "$work/r.txt")
k0_pooled=$(field k 0 pooled p50); k0_cold=$(field k 0 cold p50)
kmax=${KS##*,}

echo
echo "kernel $KERNEL, initramfs $INITRD, accel $ACCEL; $(nproc) host CPUs; PODS=$PODS, SAMPLES=$SAMPLES per K"
row metric "p50 / p90 (ms)" ratio target verdict
for mode in off on; do
    row "pool $mode: RunPodSandbox" "$(field series $mode run p50) / $(field series $mode run p90)" \
        "$(ratio "$(field series $mode run p50)" "$off_run")" "$([[ $mode == on ]] && echo '<= 30 ms')" \
        "$([[ $mode == on ]] && le "$on_run" 30)"
    row "pool $mode: server-side claim (verbose claimMs)" "$(field series $mode claim p50) / $(field series $mode claim p90)" "" "" ""
    row "pool $mode: CreateContainer+StartContainer" "$(field series $mode create_start p50) / $(field series $mode create_start p90)" \
        "$(ratio "$(field series $mode create_start p50)" "$off_cs")" "$([[ $mode == on ]] && echo '<= 250 ms')" \
        "$([[ $mode == on ]] && le "$on_cs" 250)"
    row "pool $mode:   CreateContainer / StartContainer" "$(field series $mode create p50) / $(field series $mode start p50) (p50s)" "" "" ""
    row "pool $mode: pods per second (run+create+start)" "$(field series $mode pods_per_s pods_per_s)" \
        "$(ratio "$(field series $mode pods_per_s pods_per_s)" "$(field series off pods_per_s pods_per_s)")" "" ""
done
echo "pool on: $(awk '/^result series on pool/ { print "hits", $6, "misses", $8 }' "$work/r.txt") (a miss boots cold)"
IFS=, read -r -a klist <<<"$KS"
for k in "${klist[@]}"; do
    row "K=$k running: RunPodSandbox pooled" "$(field k "$k" pooled p50) / $(field k "$k" pooled p90)" \
        "$(ratio "$(field k "$k" pooled p50)" "$k0_pooled")" "$([[ $k == "$kmax" ]] && echo '<= 1.2x K=0')" \
        "$([[ $k == "$kmax" ]] && le "$(ratio "$(field k "$k" pooled p50)" "$k0_pooled")" 1.2)"
    row "K=$k running: RunPodSandbox cold" "$(field k "$k" cold p50) / $(field k "$k" cold p90)" \
        "$(ratio "$(field k "$k" cold p50)" "$k0_cold")" "" ""
done
echo "pooled samples that missed the pool: $(awk '/^result k .* pooled_misses/ { printf "K=%s: %s  ", $3, $5 }' "$work/r.txt")"
row "idle pod VMM PSS (MiB, p50 / p90)" "$on_pss / $(field series on idle_pss_mib p90)" \
    "$(ratio "$on_pss" "$guest")" "<= 96 MiB" "$(le "$on_pss" 96)"
echo "(PSS ratio is to the guest's RAM size, $guest MiB)"
