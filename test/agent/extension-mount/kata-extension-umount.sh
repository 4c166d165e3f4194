#!/bin/sh
# kata-extension-umount.sh NAME: undo kata-extension-mount.sh NAME.
name=${1:?usage: kata-extension-umount.sh NAME}
dir=/run/kata-extensions/$name
if mountpoint -q "$dir"; then umount "$dir"; fi
if [ -e "/dev/mapper/extension-$name" ]; then veritysetup close "extension-$name" || true; fi
exit 0
