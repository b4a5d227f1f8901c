/** What a FIDO2 policy operation is given: plain values the route unpacked (as devices/operation.ts). */
import type { EnvironmentsTable } from '../../store/schema.js';

export interface Fido2PolicyInputs {
  environment: EnvironmentsTable;
  now: number;
}

export interface OnFido2Policy extends Fido2PolicyInputs {
  policyId: string;
}
