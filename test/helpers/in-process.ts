// Run a script's main() inside the test process, as its own process would
// run it (runMain: one ERROR line and exit code 1 on failure, the cleanups),
// without the ~1 s of a tsx start-up. Tests that check the real process
// (its exit, no stack trace) still spawn it once per script.
import { configureOutput, runMain } from '../../lib/core/cli.ts';
import { stopPlanMode } from '../../lib/core/exec.ts';
import { withOutput } from './stderr.ts';

export interface InProcessRun {
  exitCode: number;
  stdout: string;
  stderr: string;
}

const SIGNALS = ['SIGINT', 'SIGTERM'] as const;

/** Make process.env hold exactly `env` (in place: modules keep their reference); returns the undo. */
function swapEnv(env: NodeJS.ProcessEnv): () => void {
  const saved = { ...process.env };
  const fill = (from: NodeJS.ProcessEnv) => {
    for (const k of Object.keys(process.env)) delete process.env[k];
    Object.assign(process.env, from);
  };
  fill(env);
  return () => fill(saved);
}

/**
 * What `main` writes and the exit code its process would end with; `env` is
 * the process's environment meanwhile (code that reads process.env, not the
 * env given to main, sees it too). The process's state is put back after.
 */
export async function runInProcess(main: () => Promise<void>, env: NodeJS.ProcessEnv = process.env): Promise<InProcessRun> {
  const restoreEnv = swapEnv(env);
  const listeners = SIGNALS.map((s) => process.listeners(s));
  const exitCode = process.exitCode;
  process.exitCode = undefined;
  try {
    let stderr = '';
    const { text: stdout } = await withOutput(process.stdout, async () => {
      stderr = (await withOutput(process.stderr, () => runMain(main))).text;
    });
    return { exitCode: Number(process.exitCode ?? 0), stdout, stderr };
  } finally {
    restoreEnv();
    process.exitCode = exitCode;
    // runMain's signal handlers would otherwise pile up, one pair per run.
    SIGNALS.forEach((s, i) => process.listeners(s).forEach((l) => listeners[i]!.includes(l) || process.off(s, l)));
    // A plan (--dry-run) leaves its mode on; main() set the output form from its own settings.
    stopPlanMode();
    configureOutput({ debug: false });
  }
}
