import { z } from 'zod';

/** As the hearing shows it under the picture (e.g. 第一法庭全景). */
const name = z.string().trim().min(1).max(64);

/** A courtroom camera, as the court platform adds it (POST /hearings/:id/sources). */
export const addSourceBody = z.discriminatedUnion('kind', [
  z.strictObject({
    name,
    kind: z.literal('rtsp'),
    /** The camera's RTSP URL (user and password in it if the camera asks for them; never shown again). */
    url: z.url({ protocol: /^rtsps?$/, hostname: z.regexes.hostname }).max(2048),
  }),
  /** A camera that pushes RTMP: the answer has its push URL (with its key, given out once). */
  z.strictObject({ name, kind: z.literal('rtmp') }),
]);
