#!/usr/bin/env bash
# Pull benchmark (not a test). Pushes a ~45 MB, 6-layer image (busybox base, incompressible binaries, compressible
# text, SMALL_FILES small files; all gzip) to a local docker-registry, then in the same run, RUNS times each, cold:
#   ours    LightVM.Images pull: download + digest checks + unpack into overlayfs snapshots + fsync/syncfs
#   skopeo  `skopeo copy docker://... oci:DIR` (download only: the issue's baseline)
#   umoci   skopeo copy + `umoci unpack` (download + unpack: the like-for-like baseline)
# Prints median seconds, ratios (target vs skopeo <= 1.2) and the peak RSS of our pulling process (target <= 150 MiB).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
source "$ROOT/hack/lib/common.sh"
ensure_dotnet
ensure_packages docker-registry skopeo umoci curl bc busybox-static
RUNS=${RUNS:-5}
# Files in the many-small-files layer; file creation is slow on this VM (~0.5-1 ms each, GNU tar alike), so
# SMALL_FILES=0 shows the download/verify/decompress path on its own.
SMALL_FILES=${SMALL_FILES:-3000}
WORK=$(mktemp -d /tmp/lightvm-bench-pull.XXXXXX)
REGISTRY_PID=""

cleanup() {
    if [[ -n "$REGISTRY_PID" ]]; then
        kill "$REGISTRY_PID" 2>/dev/null || true
        wait "$REGISTRY_PID" 2>/dev/null || true
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT

median() { sort -n | awk '{ a[NR] = $1 } END { if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
now() { date +%s.%N; }
settle() { sync; sleep 1; }

echo "building bench driver (Release)..."
dotnet build -c Release -v quiet -nologo "$ROOT/hack/bench/PullBench/PullBench.csproj" >"$WORK/build.log" 2>&1 \
    || { cat "$WORK/build.log"; exit 1; }
BENCH="$ROOT/hack/bench/PullBench/bin/Release/net10.0/PullBench"

PORT=$("$BENCH" free-port)
mkdir -p "$WORK/registry"
cat >"$WORK/registry.yml" <<YAML
version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $WORK/registry
http:
  addr: 127.0.0.1:$PORT
YAML
/usr/bin/docker-registry serve "$WORK/registry.yml" >"$WORK/registry.log" 2>&1 &
REGISTRY_PID=$!
for _ in $(seq 100); do
    curl -fs "http://127.0.0.1:$PORT/v2/" >/dev/null 2>&1 && break
    sleep 0.1
done

IMAGE="127.0.0.1:$PORT/bench/app:v1"
"$BENCH" push "http://127.0.0.1:$PORT" bench/app v1 "$SMALL_FILES"
settle

echo "ours: pulling $RUNS times with LightVM.Images..."
"$BENCH" pull "$WORK/ours" "$IMAGE" "$RUNS" | tee "$WORK/ours.txt"
OURS=$(awk '/^pull /{ print $3 }' "$WORK/ours.txt" | median)
PEAK_KIB=$(awk '/^peak /{ print $2 }' "$WORK/ours.txt")
rm -rf "$WORK/ours"
settle

echo "skopeo: copying $RUNS times..."
: >"$WORK/skopeo.txt"
for i in $(seq "$RUNS"); do
    start=$(now)
    skopeo copy -q --src-tls-verify=false "docker://$IMAGE" "oci:$WORK/skopeo$i:app" >/dev/null
    echo "skopeo $i $(echo "$(now) - $start" | bc)" | tee -a "$WORK/skopeo.txt"
done
SKOPEO=$(awk '{ print $3 }' "$WORK/skopeo.txt" | median)
settle

echo "umoci: copying and unpacking $RUNS times..."
: >"$WORK/umoci.txt"
for i in $(seq "$RUNS"); do
    start=$(now)
    skopeo copy -q --src-tls-verify=false "docker://$IMAGE" "oci:$WORK/umoci$i:app" >/dev/null
    umoci unpack --image "$WORK/umoci$i:app" "$WORK/bundle$i" >/dev/null 2>&1
    echo "umoci $i $(echo "$(now) - $start" | bc)" | tee -a "$WORK/umoci.txt"
done
UMOCI=$(awk '{ print $3 }' "$WORK/umoci.txt" | median)

PEAK_MIB=$(echo "scale=1; $PEAK_KIB / 1024" | bc)
echo
printf 'ours (pull+verify+unpack+fsync) median: %.3f s\n' "$OURS"
printf 'skopeo copy median:                    %.3f s\n' "$SKOPEO"
printf 'skopeo copy + umoci unpack median:     %.3f s\n' "$UMOCI"
echo "ratio vs skopeo copy: $(echo "scale=2; $OURS / $SKOPEO" | bc) (target <= 1.2)"
echo "ratio vs skopeo copy + umoci unpack: $(echo "scale=2; $OURS / $UMOCI" | bc)"
echo "peak RSS of the pulling process: $PEAK_MIB MiB (target <= 150)"
