/**
 * What a device operation is given: plain values that the route handler (routes.ts) unpacked
 * from the request — never the request itself — so the operations run, and are tested, without
 * HTTP. `now` is read once per request from the injected clock.
 */
import type { EnvironmentsTable } from '../store/schema.js';

export interface UserDevicesInput {
  environment: EnvironmentsTable;
  userId: string;
  body: unknown;
  now: number;
}

export interface DeviceInput extends UserDevicesInput {
  deviceId: string;
}
