/**
 * How an entry of the bundled metadata set (./set.ts) is shown (wave-2 reference §2.4): the
 * documented key order — `environment`, `aaguid`, `metadataStatement`, `createdAt`, `updatedAt` —
 * and no `id` or `_links` on an entry, as in PingOne's examples. The `{fidoDeviceId}` of a read
 * is the AAGUID.
 */
import { Type } from 'typebox';
import { notFound } from '../../../http/errors.js';
import { Ref, Timestamp } from '../../../http/schemas.js';
import { BUNDLED_AT, METADATA_SET, type MetadataEntry } from './set.js';

export const MetadataStatementSchema = Type.Object({
  aaguid: Type.String({ format: 'uuid' }),
  description: Type.String(),
  protocolFamily: Type.Literal('fido2'),
  schema: Type.Literal(3),
});

export const FidoDeviceMetadataSchema = Type.Object({
  environment: Ref,
  aaguid: Type.String({ format: 'uuid' }),
  metadataStatement: MetadataStatementSchema,
  createdAt: Timestamp,
  updatedAt: Timestamp,
});

export const presentMetadata = (environmentId: string, e: MetadataEntry) => ({
  environment: { id: environmentId },
  aaguid: e.aaguid,
  metadataStatement: { aaguid: e.aaguid, description: e.description, protocolFamily: 'fido2' as const, schema: 3 as const },
  createdAt: BUNDLED_AT,
  updatedAt: BUNDLED_AT,
});

/** The entry of an AAGUID, in any letter case; 404 for one not in the set or not an AAGUID at all. */
export function requireMetadata(fidoDeviceId: string): MetadataEntry {
  const wanted = fidoDeviceId.toLowerCase();
  const entry = METADATA_SET.find((e) => e.aaguid === wanted);
  if (!entry) throw notFound();
  return entry;
}
