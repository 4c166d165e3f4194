// The stand-in Ubuntu archive (Debian bookworm's packages published as
// `resolute`, signed with a throwaway key) and localhost/ubuntu:resolute.
//
//   tsx scripts/ubuntu-standin.ts make docker|podman   makes both (the archive in the test cache)
//   tsx scripts/ubuntu-standin.ts serve                serves the archive until Ctrl-C
//
// Then: DISTRO=ubuntu OS_VERSION=resolute REPO_URL=<printed> APT_KEYRING=<printed>
// (host build), or USE_DOCKER=1 IMAGE_REGISTRY=localhost (container build).
import { isMain, runMain } from '../lib/core/cli.ts';
import { die, info, ok } from '../lib/core/log.ts';
import { startEngine } from './engines.ts';
import { ensureStandinImage, STANDIN_IMAGE } from './standin/base-image.ts';
import { serveStandin, standinArchive, standinBaseTar } from './standin/standin.ts';

async function main(): Promise<void> {
  const [command, engine] = process.argv.slice(2);
  const archive = await standinArchive();
  const served = await serveStandin(archive);
  const vars = `REPO_URL=${served.repoUrl} APT_KEYRING=${served.keyring}`;
  if (command === 'serve') {
    info(`serving ${archive.root} until Ctrl-C: DISTRO=ubuntu OS_VERSION=resolute ${vars}`);
    await new Promise(() => {});
  }
  try {
    if (command !== 'make' || (engine !== 'docker' && engine !== 'podman')) die('usage: scripts/ubuntu-standin.ts make docker|podman | serve');
    const { tar, key } = await standinBaseTar(served);
    await ensureStandinImage(engine, (await startEngine(engine)).env, tar, key);
    ok(`${STANDIN_IMAGE} in ${engine}, archive in ${archive.root}; serve it with: tsx scripts/ubuntu-standin.ts serve`);
    process.stdout.write(`${vars}\n`);
  } finally {
    await served.stop();
  }
}

if (isMain(import.meta.url)) await runMain(main);
