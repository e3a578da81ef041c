#!/usr/bin/env bash
# Runs every test of LightVM.Cri on a fresh Debian 12 machine: installs what the tests need (apt), builds,
# prepares the test bed, runs the tests and ends with one summary line "N passed, N failed, N skipped".
# Usage: hack/test.sh [extra dotnet test arguments, e.g. --filter Category!=Qemu]
set -euo pipefail
source "$(dirname "$0")/lib/common.sh"
cd "$LIGHTVM_REPO"

ensure_dotnet
ensure_packages "${TEST_PACKAGES[@]}"

log "building (Release)"
dotnet build LightVM.Cri.sln -c Release -warnaserror -nologo -v quiet

# The guest every VM test boots: Tinyx kernel (built once, 4-10 min on 2 cores, then cached) and initramfs.
export LIGHTVM_CACHE_DIR=${LIGHTVM_CACHE_DIR:-/var/cache/lightvm}
hack/build-guest.sh
# shellcheck disable=SC1091
source "$LIGHTVM_CACHE_DIR/guest/current.env"
export LIGHTVM_TEST_KERNEL="$KERNEL" LIGHTVM_TEST_INITRD="$INITRD" LIGHTVM_AGENT_DIR="$AGENT_DIR"

results="$(mktemp -d)"
trap 'rm -rf "$results"' EXIT
log "running tests"
set +e
# One test assembly at a time (-m:1: dotnet test otherwise runs as many projects at once as there are CPUs):
# several of them boot QEMU guests under TCG, and on 2 cores running them together only trades speed for
# timeouts. Tests inside an assembly still run in parallel.
dotnet test LightVM.Cri.sln -c Release --no-build --nologo -m:1 \
    --logger "console;verbosity=normal" --results-directory "$results" "$@" \
    -- RunConfiguration.MaxCpuCount=1 2>&1 | tee "$results/out.log"
status=${PIPESTATUS[0]}
set -e

# One line for the whole run, summed over each test assembly's "Total tests / Passed / Failed / Skipped" block.
awk '/^ *Total tests: *[0-9]+ *$/ { n++ }
     /^ *Passed: *[0-9]+ *$/ { p += $2 }
     /^ *Failed: *[0-9]+ *$/ { f += $2 }
     /^ *Skipped: *[0-9]+ *$/ { s += $2 }
     END { if (n == 0) { print "0 passed, 1 failed (no test assembly reported results)"; exit 1 }
           printf "%d passed, %d failed, %d skipped\n", p, f, s }' "$results/out.log" || status=1
exit "$status"
