// The variables every script reads the same way, declared once: DEBUG, the
// output form (NO_COLOR, TERM), the engine choice (USE_DOCKER, USE_PODMAN,
// DOCKER_RUNTIME, IMAGE_REGISTRY), the proxies in both cases, SOURCE_DATE_EPOCH
// and ARCH. Each script's table takes the entries it needs by spreading them;
// `container` says which enter a build container (see containerEnv in cli.ts).
import { checkArch } from './arch.ts';
import { type SettingSpec, sourceDateEpoch, text, truthy } from './cli.ts';

/** What decides how the scripts write: DEBUG and the terminal's wishes. */
export const outputSettings = {
  debug: { env: 'DEBUG', default: false, parse: truthy, container: 'always', help: 'print every command run (and, on an unexpected error, its stack)' } as SettingSpec<boolean>,
  noColor: { env: 'NO_COLOR', default: '', parse: text, help: 'any value: progress as plain lines, no colour or escape codes' } as SettingSpec<string>,
  term: { env: 'TERM', default: '', parse: text, help: 'dumb: progress as plain lines, as with NO_COLOR' } as SettingSpec<string>,
};

/** USE_DOCKER / USE_PODMAN: which engine runs the build container (USE_DOCKER wins). */
export const engineSettings = {
  useDocker: { env: 'USE_DOCKER', default: false, parse: truthy, help: 'build inside a Docker container' } as SettingSpec<boolean>,
  usePodman: { env: 'USE_PODMAN', default: false, parse: truthy, help: 'build inside a Podman container (when USE_DOCKER is unset)' } as SettingSpec<boolean>,
  dockerRuntime: { env: 'DOCKER_RUNTIME', default: 'runc', parse: text, help: 'container runtime for the build container' } as SettingSpec<string>,
  imageRegistry: { env: 'IMAGE_REGISTRY', default: '', parse: text, help: "registry of the build container's base image (default: the Dockerfile's default)" } as SettingSpec<string>,
};

/**
 * The proxies: build args of every build image and variables of its run.
 * The lower-case http/https forms are always passed (as upstream); the others
 * only when set, so that an unset one stays unset for the tools inside.
 */
export const proxySettings = {
  httpProxy: { env: 'http_proxy', default: '', parse: text, container: 'always', help: 'HTTP proxy passed to the build' } as SettingSpec<string>,
  httpsProxy: { env: 'https_proxy', default: '', parse: text, container: 'always', help: 'HTTPS proxy passed to the build' } as SettingSpec<string>,
  noProxy: { env: 'no_proxy', default: '', parse: text, container: 'set', help: 'hosts reached without the proxy, passed to the build' } as SettingSpec<string>,
  httpProxyUpper: { env: 'HTTP_PROXY', default: '', parse: text, container: 'set', help: 'upper-case form of http_proxy, passed to the build as well' } as SettingSpec<string>,
  httpsProxyUpper: { env: 'HTTPS_PROXY', default: '', parse: text, container: 'set', help: 'upper-case form of https_proxy, passed to the build as well' } as SettingSpec<string>,
  noProxyUpper: { env: 'NO_PROXY', default: '', parse: text, container: 'set', help: 'upper-case form of no_proxy, passed to the build as well' } as SettingSpec<string>,
};

export const sourceDateEpochSetting: SettingSpec<number | undefined> = {
  env: 'SOURCE_DATE_EPOCH', default: undefined, parse: sourceDateEpoch, container: 'set',
  help: 'reproducible build: fixed creation time (seconds since 1970), later timestamps clamped to it',
};

export const archSetting: SettingSpec<string> = {
  env: 'ARCH', default: '', parse: (raw, name) => checkArch(raw, name), container: 'always',
  help: "target architecture as `uname -m` prints it: x86_64, aarch64, ppc64le or s390x (default: the host's)",
};

/** Everything a script that can run a build container shares. */
export const containerScriptSettings = { ...outputSettings, ...engineSettings, ...proxySettings };
