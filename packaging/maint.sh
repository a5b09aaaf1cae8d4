# virt-consolelog: install/remove logic shared by the .deb maintainer scripts and the .rpm
# scriptlets. Inlined into them at package build time (the purge step runs after /usr is gone),
# so it defines functions only; the caller runs vcl_configure or vcl_purge. POSIX sh, no
# percent signs (rpm would expand them as macros).

VCL_STORE=/var/log/libvirt/consolelog
# Default live_dir (libvirt's QEMU log folder): the live logs are <uuid>.<device>.console[.N] there.
VCL_LIVE=/var/log/libvirt/qemu
VCL_STATE=/var/lib/virt-consolelog
VCL_KEY=/var/lib/virt-consolelog/ssh/id_ed25519
VCL_CONFDIR=/etc/virt-consolelog
# The hook's V8 start-up snapshots (VIRT_CONSOLELOG_SNAPSHOT): root runs them, so root alone writes.
VCL_CACHE=/var/cache/virt-consolelog
VCL_HOOK=/etc/libvirt/hooks/qemu.d/50-virt-consolelog
# The group that may read the store (show, status) without root; see README "Reading without root".
VCL_GROUP=virt-consolelog
# Marker file (or env VIRT_CONSOLELOG_PURGE_LOGS=yes) that lets a purge remove the store too.
VCL_PURGE_LOGS_MARKER=/etc/virt-consolelog/purge-logs

vcl_log() {
  echo "virt-consolelog: $*" >&2
}

# Store and state folders; also done by systemd-tmpfiles where it runs, but hosts without
# systemd need them too.
vcl_make_dirs() {
  [ -d /var/log/libvirt ] || mkdir -m 0755 /var/log/libvirt
  [ -d "$VCL_STORE" ] || mkdir -m 0750 "$VCL_STORE"
  [ -d "$VCL_STATE" ] || mkdir -m 0700 "$VCL_STATE"
  [ -d "$VCL_STATE/ssh" ] || mkdir -m 0700 "$VCL_STATE/ssh"
  [ -d /var/cache ] || mkdir -m 0755 /var/cache
  [ -e "$VCL_CACHE" ] || [ -L "$VCL_CACHE" ] || mkdir -m 0700 "$VCL_CACHE"
}

# The snapshot cache holds only blobs the hook rebuilds: it goes with the program (a symlink in
# its place is removed, never followed).
vcl_remove_cache() {
  rm -rf "$VCL_CACHE"
}

# The hook's start-up snapshot for the Node installed now (a blob where it pays, else a note that
# it does not), so that the first guest start does not run without it; the hook redoes this by
# itself in the background when Node or the package changes.
vcl_build_snapshot() {
  [ -x "$VCL_HOOK" ] || return 0
  "$VCL_HOOK" --build-snapshot < /dev/null ||
    vcl_log "could not prepare the hook's start-up snapshot: the hook starts without it"
  return 0
}

# The dedicated transfer key (never root's own key): created once, kept on upgrade.
vcl_make_key() {
  if [ -e "$VCL_KEY" ]; then
    return 0
  fi
  if ! command -v ssh-keygen > /dev/null 2>&1; then
    vcl_log "ssh-keygen not found: no transfer key created (install openssh-client, then reinstall)"
    return 0
  fi
  host=$(hostname 2> /dev/null || echo host)
  if ssh-keygen -q -t ed25519 -N '' -C "virt-consolelog@$host" -f "$VCL_KEY" < /dev/null; then
    vcl_log "created transfer key $VCL_KEY.pub (authorize it on peer hosts, see virt-consolelog(8))"
  else
    vcl_log "could not create transfer key $VCL_KEY"
  fi
}

# Records the reload we sent in $VCL_STATE/reloaded-DAEMON ("PID STARTTIME-TICKS"; its mtime is
# the reload time), so that `virt-consolelog doctor` can tell that the running daemon has looked
# for hooks since the hook appeared (the start time tells a reused pid apart).
vcl_note_reload() {
  [ -d "$VCL_STATE" ] || return 0
  ticks=$(sed 's/^.*) //' "/proc/$2/stat" 2> /dev/null | cut -d ' ' -f 20)
  echo "$2 ${ticks:-0}" > "$VCL_STATE/reloaded-$1"
}

