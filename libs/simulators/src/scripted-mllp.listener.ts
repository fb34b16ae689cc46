/**
 * An MLLP listener that answers whatever its handler says, when it says, or not at all — what a
 * simulated ancillary needs and the platform's `MllpServer` deliberately cannot do: answer with
 * an application acknowledgment (ORR^O02, ORL^O22, RRE^O12) rather than a general ACK, answer
 * late, hang up without answering, stay silent. Framing comes from @ancillary/hl7-mllp.
 *
 * Per connection, frames are handled one at a time in arrival order (MLLP is request/response);
 * a delayed answer holds the frames behind it, as a slow system does. `close()` stops listening
 * and destroys every connection (pending answers are never written): the ancillary is down.
 */
import { buildRejectForUnparseable, Hl7Message } from '@ancillary/hl7-core';
import { DEFAULT_MAX_FRAME_BYTES, encodeFrame, MllpDecoder } from '@ancillary/hl7-mllp';
import type { Logger } from '@ancillary/observability';
import * as net from 'node:net';
import { sleepUnlessAborted } from './ancillary-orders';

/** What to do with one received message. */
export type ListenerReply =
  /** Write `message` as the answer, after `delayMs` when given. */
  | { readonly kind: 'answer'; readonly message: Hl7Message; readonly delayMs?: number }
  /** Close the connection without an answer, after `delayMs` when given. */
  | { readonly kind: 'drop'; readonly delayMs?: number }
  /** Never answer; the connection stays open. */
  | { readonly kind: 'silent' };

export type ListenerHandler = (
  message: Hl7Message,
  raw: Buffer,
) => ListenerReply | Promise<ListenerReply>;

export interface ScriptedMllpListenerOptions {
  host: string;
  /** 0 picks a free port. */
  port: number;
  handler: ListenerHandler;
  /** Called after an answer was written (or a connection dropped) — for records and logs. */
  onReplied?: (message: Hl7Message, reply: ListenerReply, written: boolean) => void;
  logger?: Logger;
  maxFrameBytes?: number;
}

export class ScriptedMllpListener {
  private server: net.Server | undefined;
  private readonly sockets = new Set<net.Socket>();

  constructor(private readonly options: ScriptedMllpListenerOptions) {}

  get listening(): boolean {
    return this.server?.listening === true;
  }

  /** The bound address, while listening. */
  address(): net.AddressInfo | undefined {
    const address = this.server?.address();
    return address !== null && typeof address === 'object' ? address : undefined;
  }

  /** Starts listening on `port` (or the options' port); resolves with the bound address. */
  listen(port = this.options.port): Promise<net.AddressInfo> {
    if (this.server) return Promise.reject(new Error('already listening'));
    const server = net.createServer((socket) => {
      this.accept(socket);
    });
    this.server = server;
    return new Promise((resolve, reject) => {
      server.once('error', (error) => {
        this.server = undefined;
        reject(error);
      });
      server.listen({ host: this.options.host, port }, () => {
        server.on('error', (error) => {
          this.options.logger?.error({ err: error.message }, 'simulator MLLP listener error');
        });
        resolve(server.address() as net.AddressInfo);
      });
    });
  }

  /** Stops listening and destroys every connection; answers not yet written never will be. */
  async close(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
    if (!server) return;
    await new Promise<void>((resolve) => {
      server.close(() => {
        resolve();
      });
    });
  }

  private accept(socket: net.Socket): void {
    this.sockets.add(socket);
    socket.setNoDelay(true);
    const decoder = new MllpDecoder({
      maxFrameBytes: this.options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES,
    });
    const queue: Buffer[] = [];
    let busy = false;
    const closed = new AbortController();
    const pump = async (): Promise<void> => {
      busy = true;
      try {
        for (let raw = queue.shift(); raw && !closed.signal.aborted; raw = queue.shift()) {
          await this.handle(socket, raw, closed.signal);
        }
      } finally {
        busy = false;
      }
    };
    decoder.on('frame', (raw: Buffer) => {
      queue.push(raw);
      if (!busy) void pump();
    });
    decoder.on('frameError', (info: { reason: string }) => {
      this.options.logger?.warn({ reason: info.reason }, 'simulator MLLP framing error: closing');
      socket.destroy();
    });
    socket.on('data', (chunk: Buffer) => {
      try {
        decoder.push(chunk);
      } catch {
        socket.destroy();
      }
    });
    socket.on('end', () => {
      decoder.end();
      socket.end();
    });
    socket.on('error', () => {
      // a peer that resets is the peer's business; 'close' follows
    });
    socket.on('close', () => {
      closed.abort();
      this.sockets.delete(socket);
    });
  }

  private async handle(socket: net.Socket, raw: Buffer, closed: AbortSignal): Promise<void> {
    let message: Hl7Message;
    try {
      message = Hl7Message.parse(raw, { fallbackCharset: 'latin1' });
    } catch (error) {
      const reject = buildRejectForUnparseable(
        raw,
        error instanceof Error ? error : new Error(String(error)),
      );
      this.write(socket, reject);
      return;
    }
    let reply: ListenerReply;
    try {
      reply = await this.options.handler(message, raw);
    } catch (error) {
      this.options.logger?.error(
        { err: error instanceof Error ? error.message : String(error) },
        'simulator order handler failed: hanging up without an answer',
      );
      reply = { kind: 'drop' };
    }
    if (reply.kind !== 'silent' && reply.delayMs) await sleepUnlessAborted(reply.delayMs, closed);
    let written = false;
    switch (reply.kind) {
      case 'answer':
        written = !closed.aborted && this.write(socket, reply.message);
        break;
      case 'drop':
        socket.destroy();
        written = true;
        break;
      case 'silent':
        break;
    }
    this.options.onReplied?.(message, reply, written);
  }

  private write(socket: net.Socket, message: Hl7Message): boolean {
    if (socket.destroyed || !socket.writable) return false;
    socket.write(encodeFrame(message.toBytes()));
    return true;
  }
}
