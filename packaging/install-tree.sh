#!/bin/sh
# Installs virt-consolelog into DESTDIR with the file layout both packages ship (debian/rules and
# the rpm spec call this; lab hosts use it to get exactly the packaged layout).
# usage: sh packaging/install-tree.sh DESTDIR   (run from the source tree, after `npm run build`)
# VCL_NO_MAN=1 skips the man page (it needs go-md2man); VCL_LIBDIR replaces /usr/lib/virt-consolelog
# in the hook launcher (labs whose hosts see the tree at another path).
set -eu
dest=${1:?usage: install-tree.sh DESTDIR}
libdir=/usr/lib/virt-consolelog
hook_js=${VCL_LIBDIR:-$libdir}/hook.mjs
hook_snapshot_js=${VCL_LIBDIR:-$libdir}/hook-snapshot.cjs
cli_js=${VCL_LIBDIR:-$libdir}/virt-consolelog.mjs
cli_snapshot_js=${VCL_LIBDIR:-$libdir}/cli-snapshot.cjs
ask_service_sh=${VCL_LIBDIR:-$libdir}/ask-service.sh
for f in dist/hook.mjs dist/hook-snapshot.cjs dist/cli-snapshot.cjs dist/virt-consolelog.mjs dist/hook-launcher.sh.in \
  dist/cli-launcher.sh.in dist/ask-service.sh dist/chunks; do
  [ -e "$f" ] || { echo "install-tree.sh: $f missing: run 'npm run build' first" >&2; exit 1; }
done
# The commented sample configuration is the conffile.
[ -f packaging/virt-consolelog.conf ] || {
  echo "install-tree.sh: packaging/virt-consolelog.conf missing (the shipped configuration)" >&2
  exit 1
}

install -d "$dest$libdir" "$dest/usr/bin" "$dest/etc/libvirt/hooks/qemu.d" "$dest/etc/virt-consolelog" \
  "$dest/etc/default" "$dest/usr/lib/tmpfiles.d" "$dest/usr/share/bash-completion/completions"
install -m 0644 dist/hook.mjs "$dest$libdir/hook.mjs"
# The entry of the V8 start-up snapshot (VIRT_CONSOLELOG_SNAPSHOT in /etc/default).
install -m 0644 dist/hook-snapshot.cjs "$dest$libdir/hook-snapshot.cjs"
install -m 0644 dist/cli-snapshot.cjs "$dest$libdir/cli-snapshot.cjs"
# What both launchers source to hand a request to the capture service.
install -m 0644 dist/ask-service.sh "$dest$libdir/ask-service.sh"
# The code both entry points load on demand (scripts/build.mjs splits the bundles).
install -d "$dest$libdir/chunks"
install -m 0644 dist/chunks/*.mjs "$dest$libdir/chunks/"
# The CLI runs on the distribution's Node, named directly rather than through env.
sed '1s|^#!.*$|#!/usr/bin/node|' dist/virt-consolelog.mjs > "$dest$libdir/virt-consolelog.mjs"
chmod 0755 "$dest$libdir/virt-consolelog.mjs"
# The command and the hook are sh launchers (packaging/*-launcher.sh.in) that start Node on the bundles.
fill() {
  sed -e "s|@HOOK_JS@|$hook_js|g" -e "s|@HOOK_SNAPSHOT_JS@|$hook_snapshot_js|g" -e "s|@CLI_JS@|$cli_js|g" \
    -e "s|@CLI_SNAPSHOT_JS@|$cli_snapshot_js|g" -e "s|@ASK_SERVICE_SH@|$ask_service_sh|g" "$1" > "$2"
  # A placeholder left over would make the launcher test a path that never exists: fail the build instead.
  if grep -q '@[A-Z_]*@' "$2"; then
    echo "install-tree.sh: $2 keeps a placeholder:" >&2
    grep -n '@[A-Z_]*@' "$2" >&2
    exit 1
  fi
  chmod 0755 "$2"
}
rm -f "$dest/usr/bin/virt-consolelog" # a symlink to the bundle in earlier versions
fill dist/cli-launcher.sh.in "$dest/usr/bin/virt-consolelog"
fill dist/hook-launcher.sh.in "$dest/etc/libvirt/hooks/qemu.d/50-virt-consolelog"
install -m 0644 packaging/virt-consolelog.conf "$dest/etc/virt-consolelog/virt-consolelog.conf"
install -m 0644 packaging/virt-consolelog.default "$dest/etc/default/virt-consolelog"
install -m 0644 packaging/virt-consolelog.tmpfiles "$dest/usr/lib/tmpfiles.d/virt-consolelog.conf"
install -d "$dest/usr/lib/systemd/system"
install -m 0644 packaging/virt-consolelog-collect.service "$dest/usr/lib/systemd/system/virt-consolelog-collect.service"
install -m 0644 packaging/virt-consolelog.bash-completion \
  "$dest/usr/share/bash-completion/completions/virt-consolelog"
if [ "${VCL_NO_MAN:-0}" != 1 ]; then
  install -d "$dest/usr/share/man/man8"
  node packaging/man.mjs dist/virt-consolelog.mjs "$dest/usr/share/man/man8/virt-consolelog.8"
fi
