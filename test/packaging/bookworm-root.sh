#!/bin/sh
# Prints the path of a clean Debian 12 root (a folder) with Debian's own nodejs and openssh-client
# installed through apt, building it once (debootstrap) and reusing it after. Users never write
# into it: they mount it as the read-only lower layer of an overlay.
# Cache: $VCL_ROOT_CACHE (default /var/cache/virt-consolelog-test); the mirror is the one this
# machine's apt uses, or $VCL_DEBIAN_MIRROR.
set -eu
cache=${VCL_ROOT_CACHE:-/var/cache/virt-consolelog-test}
mirror=${VCL_DEBIAN_MIRROR:-}
if [ -z "$mirror" ]; then
  # deb822 "URIs:" lines or one-line "deb URI suite" entries; the first plain Debian archive wins.
  mirror=$(cat /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null |
    awk '/^URIs:/ { print $2 } /^deb / { print $2 }' | grep -v -- '-security' | grep '/debian/*$' | head -n 1 || true)
fi
mirror=${mirror:-http://deb.debian.org/debian}
root_dir="$cache/bookworm-nodejs-root"
debs_tar="$cache/bookworm-minbase-debs.tgz"
if [ -e "$root_dir/.complete" ]; then
  echo "$root_dir"
  exit 0
fi
mkdir -p "$cache"
work=$(mktemp -d "$cache/build.XXXXXX")
cleanup() {
  for m in proc dev/pts dev; do umount "$work/root/$m" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
if [ ! -s "$debs_tar" ]; then
  debootstrap --variant=minbase --make-tarball="$work/debs.tgz" bookworm "$work/dl" "$mirror" >&2
  mv "$work/debs.tgz" "$debs_tar"
fi
debootstrap --variant=minbase --unpack-tarball="$debs_tar" bookworm "$work/root" "$mirror" >&2
cat > "$work/root/etc/apt/sources.list" <<LIST
deb $mirror bookworm main
deb $mirror bookworm-updates main
LIST
# Services must not start inside the chroot.
printf '#!/bin/sh\nexit 101\n' > "$work/root/usr/sbin/policy-rc.d"
chmod 755 "$work/root/usr/sbin/policy-rc.d"
mount -t proc proc "$work/root/proc"
chroot "$work/root" env DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
chroot "$work/root" env DEBIAN_FRONTEND=noninteractive \
  apt-get install -y -qq --no-install-recommends nodejs openssh-client >&2
chroot "$work/root" apt-get clean
umount "$work/root/proc"
touch "$work/root/.complete"
rm -rf "$root_dir"
mv "$work/root" "$root_dir"
echo "$root_dir"
