// The image process: decodes uploaded photos (evidence, reference photos, drawn signatures) apart from
// the server, one at a time, under an address-space limit set by its parent. A photo that is costly to
// decode slows only this process; one that exhausts its memory ends only this process.
// Plain JavaScript, run by node itself: a TypeScript loader instantiates WebAssembly, whose reserved
// address space does not fit under the limit. Messages: ./messages.ts.
import sharp from 'sharp';

sharp.concurrency(1);
sharp.cache(false);

const ACCEPTED = new Set(['jpeg', 'png', 'webp', 'heif', 'avif', 'tiff', 'gif']);

/** @type {(id: number, status: number, code: string, message: string) => import('./messages.ts').DecodeResult} */
const refused = (id, status, code, message) => ({ id, error: { status, code, message } });

/** @param {import('./messages.ts').DecodeJob} job @returns {Promise<import('./messages.ts').DecodeResult>} */
async function decode(job) {
  const options = /** @type {const} */ ({ limitInputPixels: job.maxPixels, failOn: 'warning' });
  /** Refusals that are about the photo's cost, not its validity. @param {unknown} error */
  const tooLarge = (error) => {
    const message = String(/** @type {Error} */ (error).message);
    if (/pixel limit/i.test(message)) return refused(job.id, 413, 'image_too_large', `the photo has more than ${job.maxPixels} pixels`);
    if (/out of memory|insufficient memory/i.test(message))
      return refused(job.id, 422, 'image_too_costly', 'the photo needs more memory to decode than a photo may');
    return undefined;
  };
  let format;
  try {
    format = (await sharp(job.input, options).metadata()).format;
  } catch (error) {
    return tooLarge(error) ?? refused(job.id, 415, 'not_an_image', `not an image: ${String(/** @type {Error} */ (error).message)}`);
  }
  if (!format || !ACCEPTED.has(format)) return refused(job.id, 415, 'not_an_image', `unsupported image format ${format ?? 'unknown'}`);
  try {
    // rotate() applies the EXIF orientation before the metadata is dropped (sharp keeps none by default).
    const image = sharp(job.input, options).rotate();
    const { data, info } = await (job.as === 'jpeg' ? image.jpeg({ quality: 90 }) : image.png()).toBuffer({ resolveWithObject: true });
    const thumb = job.thumb
      ? await sharp(data).resize({ width: job.thumb, height: job.thumb, fit: 'inside' }).jpeg({ quality: 80 }).toBuffer()
      : undefined;
    return { id: job.id, data, width: info.width, height: info.height, thumb };
  } catch (error) {
    return (
      tooLarge(error) ??
      refused(job.id, 422, 'corrupt_image', `the image cannot be decoded: ${String(/** @type {Error} */ (error).message)}`)
    );
  }
}

process.on('message', (/** @type {import('./messages.ts').DecodeJob} */ job) => {
  void decode(job).then((result) => {
    if (process.connected) process.send?.(result);
  });
});
// Ready for photos (the parent's decode timer starts with each photo sent from now on).
process.send?.({ ready: true });
// The server went away: nothing more to do.
process.on('disconnect', () => process.exit(0));
