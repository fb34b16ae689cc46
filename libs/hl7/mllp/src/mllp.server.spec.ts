import { Hl7Message, type AckCode } from '@ancillary/hl7-core';
import { captureLogger, waitFor } from '@ancillary/testing';
import { oru, orus } from '../test/hl7-fixtures';
import {
  deferred,
  frame,
  LOOPBACK,
  RawSender,
  recordingHooks,
  selfSignedCertificate,
} from '../test/mllp-test-kit';
import { MllpClient } from './mllp.client';
import { MllpRejectError } from './mllp.errors';
import {
  MllpResult,
  MllpServer,
  type MllpHandler,
  type MllpMessageContext,
  type MllpServerOptions,
} from './mllp.server';

const accept: MllpHandler = () => MllpResult.accept();

describe('MllpServer', () => {
  const cleanups: (() => Promise<unknown>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  async function start(options: Partial<MllpServerOptions> = {}) {
    const captured = captureLogger('mllp-test');
    const hooks = recordingHooks();
    const server = new MllpServer({
      host: LOOPBACK,
      port: 0,
      handler: accept,
      logger: captured.logger,
      hooks,
      ...options,
    });
    const { port } = await server.listen();
    cleanups.push(() => server.close());
    const connect = async () => {
      const sender = await RawSender.connect(port);
      cleanups.push(() => sender.destroy());
      return sender;
    };
    const logs = (msg: string) => captured.lines().filter((l) => l['msg'] === msg);
    return { server, port, hooks, connect, logs };
  }

  const codes = (acks: Hl7Message[]) => acks.map((a) => [a.get('MSA-1'), a.get('MSA-2')]);

  it('answers AA to a message written byte by byte, after handing it and its bytes over', async () => {
    const received: [Hl7Message, MllpMessageContext][] = [];
    const { connect, hooks, port } = await start({
      handler: (message, context) => {
        received.push([message, context]);
        return MllpResult.accept();
      },
    });
    const sender = await connect();
    await sender.writeByteByByte(frame(oru()));

    const [ack] = await sender.waitForReplies(1);
    expect(codes([ack!])).toEqual([['AA', 'MSG00001']]);
    expect(received).toHaveLength(1);
    const [message, context] = received[0]!;
    expect(message.controlId).toBe('MSG00001');
    expect(message.get('PID-5.1')).toBe('DOE');
    expect(context.raw.toString('latin1')).toBe(oru());
    expect(context.sequence).toBe(1);
    expect(context.connection).toMatchObject({
      remoteAddress: LOOPBACK,
      localPort: port,
      tls: false,
    });
    expect(hooks.framesIn).toEqual([oru().length]);
    expect(hooks.latencies).toEqual([{ seconds: expect.any(Number) as number, code: 'AA' }]);
  });

  it("sends the handler's own application acknowledgement (ORR^O02 with ORC-3) instead of an ACK", async () => {
    const { connect } = await start({
      handler: (message) =>
        MllpResult.accept(
          undefined,
          Hl7Message.parse(
            [
              'MSH|^~\\&|SIMLIS|NWH-LAB|HUB|NWH|20260101000000||ORR^O02^ORR_O02|R1|P|2.5.1',
              `MSA|AA|${message.controlId}`,
              'ORC|OK|PL-1^HUB|FL-77^SIMLIS',
            ].join('\r'),
          ),
        ),
    });
    const sender = await connect();
    await sender.write(frame(oru()));
    const [reply] = await sender.waitForReplies(1);
    expect(reply!.messageType).toBe('ORR^O02');
    expect(codes([reply!])).toEqual([['AA', 'MSG00001']]);
    expect(reply!.get('ORC-3')).toBe('FL-77');
  });

  it('answers several frames written in one chunk one by one, in order, never concurrently', async () => {
    let running = 0;
    let maxRunning = 0;
    const order: string[] = [];
    const { connect } = await start({
      handler: async (message) => {
        running += 1;
        maxRunning = Math.max(maxRunning, running);
        // the later messages finish faster: only sequential handling keeps them in order
        await new Promise<void>((resolve) => setImmediate(resolve));
        order.push(message.controlId);
        running -= 1;
        return MllpResult.accept();
      },
    });
    const sender = await connect();
    await sender.write(Buffer.concat(orus(5).map(frame)));

    const acks = await sender.waitForReplies(5);
    expect(codes(acks)).toEqual(
      ['MSG00001', 'MSG00002', 'MSG00003', 'MSG00004', 'MSG00005'].map((id) => ['AA', id]),
    );
    expect(order).toEqual(['MSG00001', 'MSG00002', 'MSG00003', 'MSG00004', 'MSG00005']);
    expect(maxRunning).toBe(1);
  });

  it('sends the ACK only after the handler’s promise resolved', async () => {
    const stored = deferred();
    const started = deferred();
    const events: string[] = [];
    const { connect } = await start({
      handler: async (message) => {
        if (message.controlId === 'SLOW') {
          started.resolve();
          await stored.promise;
          events.push('stored');
        }
        return MllpResult.accept();
      },
    });
    const slow = await connect();
    slow.socket.on('data', () => events.push('ack'));
    await slow.write(frame(oru({ controlId: 'SLOW' })));
    await started.promise;

    // another connection is answered meanwhile: the server is not merely slow
    const other = await connect();
    await other.write(frame(oru({ controlId: 'FAST' })));
    await other.waitForReplies(1);
    expect(slow.replies).toHaveLength(0);

    stored.resolve();
    const [ack] = await slow.waitForReplies(1);
    expect(ack!.get('MSA-1')).toBe('AA');
    expect(events).toEqual(['stored', 'ack']);
  });

  describe('handler failures are never answered AA', () => {
    it('a handler that throws is answered AE with an ERR', async () => {
      const { connect, hooks, logs } = await start({
        handler: () => {
          throw new Error('Kafka: not enough in-sync replicas');
        },
      });
      const sender = await connect();
      await sender.write(frame(oru()));
      const [ack] = await sender.waitForReplies(1);
      expect(codes([ack!])).toEqual([['AE', 'MSG00001']]);
      expect(ack!.get('ERR-3.1')).toBe('207');
      // the internal reason stays in our logs, not in the sender's ACK
      expect(ack!.toString()).not.toContain('in-sync');
      expect(logs('MLLP handler failed: answering AE/CE')).toHaveLength(1);
      expect(hooks.errors).toContain('handler');
      expect(hooks.latencies.map((l) => l.code)).toEqual(['AE']);
    });

    it('in enhanced mode (MSH-15/16 valued) the same failure is answered CE', async () => {
      const { connect } = await start({
        handler: () => Promise.reject(new Error('broker unavailable')),
      });
      const sender = await connect();
      await sender.write(frame(oru({ acceptAck: 'AL', applicationAck: 'NE' })));
      await sender.write(
        frame(oru({ controlId: 'MSG00002', acceptAck: 'AL', applicationAck: 'NE' })),
      );
      const acks = await sender.waitForReplies(2);
      expect(codes(acks)).toEqual([
        ['CE', 'MSG00001'],
        ['CE', 'MSG00002'],
      ]);
    });

    it('an accepted enhanced-mode message is answered CA', async () => {
      const { connect } = await start();
      const sender = await connect();
      await sender.write(frame(oru({ acceptAck: 'AL', applicationAck: 'AL' })));
      expect(codes(await sender.waitForReplies(1))).toEqual([['CA', 'MSG00001']]);
    });

    it('a handler that returns no decision is answered AE', async () => {
      const { connect, logs } = await start({
        handler: (() => undefined) as unknown as MllpHandler,
      });
      const sender = await connect();
      await sender.write(frame(oru()));
      expect(codes(await sender.waitForReplies(1))).toEqual([['AE', 'MSG00001']]);
      expect(logs('MLLP handler returned no decision: answering AE/CE, never AA')).toHaveLength(1);
    });

    it('a content rejection is answered AR with the handler’s ERR', async () => {
      const { connect } = await start({
        handler: (message) => {
          if (message.messageType.startsWith('ADT')) {
            return MllpResult.reject([
              { hl7ErrorCode: '200', severity: 'E', text: 'ADT is not accepted here' },
            ]);
          }
          throw new MllpRejectError('no such patient', [
            { hl7ErrorCode: '204', segment: 'PID', field: 3, text: 'Unknown patient identifier' },
          ]);
        },
      });
      const sender = await connect();
      await sender.write(frame(oru({ messageType: 'ADT^A01' })));
      await sender.write(frame(oru({ controlId: 'MSG00002' })));
      const [adt, oruAck] = await sender.waitForReplies(2);
      expect(codes([adt!, oruAck!])).toEqual([
        ['AR', 'MSG00001'],
        ['AR', 'MSG00002'],
      ]);
      expect(adt!.get('ERR-3.1')).toBe('200');
      expect(oruAck!.get('ERR-3.1')).toBe('204');
      expect(oruAck!.get('ERR-2.1')).toBe('PID');
    });

    it('an error that says retriable=false is answered AR (CR in enhanced mode)', async () => {
      const permanent = Object.assign(new Error('OBX-3 code not mapped'), { retriable: false });
      const { connect } = await start({ handler: () => Promise.reject(permanent) });
      const sender = await connect();
      await sender.write(frame(oru()));
      await sender.write(frame(oru({ controlId: 'MSG00002', acceptAck: 'AL' })));
      expect(codes(await sender.waitForReplies(2))).toEqual([
        ['AR', 'MSG00001'],
        ['CR', 'MSG00002'],
      ]);
    });

    it('a handler past its timeout is answered AE, and the next frame waits for it', async () => {
      const release = deferred();
      const events: string[] = [];
      const { connect, hooks } = await start({
        handlerTimeoutMs: 50,
        handler: async (message) => {
          if (message.controlId === 'MSG00001') {
            await release.promise;
            events.push('first settled');
          } else {
            events.push('second started');
          }
          return MllpResult.accept();
        },
      });
      const sender = await connect();
      await sender.write(Buffer.concat(orus(2).map(frame)));
      const [first] = await sender.waitForReplies(1);
      expect(codes([first!])).toEqual([['AE', 'MSG00001']]);
      expect(hooks.errors).toContain('handler-timeout');
      expect(events).toEqual([]);
      release.resolve();
      const acks = await sender.waitForReplies(2);
      expect(codes(acks)[1]).toEqual(['AA', 'MSG00002']);
      expect(events).toEqual(['first settled', 'second started']);
    });
  });

  describe('bad input gets a clear answer and the connection stays usable', () => {
    it('an unparseable frame is answered AR with an ERR; the next message is answered AA', async () => {
      const kept: Buffer[] = [];
      const { connect, hooks } = await start({
        onUnparseable: (raw) => {
          kept.push(raw);
        },
      });
      const sender = await connect();
      await sender.write(frame('this is not HL7'));
      await sender.write(frame(oru({ controlId: 'MSG00002' })));
      const [reject, ack] = await sender.waitForReplies(2);
      expect(reject!.get('MSA-1')).toBe('AR');
      expect(reject!.get('ERR-3.1')).toMatch(/^\d{3}$/);
      expect(codes([ack!])).toEqual([['AA', 'MSG00002']]);
      expect(kept.map((b) => b.toString())).toEqual(['this is not HL7']);
      expect(hooks.errors).toContain('parse');
      expect(sender.isOpen).toBe(true);
    });

    it('an unparseable frame whose bytes could not be kept is answered AE, so the sender keeps it', async () => {
      const { connect } = await start({
        onUnparseable: () => Promise.reject(new Error('dead-letter topic unavailable')),
      });
      const sender = await connect();
      const broken = oru().replace('MSH|^~\\&', 'MSH|');
      await sender.write(frame(broken));
      const [reply] = await sender.waitForReplies(1);
      expect(reply!.get('MSA-1')).toBe('AE');
    });

    it('an end block without its CR is answered AR, and the frame after it is answered', async () => {
      const { connect, hooks } = await start();
      const sender = await connect();
      const withoutCr = frame(oru()).subarray(0, -1);
      await sender.write(Buffer.concat([withoutCr, frame(oru({ controlId: 'MSG00002' }))]));
      const [reject, ack] = await sender.waitForReplies(2);
      expect(reject!.get('MSA-1')).toBe('AR');
      expect(codes([ack!])).toEqual([['AA', 'MSG00002']]);
      expect(hooks.errors).toContain('framing');
    });

    it('junk between frames is discarded and counted', async () => {
      const { connect, hooks } = await start();
      const sender = await connect();
      await sender.write(Buffer.concat([Buffer.from('\n\n'), frame(oru()), Buffer.from('\n')]));
      await sender.write(frame(oru({ controlId: 'MSG00002' })));
      expect(codes(await sender.waitForReplies(2))).toEqual([
        ['AA', 'MSG00001'],
        ['AA', 'MSG00002'],
      ]);
      expect(hooks.errors.filter((k) => k === 'junk')).toHaveLength(2);
    });

    it('an oversize frame is refused with AR and the connection closed, after earlier frames are answered', async () => {
      const handled: string[] = [];
      const { connect, hooks, logs } = await start({
        maxFrameBytes: 1024,
        handler: (message) => {
          handled.push(message.controlId);
          return MllpResult.accept();
        },
      });
      const sender = await connect();
      const big = frame(oru({ controlId: 'BIG', note: 'x'.repeat(4096) }));
      await sender.write(Buffer.concat([frame(oru()), big, frame(oru({ controlId: 'AFTER' }))]));
      await sender.closed;

      expect(codes(sender.replies)).toEqual([
        ['AA', 'MSG00001'],
        ['AR', 'BIG'],
      ]);
      expect(handled).toEqual(['MSG00001']);
      expect(hooks.errors).toContain('oversize');
      expect(logs('MLLP frame too large: refused, closing the connection')).toEqual([
        expect.objectContaining({ level: 'warn', maxFrameBytes: 1024 }),
      ]);
    });
  });

  it('closes a connection that stays quiet past the idle timeout', async () => {
    const { connect, hooks } = await start({ idleTimeoutMs: 100 });
    const sender = await connect();
    await sender.write(frame(oru()));
    await sender.waitForReplies(1);
    await sender.closed;
    expect(hooks.errors).toContain('idle-timeout');
    await waitFor(() => hooks.connections.length === 2, { description: 'close reported' });
    expect(hooks.connections).toEqual(['open', 'close']);
  });

  it('does not count time spent in the handler as idle', async () => {
    const release = deferred();
    const { connect, hooks } = await start({
      idleTimeoutMs: 50,
      handler: async () => {
        await release.promise;
        return MllpResult.accept();
      },
    });
    const sender = await connect();
    await sender.write(frame(oru()));
    // a second connection opens and is closed for idleness while the first handler still runs
    const other = await connect();
    await other.closed;
    expect(sender.isOpen).toBe(true);
    release.resolve();
    expect(codes(await sender.waitForReplies(1))).toEqual([['AA', 'MSG00001']]);
    expect(hooks.errors.filter((k) => k === 'idle-timeout')).toHaveLength(1);
  });

  it('refuses connections past maxConnections, with a log line and a hook call', async () => {
    const { connect, hooks, logs, server } = await start({ maxConnections: 1 });
    const first = await connect();
    await waitFor(() => server.connectionCount === 1);
    const extra = await connect();
    await extra.closed;
    expect(extra.replies).toEqual([]);
    expect(hooks.connections).toContain('refused');
    expect(logs('MLLP connection refused: connection limit reached')).toHaveLength(1);

    await first.write(frame(oru()));
    expect(codes(await first.waitForReplies(1))).toEqual([['AA', 'MSG00001']]);
  });

  it('answers a sender that half-closes its side right after writing', async () => {
    const { connect } = await start();
    const sender = await connect();
    sender.socket.end(Buffer.concat(orus(2).map(frame)));
    await sender.closed;
    expect(codes(sender.replies)).toEqual([
      ['AA', 'MSG00001'],
      ['AA', 'MSG00002'],
    ]);
  });

  it('honours MSH-15: ER sends no CA for a stored message, AL does', async () => {
    const handled: string[] = [];
    const { connect } = await start({
      handler: (message) => {
        handled.push(message.controlId);
        return MllpResult.accept();
      },
    });
    const sender = await connect();
    await sender.write(frame(oru({ controlId: 'QUIET', acceptAck: 'ER', applicationAck: 'NE' })));
    await sender.write(frame(oru({ controlId: 'LOUD', acceptAck: 'AL', applicationAck: 'NE' })));
    const [ack] = await sender.waitForReplies(1);
    expect(codes([ack!])).toEqual([['CA', 'LOUD']]);
    expect(handled).toEqual(['QUIET', 'LOUD']);
  });

  it('close() lets the in-flight handler finish and its ACK go out, then closes', async () => {
    const release = deferred();
    const started = deferred();
    const { connect, server } = await start({
      handler: async () => {
        started.resolve();
        await release.promise;
        return MllpResult.accept();
      },
    });
    const sender = await connect();
    await sender.write(frame(oru()));
    await started.promise;

    let closed = false;
    const closing = server.close().then(() => (closed = true));
    // the listener stops accepting at once
    await expect(connect()).rejects.toThrow(/ECONNREFUSED/);
    expect(closed).toBe(false);

    release.resolve();
    await closing;
    await sender.closed;
    expect(codes(sender.replies)).toEqual([['AA', 'MSG00001']]);
  });

  it('close() gives up on a handler that outlives closeTimeoutMs', async () => {
    const started = deferred();
    const { connect, server } = await start({
      closeTimeoutMs: 50,
      handler: async () => {
        started.resolve();
        return new Promise<never>(() => undefined);
      },
      handlerTimeoutMs: 0,
    });
    const sender = await connect();
    await sender.write(frame(oru()));
    await started.promise;
    await server.close();
    await sender.closed;
    expect(sender.replies).toEqual([]);
  });

  describe('over TLS', () => {
    const certificate = selfSignedCertificate();

    it('completes the handshake and ACKs a message, with the same framing', async () => {
      const { port } = await start({
        tls: { key: certificate.key, cert: certificate.cert },
      });
      const sender = await RawSender.connect(port, {
        ca: certificate.cert,
        servername: 'localhost',
      });
      cleanups.push(() => sender.destroy());
      await sender.writeByteByByte(frame(oru()));
      await sender.write(Buffer.concat(orus(3).slice(1).map(frame)));
      expect(codes(await sender.waitForReplies(3))).toEqual([
        ['AA', 'MSG00001'],
        ['AA', 'MSG00002'],
        ['AA', 'MSG00003'],
      ]);
    });

    it('verifies client certificates when asked, and tells the handler who connected', async () => {
      const contexts: MllpMessageContext[] = [];
      const { port, hooks } = await start({
        tls: {
          key: certificate.key,
          cert: certificate.cert,
          ca: certificate.cert,
          requestCert: true,
          rejectUnauthorized: true,
        },
        handler: (_message, context) => {
          contexts.push(context);
          return MllpResult.accept();
        },
      });
      const client = new MllpClient({
        host: LOOPBACK,
        port,
        tls: {
          ca: certificate.cert,
          key: certificate.key,
          cert: certificate.cert,
          servername: 'localhost',
        },
      });
      cleanups.push(() => client.close());
      const result = await client.send(oru());
      expect(result.code).toBe<AckCode>('AA');
      expect(contexts[0]!.connection).toMatchObject({
        tls: true,
        authorized: true,
        peerCommonName: 'localhost',
      });

      // a client without a certificate does not get in
      const stranger = new MllpClient({
        host: LOOPBACK,
        port,
        tls: { ca: certificate.cert, servername: 'localhost' },
        retry: { maxAttempts: 1 },
      });
      cleanups.push(() => stranger.close());
      await expect(stranger.send(oru())).rejects.toMatchObject({ retriable: true });
      await waitFor(() => hooks.errors.includes('tls'), { description: 'TLS failure reported' });
    });
  });
});
