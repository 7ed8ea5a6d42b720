/**
 * Builds the web UI into dist/ui (beside the compiled server, which serves it at /). Hashed file names under
 * assets/ let the server cache them for a year; index.html is revalidated on every load.
 */
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const here = fileURLToPath(new URL('.', import.meta.url));

export default defineConfig({
  root: here,
  base: '/',
  publicDir: false,
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: {
    outDir: fileURLToPath(new URL('../../../dist/ui', import.meta.url)),
    emptyOutDir: true,
    assetsDir: 'assets',
    target: 'es2022',
    sourcemap: false,
    reportCompressedSize: false,
  },
  server: {
    // `npm run dev:ui` next to `npm start`: the API comes from the running server.
    proxy: { '/api': 'http://127.0.0.1:8025' },
  },
});
