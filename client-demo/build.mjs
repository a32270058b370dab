// Bundles the browser client (mediasoup-client + socket.io-client) into client-demo/dist/client.js.
import { build } from 'esbuild';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
await build({
  // The participant client, the public viewer (hls.js), the embedding SDK and its example page.
  entryPoints: {
    client: path.join(here, 'src/main.ts'),
    watch: path.join(here, 'src/watch.ts'),
    'hearing-sdk': path.join(here, 'src/sdk.ts'),
    'embed-example': path.join(here, 'src/embed-example.ts'),
  },
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
