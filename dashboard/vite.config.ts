import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const here = fileURLToPath(new URL('.', import.meta.url));
const repo = fileURLToPath(new URL('..', import.meta.url));

// Paths are relative to this file, so the build works from any working directory.
export default defineConfig({
  root: here,
  // relative asset URLs: the dashboard also works behind a reverse proxy under a path prefix
  base: './',
  publicDir: 'public',
  build: {
    outDir: `${repo}dist/dashboard`,
    emptyOutDir: true,
    target: 'es2022',
    modulePreload: { polyfill: false },
    // the CSP forbids inline scripts and styles: never inline assets as data: scripts
    assetsInlineLimit: 0,
  },
  server: {
    host: '127.0.0.1',
    proxy: {
      '/api': { target: 'http://127.0.0.1:8080', ws: true, changeOrigin: true },
    },
  },
});
