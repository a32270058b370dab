/** A photo to check and re-encode (see ImageDecoder). */
export interface DecodeJob {
  id: number;
  input: Buffer;
  as: 'jpeg' | 'png';
  maxPixels: number;
  /** Also a thumbnail fitting this square (pixels). */
  thumb?: number;
}

/** The process is ready for photos (it sends this once, at start). */
export interface Ready {
  ready: true;
}

export type DecodeResult =
  | { id: number; data: Buffer; width: number; height: number; thumb?: Buffer }
  | { id: number; error: { status: number; code: string; message: string } };
