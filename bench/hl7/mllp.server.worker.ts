/**
 * The MLLP server side of the round-trip benchmark, in its own process (so the server and the
 * clients each get an event loop and, on this 2-core machine, a core). It listens on 127.0.0.1
 * port 0, ACKs every message at once, prints `{"port":…}`, and on a line `stop` on stdin closes
 * and prints `{"cpuMicros":…,"messages":…}`.
 *
 *   node -r @swc-node/register bench/hl7/mllp.server.worker.ts ours|simple-hl7
 */
import { createInterface } from 'node:readline';

interface RunningServer {
  readonly port: number;
  readonly messages: () => number;
  close(): Promise<void>;
}

async function startOurs(): Promise<RunningServer> {
  const { MllpResult, MllpServer } = await import('@ancillary/hl7-mllp');
  let messages = 0;
  const server = new MllpServer({
    host: '127.0.0.1',
    port: 0,
    handler: () => {
      messages++;
      return MllpResult.accept();
    },
  });
  const address = await server.listen();
  return { port: address.port, messages: () => messages, close: () => server.close() };
}

async function startSimpleHl7(): Promise<RunningServer> {
  const { Server } = await import('simple-hl7');
  let messages = 0;
  const server = Server.createTcpServer({}, (error, _req, res) => {
    if (error || !res) return;
    messages++;
    res.end();
  });
  server.start(0);
  const net = server.server;
  await new Promise<void>((resolve) => {
    if (net.listening) resolve();
    else
      net.once('listening', () => {
        resolve();
      });
  });
  const address = net.address();
  if (address === null || typeof address === 'string') throw new Error('no TCP address');
  return {
    port: address.port,
    messages: () => messages,
    close: () =>
      new Promise<void>((resolve) => {
        net.close(() => {
          resolve();
        });
        // simple-hl7 keeps no list of sockets; the clients close theirs before `stop`.
      }),
  };
}

async function main(): Promise<void> {
  const kind = process.argv[2];
  const server = kind === 'simple-hl7' ? await startSimpleHl7() : await startOurs();
  const cpuAtStart = process.cpuUsage();
  process.stdout.write(JSON.stringify({ port: server.port }) + '\n');
  const lines = createInterface({ input: process.stdin });
  for await (const line of lines) {
    if (line.trim() !== 'stop') continue;
    const cpu = process.cpuUsage(cpuAtStart);
    await server.close();
    process.stdout.write(
      JSON.stringify({ cpuMicros: cpu.user + cpu.system, messages: server.messages() }) + '\n',
    );
    break;
  }
  lines.close();
}

main().catch((error: unknown) => {
  process.stderr.write(
    `${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exitCode = 1;
});
