/** What an OATH operation is given: plain values the route unpacked (as devices/operation.ts). */
import type { EnvironmentsTable } from '../store/schema.js';

export interface OathInput {
  environment: EnvironmentsTable;
  now: number;
}

export interface OnToken extends OathInput {
  tokenId: string;
}
