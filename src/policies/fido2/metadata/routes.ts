/**
 * `…/fidoDevicesMetadata` (wave-2 reference §2.4) over the bundled set (./set.ts): list (paged
 * like every collection, reference §7.2) and read by AAGUID; POST and DELETE are refused with
 * 403 and change nothing, since the set is read-only.
 */
import { Type } from 'typebox';
import type { Context } from '../../../context.js';
import { environmentOf } from '../../../http/access.js';
import { metadataReadOnly } from '../../../http/errors.js';
import { listPage, parsePageRequest } from '../../../http/paging.js';
import { Collection, EnvParams, PageQuery, STD_ERRORS, errorResponses } from '../../../http/schemas.js';
import type { App } from '../../../http/types.js';
import { BUNDLED_AT, METADATA_SET } from './set.js';
import { FidoDeviceMetadataSchema, presentMetadata, requireMetadata } from './model.js';

/** Largest page, and the default one. */
export const MAX_METADATA_PAGE = 100;

const Params = Type.Object({ envId: Type.String(), fidoDeviceId: Type.String({ description: 'the AAGUID' }) });
const ROWS = METADATA_SET.map((e) => ({ entry: e, id: e.aaguid, created_at: Date.parse(BUNDLED_AT) }));
const REFUSED = errorResponses(...STD_ERRORS);

export function registerFidoMetadataRoutes(app: App, ctx: Context): void {
  const base = '/v1/environments/:envId/fidoDevicesMetadata';
  const item = `${base}/:fidoDeviceId`;
  const tags = ['fidoDevicesMetadata'];
  const refuse = async () => { throw metadataReadOnly(); };

  app.get(base, {
    schema: { tags, params: EnvParams, querystring: Type.Object(PageQuery), response: { 200: Collection('fidoDevicesMetadata', FidoDeviceMetadataSchema), ...REFUSED } },
  }, async (request) => {
    const environment = environmentOf(request);
    const page = parsePageRequest(request.query, MAX_METADATA_PAGE);
    const { items, links } = listPage(ROWS, page, ctx.config.publicUrl + request.url);
    return { _links: links, _embedded: { fidoDevicesMetadata: items.map((r) => presentMetadata(environment.id, r.entry)) }, count: ROWS.length, size: items.length };
  });

  app.get(item, {
    schema: { tags, params: Params, response: { 200: FidoDeviceMetadataSchema, ...REFUSED } },
  }, async (request) => presentMetadata(environmentOf(request).id, requireMetadata(request.params.fidoDeviceId)));

  app.post(base, { schema: { tags, description: 'Refused: the metadata set is bundled and read-only', params: EnvParams, response: REFUSED } }, refuse);
  app.delete(item, { schema: { tags, description: 'Refused: the metadata set is bundled and read-only', params: Params, response: REFUSED } }, refuse);
}
