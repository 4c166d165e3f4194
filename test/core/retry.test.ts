// tier: unit
// The download retry: which tool lines count as transient, and the loop
// around real failing commands (no waiting: delays of 0 s).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { $ } from '../../lib/core/exec.ts';
import { DOWNLOAD_TRIES, retryDelaySeconds, transientLine, withDownloadRetries } from '../../lib/core/retry.ts';
import { stderrOf } from '../helpers/stderr.ts';

const TRANSIENT = [
  'E: Failed to fetch http://deb.debian.org/debian/pool/main/s/systemd/systemd_252.39-1~deb12u1_amd64.deb  File has unexpected size (4546776 != 4546784). Mirror sync in progress? [IP: 151.101.2.132 80]',
  'E: Failed to fetch http://deb.debian.org/debian/dists/bookworm/main/binary-amd64/by-hash/SHA256/0f1e  Hash Sum mismatch',
  "W: Failed to fetch http://deb.debian.org/debian/dists/bookworm/InRelease  Temporary failure resolving 'deb.debian.org'",
  'Err:1 http://127.0.0.1:8080/debian bookworm/main amd64 chrony amd64 4.3-2  503  Service Unavailable [IP: 127.0.0.1 8080]',
  'E: Could not connect to deb.debian.org:80 (151.101.2.132), connection timed out',
  "Error: Failed to download metadata for repo 'base': Cannot download repomd.xml: Cannot download repodata/repomd.xml: All mirrors were tried",
  'Curl error (28): Timeout was reached for http://mirror.example/repodata/repomd.xml [Connection timed out after 30001 milliseconds]',
  '[MIRROR] chrony-1.0-1.noarch.rpm: Status code: 502 for http://127.0.0.1:4000/chrony-1.0-1.noarch.rpm (IP: 127.0.0.1)',
  'WARNING: fetching https://dl-cdn.alpinelinux.org/alpine/v3.22/main: network error (check Internet connection and firewall)',
  'ERROR: busybox-1.37.0-r18: temporary error (try again later)',
  'curl: (22) The requested URL returned error: 503',
  'curl: (6) Could not resolve host: mirror.example',
  "E: Couldn't download packages: libc6 libgcc-s1",
  'ERROR: failed to solve: debian:bookworm: failed to resolve source metadata for docker.io/library/debian:bookworm: failed to do request: Head "https://registry-1.docker.io/v2/library/debian/manifests/bookworm": net/http: TLS handshake timeout',
  'Error: initializing source docker://fedora:42: pinging container registry registry.fedoraproject.org: Get "https://registry.fedoraproject.org/v2/": dial tcp: lookup registry.fedoraproject.org: Temporary failure in name resolution',
];

const PERMANENT = [
  'E: Unable to locate package no-such-package',
  "E: Package 'chrony' has no installation candidate",
  "E: Couldn't find these debs: no-such-package",
  'No match for argument: no-such-package',
  'Error: Unable to find a match: no-such-package',
  'ERROR: unable to select packages:\n  no-such-package (no such package):\n    required by: world[no-such-package]',
  "E: The repository 'http://127.0.0.1:8080/debian nosuite Release' does not have a Release file.",
  'W: GPG error: http://127.0.0.1:8080/debian bookworm InRelease: The following signatures could not be verified: NO_PUBKEY 6ED0E7B82643E131',
  'curl: (22) The requested URL returned error: 404',
  'E: Sub-process /usr/bin/dpkg returned an error code (1)',
  'ERROR: failed to solve: docker.io/library/no-such-image:1: not found',
  'Error: initializing source docker://quay.io/nobody/nothing:1: reading manifest 1 in quay.io/nobody/nothing: unauthorized: access to the requested resource is not authorized',
];

test('the tools\' transient download lines are recognised, and the line is returned', () => {
  for (const line of TRANSIENT) assert.is(transientLine(`some progress\n${line}\nE: mmdebstrap failed\n`), line, line);
});

test('a missing package, a missing suite, a bad signature, a 404 of curl: not transient', () => {
  for (const text of PERMANENT) assert.is(transientLine(text), undefined, text);
});

test('three tries with a growing delay', () => {
  assert.is(DOWNLOAD_TRIES, 3);
  assert.ok(retryDelaySeconds(3) > retryDelaySeconds(2) && retryDelaySeconds(2) > 0);
});

const noWait = { delaySeconds: () => 0 };
const failing = (line: string) => $`echo ${line} >&2; exit 100`;

test('a transient failure is retried, each retry one WARNING with the tool line; the step then completes', async () => {
  let calls = 0;
  let resets = 0;
  const line = TRANSIENT[0]!;
  const { stderr, error } = await stderrOf(() =>
    withDownloadRetries('mmdebstrap', async () => (++calls < 3 ? failing(line) : $`echo done`), { ...noWait, beforeRetry: () => void resets++ }));
  assert.is(error, undefined);
  assert.is(calls, 3);
  assert.is(resets, 2, 'the target is reset before each retry');
  const warnings = stderr.split('\n').filter((l) => l.startsWith('WARNING: '));
  assert.equal(warnings, [
    `WARNING: mmdebstrap failed with a transient download error (${line}); retry 2 of 3 in 0 s`,
    `WARNING: mmdebstrap failed with a transient download error (${line}); retry 3 of 3 in 0 s`,
  ]);
});

test('a transient failure that persists fails after three tries', async () => {
  let calls = 0;
  const { stderr, error } = await stderrOf(() => withDownloadRetries('dnf install', () => (calls++, failing(TRANSIENT[5]!)), noWait));
  assert.ok(error, 'the last failure is thrown');
  assert.is(calls, 3);
  assert.is(stderr.match(/^WARNING: dnf install failed/gm)?.length, 2);
});

test('a permanent failure is not retried', async () => {
  let calls = 0;
  const { stderr, error } = await stderrOf(() => withDownloadRetries('apk add', () => (calls++, failing(PERMANENT[5]!)), noWait));
  assert.ok(error);
  assert.is(calls, 1);
  assert.not.match(stderr, /WARNING/);
});

test('a command stopped by a signal is not retried, whatever it printed', async () => {
  let calls = 0;
  const { error } = await stderrOf(() => withDownloadRetries('apt-get download', () => (calls++, $`echo ${TRANSIENT[0]!} >&2; kill -TERM $$`), noWait));
  assert.ok(error);
  assert.is(calls, 1);
});

test.run();
