/**
 * The raw lane over real loopback sockets, against a scripted peer: what it answers, when, and
 * on which connection.
 */
import { encodeFrame, MllpDecoder } from '@ancillary/hl7-mllp';
import * as net from 'node:net';
import { RawMllpConnection } from './raw-mllp.connection';

type Script = (frame: Buffer, socket: net.Socket, connection: number) => void;

const ack = (code: string, controlId: string): Buffer =>
  encodeFrame(
    Buffer.from(
      `MSH|^~\\&|GW|HUB|SIMLIS|NWH-LAB|20260105070000+0000||ACK|A${controlId}|P|2.5.1\rMSA|${code}|${controlId}\r`,
    ),
  );

describe('RawMllpConnection', () => {
  const cleanups: (() => Promise<unknown>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  async function peer(script: Script): Promise<{ port: number; connections: () => number }> {
    let connections = 0;
    const sockets = new Set<net.Socket>();
    const server = net.createServer((socket) => {
      const index = connections++;
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      const decoder = new MllpDecoder();
      decoder.on('frame', (frame) => {
        script(frame, socket, index);
      });
      socket.on('data', (chunk: Buffer) => {
        decoder.push(chunk);
      });
      socket.on('error', () => undefined);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    cleanups.push(
      () =>
        new Promise<void>((resolve) => {
          for (const s of sockets) s.destroy();
          server.close(() => {
            resolve();
          });
        }),
    );
    return { port: (server.address() as net.AddressInfo).port, connections: () => connections };
  }

  function connect(port: number): RawMllpConnection {
    const connection = new RawMllpConnection({ host: '127.0.0.1', port, connectTimeoutMs: 1000 });
    cleanups.push(() => connection.close());
    return connection;
  }

  it('sends bytes that are not HL7 at all and reads the answer', async () => {
    const received: Buffer[] = [];
    const { port } = await peer((frame, socket) => {
      received.push(frame);
      socket.write(ack('AR', ''));
    });
    const outcome = await connect(port).send(Buffer.from('PING\r'), 1000);
    expect(outcome).toMatchObject({ type: 'ack', code: 'AR' });
    expect(received.map((b) => b.toString())).toEqual(['PING\r']);
  });

  it('after a timeout, reads the next answer on a new connection, never the late one', async () => {
    const { port, connections } = await peer((frame, socket, index) => {
      const id = /\|(M\d)\|/.exec(frame.toString())?.[1] ?? '';
      // the first connection answers late; later ones at once
      if (index === 0) setTimeout(() => socket.write(ack('AA', id)), 300);
      else socket.write(ack('AR', id));
    });
    const connection = connect(port);
    const message = (id: string) =>
      Buffer.from(`MSH|^~\\&|SIMLIS|NWH-LAB|||2026||ORU^R01|${id}|P\rOB`);
    expect(await connection.send(message('M1'), 100)).toEqual({ type: 'timeout' });
    const second = await connection.send(message('M2'), 1000);
    expect(second).toMatchObject({ type: 'ack', code: 'AR' });
    expect(second.type === 'ack' && second.ack.get('MSA-2')).toBe('M2');
    expect(connections()).toBe(2);
  });

  it('reports an answer that is not HL7, and a peer that hangs up', async () => {
    const { port } = await peer((frame, socket) => {
      if (frame.toString().startsWith('A')) socket.write(encodeFrame(Buffer.from('hello')));
      else socket.destroy();
    });
    const connection = connect(port);
    expect(await connection.send(Buffer.from('A'), 1000)).toMatchObject({ type: 'invalid-ack' });
    expect(await connection.send(Buffer.from('B'), 1000)).toMatchObject({
      type: 'connection-error',
    });
  });

  it('reports a receiver that is not there, and bytes that cannot be framed', async () => {
    const { port } = await peer(() => undefined);
    // closed again: nothing listens on that port any more
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
    const connection = new RawMllpConnection({ host: '127.0.0.1', port, connectTimeoutMs: 1000 });
    expect(await connection.send(Buffer.from('X'), 1000)).toMatchObject({
      type: 'connection-error',
      reason: expect.stringMatching(/connect failed/) as unknown,
    });
    expect(await connection.send(Buffer.from([0x41, 0x1c, 0x41]), 1000)).toMatchObject({
      type: 'connection-error',
      reason: expect.stringMatching(/cannot frame/) as unknown,
    });
    await connection.close();
  });
});
