import fs from 'node:fs';

/**
 * Writes a tiny Whisper model in the real ggml file format whisper.cpp loads (magic, hyper-parameters,
 * mel filters, vocabulary, then every encoder/decoder tensor by name), with small random weights: it
 * proves loading, audio hand-off and segment parsing without real weights (none can be downloaded here).
 */
export function writeTinyWhisperModel(file: string, options: { state?: number; multilingual?: boolean; seed?: number } = {}): void {
  const S = options.state ?? 64;
  const nVocab = options.multilingual === false ? 51864 : 51865;
  const audioCtx = 1500;
  const textCtx = 448;
  const nMels = 80;
  let seed = options.seed ?? 1;
  const random = (): number => {
    seed = (seed * 1664525 + 1013904223) >>> 0;
    return (seed / 2 ** 32 - 0.5) * 0.1;
  };
  const chunks: Buffer[] = [];
  const i32 = (...values: number[]): void => {
    const b = Buffer.alloc(4 * values.length);
    values.forEach((v, i) => b.writeInt32LE(v, i * 4));
    chunks.push(b);
  };
  const f32 = (count: number, value?: number): void => {
    const b = Buffer.alloc(4 * count);
    for (let i = 0; i < count; i++) b.writeFloatLE(value ?? random(), i * 4);
    chunks.push(b);
  };
  chunks.push(Buffer.from([0x6c, 0x6d, 0x67, 0x67])); // 0x67676d6c little-endian: "ggml"
  i32(nVocab, audioCtx, S, 1, 1, textCtx, S, 1, 1, nMels, 0 /* ftype f32 */);
  i32(nMels, 201);
  f32(nMels * 201, 0.01);
  // Byte tokens; whisper.cpp adds the special tokens (SOT, EOT, languages, timestamps) itself.
  i32(256);
  for (let t = 0; t < 256; t++) {
    i32(1);
    chunks.push(Buffer.from([t]));
  }
  const tensor = (name: string, ...ne: number[]): void => {
    const nameBytes = Buffer.from(name);
    i32(ne.length, nameBytes.length, 0, ...ne);
    chunks.push(nameBytes);
    const ones = /\bln(_post|_\d)?\.weight$|_ln\.weight$|attn_ln\.weight$|\.ln\.weight$/.test(name);
    f32(
      ne.reduce((a, b) => a * b, 1),
      ones ? 1 : undefined,
    );
  };
  const block = (prefix: string, cross: boolean): void => {
    for (const part of ['mlp_ln', 'attn_ln', ...(cross ? ['cross_attn_ln'] : [])]) {
      tensor(`${prefix}.${part}.weight`, S);
      tensor(`${prefix}.${part}.bias`, S);
    }
    tensor(`${prefix}.mlp.0.weight`, S, 4 * S);
    tensor(`${prefix}.mlp.0.bias`, 4 * S);
    tensor(`${prefix}.mlp.2.weight`, 4 * S, S);
    tensor(`${prefix}.mlp.2.bias`, S);
    for (const attn of ['attn', ...(cross ? ['cross_attn'] : [])]) {
      tensor(`${prefix}.${attn}.query.weight`, S, S);
      tensor(`${prefix}.${attn}.query.bias`, S);
      tensor(`${prefix}.${attn}.key.weight`, S, S);
      tensor(`${prefix}.${attn}.value.weight`, S, S);
      tensor(`${prefix}.${attn}.value.bias`, S);
      tensor(`${prefix}.${attn}.out.weight`, S, S);
      tensor(`${prefix}.${attn}.out.bias`, S);
    }
  };
  tensor('encoder.positional_embedding', S, audioCtx);
  tensor('encoder.conv1.weight', 3, nMels, S);
  tensor('encoder.conv1.bias', 1, S);
  tensor('encoder.conv2.weight', 3, S, S);
  tensor('encoder.conv2.bias', 1, S);
  tensor('encoder.ln_post.weight', S);
  tensor('encoder.ln_post.bias', S);
  block('encoder.blocks.0', false);
  tensor('decoder.positional_embedding', S, textCtx);
  tensor('decoder.token_embedding.weight', S, nVocab);
  tensor('decoder.ln.weight', S);
  tensor('decoder.ln.bias', S);
  block('decoder.blocks.0', true);
  fs.writeFileSync(file, Buffer.concat(chunks));
}
