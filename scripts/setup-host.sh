#!/usr/bin/env bash
# Install what osbuilder-ts and its tests need on a Debian 12 host: the host
# tools (package managers, mkfs, qemu, container engines) and the npm modules.
# Idempotent; safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
	# rootfs builders
	debootstrap mmdebstrap dnf rpm createrepo-c git make gcc libc6-dev
	# image and initrd
	e2fsprogs xfsprogs erofs-utils cryptsetup-bin fdisk cpio pigz zstd parted
	# boot checks
	qemu-system-x86 busybox-static
	# foreign architectures: qemu-user runs the guest's maintainer scripts, the
	# cross compilers build the test agent, each architecture's QEMU boots it
	qemu-user-static binfmt-support arch-test qemu-system-arm qemu-system-misc qemu-system-ppc
	gcc-aarch64-linux-gnu gcc-s390x-linux-gnu gcc-powerpc64le-linux-gnu
	libc6-dev-arm64-cross libc6-dev-s390x-cross libc6-dev-ppc64el-cross
	# container engines
	docker.io podman iptables
)

missing=()
for p in "${packages[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
	echo "INFO: installing host packages: ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [[ ! -d node_modules ]] || [[ package-lock.json -nt node_modules/.package-lock.json ]]; then
	echo "INFO: installing npm modules"
	npm ci --no-audit --no-fund --loglevel=error
fi
echo "[OK] host set up"
