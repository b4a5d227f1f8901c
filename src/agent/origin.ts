/** The origin rule lives in src/protocol/desktop.ts, shared with the server. */
export { checkOrigin, parseOrigin, type OriginCheck as OriginResult } from '../protocol/desktop.js';
