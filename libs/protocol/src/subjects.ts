/**
 * Every NATS subject Switchboard uses is built here or in the channel registry.
 *
 * Events:      sb.ev.<tenant>.<channel subject tokens>  (see ChannelRegistry)
 * Services:    sb.svc.<service>.<operation>
 * Delegates:   sb.authz.<resource>         (answered by domain services)
 * Permissions: sb.authz.changed.<tenant>   (published by domain services)
 *
 * The tenant is the third token of every event subject, so a subscription of one
 * tenant can never match another tenant's events, whatever the ids look like.
 */
const ROOT = 'sb';

export const ServiceSubjects = {
  authVerify: `${ROOT}.svc.auth.verify`,
  authorizeSubscribe: `${ROOT}.svc.authz.subscribe`,
  publish: `${ROOT}.svc.publisher.publish`,
  connectionAcquire: `${ROOT}.svc.limits.acquire`,
  connectionRelease: `${ROOT}.svc.limits.release`,
  gatewayHeartbeat: `${ROOT}.svc.limits.heartbeat`,
  authRevoke: `${ROOT}.svc.auth.revoke`,
  /** Auth announces a graceful stop here, so callers that remember keys forget them. */
  authStopping: `${ROOT}.svc.auth.stopping`,
  authCreateKey: `${ROOT}.svc.auth.keys.create`,
  authListKeys: `${ROOT}.svc.auth.keys.list`,
} as const;

/** Where a delegate policy asks the domain service that owns `resource`. */
export function delegateSubject(resource: string): string {
  return `${ROOT}.authz.${resource}`;
}

/** Where domain services announce a permission change of `tenant`. */
export function permissionChangeSubject(tenant: string): string {
  return `${ROOT}.authz.changed.${tenant}`;
}

/** Matches the permission changes of every tenant. */
export const PERMISSION_CHANGES = `${ROOT}.authz.changed.*`;

/** The tenant of a permission-change subject, or undefined for any other subject. */
export function tenantOfPermissionChange(subject: string): string | undefined {
  const prefix = `${ROOT}.authz.changed.`;
  if (!subject.startsWith(prefix)) return undefined;
  const tenant = subject.slice(prefix.length);
  return tenant.includes('.') || tenant === '' ? undefined : tenant;
}

/** True when `subject` is one of `tenant`'s event subjects (no `>`): what a grant may name. */
export function isTenantEventSubject(tenant: string, subject: string): boolean {
  return subject.startsWith(`${ROOT}.ev.${tenant}.`) && !subject.split('.').includes('>');
}
