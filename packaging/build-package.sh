#!/bin/sh
# Builds the .deb (dpkg-buildpackage) or the .rpm (rpmbuild) from a staged copy of the tree, so
# that package builds never write into the checkout; the packages land in OUTDIR.
# usage: sh packaging/build-package.sh deb|rpm [OUTDIR]   (after `npm run build`; default
# OUTDIR build/packages)
set -eu
kind=${1:?usage: build-package.sh deb|rpm [OUTDIR]}
out=${2:-build/packages}
version=$(node -p 'require("./package.json").version')
# One version everywhere: package.json is the source, the changelog and spec must agree.
deb_version=$(dpkg-parsechangelog -l debian/changelog -S Version 2> /dev/null || sed -n '1s/.*(\(.*\)).*/\1/p' debian/changelog)
rpm_version=$(sed -n 's/^Version:[[:space:]]*//p' rpm/virt-consolelog.spec)
case "$deb_version" in "$version"-*) ;; *)
  echo "build-package.sh: debian/changelog is at $deb_version, package.json at $version" >&2
  exit 1
  ;;
esac
[ "$rpm_version" = "$version" ] || {
  echo "build-package.sh: rpm/virt-consolelog.spec is at $rpm_version, package.json at $version" >&2
  exit 1
}
# What `npm run build` leaves in dist/ for the packages (no blank in any name: the list is split on them).
built="dist/hook.mjs dist/hook-snapshot.cjs dist/cli-snapshot.cjs dist/virt-consolelog.mjs dist/hook-launcher.sh.in
  dist/cli-launcher.sh.in dist/ask-service.sh dist/chunks"
for f in $built; do
  [ -e "$f" ] || { echo "build-package.sh: $f missing: run 'npm run build' first" >&2; exit 1; }
done

mkdir -p "$out"
out=$(cd "$out" && pwd)
stage=$(mktemp -d "${TMPDIR:-/tmp}/vcl-package.XXXXXX")
trap 'rm -rf "$stage"' EXIT
src="$stage/virt-consolelog-$version"
mkdir -p "$src/dist"
# shellcheck disable=SC2086 # split on purpose: the list above
cp -R $built "$src/dist/"
cp -R packaging debian rpm package.json README.md "$src/"

case "$kind" in
  deb)
    (cd "$src" && dpkg-buildpackage -us -uc -b >&2)
    cp "$stage"/*.deb "$out/"
    ls "$out"/virt-consolelog_"$version"-*_all.deb
    ;;
  rpm)
    top="$stage/rpmbuild"
    mkdir -p "$top/SOURCES"
    tar -C "$stage" -czf "$top/SOURCES/virt-consolelog-$version.tar.gz" "virt-consolelog-$version"
    cp packaging/maint.sh "$top/SOURCES/virt-consolelog-maint.sh"
    # Off an rpm-based system the rpm database holds none of the BuildRequires.
    nodeps=
    rpm -q rpm > /dev/null 2>&1 || nodeps=--nodeps
    rpmbuild -bb $nodeps --define "_topdir $top" rpm/virt-consolelog.spec >&2
    cp "$top"/RPMS/noarch/*.rpm "$out/"
    ls "$out"/virt-consolelog-"$version"-*.noarch.rpm
    ;;
  *)
    echo "build-package.sh: unknown kind $kind (deb or rpm)" >&2
    exit 2
    ;;
esac
