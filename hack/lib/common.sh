# Shared helpers for hack/ scripts. Source it; do not run it.
# shellcheck shell=bash

LIGHTVM_REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
export LIGHTVM_REPO
export DOTNET_CLI_TELEMETRY_OPTOUT=1
export DOTNET_NOLOGO=1
export DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

log() { printf '[%s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# ensure_packages PKG... installs the Debian packages that are missing (apt-get update once, first).
ensure_packages() {
    local missing=()
    local p
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    if ((${#missing[@]} == 0)); then
        return 0
    fi
    [[ $(id -u) -eq 0 ]] || die "need root to install: ${missing[*]}"
    log "installing Debian packages: ${missing[*]}"
    if [[ -z "${LIGHTVM_APT_UPDATED:-}" ]]; then
        apt-get update -qq
        export LIGHTVM_APT_UPDATED=1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# What building the guest (hack/build-guest.sh) needs: the kernel source and its build tools, and what the
# NativeAOT agent and the static C helpers build with.
GUEST_BUILD_PACKAGES=(linux-source-6.1 build-essential bc bison flex libelf-dev libssl-dev xz-utils cpio
    clang zlib1g-dev musl-tools)
# Packages the daemon needs at run time (QEMU for the VMs) plus the guest build.
RUNTIME_PACKAGES=(ca-certificates qemu-system-x86 "${GUEST_BUILD_PACKAGES[@]}")
# Packages the tests need on top: a real OCI registry (docker-registry, htpasswd), busybox for test rootfs images,
# and the real binaries the ELF-closure tests compare against ldd (ssh, curl).
TEST_PACKAGES=("${RUNTIME_PACKAGES[@]}" docker-registry apache2-utils busybox-static openssh-client curl skopeo umoci)

ensure_dotnet() {
    command -v dotnet >/dev/null || die "the .NET SDK is not installed (dotnet not on PATH); see global.json for the version"
}
