/**
 * One MLLP connection that writes bytes exactly as given, parseable or not, and waits for the
 * next frame as their answer. MllpClient refuses to send what it cannot parse (it must match the
 * ACK's MSA-2 to MSH-10); a simulator that tests the gateway's answer to broken input needs to
 * send it anyway. One message in flight at a time, like MLLP itself; after a timeout the
 * connection is dropped so that a late answer is never read as the next message's.
 */
import { Hl7Message } from '@ancillary/hl7-core';
import { DEFAULT_MAX_FRAME_BYTES, encodeFrame, MllpDecoder } from '@ancillary/hl7-mllp';
import * as net from 'node:net';

export type RawSendOutcome =
  | { type: 'ack'; ack: Hl7Message; code: string }
  | { type: 'invalid-ack'; reason: string }
  | { type: 'timeout' }
  | { type: 'connection-error'; reason: string };

export interface RawMllpConnectionOptions {
  host: string;
  port: number;
  /** Default 10 s. */
  connectTimeoutMs?: number;
}

export class RawMllpConnection {
  private socket: net.Socket | undefined;
  private waiter: ((outcome: RawSendOutcome) => void) | undefined;
  private closed = false;

  constructor(private readonly options: RawMllpConnectionOptions) {}

  /** Writes one frame and resolves with the next frame the peer sends back. Never rejects. */
  async send(bytes: Uint8Array, ackTimeoutMs: number): Promise<RawSendOutcome> {
    if (this.waiter) throw new Error('RawMllpConnection: one message in flight at a time');
    let frame: Buffer;
    try {
      frame = encodeFrame(bytes);
    } catch (error) {
      return { type: 'connection-error', reason: `cannot frame: ${messageOf(error)}` };
    }
    let socket: net.Socket;
    try {
      socket = await this.connect();
    } catch (error) {
      return { type: 'connection-error', reason: messageOf(error) };
    }
    return new Promise<RawSendOutcome>((resolve) => {
      const timer = setTimeout(() => {
        this.waiter = undefined;
        // a late answer must not be taken for the next message's
        socket.destroy();
        resolve({ type: 'timeout' });
      }, ackTimeoutMs);
      this.waiter = (outcome) => {
        clearTimeout(timer);
        this.waiter = undefined;
        resolve(outcome);
      };
      socket.write(frame);
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    const socket = this.socket;
    if (!socket || socket.destroyed) return;
    await new Promise<void>((resolve) => {
      socket.once('close', () => {
        resolve();
      });
      socket.end(() => socket.destroy());
    });
  }

  private async connect(): Promise<net.Socket> {
    if (this.closed) throw new Error('connection closed');
    if (this.socket && !this.socket.destroyed) return this.socket;
    const timeoutMs = this.options.connectTimeoutMs ?? 10_000;
    const socket = await new Promise<net.Socket>((resolve, reject) => {
      const s = net.connect({ host: this.options.host, port: this.options.port });
      const timer = setTimeout(() => {
        s.destroy();
        reject(new Error(`connect timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      s.once('error', (error) => {
        clearTimeout(timer);
        s.destroy();
        reject(new Error(`connect failed: ${error.message}`));
      });
      s.once('connect', () => {
        clearTimeout(timer);
        s.removeAllListeners('error');
        resolve(s);
      });
    });
    socket.setNoDelay(true);
    const decoder = new MllpDecoder({ maxFrameBytes: DEFAULT_MAX_FRAME_BYTES });
    // a dropped socket's late events must not settle the next socket's message
    const current = (): boolean => this.socket === socket;
    decoder.on('frame', (payload) => {
      const waiter = current() ? this.waiter : undefined;
      if (!waiter) return; // an answer nobody waits for (after a timeout): dropped with the socket
      try {
        const ack = Hl7Message.parse(payload, { fallbackCharset: 'latin1' });
        waiter({ type: 'ack', ack, code: (ack.get('MSA-1') ?? '').toUpperCase() });
      } catch (error) {
        waiter({ type: 'invalid-ack', reason: `answer is not HL7: ${messageOf(error)}` });
      }
    });
    decoder.on('frameError', (info) => {
      if (current())
        this.waiter?.({
          type: 'invalid-ack',
          reason: `answer breaks MLLP framing (${info.reason})`,
        });
      socket.destroy();
    });
    socket.on('data', (chunk: Buffer) => {
      decoder.push(chunk);
    });
    socket.on('error', () => {
      // reported through 'close' below
    });
    socket.on('close', () => {
      if (current()) {
        this.waiter?.({ type: 'connection-error', reason: 'connection closed before the answer' });
      }
    });
    this.socket = socket;
    return socket;
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
