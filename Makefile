# osbuilder-ts: the front door, with the upstream osbuilder targets.
MK_DIR         := $(shell dirname $(realpath $(lastword $(MAKEFILE_LIST))))
# tsx's loader in one node process: the tsx command would start a second one.
TSX            := node --import $(MK_DIR)/node_modules/tsx/dist/loader.mjs
# The builders run from a bundle cached per user (scripts/launch.mjs): no tsx start-up.
LAUNCH         := node $(MK_DIR)/scripts/launch.mjs
ROOTFS_BUILDER := $(LAUNCH) $(MK_DIR)/rootfs.ts
IMAGE_BUILDER  := $(LAUNCH) $(MK_DIR)/image.ts
INITRD_BUILDER := $(LAUNCH) $(MK_DIR)/initrd.ts
TEST_RUNNER    := $(TSX) $(MK_DIR)/test-images.ts

# A fresh checkout has no node modules: install them on first use, and again
# when package-lock.json is newer (a symlinked node_modules is managed elsewhere).
NODE_MODULES   := $(MK_DIR)/node_modules/.package-lock.json

DISTRO               ?= ubuntu
BUILD_METHOD         := distro
BUILD_METHOD_LIST    := distro
AGENT_INIT           ?= no
USE_DOCKER           ?=
ROOTFS_BUILD_DEST    := $(shell pwd)
IMAGES_BUILD_DEST    := $(shell pwd)
ROOTFS_MARKER_SUFFIX := _rootfs.done
ROOTFS_MANIFEST_SUFFIX := _rootfs.manifest.json
TARGET_ROOTFS        := $(ROOTFS_BUILD_DEST)/$(DISTRO)_rootfs
TARGET_ROOTFS_MARKER := $(ROOTFS_BUILD_DEST)/.$(DISTRO)$(ROOTFS_MARKER_SUFFIX)
TARGET_IMAGE         := $(IMAGES_BUILD_DEST)/kata-containers.img
TARGET_INITRD        := $(IMAGES_BUILD_DEST)/kata-containers-initrd.img

