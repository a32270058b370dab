import sharp from 'sharp';

/**
 * A still photo as the face model sees a camera frame: scaled into fit x fit (320 by default) and
 * centred on a 640x480 grey canvas, as raw RGB. Measured on the fixtures: the tiny detector finds a
 * face filling up to half the frame width (all 15 at 320) and misses most larger ones (9 of 15 at 400
 * or 480), while two small faces side by side are only both found at 400 or more.
 */
export async function photoAsFrame(image: Buffer, fit = 320): Promise<{ rgb: Uint8Array; width: number; height: number }> {
  // Two pipelines: sharp applies one resize per pipeline, after extend.
  const { data: scaled, info: size } = await sharp(image)
    .resize(fit, fit, { fit: 'inside' })
    .removeAlpha()
    .raw()
    .toBuffer({ resolveWithObject: true });
  const left = Math.floor((640 - size.width) / 2);
  const top = Math.floor((480 - size.height) / 2);
  const { data, info } = await sharp(scaled, { raw: { width: size.width, height: size.height, channels: 3 } })
    .extend({ left, right: 640 - size.width - left, top, bottom: 480 - size.height - top, background: '#808080' })
    .raw()
    .toBuffer({ resolveWithObject: true });
  return { rgb: new Uint8Array(data.buffer, data.byteOffset, data.length), width: info.width, height: info.height };
}

/**
 * A camera frame shrunk by `scale` and centred on grey of the same size, as raw RGB, with what maps a
 * point found in it back to the frame. A face filling the frame (a phone held close) escapes the tiny
 * detector; shrunk, it is found (see CLOSE_UP_SCALES).
 */
export async function shrinkFrame(
  rgb: Uint8Array,
  width: number,
  height: number,
  scale: number,
): Promise<{ rgb: Uint8Array; back: (x: number, y: number) => [number, number] }> {
  const w = Math.max(2, Math.round((width * scale) / 2) * 2);
  const h = Math.max(2, Math.round((height * scale) / 2) * 2);
  const left = Math.floor((width - w) / 2);
  const top = Math.floor((height - h) / 2);
  const small = await sharp(rgb, { raw: { width, height, channels: 3 } })
    .resize(w, h, { fit: 'fill' })
    .raw()
    .toBuffer();
  const data = await sharp(small, { raw: { width: w, height: h, channels: 3 } })
    .extend({ left, right: width - w - left, top, bottom: height - h - top, background: '#808080' })
    .raw()
    .toBuffer();
  return {
    rgb: new Uint8Array(data.buffer, data.byteOffset, data.length),
    back: (x, y) => [((x - left) * width) / w, ((y - top) * height) / h],
  };
}
