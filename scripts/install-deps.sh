#!/usr/bin/env bash
# Installs the Debian packages the lab, the packaging tests and the demo need (idempotent).
set -euo pipefail
pkgs=(libvirt-daemon libvirt-daemon-driver-qemu libvirt-clients qemu-system-x86 qemu-utils libxml2-utils
  nasm tmux openssh-server openssh-client iproute2 util-linux procps strace
  debhelper dpkg-dev fakeroot lintian rpm debootstrap rpmlint go-md2man time
  systemd)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