VERSION_FILE   := $(MK_DIR)/VERSION
VERSION        := $(shell grep -v ^\# $(VERSION_FILE) 2>/dev/null || echo "unknown")
COMMIT_NO      := $(shell git -C $(MK_DIR) rev-parse HEAD 2>/dev/null || true)
COMMIT         := $(if $(shell git -C $(MK_DIR) status --porcelain --untracked-files=no 2>/dev/null || true),$(COMMIT_NO)-dirty,$(COMMIT_NO))
VERSION_COMMIT := $(if $(COMMIT),$(VERSION)-$(COMMIT),$(VERSION))

export AGENT_INIT USE_DOCKER

# TEST_AGENT=yes: build with the test stand-in agent (test/agent/test-agent.c,
# which prints KATA-TEST-AGENT-READY and powers off) for trying things
# without Kata sources; `make test-agent` builds it.
TEST_AGENT     ?=
TEST_AGENT_BIN := $(MK_DIR)/out/test-agent/kata-agent
ifeq ($(TEST_AGENT),yes)
  ifneq ($(filter-out $(TEST_AGENT_BIN),$(AGENT_SOURCE_BIN)),)
    $(error ERROR: TEST_AGENT=yes and AGENT_SOURCE_BIN=$(AGENT_SOURCE_BIN) both name an agent: drop one)
  endif
  export AGENT_SOURCE_BIN := $(TEST_AGENT_BIN)
endif
ROOTFS_AGENT_DEP := $(if $(filter yes,$(TEST_AGENT)),$(TEST_AGENT_BIN))

# Bad settings stop make before any target runs, with one ERROR line.
DISTROS := $(sort $(notdir $(patsubst %/config.ts,%,$(wildcard $(MK_DIR)/rootfs/*/config.ts))))
ifeq ($(filter $(BUILD_METHOD),$(BUILD_METHOD_LIST)),)
  $(error ERROR: BUILD_METHOD=$(BUILD_METHOD) is not valid: use one of $(BUILD_METHOD_LIST))
endif
ifeq ($(filter $(DISTRO),$(DISTROS)),)
  $(error ERROR: DISTRO=$(DISTRO) is not a supported distro: use one of $(DISTROS))
endif
ifeq ($(filter $(or $(TEST_AGENT),no),yes no),)
  $(error ERROR: TEST_AGENT=$(TEST_AGENT) is not valid: use yes or no)
endif
ifeq ($(filter $(or $(AGENT_INIT),no),yes no),)
  $(error ERROR: AGENT_INIT=$(AGENT_INIT) is not valid: use yes or no)
endif

.PHONY: all
all: image initrd

$(NODE_MODULES): $(MK_DIR)/package-lock.json
	@if [ -L $(MK_DIR)/node_modules ] && [ -e $@ ]; then exit 0; fi; \
	if ! command -v npm >/dev/null; then \
		echo 'ERROR: the node modules of $(MK_DIR) are not installed and npm is missing: run make setup' >&2; exit 1; fi; \
	echo 'INFO: installing the node modules (npm ci in $(MK_DIR)): $(if $(wildcard $@),package-lock.json changed,first use of this checkout)'; \
	cd $(MK_DIR) && npm ci --no-audit --no-fund --loglevel=error && touch -c $@

# For the scripts at upstream's paths (rootfs-builder/rootfs.sh, ...).
.PHONY: node-modules
node-modules: $(NODE_MODULES)

rootfs-%: $(ROOTFS_BUILD_DEST)/.%$(ROOTFS_MARKER_SUFFIX)
	@ # not a cancellation rule

.PHONY: FORCE
FORCE:

# rootfs.ts runs every time: it skips the build when the manifest beside the
# rootfs shows unchanged inputs. The marker takes the manifest's time, so what
# is built from the rootfs is remade only after a rebuild.
.PRECIOUS: $(ROOTFS_BUILD_DEST)/.%$(ROOTFS_MARKER_SUFFIX)
$(ROOTFS_BUILD_DEST)/.%$(ROOTFS_MARKER_SUFFIX):: rootfs/% FORCE | $(ROOTFS_AGENT_DEP) $(NODE_MODULES)
	@echo 'Creating rootfs for "$*"'
	$(ROOTFS_BUILDER) -o $(VERSION_COMMIT) -d -r $(ROOTFS_BUILD_DEST)/$*_rootfs $*
	@if [ -e $(ROOTFS_BUILD_DEST)/.$*$(ROOTFS_MANIFEST_SUFFIX) ]; then \
		touch -r $(ROOTFS_BUILD_DEST)/.$*$(ROOTFS_MANIFEST_SUFFIX) $@; else touch $@; fi

# Drop DISTRO's rootfs, manifest and marker: the next rootfs-DISTRO builds
# afresh. (FORCE_REBUILD=yes rebuilds too, keeping the old tree until the new
# one is complete.)
invalidate-rootfs-%: rootfs/%
	DISTRO=$* $(RM_TREES) $(ROOTFS_BUILD_DEST)/$*_rootfs $(ROOTFS_BUILD_DEST)/.$*$(ROOTFS_MANIFEST_SUFFIX) \
		$(ROOTFS_BUILD_DEST)/.$*$(ROOTFS_MARKER_SUFFIX)

image-%: $(IMAGES_BUILD_DEST)/kata-containers-image-%.img
	@ # not a cancellation rule

.PRECIOUS: $(IMAGES_BUILD_DEST)/kata-containers-image-%.img
$(IMAGES_BUILD_DEST)/kata-containers-image-%.img: $(ROOTFS_BUILD_DEST)/.%$(ROOTFS_MARKER_SUFFIX)
	@echo 'Creating image based on $(ROOTFS_BUILD_DEST)/$*_rootfs'
	$(IMAGE_BUILDER) -o $@ $(ROOTFS_BUILD_DEST)/$*_rootfs

initrd-%: $(IMAGES_BUILD_DEST)/kata-containers-initrd-%.img
	@ # not a cancellation rule

.PRECIOUS: $(IMAGES_BUILD_DEST)/kata-containers-initrd-%.img
$(IMAGES_BUILD_DEST)/kata-containers-initrd-%.img: $(ROOTFS_BUILD_DEST)/.%$(ROOTFS_MARKER_SUFFIX)
	@echo 'Creating initrd image based on $(ROOTFS_BUILD_DEST)/$*_rootfs'
	$(INITRD_BUILDER) -o $@ $(ROOTFS_BUILD_DEST)/$*_rootfs

.PHONY: rootfs
rootfs: $(TARGET_ROOTFS_MARKER)

.PHONY: image
image: $(TARGET_IMAGE)

$(TARGET_IMAGE): $(TARGET_ROOTFS_MARKER)
	@echo 'Creating image based on "$(TARGET_ROOTFS)"'
	$(IMAGE_BUILDER) -o $@ "$(TARGET_ROOTFS)"

.PHONY: initrd
initrd: $(TARGET_INITRD)

$(TARGET_INITRD): $(TARGET_ROOTFS_MARKER)
	@echo 'Creating initrd image based on "$(TARGET_ROOTFS)"'
	$(INITRD_BUILDER) -o $@ "$(TARGET_ROOTFS)"

.PHONY: test test-image-only test-initrd-only
test test-image-only test-initrd-only test-s390x test-ppc64le list-distros clean-cache: | $(NODE_MODULES)
test:
	$(TEST_RUNNER)
test-image-only:
	$(TEST_RUNNER) --test-images-only
test-initrd-only:
	$(TEST_RUNNER) --test-initrds-only

# s390x and ppc64le guests built on this host (qemu-user) and their initrds
# booted in TCG: too slow for CI, run by hand (aarch64 is in npm test).
.PHONY: test-s390x test-ppc64le
test-s390x test-ppc64le: test-%:
	ARCH=$* $(TEST_RUNNER) --test-initrds-only

.PHONY: list-distros
list-distros:
	@$(ROOTFS_BUILDER) -l

# Set up a fresh Debian host (apt packages, npm modules).
.PHONY: setup
setup:
	$(MK_DIR)/scripts/setup-host.sh

# The project's own test suite (unit and end-to-end), after setting the host up.
.PHONY: check
check: setup
	cd $(MK_DIR) && npm test

# The test stand-in agent, static, for TEST_AGENT=yes or AGENT_SOURCE_BIN.
.PHONY: test-agent
test-agent: $(TEST_AGENT_BIN)
	@echo 'Test agent: $(TEST_AGENT_BIN)'
	@echo 'Use it with: make TEST_AGENT=yes image-debian, or export AGENT_SOURCE_BIN=$(TEST_AGENT_BIN)'

$(TEST_AGENT_BIN): $(MK_DIR)/test/agent/test-agent.c
	@mkdir -p $(@D)
	gcc -static -Os -s -o $@.tmp $< && mv $@.tmp $@

# The test agent as an AGENT_TARBALL laid out as the agent's `make install`
# (INIT=no): usr/bin/kata-agent plus our kata-extension-mount generator, unit
# and scripts (test/agent/extension-mount), for composable-guest bases.
TEST_AGENT_TARBALL := $(MK_DIR)/out/test-agent/kata-static-agent.tar.zst
EXTENSION_MOUNT := $(MK_DIR)/test/agent/extension-mount
.PHONY: test-agent-tarball
test-agent-tarball: $(TEST_AGENT_TARBALL)
	@echo 'Test agent tarball: $(TEST_AGENT_TARBALL)'
	@echo 'Use it with: make AGENT_TARBALL=$(TEST_AGENT_TARBALL) AGENT_INIT=no image-debian'

$(TEST_AGENT_TARBALL): $(TEST_AGENT_BIN) $(wildcard $(EXTENSION_MOUNT)/*)
	rm -rf $@.stage
	install -D -m 0755 $(TEST_AGENT_BIN) $@.stage/usr/bin/kata-agent
	install -D -m 0644 $(EXTENSION_MOUNT)/kata-extension-mount@.service $@.stage/usr/lib/systemd/system/kata-extension-mount@.service
	install -D -m 0755 $(EXTENSION_MOUNT)/kata-extension-mount-generator $@.stage/usr/lib/systemd/system-generators/kata-extension-mount-generator
	install -D -m 0755 -t $@.stage/usr/libexec $(EXTENSION_MOUNT)/kata-extension-mount.sh $(EXTENSION_MOUNT)/kata-extension-umount.sh
	tar --zstd --owner=0 --group=0 --sort=name -cf $@.tmp -C $@.stage usr && mv $@.tmp $@ && rm -rf $@.stage

# End to end: a Debian guest with the test agent, built and booted in QEMU.
.PHONY: demo
demo: setup
	$(TSX) $(MK_DIR)/scripts/demo.ts

DESTDIR       := /
KATADIR       := /usr/libexec/kata-containers
OSBUILDER_DIR := $(KATADIR)/osbuilder
INSTALL_DIR   := $(DESTDIR)/$(OSBUILDER_DIR)
SCRIPTS       := rootfs.ts image.ts initrd.ts sbom.ts boot.ts scripts/launch.mjs \
                 rootfs-builder/rootfs.sh image-builder/image_builder.sh initrd-builder/initrd_builder.sh
# What the scripts load or read when they run (lib.ts, lib/ with its C and
# JSON files, every distro folder), and the Makefile whose node-modules
# target the upstream-path scripts call on first use.
HELPER_FILES   = Makefile package.json package-lock.json tsconfig.json VERSION lib.ts image-builder/Dockerfile \
                 $(patsubst $(MK_DIR)/%,%,$(shell find $(MK_DIR)/lib $(MK_DIR)/rootfs -type f))

.PHONY: install-scripts
install-scripts:
	@echo "Installing scripts"
	@$(foreach f,$(SCRIPTS),install -m 755 -D $(MK_DIR)/$(f) $(INSTALL_DIR)/$(f);)
	@echo "Installing helper files"
	@$(foreach f,$(HELPER_FILES),install -m 644 -D $(MK_DIR)/$(f) $(INSTALL_DIR)/$(f);)

# A non-root caller's trees are root's (built in a container): removed through one.
RM_TREES := $(if $(filter 0,$(shell id -u)),rm -rf,$(TSX) $(MK_DIR)/scripts/remove-trees.ts)

.PHONY: clean
clean:
	$(RM_TREES) $(TARGET_ROOTFS_MARKER) $(TARGET_ROOTFS) $(TARGET_IMAGE) $(TARGET_INITRD)
	$(RM_TREES) $(ROOTFS_BUILD_DEST)/.*$(ROOTFS_MARKER_SUFFIX) $(ROOTFS_BUILD_DEST)/*_rootfs
	rm -f $(ROOTFS_BUILD_DEST)/.*$(ROOTFS_MANIFEST_SUFFIX)
	rm -f $(IMAGES_BUILD_DEST)/kata-containers-image-*.img $(IMAGES_BUILD_DEST)/kata-containers-initrd-*.img
	rm -f $(TARGET_IMAGE).cdx.json $(TARGET_INITRD).cdx.json \
		$(IMAGES_BUILD_DEST)/kata-containers-image-*.img.cdx.json $(IMAGES_BUILD_DEST)/kata-containers-initrd-*.img.cdx.json

# What the test suite and the demo leave on disk: the test cache, ./out,
# and the private dockerd's data (only while that dockerd is stopped).
# `make clean` removes build outputs; the user cache is the `clean-cache` target's.
TEST_CACHE_DIR   := $(or $(OSBUILDER_TEST_CACHE),/var/cache/osbuilder-ts-test)
TEST_DOCKER_DATA := /var/lib/osbuilder-ts/docker
.PHONY: clean-test-data
clean-test-data:
	@if [ -S /run/osbuilder-ts/docker.sock ]; then \
		echo 'ERROR: the private dockerd is running: stop it with npx tsx scripts/engines.ts stop docker, then run make clean-test-data again' >&2; \
		exit 1; fi
	rm -rf $(TEST_CACHE_DIR) $(MK_DIR)/out $(TEST_DOCKER_DATA)

# Empty the user cache dir (${XDG_CACHE_HOME:-~/.cache}/osbuilder-ts): cached
# distro trees, downloaded packages, kernels. The next builds start cold.
.PHONY: clean-cache
clean-cache:
	$(TSX) $(MK_DIR)/scripts/clean-cache.ts

print-%:
	@echo $($*)
