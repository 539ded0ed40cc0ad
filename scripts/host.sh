# shellcheck shell=bash
# Helpers for the scripts that prepare a host for tinykube (sourced, not run).
# They decide whether this host may be changed (root on Debian/Ubuntu) and either install Debian
# packages with apt-get or stop with the exact command the user should run instead.

# Where the OS is described; overridable so the scripts' tests can pretend to be another OS.
TK_OS_RELEASE="${TK_OS_RELEASE:-/etc/os-release}"

tk_log() {
	printf 'tinykube: %s\n' "$*" >&2
}

tk_die() {
	local line
	for line in "$@"; do
		printf 'tinykube: %s\n' "$line" >&2
	done
	exit 1
}

tk_is_root() {
	[ "$(id -u)" = 0 ]
}

# True on Debian, Ubuntu and their derivatives, where apt-get and Debian's package names apply.
tk_is_debian_like() {
	command -v apt-get >/dev/null 2>&1 || return 1
	[ -r "$TK_OS_RELEASE" ] || return 1
	local id="" id_like=""
	# shellcheck source=/dev/null
	id="$(. "$TK_OS_RELEASE" && printf '%s' "${ID:-}")"
	# shellcheck source=/dev/null
	id_like="$(. "$TK_OS_RELEASE" && printf '%s' "${ID_LIKE:-}")"
	case " $id $id_like " in
	*" debian "* | *" ubuntu "*) return 0 ;;
	esac
	return 1
}

_tk_apt_updated=""

# Install Debian packages without questions. Callers check tk_may_install first.
tk_apt_install() {
	if [ -z "$_tk_apt_updated" ]; then
		tk_log "apt-get update"
		DEBIAN_FRONTEND=noninteractive apt-get update -q >&2 || tk_die "apt-get update failed"
		_tk_apt_updated=1
	fi
	tk_log "apt-get install $*"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@" >&2 ||
		tk_die "apt-get install $* failed"
}

# True when the scripts may install system packages themselves: root on Debian/Ubuntu.
tk_may_install() {
	tk_is_root && tk_is_debian_like
}

# Install PKG... when allowed, otherwise stop with the exact command to run. WHY says what needs them.
tk_need_packages() {
	local why="$1"
	shift
	if tk_may_install; then
		tk_log "$why: installing $*"
		tk_apt_install "$@"
	elif tk_is_debian_like; then
		tk_die "$why: the package(s) $* are missing. Run:" \
			"    sudo apt-get update && sudo apt-get install -y $*" \
			"then run the same make command again."
	else
		tk_die "$why: install your distribution's equivalent of the Debian package(s) $*," \
			"then run the same make command again."
	fi
}
