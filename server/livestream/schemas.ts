import { z } from 'zod';
import { STREAM_ACTIONS } from './livestream.ts';

export const streamActionBody = z.strictObject({ action: z.enum(STREAM_ACTIONS) });
export const streamableBody = z.strictObject({ streamable: z.boolean() });
export const protectionBody = z.strictObject({ hidden: z.boolean(), voice: z.enum(['natural', 'disguised']).default('natural') });
