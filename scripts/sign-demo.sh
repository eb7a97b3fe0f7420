#!/usr/bin/env bash
# Sign the demo image with REAL cosign 2 and store the signature and SLSA provenance in the OCI layout.
#
#   bash scripts/sign-demo.sh        (needs tools/ from scripts/fetch-tools.sh; run once, commit the result)
#
# cosign signs images in registries, not OCI layouts, so the image goes through a throw-away
# docker-registry on 127.0.0.1: skopeo copies the layout's `demo` tag there, cosign signs and attests the
# digest with the DEMO key in fixtures/demo/keys (generated here if absent; its password is public), and
# skopeo copies the `sha256-<hex>.sig` and `.att` tags back into the layout byte for byte, where
# `imagetrust check oci:fixtures/demo/layout:demo` finds them with no network.  The image's own blobs and
# digest are not touched.  Nothing is uploaded to a transparency log (--tlog-upload=false).
set -euo pipefail

REPO="$(cd "$(dirname "$0")/.." && pwd)"
TOOLS="$REPO/tools/bin"
LAYOUT="$REPO/fixtures/demo/layout"
KEYS="$REPO/fixtures/demo/keys"
PREDICATE="$REPO/fixtures/demo/provenance.json"
DIGEST="sha256:ceef1fdc7b64508b8201f5ddbb4fb69540ad7b1dd3627039e7bcaa338cd5d2b0"
HEX="${DIGEST#sha256:}"
# Demo only: this password is published on purpose; the key it protects must never be trusted for anything.
export COSIGN_PASSWORD="imagetrust-demo-only"

WORK="$(mktemp -d)"
REGISTRY_PID=""
cleanup() {
    if [ -n "$REGISTRY_PID" ]; then kill "$REGISTRY_PID" 2>/dev/null || true; wait "$REGISTRY_PID" 2>/dev/null || true; fi
    rm -rf "$WORK"
}
trap cleanup EXIT
export DOCKER_CONFIG="$WORK"  # no credentials from the caller's ~/.docker

PORT="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
cat > "$WORK/registry.yml" <<YAML
version: 0.1
log: {level: error, accesslog: {disabled: true}}
storage: {filesystem: {rootdirectory: "$WORK/storage"}}
http: {addr: "127.0.0.1:$PORT"}
YAML
"$TOOLS/docker-registry" serve "$WORK/registry.yml" > "$WORK/registry.log" 2>&1 &
REGISTRY_PID=$!
for _ in $(seq 50); do
    if python3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$PORT/v2/')" 2>/dev/null; then break; fi
    sleep 0.2
done
HOST="127.0.0.1:$PORT"

actual="$(python3 -c 'import json, sys; print([m["digest"] for m in json.load(open(sys.argv[1]))["manifests"] if m.get("annotations", {}).get("org.opencontainers.image.ref.name") == "demo"][0])' "$LAYOUT/index.json")"
if [ "$actual" != "$DIGEST" ]; then
    echo "sign-demo: the layout's demo tag is $actual, not $DIGEST; update DIGEST after rebuilding" >&2
    exit 1
fi

"$TOOLS/skopeo" --insecure-policy copy --quiet --preserve-digests --dest-tls-verify=false \
    "oci:$LAYOUT:demo" "docker://$HOST/demo:demo"

if [ ! -f "$KEYS/cosign.key" ]; then
    mkdir -p "$KEYS"
    (cd "$KEYS" && "$TOOLS/cosign2" generate-key-pair)
fi

"$TOOLS/cosign2" sign --key "$KEYS/cosign.key" --tlog-upload=false -y "$HOST/demo@$DIGEST"
"$TOOLS/cosign2" attest --key "$KEYS/cosign.key" --tlog-upload=false -y \
    --type slsaprovenance --predicate "$PREDICATE" "$HOST/demo@$DIGEST"

for suffix in sig att; do
    "$TOOLS/skopeo" --insecure-policy copy --quiet --preserve-digests --src-tls-verify=false \
        "docker://$HOST/demo:sha256-$HEX.$suffix" "oci:$LAYOUT:sha256-$HEX.$suffix"
done

printf '{"imageLayoutVersion":"1.0.0"}' > "$LAYOUT/oci-layout"  # skopeo rewrites it with a space

# Real cosign must accept what is now in the layout (it reads the copies back from the registry).
"$TOOLS/cosign2" verify --key "$KEYS/cosign.pub" --insecure-ignore-tlog "$HOST/demo@$DIGEST" > /dev/null
"$TOOLS/cosign2" verify-attestation --key "$KEYS/cosign.pub" --insecure-ignore-tlog \
    --type slsaprovenance "$HOST/demo@$DIGEST" > /dev/null
echo "sign-demo: signed $DIGEST; sha256-$HEX.sig and .att are in $LAYOUT"
