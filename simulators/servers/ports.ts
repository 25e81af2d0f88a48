/** Port helpers: every simulated device may ask for port 0 or fall back from a busy one. */
import net from 'node:net';

/** A port the OS reports free on `host` right now (bind to 0, read it, release it). */
export function findFreePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen({ port: 0, host, exclusive: true }, () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => (port > 0 ? resolve(port) : reject(new Error('no free port reported'))));
    });
  });
}

export function isAddressInUse(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as NodeJS.ErrnoException).code === 'EADDRINUSE';
}

/**
 * Binds with `bind(port)` (which resolves to the port actually bound); when the
 * wanted port is busy, retries on free ports. Binders that cannot take port 0
 * get a free port found beforehand.
 */
export async function bindWithFallback(
  host: string,
  wanted: number,
  bind: (port: number) => Promise<number>,
  options: { acceptsZero: boolean; attempts?: number },
): Promise<{ port: number; fellBack: boolean }> {
  const attempts = options.attempts ?? 5;
  let port = wanted === 0 && !options.acceptsZero ? await findFreePort(host) : wanted;
  let fellBack = false;
  for (let i = 0; ; i++) {
    try {
      const bound = await bind(port);
      return { port: bound, fellBack };
    } catch (err) {
      if (!isAddressInUse(err) || i + 1 >= attempts) throw err;
      fellBack = wanted !== 0;
      port = options.acceptsZero ? 0 : await findFreePort(host);
    }
  }
}
