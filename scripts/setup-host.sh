#!/usr/bin/env bash
# Install what osbuilder-ts and its tests need on a Debian 12 host: the host
# tools (package managers, mkfs, qemu, container engines) and the npm modules.
# Idempotent; safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
	# rootfs builders
	debootstrap mmdebstrap dnf rpm createrepo-c git make gcc libc6-dev
	# rootless builds: newuidmap/newgidmap (README "Building without root")
	uidmap
	# image and initrd
	e2fsprogs xfsprogs erofs-utils cryptsetup-bin fdisk cpio pigz zstd parted
	# getfattr (the builders look for xattrs); ACLs and file capabilities of the test trees
	attr acl libcap2-bin
	# boot checks
	qemu-system-x86 busybox-static
	# foreign architectures: qemu-user runs the guest's maintainer scripts, the
	# cross compilers build the test agent, each architecture's QEMU boots it
	qemu-user-static binfmt-support arch-test qemu-system-arm qemu-system-misc qemu-system-ppc
	gcc-aarch64-linux-gnu gcc-s390x-linux-gnu gcc-powerpc64le-linux-gnu
	libc6-dev-arm64-cross libc6-dev-s390x-cross libc6-dev-ppc64el-cross
	# container engines
	docker.io podman iptables
	# the stand-in Ubuntu archive: its signing key, the address it is served on
	gpg gpg-agent gpgconf iproute2
)

# Run a long command with its output kept aside: a progress line every 10 s,
# its duration at the end, its output only when it fails.
with_progress() {
	local title=$1 log start=$SECONDS last=$SECONDS rc=0 pid
	shift
	log=$(mktemp)
	"$@" >"$log" 2>&1 &
	pid=$!
	while kill -0 "$pid" 2>/dev/null; do
		sleep 1
		if ((SECONDS - last >= 10)); then
			last=$SECONDS
			echo "INFO: … $title: $((SECONDS - start)) s, still running"
		fi
	done
	wait "$pid" || rc=$?
	if ((rc)); then
		cat "$log" >&2
		rm -f "$log"
		echo "ERROR: $title failed (exit $rc)" >&2
		return "$rc"
	fi
	rm -f "$log"
	echo "[OK] $title ($((SECONDS - start)) s)"
}

missing=()
for p in "${packages[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
	echo "INFO: installing host packages: ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	with_progress 'apt-get update' apt-get update -qq
	with_progress "apt-get install (${#missing[@]} packages)" apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

if [[ ! -d node_modules ]] || [[ package-lock.json -nt node_modules/.package-lock.json ]]; then
	echo "INFO: installing npm modules"
	with_progress 'npm ci' npm ci --no-audit --no-fund --loglevel=error
fi
echo "[OK] host set up"
