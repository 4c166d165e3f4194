#!/run/kata-extensions/devkit/bin/busybox.static sh
# shellcheck shell=dash
#
# devkit-init: the functions devkit-enter sources to turn the read-only devkit
# extension into a writable root and run a command chrooted in it. Nothing
# runs at boot: the work happens when someone opens the debug console.
#
# The guest base has no shell and its libc may not be reachable, so every
# command here is an applet of the extension's static busybox ($BB), called by
# its full path.
#
# Layout (each overridable from the environment):
#   $DEVKIT    the mounted extension (read-only), the overlay's lower layer
#   $WRITABLE  a tmpfs of our own (/run is often noexec), holding
#              upper/ work/ (overlay) and merged/ (the root we chroot into)

EXTENSIONS_ROOT="${EXTENSIONS_ROOT:-/run/kata-extensions}"
DEVKIT="${DEVKIT:-$EXTENSIONS_ROOT/devkit}"
WRITABLE="${WRITABLE:-/run/kata-devkit-writable}"
BB="${BB:-$DEVKIT/bin/busybox.static}"
MERGED="$WRITABLE/merged"

# The console shell may start with no PATH at all: the chroot gets this one,
# plus the tool directories of the other mounted extensions.
DEVKIT_PATH="/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
DEVKIT_EXTENSION_DIRS="bin sbin usr/bin usr/sbin usr/local/bin usr/local/sbin"

devkit_mounted() {
	"$BB" grep -q " $1 " /proc/mounts 2>/dev/null
}

# The other extensions' tool directories as the guest sees them, so that
# `chroot /real_root <tool>` finds an extension's tool by name. The devkit
# itself is left out (it is the chroot's root), and so are names PATH cannot
# carry and directories that are links to one already listed.
devkit_extension_path() {
	dirs=""
	for ext in "$EXTENSIONS_ROOT"/*; do
		"$BB" test -d "$ext" || continue
		"$BB" test "$ext" = "$DEVKIT" && continue
		case "${ext##*/}" in *[!A-Za-z0-9._-]*) continue ;; esac
		for sub in $DEVKIT_EXTENSION_DIRS; do
			"$BB" test -d "$ext/$sub" || continue
			"$BB" test -L "$ext/$sub" && continue
			dirs="${dirs:+$dirs:}$ext/$sub"
		done
	done
	"$BB" echo "$dirs"
}

# The writable root: an overlay of the extension, or, on a kernel without
# overlayfs, a copy of it in the tmpfs (marked so it is made once).
devkit_make_root() {
	"$BB" mkdir -p "$WRITABLE"
	devkit_mounted "$WRITABLE" || "$BB" mount -t tmpfs -o mode=0755,size=2G devkit-writable "$WRITABLE" || return 1
	"$BB" mkdir -p "$WRITABLE/upper" "$WRITABLE/work" "$MERGED"
	devkit_mounted "$MERGED" && return 0
	"$BB" test -e "$WRITABLE/.copied" && return 0
	if why="$("$BB" mount -t overlay devkit "$MERGED" \
		-o "lowerdir=$DEVKIT,upperdir=$WRITABLE/upper,workdir=$WRITABLE/work" 2>&1)"; then
		return 0
	fi
	"$BB" echo "devkit: no overlay (${why:-no reason given}): copying the extension into $WRITABLE instead" >&2
	"$BB" cp -a "$DEVKIT/." "$MERGED/" && "$BB" touch "$WRITABLE/.copied"
}

# proc, sys and the guest's /dev (with pts) inside the root; /dev from a
# fresh devtmpfs (or a tmpfs) when it cannot be bound.
devkit_mount_kernel_fs() {
	"$BB" mkdir -p "$MERGED/proc" "$MERGED/sys" "$MERGED/dev"
	devkit_mounted "$MERGED/proc" || "$BB" mount -t proc proc "$MERGED/proc" || return 1
	devkit_mounted "$MERGED/sys" || "$BB" mount -t sysfs sysfs "$MERGED/sys" || return 1
	devkit_mounted "$MERGED/dev" && return 0
	"$BB" mount -o rbind /dev "$MERGED/dev" 2>/dev/null && return 0
	"$BB" mount -t devtmpfs devtmpfs "$MERGED/dev" 2>/dev/null || "$BB" mount -t tmpfs devkit-dev "$MERGED/dev" || return 1
	"$BB" mkdir -p "$MERGED/dev/pts"
	"$BB" mount -t devpts devpts "$MERGED/dev/pts" 2>/dev/null
	return 0
}

# Everything devkit-enter needs; safe to run again (each step checks first).
# Exports PATH for the chroot.
devkit_setup_chroot() {
	devkit_make_root || return 1
	devkit_mount_kernel_fs || return 1
	# The guest's resolver (the tree ships none), so apt and curl resolve names.
	if "$BB" test -e /etc/resolv.conf; then
		"$BB" mkdir -p "$MERGED/etc"
		"$BB" cp -L /etc/resolv.conf "$MERGED/etc/resolv.conf" 2>/dev/null
	fi
	# The guest's own root (container rootfses, agent state), through PID 1's
	# root: resolved by the kernel, so no bind mount to undo.
	"$BB" test -e "$MERGED/real_root" || "$BB" test -L "$MERGED/real_root" || "$BB" ln -s /proc/1/root "$MERGED/real_root"
	extra="$(devkit_extension_path)"
	PATH="$DEVKIT_PATH${extra:+:$extra}"
	export PATH
	return 0
}

# Run "$@" chrooted in the devkit root.
devkit_chroot_exec() {
	devkit_setup_chroot || { "$BB" echo "devkit: cannot set up the devkit root in $WRITABLE" >&2; return 1; }
	exec "$BB" chroot "$MERGED" "$@"
}
