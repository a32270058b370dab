// @fugood/whisper.node 1.1.3 names lib/index.d.ts as its types but does not ship it (TypeScript then
// type-checks its .ts sources, which do not compile as ESM): tsconfig maps the package to this file,
// the parts of its API (lib/binding.ts in the package) that workers/asr-whisper.ts uses.
export interface TranscribeResult {
  language?: string;
  result: string;
  segments: { text: string; t0: number; t1: number }[];
  isAborted: boolean;
}
export interface WhisperContext {
  transcribeData(audio: ArrayBuffer, options?: { language?: string; maxThreads?: number; translate?: boolean }): { stop: () => Promise<void>; promise: Promise<TranscribeResult> };
  release(): Promise<void>;
}
export declare function initWhisper(options: { filePath: string; useGpu?: boolean }): Promise<WhisperContext>;
