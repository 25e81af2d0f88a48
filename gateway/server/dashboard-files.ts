/**
 * Serves the built dashboard. Hashed files under `assets/` are cached for a
 * year; everything else (index.html) is revalidated so an upgrade shows at
 * once. Paths that are not files fall back to index.html (client-side
 * routing), except under /api and for names with an extension.
 */
import { existsSync } from 'node:fs';
import { join, resolve, sep } from 'node:path';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ApiError } from './contract.js';

export const DASHBOARD_NOT_BUILT = 'dashboard not built: run npm run build';

export function registerDashboard(app: FastifyInstance, dashboardDir: string): void {
  const root = resolve(dashboardDir);
  const assets = `${sep}assets${sep}`;

  app.register(fastifyStatic, {
    root,
    prefix: '/',
    wildcard: true,
    index: ['index.html'],
    cacheControl: false,
    dotfiles: 'deny',
    setHeaders(res, filePath) {
      res.setHeader('cache-control', filePath.includes(assets) ? 'public, max-age=31536000, immutable' : 'no-cache');
    },
  });

  app.setNotFoundHandler(async (req: FastifyRequest, reply: FastifyReply) => {
    const path = req.url.split('?')[0] ?? '/';
    const isPage =
      (req.method === 'GET' || req.method === 'HEAD') &&
      path !== '/api' &&
      !path.startsWith('/api/') &&
      !/\.[A-Za-z0-9]+$/.test(path);
    if (!isPage) {
      const body: ApiError = { error: { code: 'GL_ERR_NOT_FOUND', message: `nothing at ${req.method} ${path}` } };
      return reply.code(404).send(body);
    }
    if (!existsSync(join(root, 'index.html'))) {
      return reply
        .code(503)
        .type('text/plain; charset=utf-8')
        .header('cache-control', 'no-store')
        .send(DASHBOARD_NOT_BUILT);
    }
    return reply.header('cache-control', 'no-cache').sendFile('index.html');
  });
}
