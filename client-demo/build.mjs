// Bundles the browser client (mediasoup-client + socket.io-client) into client-demo/dist/client.js.
import { build } from 'esbuild';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
await build({
  // The participant client and the public viewer (hls.js).
  entryPoints: { client: path.join(here, 'src/main.ts'), watch: path.join(here, 'src/watch.ts') },
  outdir: path.join(here, 'dist'),
  bundle: true,
  format: 'esm',
  target: 'es2022',
  sourcemap: true,
  minify: true,
  jsx: 'automatic',
  jsxImportSource: 'preact',
  logLevel: 'warning',
});
