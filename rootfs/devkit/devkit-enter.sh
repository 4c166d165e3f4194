#!/run/kata-extensions/devkit/bin/busybox.static sh
# shellcheck shell=dash
#
# devkit-enter (and its link devkit-sh, the debug console's shell): set up
# the devkit root (devkit-init) and start a shell in it. Without arguments a
# login shell; arguments (-c CMD, -i ...) go to the shell as they are.
# busybox's sh has no `[`: tests go through "$BB" test.

DEVKIT="${DEVKIT:-/run/kata-extensions/devkit}"
# shellcheck source=rootfs/devkit/devkit-init.sh
. "$DEVKIT/usr/bin/devkit-init"

devkit_setup_chroot || { "$BB" echo "devkit: cannot set up the devkit root in $WRITABLE" >&2; exit 1; }

shell=/bin/bash
"$BB" test -x "$MERGED$shell" || shell=/bin/sh
"$BB" test "$#" -eq 0 && set -- -l

# A UTS namespace of its own named "devkit", so the prompt says where you are
# while the guest keeps its name; a plain chroot where unshare is missing.
if "$BB" test -x "$MERGED/usr/bin/unshare"; then
	# shellcheck disable=SC2016 # "$@" expands in the inner shell
	exec "$BB" chroot "$MERGED" /usr/bin/unshare --uts /bin/sh -c \
		'hostname devkit 2>/dev/null || echo devkit >/proc/sys/kernel/hostname 2>/dev/null; exec "$@"' \
		devkit-sh "$shell" "$@"
fi
exec "$BB" chroot "$MERGED" "$shell" "$@"
