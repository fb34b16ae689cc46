import { Hl7Message } from '@ancillary/hl7-core';
import { waitFor } from '@ancillary/testing';
import { oru, orus } from '../test/hl7-fixtures';
import {
  ackFor,
  freePort,
  LOOPBACK,
  recordingHooks,
  ScriptedReceiver,
  type Script,
} from '../test/mllp-test-kit';
import { backoffDelayMs } from '@ancillary/retry';
import { MllpClient, type MllpClientOptions } from './mllp.client';
import {
  MllpClientClosedError,
  MllpConnectionError,
  MllpInvalidMessageError,
  MllpNackError,
  MllpTimeoutError,
} from './mllp.errors';
import { MllpResult, MllpServer } from './mllp.server';

/** Retries quick enough for tests; the policy itself is the production one. */
const FAST_RETRY = { initialDelayMs: 5, maxDelayMs: 50, multiplier: 2 };

describe('MllpClient', () => {
  const cleanups: (() => Promise<unknown>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  async function receiver(script: Script, port?: number): Promise<ScriptedReceiver> {
    const r = await ScriptedReceiver.start(script, port);
    cleanups.push(() => r.close());
    return r;
  }

  function client(port: number, options: Partial<MllpClientOptions> = {}) {
    const hooks = recordingHooks();
    const c = new MllpClient({
      host: LOOPBACK,
      port,
      ackTimeoutMs: 2_000,
      retry: { ...FAST_RETRY, maxAttempts: 3 },
      hooks,
      ...options,
    });
    cleanups.push(() => c.close());
    return { client: c, hooks };
  }

  const answer =
    (code: string): Script =>
    (f, socket) =>
      socket.write(ackFor(f, code));

  it('sends a message and resolves with its AA, the attempt count and the latency', async () => {
    const peer = await receiver(answer('AA'));
    const { client: c, hooks } = client(peer.port);
    const result = await c.send(oru());
    expect(result.code).toBe('AA');
    expect(result.ack.get('MSA-2')).toBe('MSG00001');
    expect(result.attempts).toBe(1);
    expect(result.latencyMs).toBeGreaterThan(0);
    expect(result.totalMs).toBeGreaterThanOrEqual(result.latencyMs);
    expect(peer.frames.map((f) => f.toString('latin1'))).toEqual([oru()]);
    expect(hooks.framesOut).toEqual([oru().length]);
    expect(hooks.latencies).toEqual([{ seconds: expect.any(Number) as number, code: 'AA' }]);
    expect(hooks.connections).toEqual(['open']);
  });

  it('keeps one connection for many messages and sends them one at a time, in order', async () => {
    let inFlight = 0;
    let maxInFlight = 0;
    const peer = await receiver((f, socket) => {
      inFlight += 1;
      maxInFlight = Math.max(maxInFlight, inFlight);
      setImmediate(() => {
        inFlight -= 1;
        socket.write(ackFor(f, 'AA'));
      });
    });
    const { client: c } = client(peer.port);
    const results = await Promise.all(orus(10).map((m) => c.send(m)));
    expect(results.map((r) => r.ack.get('MSA-2'))).toEqual(
      orus(10).map((m) => Hl7Message.parse(m).controlId),
    );
    expect(peer.frames.map((f) => Hl7Message.parse(f).controlId)).toEqual(
      results.map((r) => r.ack.get('MSA-2')),
    );
    expect(maxInFlight).toBe(1);
    expect(peer.connections).toBe(1);
  });

  it('resends the same bytes after the connection dropped mid-ACK; the caller sees one success', async () => {
    const peer = await receiver((f, socket, n) => {
      if (n === 1) {
        // stored, but the connection dies while the ACK is on its way
        socket.end(ackFor(f, 'AA').subarray(0, 20), () => socket.destroy());
      } else {
        socket.write(ackFor(f, 'AA'));
      }
    });
    const { client: c, hooks } = client(peer.port);
    const result = await c.send(oru());
    expect(result).toMatchObject({ code: 'AA', attempts: 2 });
    expect(peer.frames).toHaveLength(2);
    expect(peer.frames[1]!.equals(peer.frames[0]!)).toBe(true);
    expect(Hl7Message.parse(peer.frames[1]!).controlId).toBe('MSG00001');
    expect(hooks.retries).toEqual([{ attempt: 2, reason: 'socket' }]);
  });

  it('after an ACK timeout, reconnects and resends the same bytes', async () => {
    const peer = await receiver((f, socket, n) => {
      if (n > 1) socket.write(ackFor(f, 'AA'));
      // the first frame is never answered
    });
    const { client: c, hooks } = client(peer.port, { ackTimeoutMs: 100 });
    const result = await c.send(Buffer.from(oru(), 'latin1'));
    expect(result).toMatchObject({ code: 'AA', attempts: 2 });
    expect(peer.frames).toHaveLength(2);
    expect(peer.frames[0]!.toString('latin1')).toBe(oru());
    expect(peer.frames[1]!.equals(peer.frames[0]!)).toBe(true);
    expect(peer.connections).toBe(2);
    expect(hooks.errors).toContain('ack-timeout');
  });

  it('gives up after the attempts with a typed timeout error', async () => {
    const peer = await receiver(() => undefined);
    const { client: c } = client(peer.port, { ackTimeoutMs: 50 });
    const error = await c.send(oru()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MllpTimeoutError);
    expect(error).toMatchObject({ retriable: true, attempts: 3, controlId: 'MSG00001' });
    expect(peer.frames).toHaveLength(3);
  });

  it('rejects at once on AR, without a retry, with the peer’s error text', async () => {
    const peer = await receiver((f, socket) =>
      socket.write(ackFor(f, 'AR', 'Unknown patient identifier')),
    );
    const { client: c, hooks } = client(peer.port);
    const error = await c.send(oru()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MllpNackError);
    expect(error).toMatchObject({
      ackCode: 'AR',
      retriable: false,
      attempts: 1,
      errorText: 'Unknown patient identifier',
    });
    expect(peer.frames).toHaveLength(1);
    expect(hooks.retries).toEqual([]);
  });

  it('retries AE from a real MllpServer, then gives up after maxAttempts with a typed error', async () => {
    const received: Buffer[] = [];
    const server = new MllpServer({
      host: LOOPBACK,
      port: 0,
      handler: (_message, context) => {
        received.push(context.raw);
        throw new Error('broker unavailable');
      },
    });
    const { port } = await server.listen();
    cleanups.push(() => server.close());
    const { client: c, hooks } = client(port, { retry: { ...FAST_RETRY, maxAttempts: 4 } });

    const error = await c.send(oru()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MllpNackError);
    expect(error).toMatchObject({ ackCode: 'AE', retriable: true, attempts: 4 });
    expect((error as MllpNackError).errorText).toContain('resend');
    expect(received).toHaveLength(4);
    expect(new Set(received.map((b) => b.toString('latin1')))).toEqual(new Set([oru()]));
    expect(hooks.retries.map((r) => r.reason)).toEqual(['nack', 'nack', 'nack']);
  });

  it('succeeds when an AE is followed by AA on the resend', async () => {
    const peer = await receiver((f, socket, n) => socket.write(ackFor(f, n === 1 ? 'AE' : 'AA')));
    const { client: c } = client(peer.port);
    await expect(c.send(oru())).resolves.toMatchObject({ code: 'AA', attempts: 2 });
    // an AE is an answer: the connection is kept
    expect(peer.connections).toBe(1);
  });

  it('queues messages while the receiver is down and sends them in FIFO order when it is back', async () => {
    const port = await freePort();
    const { client: c, hooks } = client(port, {
      retry: { initialDelayMs: 10, maxDelayMs: 50, multiplier: 2, maxAttempts: 100 },
    });
    const sends = orus(4).map((m) => c.send(m));
    await waitFor(() => hooks.errors.filter((k) => k === 'socket').length >= 2, {
      description: 'connection refused twice',
    });
    expect(c.pending).toBe(4);

    const handled: string[] = [];
    const server = new MllpServer({
      host: LOOPBACK,
      port,
      handler: (message) => {
        handled.push(message.controlId);
        return MllpResult.accept();
      },
    });
    await server.listen();
    cleanups.push(() => server.close());

    const results = await Promise.all(sends);
    expect(results.every((r) => r.code === 'AA')).toBe(true);
    expect(handled).toEqual(['MSG00001', 'MSG00002', 'MSG00003', 'MSG00004']);
    expect(results[0]!.attempts).toBeGreaterThan(2);
    expect(results.slice(1).map((r) => r.attempts)).toEqual([1, 1, 1]);
  });

  it('reconnects lazily after the receiver closed an idle connection', async () => {
    const server = new MllpServer({
      host: LOOPBACK,
      port: 0,
      idleTimeoutMs: 50,
      handler: () => MllpResult.accept(),
    });
    const { port } = await server.listen();
    cleanups.push(() => server.close());
    const { client: c, hooks } = client(port);
    await c.send(oru());
    await waitFor(() => hooks.connections.includes('close'), { description: 'idle close' });
    await expect(c.send(oru({ controlId: 'MSG00002' }))).resolves.toMatchObject({
      code: 'AA',
      attempts: 1,
    });
    expect(hooks.connections).toEqual(['open', 'close', 'open']);
  });

  it('ignores an ACK for another control id and waits for the right one', async () => {
    const peer = await receiver((f, socket) => {
      socket.write(
        Buffer.concat([ackFor(Buffer.from(oru({ controlId: 'STALE' })), 'AA'), ackFor(f, 'AA')]),
      );
    });
    const { client: c, hooks } = client(peer.port);
    const result = await c.send(oru());
    expect(result.ack.get('MSA-2')).toBe('MSG00001');
    expect(hooks.errors).toEqual(['unexpected-ack']);
  });

  it('refuses what it cannot send, without writing anything', async () => {
    const peer = await receiver(answer('AA'));
    const { client: c } = client(peer.port);
    await expect(c.send('not HL7 at all')).rejects.toBeInstanceOf(MllpInvalidMessageError);
    await expect(c.send(oru({ controlId: '' }))).rejects.toBeInstanceOf(MllpInvalidMessageError);
    await expect(c.send(oru({ acceptAck: 'NE' }))).rejects.toBeInstanceOf(MllpInvalidMessageError);
    expect(peer.frames).toEqual([]);
  });

  it('close() rejects queued messages that were never written and refuses new ones', async () => {
    const peer = await receiver(() => undefined);
    // The first message waits for an ACK that never comes; close() must be called before that
    // wait ends, or the client writes the second. 1 s leaves room on a loaded CI machine (at
    // 100 ms, a late poll let the second go out and time out instead of being refused).
    const { client: c } = client(peer.port, { ackTimeoutMs: 1000, retry: { maxAttempts: 1 } });
    const first = c.send(oru()).catch((e: unknown) => e);
    const second = c.send(oru({ controlId: 'MSG00002' })).catch((e: unknown) => e);
    await waitFor(() => peer.frames.length === 1);
    await c.close();
    expect(await first).toBeInstanceOf(MllpTimeoutError);
    expect(await second).toBeInstanceOf(MllpClientClosedError);
    await expect(c.send(oru())).rejects.toBeInstanceOf(MllpClientClosedError);
    expect(peer.frames).toHaveLength(1);
  });

  it('reports an unreachable receiver as a retriable connection error', async () => {
    const port = await freePort();
    const { client: c } = client(port, { retry: { ...FAST_RETRY, maxAttempts: 2 } });
    const error = await c.send(oru()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MllpConnectionError);
    expect(error).toMatchObject({ retriable: true, attempts: 2 });
  });

  it('backs off exponentially with full jitter, capped', () => {
    const policy = { maxAttempts: 10, initialDelayMs: 100, maxDelayMs: 1_000, multiplier: 2 };
    expect([1, 2, 3, 4, 5].map((n) => backoffDelayMs(policy, n, () => 1))).toEqual([
      100, 200, 400, 800, 1_000,
    ]);
    expect(backoffDelayMs(policy, 3, () => 0)).toBe(0);
  });
});
