#!/bin/sh
# kata-extension-mount.sh NAME: mount guest extension image NAME read-only at
# /run/kata-extensions/NAME. The disk is the one whose virtio-blk serial is
# extension-NAME; p1 holds the erofs data, p2 (measured images) the dm-verity
# hash tree. The layout decides whether verification is due, cross-checked
# with kata.extension.NAME.verity_params on the kernel command line:
#   p2 and params: veritysetup open --no-superblock, mount the verity device
#   p2 alone, or params alone: refuse (exit 1; the unit powers the guest off)
#   neither: mount p1 (or the whole disk) as it is
set -u
name=${1:?usage: kata-extension-mount.sh NAME}
dir=/run/kata-extensions/$name
refuse() {
	echo "kata-extension-mount: ERROR: extension $name: $*" >&2
	exit 1
}

serial=extension-$name
dev=
tries=0
while [ -z "$dev" ]; do
	for f in /sys/block/*/serial; do
		[ -r "$f" ] && [ "$(cat "$f")" = "$serial" ] || continue
		dev=${f%/serial}
		dev=/dev/${dev##*/}
		break
	done
	[ -n "$dev" ] && break
	tries=$((tries + 1))
	[ $tries -le 50 ] || refuse "no block device with serial $serial"
	sleep 0.1
done

params=
for word in $(cat /proc/cmdline); do
	case $word in kata.extension.$name.verity_params=*) params=${word#*=} ;; esac
done

case $dev in *[0-9]) part=${dev}p ;; *) part=$dev ;; esac
data=${part}1
hash=${part}2

field() {
	old_ifs=$IFS
	IFS=,
	for kv in $params; do
		case $kv in "$1"=*) IFS=$old_ifs; echo "${kv#*=}"; return ;; esac
	done
	IFS=$old_ifs
}

if [ -b "$hash" ]; then
	[ -n "$params" ] || refuse "$dev has a dm-verity hash partition but the kernel command line gives no verity_params: refusing to mount it unverified"
	root=$(field root_hash)
	[ -n "$root" ] || refuse "verity_params carry no root_hash"
	salt=$(field salt)
	blocks=$(field data_blocks)
	data_bs=$(field data_block_size)
	hash_bs=$(field hash_block_size)
	dm=extension-$name
	veritysetup open "$data" "$dm" "$hash" "$root" --no-superblock --salt="${salt:--}" \
		${blocks:+--data-blocks="$blocks"} --data-block-size="${data_bs:-4096}" --hash-block-size="${hash_bs:-4096}" ||
		refuse "veritysetup open of $data with hash device $hash failed"
	src=/dev/mapper/$dm
	how="verified by dm-verity"
else
	[ -z "$params" ] || refuse "the kernel command line gives verity_params but $dev has no dm-verity hash partition: refusing to mount"
	src=$dev
	[ -b "$data" ] && src=$data
	how="unmeasured"
fi

mkdir -p "$dir"
mount -t erofs -o ro "$src" "$dir" || refuse "cannot mount $src (erofs) at $dir"
echo "kata-extension-mount: extension $name mounted at $dir ($how)"
