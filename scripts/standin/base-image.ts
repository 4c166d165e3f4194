// localhost/ubuntu:resolute: a minbase tree bootstrapped from the stand-in
// archive, its apt sources pointing at it and its keyring trusting it, so the
// ubuntu Dockerfile.in builds with IMAGE_REGISTRY=localhost.
import { rmSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Engine } from '../../lib/container/engine.ts';
import { $ } from '../../lib/core/exec.ts';
import { step } from '../../lib/core/log.ts';
import { KEYRING_NAME, STANDIN_SUITE } from './archive.ts';

export const STANDIN_IMAGE = `localhost/ubuntu:${STANDIN_SUITE}`;
const LABEL = 'org.osbuilder-ts.standin';

/** The base tarball (stdin closed: mmdebstrap reads more mirrors from a stdin that is not a terminal): mmdebstrap minbase of `repoUrl` (the archive's URL), trusting `keyring`. */
export async function makeStandinBaseTar(repoUrl: string, keyring: string, tar: string): Promise<void> {
  const trusted = `/etc/apt/trusted.gpg.d/${KEYRING_NAME}`;
  const args = [
    // apt named: minbase from an archive mmdebstrap does not know as Debian's leaves it out.
    '--mode=root', '--variant=minbase', '--include=apt', `--keyring=${keyring}`, '--components=main,universe',
    `--customize-hook=mkdir -p "$1"${dirname(trusted)}`, `--customize-hook=upload ${keyring} ${trusted}`, `--customize-hook=chmod 0644 "$1"${trusted}`, STANDIN_SUITE, tar, repoUrl,
  ];
  await step(`mmdebstrap --variant=minbase ${STANDIN_SUITE} from ${repoUrl}`, () =>
    $`mmdebstrap ${args} </dev/null`.catch((e) => {
      rmSync(tar, { force: true });
      throw e;
    }));
}

/** Whether the engine has `image` made from the inputs `key` (its stand-in label). */
export async function hasStandinImage(engine: Engine, env: Record<string, string>, image: string, key: string): Promise<boolean> {
  const have = await $({ env: { ...process.env, ...env }, nothrow: true })`${engine} image inspect --format ${`{{index .Config.Labels "${LABEL}"}}`} ${image}`;
  return have.exitCode === 0 && have.stdout.trim() === key;
}

/** The Dockerfile line that labels a stand-in image built from the inputs `key`. */
export const standinLabelLine = (key: string) => `LABEL ${LABEL}=${key}`;

/** Import the tarball as `image` (STANDIN_IMAGE) unless the engine has it from the same tarball (`key`). */
export async function ensureStandinImage(engine: Engine, env: Record<string, string>, tar: string, key: string, image = STANDIN_IMAGE): Promise<void> {
  const opts = { env: { ...process.env, ...env } };
  if (await hasStandinImage(engine, env, image, key)) return;
  await step(`Importing ${image} into ${engine}`, () =>
    $(opts)`${engine} import --change ${standinLabelLine(key)} - ${image} < ${tar}`);
}
