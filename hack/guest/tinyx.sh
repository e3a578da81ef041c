#!/usr/bin/env bash
# Builds lightvm-tinyx (Release) when needed and runs it with the given arguments.
# Build output goes to stderr so callers can parse the tool's stdout.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
dotnet build "$repo/src/LightVM.Tinyx/LightVM.Tinyx.csproj" -c Release --nologo -v q >&2
exec dotnet "$repo/src/LightVM.Tinyx/bin/Release/net10.0/lightvm-tinyx.dll" "$@"
