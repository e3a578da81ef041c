#!/usr/bin/env bash
# A local OCI registry holding busybox, for the README's crictl session on a machine that cannot reach docker.io:
# starts Debian's docker-registry on 127.0.0.1:$PORT (default 5000; storage under $LIGHTVM_REGISTRY_DIR, default
# /var/lib/lightvm-registry), builds an image from Debian's static busybox (umoci) and pushes it as
# library/busybox:latest (skopeo); an image already there is kept (LIGHTVM_REGISTRY_REBUILD=1 builds it again).
# A registry already answering on the port is reused. Run it before hack/run.sh and pass the mirror flag it
# prints. Stop the registry with: kill "$(cat "$LIGHTVM_REGISTRY_DIR/registry.pid")".
set -euo pipefail
source "$(dirname "$0")/lib/common.sh"

PORT=${PORT:-5000}
dir=${LIGHTVM_REGISTRY_DIR:-/var/lib/lightvm-registry}
url="http://127.0.0.1:$PORT"

ensure_packages docker-registry skopeo umoci busybox-static curl
mkdir -p "$dir/storage"

if curl -fsS "$url/v2/" >/dev/null 2>&1; then
    log "a registry already answers on $url; using it"
else
    cat >"$dir/config.yml" <<EOF
version: 0.1
storage:
  filesystem:
    rootdirectory: $dir/storage
http:
  addr: 127.0.0.1:$PORT
EOF
    log "starting docker-registry on $url (storage $dir/storage, log $dir/registry.log)"
    setsid docker-registry serve "$dir/config.yml" >"$dir/registry.log" 2>&1 </dev/null &
    echo $! >"$dir/registry.pid"
    for _ in $(seq 1 100); do
        curl -fsS "$url/v2/" >/dev/null 2>&1 && break
        sleep 0.1
    done
    curl -fsS "$url/v2/" >/dev/null 2>&1 || { cat "$dir/registry.log" >&2; die "docker-registry did not start on $url"; }
fi

# An image already there is kept: rebuilding gives a new digest each time (timestamps), and the daemon would keep
# the old one as an untagged image.
manifest_types='application/vnd.oci.image.manifest.v1+json,application/vnd.docker.distribution.manifest.v2+json'
if [[ "${LIGHTVM_REGISTRY_REBUILD:-0}" != 1 ]] \
    && curl -fsS -o /dev/null -H "Accept: $manifest_types" "$url/v2/library/busybox/manifests/latest" 2>/dev/null; then
    log "$url already serves library/busybox:latest; kept (LIGHTVM_REGISTRY_REBUILD=1 builds it again)"
else
    work=$(mktemp -d /tmp/lightvm-busybox.XXXXXX)
    trap 'rm -rf "$work"' EXIT
    busybox=$(dpkg -L busybox-static | grep -m1 '/busybox$')
    log "building busybox:latest from $busybox ($(dpkg-query -W -f '${Version}' busybox-static))"
    umoci init --layout "$work/oci"
    umoci new --image "$work/oci:latest"
    umoci unpack --image "$work/oci:latest" "$work/bundle" >/dev/null
    rootfs="$work/bundle/rootfs"
    mkdir -p "$rootfs/bin" "$rootfs/etc" "$rootfs/root" "$rootfs/tmp" "$rootfs/home"
    chmod 1777 "$rootfs/tmp"
    cp "$busybox" "$rootfs/bin/busybox"
    for applet in $("$busybox" --list); do
        [ "$applet" = busybox ] || ln -sf busybox "$rootfs/bin/$applet"
    done
    printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/home:/bin/false\n' >"$rootfs/etc/passwd"
    printf 'root:x:0:\nnobody:x:65534:\n' >"$rootfs/etc/group"
    umoci repack --image "$work/oci:latest" "$work/bundle" >/dev/null
    umoci config --image "$work/oci:latest" --os linux --architecture amd64 --config.cmd sh \
        --config.env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

    log "pushing it to $url/library/busybox:latest"
    skopeo copy --quiet --dest-tls-verify=false "oci:$work/oci:latest" "docker://127.0.0.1:$PORT/library/busybox:latest"

fi

log "done; start the daemon with docker.io mirrored here:"
echo "hack/run.sh '--images.registries.\"docker.io\".mirrors=[\"$url\"]'"
