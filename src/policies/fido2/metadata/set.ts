/**
 * The bundled FIDO metadata set behind `…/fidoDevicesMetadata` (wave-2 reference §2.4): a few
 * well-known authenticators by their published AAGUIDs. Each statement says only what is known
 * for certain — the AAGUID, the product's name, the FIDO2 protocol family and the metadata
 * schema version (3) — and no certification, key-protection or attestation-root data, which a
 * bundled list could not keep true. Read-only: the routes refuse POST and DELETE.
 */

/** When this set was compiled: every entry's `createdAt` and `updatedAt`. */
export const BUNDLED_AT = '2026-12-01T00:00:00.000Z';

export interface MetadataEntry {
  aaguid: string;
  description: string;
}

/** Sorted by AAGUID: the list order, and the order its cursors walk. */
export const METADATA_SET: readonly MetadataEntry[] = [
  { aaguid: '08987058-cadc-4b81-b6e1-30de50dcbe96', description: 'Windows Hello' },
  { aaguid: 'adce0002-35bc-c60a-648b-0b25f1f05503', description: 'Chrome on Mac' },
  { aaguid: 'bada5566-a7aa-401f-bd96-45619a55120d', description: '1Password' },
  { aaguid: 'c5ef55ff-ad9a-4b9f-b580-adebafe026d0', description: 'YubiKey 5Ci' },
  { aaguid: 'cb69481e-8ff7-4039-93ec-0a2729a154a8', description: 'YubiKey 5 Series with NFC' },
  { aaguid: 'ea9b8d66-4d01-1d21-3ce4-b6b48cb575d4', description: 'Google Password Manager' },
  { aaguid: 'fbfc3007-154e-4ecc-8c0b-6e020557d7bd', description: 'iCloud Keychain' },
];
