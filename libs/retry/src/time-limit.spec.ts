import { withTimeout } from './time-limit';

describe('withTimeout', () => {
  it('passes the result through when the promise settles in time', async () => {
    await expect(withTimeout(Promise.resolve(42), 1_000, () => new Error('late'))).resolves.toBe(
      42,
    );
    await expect(
      withTimeout(Promise.reject(new Error('own')), 1_000, () => new Error('late')),
    ).rejects.toThrow('own');
  });

  it('rejects with the given error once the deadline passes', async () => {
    class Late extends Error {}
    const never = new Promise<never>(() => undefined);
    await expect(
      withTimeout(never, 20, () => new Late('no answer within 20 ms')),
    ).rejects.toBeInstanceOf(Late);
  });
});
