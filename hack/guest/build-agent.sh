#!/usr/bin/env bash
# Builds the guest-side binaries into one directory (default: artifacts/guest-agent):
#   lightvm-agent   the agent, NativeAOT linux-x64  -> /usr/bin/lightvm-agent in the initramfs
#   lightvm-exec    static C pre-exec helper        -> /usr/libexec/lightvm/lightvm-exec
#   lightvm-init    static C PID 1                   -> /init
# The C helpers use musl-gcc when installed (apt-get install musl-tools: ~70 KB instead of ~800 KB with glibc),
# else gcc -static. Set CC to choose. lightvm-tinyx adds the agent's shared-library closure.
set -euo pipefail

repo=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:-$repo/artifacts/guest-agent}
mkdir -p "$out"
out=$(cd "$out" && pwd)
native="$repo/src/LightVM.Agent/native"

echo "build-agent: publishing lightvm-agent (NativeAOT) ..." >&2
dotnet publish "$repo/src/LightVM.Agent/LightVM.Agent.csproj" -c Release -r linux-x64 \
    -o "$out/publish" --nologo -v quiet -p:TreatWarningsAsErrors=true >&2
cp "$out/publish/lightvm-agent" "$out/lightvm-agent"

cc=${CC:-}
if [ -z "$cc" ]; then
    if command -v musl-gcc >/dev/null 2>&1; then cc=musl-gcc; else cc=gcc; fi
fi
cflags=(-static -Os -s -Wall -Wextra -Werror -ffunction-sections -fdata-sections -Wl,--gc-sections)
echo "build-agent: compiling C helpers with $cc ..." >&2
"$cc" "${cflags[@]}" -o "$out/lightvm-exec" "$native/lightvm-exec.c" "$native/lightvm-exec-rootfs.c"
"$cc" "${cflags[@]}" -o "$out/lightvm-init" "$native/lightvm-init.c"

for f in lightvm-agent lightvm-exec lightvm-init; do
    printf '%-14s %9d bytes\n' "$f" "$(stat -c %s "$out/$f")"
done
echo "build-agent: done: $out" >&2
