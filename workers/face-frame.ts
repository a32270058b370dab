import sharp from 'sharp';

/**
 * A still photo as the face model sees a camera frame: scaled into 320x320 and centred on a 640x480
 * grey canvas (a tight ID-photo crop, face edge to edge, is not found by the detector; with this margin
 * every fixture face is), as raw RGB.
 */
export async function photoAsFrame(image: Buffer): Promise<{ rgb: Uint8Array; width: number; height: number }> {
  const { data, info } = await sharp(image)
    .resize(320, 320, { fit: 'inside' })
    .extend({ top: 80, bottom: 80, left: 160, right: 160, background: '#808080' })
    .resize(640, 480, { fit: 'contain', background: '#808080' })
    .removeAlpha()
    .raw()
    .toBuffer({ resolveWithObject: true });
  return { rgb: new Uint8Array(data.buffer, data.byteOffset, data.length), width: info.width, height: info.height };
}
