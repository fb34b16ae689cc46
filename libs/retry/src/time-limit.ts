/**
 * Bounds a wait. Every place that must answer someone — a gateway's ACK waiting on Kafka, a
 * readiness probe waiting on a dependency — gives up after a deadline instead of hanging, and
 * says what it waited for through the error it is given.
 */
export function withTimeout<T>(
  promise: Promise<T>,
  ms: number,
  onTimeout: () => Error,
): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      reject(onTimeout());
    }, ms);
  });
  return Promise.race([promise, deadline]).finally(() => {
    clearTimeout(timer);
  });
}
