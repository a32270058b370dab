// npm run models -- [tiny|base|small] [--dir <dir>] [--url <mirror url>] [--sha256 <hex>]
// Downloads a multilingual whisper.cpp ggml model, checks its pinned SHA-256, and prints the
// HEARING_ASR_MODEL setting. Nothing is kept unless the hash matches.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { parseArgs } from 'node:util';

/** SHA-256 of the ggml files published with whisper.cpp (two independent public listings agree). */
export const MODELS: Record<string, { url: string; sha256: string; mib: number }> = {
  tiny: {
    url: 'https://huggingface.co/ggerganov/whisper.cpp/resolve/main/ggml-tiny.bin',
    sha256: 'be07e048e1e599ad46341c8d2a135645097a538221678b7acdd1b1919c6e1b21',
    mib: 75,
  },
  base: {
    url: 'https://huggingface.co/ggerganov/whisper.cpp/resolve/main/ggml-base.bin',
    sha256: '60ed5bc3dd14eea856493d334349b405782ddcaf0028d4b5df4088345fba2efe',
    mib: 142,
  },
  small: {
    url: 'https://huggingface.co/ggerganov/whisper.cpp/resolve/main/ggml-small.bin',
    sha256: '1be3a9b2063867b937e64e2ec7483364a79917e157fa98c5d94b5c1fffea987b',
    mib: 466,
  },
};

export async function downloadModel(url: string, sha256: string, target: string): Promise<void> {
  const response = await fetch(url, { redirect: 'follow' }).catch((error: Error) => {
    throw new Error(`cannot reach ${url}: ${error.message} (no network? copy the file here by hand and set HEARING_ASR_MODEL)`);
  });
  if (!response.ok || !response.body) throw new Error(`${url}: HTTP ${response.status}`);
  fs.mkdirSync(path.dirname(target), { recursive: true });
  const partial = `${target}.partial`;
  const out = fs.createWriteStream(partial);
  const hash = createHash('sha256');
  try {
    for await (const chunk of Readable.fromWeb(response.body as WebReadableStream<Uint8Array>) as AsyncIterable<Buffer>) {
      hash.update(chunk);
      if (!out.write(chunk)) await new Promise<void>((r) => out.once('drain', () => r()));
    }
    await new Promise<void>((resolve, reject) => out.end((error?: Error | null) => (error ? reject(error) : resolve())));
    const got = hash.digest('hex');
    if (got !== sha256) throw new Error(`SHA-256 mismatch for ${url}: got ${got}, expected ${sha256}; the file was not kept`);
    fs.renameSync(partial, target);
  } finally {
    fs.rmSync(partial, { force: true });
  }
}

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { dir: { type: 'string' }, url: { type: 'string' }, sha256: { type: 'string' } },
  });
  const name = positionals[0] ?? 'base';
  const model = MODELS[name];
  if (!model) {
    console.error(`models: unknown model ${name}; one of ${Object.keys(MODELS).join(', ')}`);
    return 2;
  }
  const target = path.resolve(values.dir ?? path.join(process.env.HEARING_DATA_DIR ?? 'data', 'models'), `ggml-${name}.bin`);
  console.log(`downloading ggml-${name}.bin (${model.mib} MiB) to ${target}`);
  try {
    await downloadModel(values.url ?? model.url, values.sha256 ?? model.sha256, target);
  } catch (error) {
    console.error(`models: ${(error as Error).message}`);
    return 1;
  }
  console.log(`verified. Start the server with HEARING_ASR_MODEL=${target}`);
  return 0;
}

if (process.argv[1] && path.resolve(process.argv[1]) === new URL(import.meta.url).pathname) {
  main(process.argv.slice(2)).then((code) => process.exit(code));
}
