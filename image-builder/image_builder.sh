#!/usr/bin/env bash
# Upstream's image-builder/image_builder.sh, where kata-deploy calls it (the devkit extension):
# runs image.ts with the same arguments and environment.
set -euo pipefail
dir=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# The node modules on first use, as the Makefile's targets install them.
make -s -C "$dir" DISTRO=debian AGENT_INIT=no TEST_AGENT= node-modules >&2
exec node "$dir/scripts/launch.mjs" "$dir/image.ts" "$@"
