import { z } from 'zod';

/** A courtroom camera, as the court platform adds it (POST /hearings/:id/sources). */
export const addSourceBody = z.strictObject({
  /** As the hearing shows it under the picture (e.g. 第一法庭全景). */
  name: z.string().trim().min(1).max(64),
  kind: z.literal('rtsp'),
  /** The camera's RTSP URL (user and password in it if the camera asks for them; never shown again). */
  url: z.url({ protocol: /^rtsps?$/, hostname: z.regexes.hostname }).max(2048),
});
