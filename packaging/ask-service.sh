# virt-consolelog: sourced by the hook's and the command's launchers (hook-launcher.sh.in,
# cli-launcher.sh.in; installed as /usr/lib/virt-consolelog/ask-service.sh): hands one request to the
# capture service (virt-consolelog collect), which answers it in-process, so that no Node starts
# (src/hook-server/, docs/HOOK-SERVICE.md).
#
# ask_service KIND ARG...: KIND is argv (a hook event; ARG... is libvirt's argv, the domain XML this
# shell's stdin) or cli (the command's arguments; no input). Exits with the service's exit code once
# it answered. Returns, for the caller to start Node, when the service is not there, has not taken
# the request within $wait_s seconds, declined it or ended before it answered; for a hook event then
# with stdin on the saved XML when this function read it.
ask_service() {
  kind=$1
  shift
  srv=${VIRT_CONSOLELOG_HOOK_SERVER:-/run/virt-consolelog/hook-server}
  # Everything the service made is this user's (root's): nobody else can pose as the service.
  [ "$srv" != 0 ] && [ -p "$srv/requests" ] && [ ! -L "$srv" ] && [ -O "$srv" ] && [ -O "$srv/requests" ] &&
    [ -O "$srv/pid" ] || return 0
  spid=
  { read -r spid <"$srv/pid"; } 2>/dev/null
  case "$spid" in '' | *[!0-9]*) return 0 ;; esac
  kill -0 "$spid" 2>/dev/null || return 0
  req="$srv/$$"
  wait_s=${VIRT_CONSOLELOG_HOOK_SERVER_WAIT:-10}
  asked=
  set -C # files left by an earlier launcher with this pid are not reused: Node runs the request
  if { printf '%s\0' "$@" >"$req.$kind" && env -0 >"$req.env" && mkfifo -m 600 "$req.reply"; } 2>/dev/null; then
    asked=1
    # libvirt writes the whole XML and closes stdin; whoever renames this file runs the request.
    if [ "$kind" = argv ]; then
      cat >"$req.stdin" || asked=
    else
      { : >"$req.stdin"; } 2>/dev/null || asked=
    fi
  fi
  set +C
  if [ -n "$asked" ]; then
    # The watchdog: a service that has not taken the request in time loses it to Node here.
    # Killed once answered; its sleep goes with it rather than linger.
    (
      trap 'kill "$nap" 2>/dev/null; exit 0' TERM
      sleep "$wait_s" &
      nap=$!
      wait "$nap"
      # Read-write: the open never blocks, even once the launcher stopped reading.
      mv "$req.stdin" "$req.mine" 2>/dev/null && [ -p "$req.reply" ] && echo node 1<>"$req.reply"
    ) </dev/null >/dev/null 2>&1 &
    watchdog=$!
    echo "$$" 1<>"$srv/requests"
    code=
    { read -r code <"$req.reply"; } 2>/dev/null
    kill "$watchdog" 2>/dev/null
    case "$code" in
      [0-9] | [0-9][0-9] | [0-9][0-9][0-9])
        if [ -s "$req.out" ]; then cat "$req.out"; fi
        if [ -s "$req.err" ]; then cat "$req.err" >&2; fi
        if [ -e "$req.out" ] || [ -e "$req.err" ]; then rm -f "$req.out" "$req.err"; fi
        exit "$code"
        ;;
    esac
    # Not answered. A hook event taken and without an exit code: the service ended during it; Node
    # runs it again (a seal repeated seals nothing twice). The command's request has no input to keep.
    if [ "$kind" = argv ]; then
      if [ -e "$req.mine" ] || mv "$req.stdin" "$req.mine" 2>/dev/null; then
        exec <"$req.mine"
      elif [ -e "$req.taken" ]; then
        exec <"$req.taken"
      fi
    fi
  fi
  # Only this launcher's own files (the pid is its own); Node reads stdin from the open file.
  rm -f "$req.$kind" "$req.env" "$req.reply" "$req.stdin" "$req.mine" "$req.taken" "$req.out" "$req.err"
}
