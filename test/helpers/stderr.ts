// What a piece of in-process code writes to stderr (its WARNING lines).

/** stderr written while `fn` runs, and what it threw. */
export async function stderrOf(fn: () => Promise<unknown>): Promise<{ stderr: string; error?: unknown }> {
  const write = process.stderr.write.bind(process.stderr);
  let stderr = '';
  process.stderr.write = ((chunk: string) => ((stderr += chunk), true)) as typeof process.stderr.write;
  try {
    await fn();
    return { stderr };
  } catch (error) {
    return { stderr, error };
  } finally {
    process.stderr.write = write;
  }
}
