// The build container's Dockerfile, generated from the distro's
// Dockerfile.in (an architecture-specific Dockerfile-<arch>.in wins).
import { existsSync, readFileSync } from 'node:fs';
import { writeFileAtomic } from '../core/atomic-write.ts';
import { join } from 'node:path';
import type { RootfsContext } from '../rootfs/types.ts';
import { die } from '../core/log.ts';

interface DockerfileValues {
  osVersion: string;
  httpProxy: string;
}

/**
 * The proxy line of SET_PROXY: dnf/yum read their proxy from their config
 * (apt-based images take http_proxy from the build args).
 */
function setProxyLine(httpProxy: string): string {
  return httpProxy ? `RUN sed -i '$ a proxy=${httpProxy}' /etc/dnf/dnf.conf /etc/yum.conf; true` : '';
}

/**
 * Upstream's templates install Rust and musl (@INSTALL_RUST@, @INSTALL_MUSL@)
 * to build the agent in the container; here the container runs only the
 * distro stage and the agent is a prebuilt one installed by setupRootfs, so
 * the image needs no toolchain and a template naming them is refused.
 */
const TOOLCHAIN_PLACEHOLDERS = ['INSTALL_RUST', 'INSTALL_MUSL'];

/** Fill the placeholders @OS_VERSION@ and @SET_PROXY@. */
export function generateDockerfileText(template: string, v: DockerfileValues): string {
  const values: Record<string, string> = {
    OS_VERSION: v.osVersion,
    SET_PROXY: setProxyLine(v.httpProxy),
  };
  const toolchain = TOOLCHAIN_PLACEHOLDERS.find((name) => template.includes(`@${name}@`));
  if (toolchain) {
    die(`@${toolchain}@ in Dockerfile.in: osbuilder-ts never builds the agent in the build container (it installs a prebuilt one, AGENT_TARBALL or AGENT_SOURCE_BIN, after the distro stage), so the image needs no Rust or musl toolchain: remove the line`);
  }
  const out = template.replace(/@([A-Z_]+)@/g, (whole, name: string) => values[name] ?? whole);
  const left = out.match(/@[A-Z_]+@/);
  if (left) die(`unknown placeholder ${left[0]} in Dockerfile.in: use one of ${Object.keys(values).map((k) => `@${k}@`).join(' ')}`);
  return out;
}

/** Dockerfile-<arch>.in when present, else Dockerfile.in. */
export function dockerfileTemplate(configDir: string, arch: string): string {
  const specific = join(configDir, `Dockerfile-${arch}.in`);
  if (existsSync(specific)) return specific;
  const generic = join(configDir, 'Dockerfile.in');
  if (!existsSync(generic)) die(`${configDir} has no Dockerfile.in: add one to build this distro in a container`);
  return generic;
}

/** A template whose `ARG IMAGE_REGISTRY` has no default needs IMAGE_REGISTRY (pure). */
export function needsImageRegistry(template: string): boolean {
  return /^ARG IMAGE_REGISTRY\s*$/m.test(template);
}

export function dockerfileFor(ctx: RootfsContext): string {
  const path = dockerfileTemplate(ctx.configDir, ctx.arch);
  const template = readFileSync(path, 'utf8');
  if (needsImageRegistry(template) && !ctx.settings.imageRegistry) {
    die(`${ctx.distroName}'s base image is not on the engine's default registry: set IMAGE_REGISTRY to the registry that serves it (see ${path})`);
  }
  return generateDockerfileText(template, { osVersion: ctx.osVersion, httpProxy: ctx.settings.httpProxy });
}

/** Write `<dir>/Dockerfile` (upstream generate_dockerfile); returns its path. */
export function generateDockerfile(dir: string, ctx: RootfsContext): string {
  const file = join(dir, 'Dockerfile');
  writeFileAtomic(file, dockerfileFor(ctx));
  return file;
}
