// The console is served by callpost under /console/; `npm run dev` proxies the API to a local
// callpost (make run) so the app can be worked on with hot reload.
import { defineConfig } from 'vitest/config';

const backend = process.env.CALLPOST_URL ?? 'http://127.0.0.1:8080';

export default defineConfig({
  base: '/console/',
  esbuild: { jsx: 'automatic', jsxImportSource: 'preact' },
  build: {
    outDir: 'dist',
    assetsDir: 'assets',
    // No inline script or data: module: the console's Content-Security-Policy allows scripts
    // from its own origin only.
    modulePreload: { polyfill: false },
    assetsInlineLimit: 0,
    sourcemap: false,
  },
  server: { proxy: { '/api': backend, '/calls': backend } },
  test: { include: ['src/**/*.test.ts'], environment: 'node' },
});
