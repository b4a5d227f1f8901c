/** HAL links (reference §1.3, §11.8): absolute hrefs built from the configured public URL. */
export interface Link {
  href: string;
}
export type Links = Record<string, Link>;

export class LinkBuilder {
  readonly api: string;
  readonly auth: string;
  constructor(apiPath: string, authPath: string) {
    this.api = apiPath;
    this.auth = authPath;
  }
  environment(envId: string): string {
    return `${this.api}/environments/${envId}`;
  }
  population(envId: string, id: string): string {
    return `${this.environment(envId)}/populations/${id}`;
  }
  user(envId: string, userId: string): string {
    return `${this.environment(envId)}/users/${userId}`;
  }
  devices(envId: string, userId: string): string {
    return `${this.user(envId, userId)}/devices`;
  }
  device(envId: string, userId: string, deviceId: string): string {
    return `${this.devices(envId, userId)}/${deviceId}`;
  }
  application(envId: string, appId: string): string {
    return `${this.environment(envId)}/applications/${appId}`;
  }
  policy(envId: string, id: string): string {
    return `${this.environment(envId)}/deviceAuthenticationPolicies/${id}`;
  }
  issuer(envId: string): string {
    return `${this.auth}/${envId}/as`;
  }
}

export const link = (href: string): Link => ({ href });
