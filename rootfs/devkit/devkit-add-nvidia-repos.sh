#!/bin/bash
#
# devkit-add-nvidia-repos: run inside the devkit shell to add NVIDIA's CUDA
# apt repository, so that NVIDIA userspace (nvidia-smi's package,
# cuda-toolkit ...) can be installed on demand with apt-get.
#
# The repository is the one pinned in Kata's versions.yaml
# (externals.nvidia.cuda.repo.<arch>.url and .pkg), filled in when the devkit
# was built. A devkit built without that entry has none, and this script
# refuses rather than guess an unpinned URL.
set -euo pipefail

repo_url='__CUDA_REPO_URL__'
keyring_pkg='__CUDA_REPO_PKG__'

fail() {
	echo "devkit-add-nvidia-repos: $*" >&2
	exit 1
}

[[ -n "$repo_url" && -n "$keyring_pkg" && "$repo_url" != __* ]] ||
	fail "this devkit was built without a CUDA repository pin: rebuild it with KATA_VERSIONS_FILE pointing at a versions.yaml that has externals.nvidia.cuda.repo.<arch>.url and .pkg"
[[ -r /etc/os-release ]] || fail "no /etc/os-release: run me in the devkit shell (devkit-sh)"
# shellcheck disable=SC1091
. /etc/os-release
[[ "${ID:-}" == ubuntu ]] || fail "the CUDA repository is for an Ubuntu devkit, this one is '${ID:-unknown}'"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
echo "devkit-add-nvidia-repos: adding $repo_url"
# NVIDIA's keyring package installs the repository's key and its sources entry.
curl -fsSL -o "$work/$keyring_pkg" "$repo_url/$keyring_pkg"
dpkg -i "$work/$keyring_pkg"
apt-get update
echo "devkit-add-nvidia-repos: done; e.g. apt-get install -y cuda-toolkit, or nvidia-utils-<version> for nvidia-smi"
