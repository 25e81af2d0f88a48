/**
 * Slow and dead live clients: one that never reads (its socket paused, so
 * the server's send buffer fills), one that vanishes without a close (behind
 * a proxy that stops forwarding both ways and keeps the connections open, as
 * a pulled cable does). The gateway's RSS stays bounded and a healthy client
 * keeps receiving at its rate. (At this plant's 500 tags the kernel's socket
 * buffers absorb the 8 s window, so the hub's slow-client skip may not fire:
 * its counter is logged, not asserted.)
 */
import net from 'node:net';
import { afterAll, beforeAll, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { BadModbusServer } from '../integration/peers/bad-modbus-server.js';
import { type GatewayProcess, openLive, signInCookie, startGatewayProcess } from '../bench/lib/gateway-process.js';
import { BENCH_USER, benchPlant } from '../bench/lib/gateway-plant.js';
import { health, modbusDevice, moveValues, rssMBOf, sleep, tempDir } from './rig.js';

/** forwards TCP to `port` until `vanish()`: then neither side hears from the other again, and nothing is closed */
async function blackholeProxy(port: number): Promise<{ port: number; vanish(): void; close(): void }> {
  const pairs: [net.Socket, net.Socket][] = [];
  const server = net.createServer((client) => {
    const upstream = net.connect(port, '127.0.0.1');
    client.pipe(upstream);
    upstream.pipe(client);
    client.on('error', () => undefined);
    upstream.on('error', () => undefined);
    pairs.push([client, upstream]);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    port: (server.address() as net.AddressInfo).port,
    vanish() {
      for (const [client, upstream] of pairs) {
        client.unpipe(upstream);
        upstream.unpipe(client);
        client.pause();
        upstream.pause();
      }
    },
    close() {
      for (const [a, b] of pairs) {
        a.destroy();
        b.destroy();
      }
      server.close();
    },
  };
}

let servers: BadModbusServer[] = [];
let stopMoving: () => void = () => undefined;
let gw: GatewayProcess;
let cookie: string;

beforeAll(async () => {
  const dir = tempDir('live');
  servers = await Promise.all(Array.from({ length: 5 }, (_, i) => modbusDevice(i)));
  stopMoving = moveValues(servers);
  gw = await startGatewayProcess({
    dataDir: dir,
    fastAuth: true,
    logLevel: 'error',
    plant: benchPlant(
      servers.map((s) => s.port),
      { storePath: `${dir}/greenline.db`, intervalMs: 100 },
    ),
  });
  cookie = await signInCookie(gw.url, BENCH_USER.username, BENCH_USER.password);
}, 60_000);

afterAll(async () => {
  stopMoving();
  await gw?.stop();
  await Promise.all(servers.map((s) => s.stop()));
});

it('a client that never reads and one that vanished leave memory and the other clients alone', async () => {
  const healthy = await openLive(gw.url, cookie);
  let received = 0;
  healthy.on('message', () => received++);
  healthy.send(JSON.stringify({ type: 'subscribe', tags: '*' }));
  await sleep(1500);
  const rate = async (ms: number) => {
    const n0 = received;
    const t0 = performance.now();
    await sleep(ms);
    return ((received - n0) * 1000) / (performance.now() - t0);
  };
  const baseline = await rate(3000);
  const rss0 = rssMBOf(gw.pid);

  // never reads: every tag at 500 values a flush, its socket paused from the start
  const slow = await openLive(gw.url, cookie);
  slow.send(JSON.stringify({ type: 'subscribe', tags: '*' }));
  (slow as unknown as { _socket: net.Socket })._socket.pause();

  // vanishes: through the proxy, then the proxy goes silent without closing anything
  const proxy = await blackholeProxy(Number(new URL(gw.url).port));
  const dead = new WebSocket(`ws://127.0.0.1:${proxy.port}/api/live/ws`, { headers: { cookie } });
  await new Promise<void>((resolve, reject) => {
    dead.once('open', () => resolve());
    dead.once('error', reject);
  });
  dead.send(JSON.stringify({ type: 'subscribe', tags: '*' }));
  await sleep(500);
  proxy.vanish();

  const during = await rate(8000);
  const rss1 = rssMBOf(gw.pid);
  const h = await health(gw.url, cookie);
  console.log(
    `live: healthy client ${baseline.toFixed(2)} → ${during.toFixed(2)} msgs/s with a slow and a dead client; ` +
      `gateway RSS ${rss0.toFixed(0)} → ${rss1.toFixed(0)} MB; hub ${JSON.stringify(h.liveHub)}`,
  );
  expect(Math.abs(during - baseline) / baseline).toBeLessThan(0.1);
  expect(rss1 - rss0).toBeLessThan(40);
  slow.terminate();
  dead.terminate();
  healthy.close();
  proxy.close();
});
