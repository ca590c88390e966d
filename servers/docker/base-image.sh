#!/usr/bin/env bash
# Builds the peer's base image without a registry: a minimal Debian made with debootstrap, then
# `docker import`. The peer is stdlib-only, so the base holds python3-minimal and libpython3.11-stdlib
# (python3-minimal alone has no asyncio, json or dataclasses).
#
#   servers/docker/base-image.sh              # builds it unless already there; prints its tag
#   servers/docker/base-image.sh --print-tag  # only prints the tag this checkout wants
#
# The tag ends with a digest of what the image is made from (this script's commands, the suite,
# the packages), so an unchanged base is found in the engine and not built again; a changed
# script gives a new tag (older bases stay until removed:
# docker image rm $(docker images -q connect-conformance/python-minimal)). Needs root, debootstrap and a Debian mirror:
#   CONNECT_CONFORMANCE_DEBIAN_MIRROR  (default: the first one apt uses here, else deb.debian.org)
#   CONNECT_CONFORMANCE_DEBOOTSTRAP_CACHE  downloaded .deb files (default /var/cache/connect-conformance/debootstrap)
# Exit codes: 0 the image exists (its tag on stdout); 3 it could not be built (the reason on stderr).
set -euo pipefail

suite=bookworm
packages=python3-minimal,libpython3.11-stdlib
repository=connect-conformance/python-minimal
script=$(readlink -f "${BASH_SOURCE[0]}")
# Comments do not change the image, so they do not change the digest.
digest=$( (grep -v '^[[:space:]]*#' "$script"; echo "$suite $packages") | sha256sum | cut -c1-12)
tag="$repository:$suite-$digest"

fail() {
  echo "base-image.sh: $*" >&2
  exit 3
}

if [ "${1:-}" = "--print-tag" ]; then
  echo "$tag"
  exit 0
fi
[ $# -eq 0 ] || fail "unknown argument $1 (usage: base-image.sh [--print-tag])"

docker version --format '{{.Server.Version}}' >/dev/null 2>&1 ||
  fail "no Docker engine answers; start one with servers/docker/engine.sh"
if docker image inspect "$tag" >/dev/null 2>&1; then
  echo "$tag"
  exit 0
fi

command -v debootstrap >/dev/null || fail "debootstrap is not installed: apt-get install debootstrap"
[ "$(id -u)" -eq 0 ] || fail "debootstrap needs root"

mirror=${CONNECT_CONFORMANCE_DEBIAN_MIRROR:-}
if [ -z "$mirror" ]; then
  # The mirror apt already uses on this machine (deb822 or one-line format).
  mirror=$(sed -n 's/^URIs:[[:space:]]*\([^[:space:]]*\).*/\1/p' /etc/apt/sources.list.d/*.sources 2>/dev/null | grep -v security | head -n1 || true)
  [ -n "$mirror" ] || mirror=$(awk '$1 == "deb" && $2 !~ /security/ {print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)
  [ -n "$mirror" ] || mirror=http://deb.debian.org/debian
fi
cache=${CONNECT_CONFORMANCE_DEBOOTSTRAP_CACHE:-/var/cache/connect-conformance/debootstrap}
mkdir -p "$cache"
# One build at a time; whoever waited finds the image made.
exec 9>"$cache/.lock"
flock 9
if docker image inspect "$tag" >/dev/null 2>&1; then
  echo "$tag"
  exit 0
fi

work=$(mktemp -d /var/tmp/connect-conformance-base.XXXXXX)
trap 'rm -rf "$work"' EXIT
started=$SECONDS
echo "base-image.sh: debootstrap $suite ($packages) from $mirror" >&2
if ! debootstrap --variant=minbase --include="$packages" --cache-dir="$cache" \
  "$suite" "$work/rootfs" "$mirror" >"$work/debootstrap.log" 2>&1; then
  tail -n 20 "$work/debootstrap.log" >&2
  fail "debootstrap failed (the end of its log is above)"
fi
# Package caches and lists only make the image bigger.
rm -rf "$work/rootfs/var/cache/apt/archives/"*.deb "$work/rootfs/var/lib/apt/lists/"*
tar -C "$work/rootfs" -c . | docker import \
  --change "LABEL org.connect-conformance.role=base org.connect-conformance.inputs=$digest" \
  --change "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
  - "$tag" >/dev/null || fail "docker import failed"
docker run --rm --network none "$tag" python3 -c 'import asyncio, json, ssl, dataclasses' ||
  { docker image rm "$tag" >/dev/null 2>&1 || true; fail "the new image cannot import asyncio, json and ssl"; }
echo "base-image.sh: built $tag in $((SECONDS - started)) s" >&2
echo "$tag"
