#!/usr/bin/env bash
# Runs the LightVM.Cri daemon with its defaults on a fresh Debian 12 machine: installs what it needs (apt),
# builds and caches the guest image (kernel + initramfs, hack/build-guest.sh, in $LIGHTVM_CACHE_DIR, default
# /var/cache/lightvm; 4-10 minutes the first time),
# builds and publishes the daemon to out/, and runs it in the foreground on /run/lightvm/lightvm.sock.
# Usage: hack/run.sh [lightvm-cri options, e.g. --telemetry.log_level=debug]
set -euo pipefail
source "$(dirname "$0")/lib/common.sh"
cd "$LIGHTVM_REPO"

ensure_dotnet
ensure_packages "${RUNTIME_PACKAGES[@]}"

hack/build-guest.sh

log "building and publishing lightvm-cri to out/lightvm-cri"
dotnet publish src/LightVM.Cri/LightVM.Cri.csproj -c Release -o out/lightvm-cri -nologo -v quiet

# The guest image lives where hack/build-guest.sh cached it; its current.env names the kernel and initramfs. The
# daemon's own defaults stay the packaged paths (/usr/lib/lightvm/...), so a daemon started without this script
# never boots an unexpected guest; later arguments override these.
guest_env=${LIGHTVM_CACHE_DIR:-/var/cache/lightvm}/guest/current.env
KERNEL=$(sed -n 's/^KERNEL=//p' "$guest_env")
INITRD=$(sed -n 's/^INITRD=//p' "$guest_env")
[[ -n "$KERNEL" && -n "$INITRD" ]] || die "$guest_env does not name KERNEL and INITRD; run hack/build-guest.sh"

log "starting lightvm-cri with guest kernel $KERNEL (Ctrl+C or SIGTERM stops it)"
exec dotnet out/lightvm-cri/lightvm-cri.dll "--toolstack.kernel=$KERNEL" "--toolstack.initrd=$INITRD" "$@"
