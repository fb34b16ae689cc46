/**
 * Test doubles that speak raw MLLP over real loopback sockets: a sender that writes arbitrary
 * bytes and collects the replies, a scripted receiver whose behaviour per frame the test decides,
 * a runtime self-signed certificate, and recording metric hooks.
 */
import { Hl7Message } from '@ancillary/hl7-core';
import { waitFor } from '@ancillary/testing';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tls from 'node:tls';
import { encodeFrame, MllpDecoder } from '../src/mllp.framer';
import type { MllpErrorKind, MllpMetricsHooks } from '../src/mllp.observability';

export const LOOPBACK = '127.0.0.1';

export function frame(text: string): Buffer {
  return encodeFrame(Buffer.from(text, 'latin1'));
}

/** A promise with its resolve/reject exposed. */
export function deferred<T = void>(): {
  promise: Promise<T>;
  resolve: (value: T) => void;
  reject: (error: unknown) => void;
} {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** A raw MLLP sender: writes whatever bytes a test wants and decodes the replies. */
export class RawSender {
  readonly replies: Hl7Message[] = [];
  readonly closed: Promise<void>;
  private readonly decoder = new MllpDecoder();
  private isClosed = false;

  private constructor(readonly socket: net.Socket) {
    this.decoder.on('frame', (f) => this.replies.push(Hl7Message.parse(f)));
    socket.on('data', (chunk: Buffer) => {
      this.decoder.push(chunk);
    });
    socket.on('error', () => undefined);
    this.closed = new Promise((resolve) =>
      socket.once('close', () => {
        this.isClosed = true;
        resolve();
      }),
    );
  }

  static connect(port: number, tlsOptions?: tls.ConnectionOptions): Promise<RawSender> {
    return new Promise((resolve, reject) => {
      const socket = tlsOptions
        ? tls.connect({ host: LOOPBACK, port, ...tlsOptions })
        : net.connect({ host: LOOPBACK, port });
      socket.once('error', reject);
      socket.once(tlsOptions ? 'secureConnect' : 'connect', () => {
        socket.off('error', reject);
        resolve(new RawSender(socket));
      });
    });
  }

  get isOpen(): boolean {
    return !this.isClosed;
  }

  write(bytes: Uint8Array): Promise<void> {
    return new Promise((resolve, reject) =>
      this.socket.write(bytes, (error) => {
        if (error) reject(error);
        else resolve();
      }),
    );
  }

  /** Writes one byte per write() call: the most fragmented stream TCP can deliver. */
  async writeByteByByte(bytes: Uint8Array): Promise<void> {
    for (const byte of bytes) await this.write(Uint8Array.of(byte));
  }

  async waitForReplies(count: number, description = `${count} replies`): Promise<Hl7Message[]> {
    await waitFor(() => this.replies.length >= count, { timeoutMs: 10_000, description });
    return this.replies.slice(0, count);
  }

  destroy(): Promise<void> {
    this.socket.destroy();
    return this.closed;
  }
}

/** What a scripted receiver does with the n-th frame it gets (1-based, over all connections). */
export type Script = (frame: Buffer, socket: net.Socket, n: number) => void;

/** A fake MLLP receiver that records every frame and does what the script says. */
export class ScriptedReceiver {
  readonly frames: Buffer[] = [];
  connections = 0;
  private readonly sockets = new Set<net.Socket>();
  private constructor(private readonly server: net.Server) {}

  static async start(script: Script, port = 0): Promise<ScriptedReceiver> {
    const server = net.createServer();
    const receiver = new ScriptedReceiver(server);
    server.on('connection', (socket) => {
      receiver.connections += 1;
      receiver.sockets.add(socket);
      socket.on('close', () => receiver.sockets.delete(socket));
      socket.on('error', () => undefined);
      const decoder = new MllpDecoder();
      decoder.on('frame', (f) => {
        receiver.frames.push(f);
        script(f, socket, receiver.frames.length);
      });
      socket.on('data', (chunk: Buffer) => {
        decoder.push(chunk);
      });
    });
    await new Promise<void>((resolve) => server.listen({ host: LOOPBACK, port }, resolve));
    return receiver;
  }

  get port(): number {
    return (this.server.address() as net.AddressInfo).port;
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) =>
      this.server.close(() => {
        resolve();
      }),
    );
  }
}

/** An ACK for `received`, as a simple receiver would build it. */
export function ackFor(received: Buffer, code: string, text = ''): Buffer {
  const message = Hl7Message.parse(received);
  const ack =
    `MSH|^~\\&|EHR|HOSP|LIS|LAB|20261125120001||ACK^R01^ACK|ACK${message.controlId}|P|2.5.1\r` +
    `MSA|${code}|${message.controlId}${text ? `|${text}` : ''}\r`;
  return frame(ack);
}

export interface Certificate {
  key: Buffer;
  cert: Buffer;
}

/**
 * A throwaway self-signed certificate for localhost / 127.0.0.1, made with openssl at test time
 * (never committed). P-256 keeps generation instant.
 */
export function selfSignedCertificate(commonName = 'localhost'): Certificate {
  const dir = mkdtempSync(join(tmpdir(), 'mllp-tls-'));
  try {
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-subj',
        `/CN=${commonName}`,
        '-days',
        '1',
        '-addext',
        'subjectAltName=DNS:localhost,IP:127.0.0.1',
        '-keyout',
        join(dir, 'key.pem'),
        '-out',
        join(dir, 'cert.pem'),
      ],
      { stdio: 'ignore' },
    );
    return { key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Metric hooks that remember every call. */
export function recordingHooks(): MllpMetricsHooks & {
  errors: MllpErrorKind[];
  connections: string[];
  latencies: { seconds: number; code: string }[];
  framesIn: number[];
  framesOut: number[];
  retries: { attempt: number; reason: MllpErrorKind }[];
} {
  const record = {
    errors: [] as MllpErrorKind[],
    connections: [] as string[],
    latencies: [] as { seconds: number; code: string }[],
    framesIn: [] as number[],
    framesOut: [] as number[],
    retries: [] as { attempt: number; reason: MllpErrorKind }[],
  };
  return {
    ...record,
    onConnection: (event) => record.connections.push(event),
    onFrameIn: (bytes) => record.framesIn.push(bytes),
    onFrameOut: (bytes) => record.framesOut.push(bytes),
    onError: (kind) => record.errors.push(kind),
    onAckLatency: (seconds, code) => record.latencies.push({ seconds, code }),
    onRetry: (attempt, reason) => record.retries.push({ attempt, reason }),
  };
}

/** A port that was free a moment ago (for a receiver that must come back on the same port). */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen({ host: LOOPBACK, port: 0 }, resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) =>
    server.close(() => {
      resolve();
    }),
  );
  return port;
}
