import type { Request, Response } from 'express';
import multer from 'multer';
import { AppError } from './errors.ts';

/**
 * One file from a multipart/form-data body, held in memory (a size limit applies while it streams in):
 * refusals are 413 (too large) or 400 (malformed, missing), never a crash.
 */
export async function receiveFile(req: Request, res: Response, field: string, maxBytes: number): Promise<Express.Multer.File> {
  const upload = multer({ storage: multer.memoryStorage(), limits: { fileSize: maxBytes, files: 1, fields: 5 } });
  await new Promise<void>((resolve, reject) =>
    upload.single(field)(req, res, (error: unknown) => {
      if (error instanceof multer.MulterError) {
        reject(
          error.code === 'LIMIT_FILE_SIZE'
            ? new AppError(413, 'image_too_large', `the file is over ${maxBytes} bytes`)
            : new AppError(400, 'bad_upload', error.message),
        );
      } else if (error) reject(new AppError(400, 'bad_upload', String((error as Error).message ?? error)));
      else resolve();
    }),
  );
  if (!req.file) throw new AppError(400, `no_${field}`, `send the file as multipart/form-data field "${field}"`);
  return req.file;
}
