#!/usr/bin/env bash
# Fetch the real peer tools the tests use from Debian's archive, by package name, into ./tools.
#
# Nothing on the system is changed: apt runs with a private sources list, lists dir and cache, and each
# package is unpacked with `dpkg -x`.  Wrappers in tools/bin set LD_LIBRARY_PATH where a tool needs a
# library the base system lacks.  Re-running is cheap: a finished run leaves tools/.complete.
set -euo pipefail
cd "$(dirname "$0")/.."
TOOLS="$PWD/tools"
APT="$TOOLS/apt"
DEBS="$TOOLS/debs"
ROOTS="$TOOLS/roots"
mkdir -p "$APT/lists/partial" "$APT/cache/archives/partial" "$DEBS" "$ROOTS" "$TOOLS/bin" "$TOOLS/lib"
ARCH=$(dpkg --print-architecture)
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg
MIRROR=${IMAGETRUST_DEBIAN_MIRROR:-http://deb.debian.org/debian}
cat > "$APT/sources.list" <<SRC
deb [signed-by=$KEYRING] $MIRROR bookworm main
deb [signed-by=$KEYRING] $MIRROR trixie main
deb [signed-by=$KEYRING] $MIRROR sid main
SRC
APTOPTS=(-o "Dir::Etc::SourceList=$APT/sources.list" -o Dir::Etc::SourceParts=/dev/null
  -o "Dir::State::Lists=$APT/lists" -o "Dir::Cache=$APT/cache" -o Dir::State::Status=/dev/null
  -o "APT::Architecture=$ARCH" -o APT::Sandbox::User=root -qq)

echo "fetch-tools: updating private package lists" >&2
apt-get "${APTOPTS[@]}" update >/dev/null

# name           package=version-or-suite                 binary in the package
TOOLSPEC=(
  "docker-registry docker-registry/trixie                 usr/bin/docker-registry"
  "cosign2         cosign/trixie                          usr/bin/cosign"
  "cosign3         cosign/sid                             usr/bin/cosign"
  "oras            oras/trixie                            usr/bin/oras"
  "notation        notation/sid                           usr/bin/notation"
  "gitleaks        gitleaks/trixie                        usr/bin/gitleaks"
  "crane           crane/sid                              usr/bin/crane"
  "umoci           umoci/trixie                           usr/bin/umoci"
  "skopeo          skopeo/bookworm                        usr/bin/skopeo"
  "clamd           clamav-daemon/bookworm                 usr/sbin/clamd"
  "makensis        nsis/bookworm                          usr/bin/makensis"
)
# Libraries skopeo links that a minimal bookworm machine may lack.
LIBSPEC=(libgpgme11/bookworm libassuan0/bookworm)
# ... and the ClamAV engine clamd links (the tests give clamd only ClamAV's unit-test hash DB).
LIBSPEC+=(libclamav12/bookworm libmspack0/bookworm)

fetch() {  # fetch PKG/SUITE DEST -> unpacks exactly that package version into DEST
  local spec=$1 dest=$2
  local where="$DEBS/${spec//\//_}"  # one download folder per package/suite, so versions never mix
  rm -rf "$where" && mkdir -p "$where"
  ( cd "$where" && apt-get "${APTOPTS[@]}" download "$spec" >/dev/null 2>&1 ) || {
    echo "fetch-tools: could not download $spec" >&2; return 1; }
  mkdir -p "$dest"
  dpkg -x "$where"/*.deb "$dest"
}

for spec in "${LIBSPEC[@]}"; do
  fetch "$spec" "$ROOTS/libs"
done
find "$ROOTS/libs" -name '*.so*' -exec cp -a {} "$TOOLS/lib/" \;

for line in "${TOOLSPEC[@]}"; do
  read -r name spec binary <<<"$line"
  rm -rf "${ROOTS:?}/$name"
  fetch "$spec" "$ROOTS/$name"
  cat > "$TOOLS/bin/$name" <<WRAP
#!/bin/sh
LD_LIBRARY_PATH="$TOOLS/lib\${LD_LIBRARY_PATH:+:\$LD_LIBRARY_PATH}" exec "$ROOTS/$name/$binary" "\$@"
WRAP
  chmod +x "$TOOLS/bin/$name"
done
ln -sf cosign3 "$TOOLS/bin/cosign"
# makensis finds its stubs and plugins (package nsis-common) through NSISDIR when it does not live under /usr.
fetch nsis-common/bookworm "$ROOTS/makensis"
cat > "$TOOLS/bin/makensis" <<WRAP
#!/bin/sh
NSISDIR="$ROOTS/makensis/usr/share/nsis" exec "$ROOTS/makensis/usr/bin/makensis" "\$@"
WRAP
chmod +x "$TOOLS/bin/makensis"

# Real third-party packages the image builders in tests/ put into test images.
echo "fetch-tools: downloading real packages for test images" >&2
mkdir -p "$TOOLS/packages/deb" "$TOOLS/packages/wheels" "$TOOLS/packages/npm"
( cd "$TOOLS/packages/deb" && apt-get "${APTOPTS[@]}" download \
    busybox-static/bookworm hello/bookworm base-files/bookworm netbase/bookworm tzdata/bookworm \
    python3-jinja2/bookworm libcommons-lang3-java/bookworm ruby-rack/bookworm >/dev/null 2>&1 )
PIP=(python3 -m pip); [ -x .venv/bin/pip ] && PIP=(.venv/bin/pip)
"${PIP[@]}" download -q --no-deps --only-binary=:all: --platform manylinux2014_x86_64 --python-version 3.11 \
    --implementation cp --abi cp311 -d "$TOOLS/packages/wheels" jinja2==2.10 markupsafe==2.1.5 >/dev/null
( cd "$TOOLS/packages/npm" && npm pack --silent lodash@4.17.20 >/dev/null )

# Two test services cannot run from a dpkg -x folder; they are installed as system packages when missing
# (CI runs as root). The package lists are refreshed once first: a fresh machine may have none.
APT_UPDATED=0
system_install() {
  if [ "$APT_UPDATED" = 0 ]; then apt-get update -qq >/dev/null 2>&1 || true; APT_UPDATED=1; fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# Headless Chromium renders the HTML trust report in tests.
if [ ! -x /usr/bin/chromium ] && [ "$(id -u)" = 0 ]; then
  echo "fetch-tools: installing chromium (apt-get)" >&2
  system_install chromium \
    || echo "fetch-tools: could not install chromium; the HTML rendering test will fail in CI" >&2
fi

# PostgreSQL 15 (Debian's package) backs the inventory store tests on a real server (root only, as above).
if [ ! -x /usr/lib/postgresql/15/bin/initdb ] && [ "$(id -u)" = 0 ]; then
  echo "fetch-tools: installing postgresql (apt-get)" >&2
  system_install postgresql \
    || echo "fetch-tools: could not install postgresql; the PostgreSQL store tests will fail in CI" >&2
fi

# Self-check: every tool runs.
for t in docker-registry cosign2 cosign3 oras notation gitleaks crane umoci skopeo; do
  "$TOOLS/bin/$t" --help >/dev/null 2>&1 || { echo "fetch-tools: $t does not run" >&2; exit 1; }
done
"$TOOLS/bin/makensis" -VERSION >/dev/null 2>&1 || { echo "fetch-tools: makensis does not run" >&2; exit 1; }
touch "$TOOLS/.complete"
echo "fetch-tools: tools ready in $TOOLS/bin" >&2
