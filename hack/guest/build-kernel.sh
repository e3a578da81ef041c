#!/usr/bin/env bash
# Builds (or reuses from the cache) the LightVM guest vmlinux: tinyconfig + src/LightVM.Tinyx/kernel/lightvm-guest.config.
# Cache: $LIGHTVM_CACHE_DIR (default /var/cache/lightvm). Extra arguments go to `lightvm-tinyx kernel`
# (--jobs N, --verbose, --source FILE). The last stdout line is "vmlinux: <path>".
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
exec "$here/tinyx.sh" kernel --cache "${LIGHTVM_CACHE_DIR:-/var/cache/lightvm}" "$@"
