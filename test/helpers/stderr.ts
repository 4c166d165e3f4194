// What a piece of in-process code writes to stderr (its WARNING lines) or stdout (its INFO lines).

/** What `stream` received while `fn` ran, `fn`'s value, and what it threw. */
async function writtenTo<T>(stream: NodeJS.WriteStream, fn: () => Promise<T>): Promise<{ text: string; value?: T; error?: unknown }> {
  const write = stream.write.bind(stream);
  let text = '';
  stream.write = ((chunk: string) => ((text += String(chunk)), true)) as typeof stream.write;
  try {
    const value = await fn();
    return { text, value };
  } catch (error) {
    return { text, error };
  } finally {
    stream.write = write;
  }
}

/** stderr written while `fn` runs, and what it threw. */
export async function stderrOf(fn: () => Promise<unknown>): Promise<{ stderr: string; error?: unknown }> {
  const r = await writtenTo(process.stderr, fn);
  return { stderr: r.text, ...('error' in r ? { error: r.error } : {}) };
}

/** `fn`'s value and what it wrote to `stream`; what it throws is thrown on. */
export async function withOutput<T>(stream: NodeJS.WriteStream, fn: () => Promise<T>): Promise<{ text: string; value: T }> {
  const r = await writtenTo(stream, fn);
  if ('error' in r) throw r.error;
  return { text: r.text, value: r.value as T };
}