# libvirt caches at daemon start (and on SIGHUP) whether any qemu hook exists: reload, never
# restart, a running libvirtd or virtqemud so that a first hook on this host is discovered.
vcl_reload_daemons() {
  if [ -d /run/systemd/system ] && command -v systemctl > /dev/null 2>&1; then
    for daemon in libvirtd virtqemud; do
      if systemctl is-active --quiet "$daemon.service" 2> /dev/null; then
        pid=$(systemctl show -p MainPID --value "$daemon.service" 2> /dev/null)
        if systemctl reload "$daemon.service"; then
          vcl_log "reloaded $daemon so that it finds the hook"
          vcl_note_reload "$daemon" "${pid:-0}"
        else
          vcl_log "could not reload $daemon: run 'systemctl reload $daemon' before starting guests"
        fi
      fi
    done
    return 0
  fi
  # No systemd: the daemons' own pid files (they follow mount namespaces and chroots, unlike
  # a search by process name).
  for daemon in libvirtd virtqemud; do
    [ -r "/run/$daemon.pid" ] || continue
    pid=$(cat "/run/$daemon.pid" 2> /dev/null)
    case "$pid" in '' | *[!0-9]*) continue ;; esac
    # A stale pid file may name an unrelated process: signal only the daemon it names.
    comm=$(cat "/proc/$pid/comm" 2> /dev/null) || continue
    [ "$comm" = "$daemon" ] || continue
    if kill -HUP "$pid" 2> /dev/null; then
      vcl_log "reloaded $daemon (pid $pid, SIGHUP) so that it finds the hook"
      vcl_note_reload "$daemon" "$pid"
    else
      vcl_log "could not signal $daemon (pid $pid): reload it before starting guests"
    fi
  done
  return 0
}

# A system group, created once; its members read the store. Not adm: guest consoles can print
# secrets, so reading them is granted on its own.
vcl_make_group() {
  getent group "$VCL_GROUP" > /dev/null 2>&1 && return 0
  if command -v groupadd > /dev/null 2>&1; then
    groupadd --system "$VCL_GROUP" || vcl_log "could not create group $VCL_GROUP"
  elif command -v addgroup > /dev/null 2>&1; then
    addgroup --system "$VCL_GROUP" || vcl_log "could not create group $VCL_GROUP"
  else
    vcl_log "no groupadd: group $VCL_GROUP not created (the store stays root-only)"
  fi
}

# The store belongs to the group, its folders setgid: whatever the hook creates below inherits
# the group (folders 0750, files 0640). Folders made by an older version are brought along.
vcl_store_group() {
  getent group "$VCL_GROUP" > /dev/null 2>&1 || return 0
  [ -d "$VCL_STORE" ] || return 0
  chgrp -R -h "$VCL_GROUP" "$VCL_STORE" || vcl_log "could not give $VCL_STORE to group $VCL_GROUP"
  find "$VCL_STORE" -type d -exec chmod g+rxs {} + || true
  chmod 2750 "$VCL_STORE"
}

# The capture service: enabled and (re)started at install and upgrade (a restart runs the new
# code and loses nothing: the store holds its progress); stopped and disabled at removal.
VCL_UNIT=virt-consolelog-collect.service
vcl_have_systemd() {
  [ -d /run/systemd/system ] && command -v systemctl > /dev/null 2>&1
}

vcl_service_start() {
  if vcl_have_systemd; then
    systemctl daemon-reload || true
    systemctl enable "$VCL_UNIT" > /dev/null 2>&1 || vcl_log "could not enable $VCL_UNIT"
    systemctl restart "$VCL_UNIT" || vcl_log "could not start $VCL_UNIT: see 'systemctl status $VCL_UNIT'"
  else
    vcl_log "no systemd: run 'virt-consolelog collect' under your service manager (virt-consolelog(8))"
  fi
  return 0
}

vcl_service_stop() {
  if vcl_have_systemd; then
    systemctl disable --now "$VCL_UNIT" > /dev/null 2>&1 || true
  fi
  return 0
}

vcl_configure() {
  vcl_make_group
  vcl_make_dirs
  vcl_store_group
  vcl_make_key
  vcl_build_snapshot
  vcl_reload_daemons
  vcl_service_start
}

# Purge: configuration and state (the transfer key included) go; guests' logs stay unless the
# operator opted in beforehand.
vcl_purge() {
  purge_logs=no
  case "${VIRT_CONSOLELOG_PURGE_LOGS:-}" in yes | 1 | true) purge_logs=yes ;; esac
  [ -e "$VCL_PURGE_LOGS_MARKER" ] && purge_logs=yes
  rm -rf "$VCL_CONFDIR" "$VCL_STATE"
  vcl_remove_cache
  if [ "$purge_logs" = yes ]; then
    if [ -d "$VCL_STORE" ] && [ ! -L "$VCL_STORE" ]; then
      rm -rf "$VCL_STORE"
      vcl_log "removed the guests' console logs in $VCL_STORE (opted in)"
    fi
    # Only our own live files: libvirt's <name>.log files there are not ours to remove.
    if [ -d "$VCL_LIVE" ] && [ ! -L "$VCL_LIVE" ]; then
      find "$VCL_LIVE" -maxdepth 1 -type f -regextype posix-extended \
        -regex '.*/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\.[a-z]+[0-9]{1,3}\.console(\.[0-9]{1,3})?' \
        -delete
    fi
  elif [ -d "$VCL_STORE" ]; then
    vcl_log "kept the guests' console logs in $VCL_STORE and their live files in $VCL_LIVE"
  fi
  return 0
}
