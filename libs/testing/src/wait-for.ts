/**
 * Waits on a condition instead of sleeping for a fixed time (kafkajs testHelpers' waitFor):
 * fast when the system is fast, patient when the machine is loaded, and it says what it was
 * waiting for when it gives up.
 */
export interface WaitForOptions {
  timeoutMs?: number;
  intervalMs?: number;
  /** What is awaited, for the timeout message. */
  description?: string;
}

export async function waitFor<T>(
  condition: () => T | undefined | false | null | Promise<T | undefined | false | null>,
  options: WaitForOptions = {},
): Promise<T> {
  const timeoutMs = options.timeoutMs ?? 30_000;
  const intervalMs = options.intervalMs ?? 50;
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const result = await condition();
      if (result !== undefined && result !== false && result !== null) return result;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() >= deadline) {
      const why = lastError instanceof Error ? ` (last error: ${lastError.message})` : '';
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${options.description ?? 'condition'}${why}`,
      );
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
