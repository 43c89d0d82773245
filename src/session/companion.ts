// The port a method implements when its sessions carry tokens of an identity provider (OpenID
// Connect): the session authenticator asks the method that created a session for the upstream
// headers of every request, and for new tokens when the stored ones are about to expire. Declared
// here, implemented in authn/, so sessions never import a method.
import type { HeaderPair } from '../core/identity.js';
import type { SessionRecord } from './record.js';

/** Whether a session's tokens serve as they are. */
export type Freshness =
  /** Good for now. */
  | 'fresh'
  /** Within the refresh leeway: refresh, but the current tokens still serve if another replica is at it. */
  | 'due'
  /** Unusable: refresh before answering, or end the session. */
  | 'expired';

export interface SessionCompanion {
  /** The method (by its name in the policy) whose sessions this serves: `SessionRecord.method`. */
  readonly method: string;
  /** Upstream headers of a request the session authenticated (userinfo, access and ID token). */
  headers(record: SessionRecord): readonly HeaderPair[];
  freshness(record: SessionRecord, now: number): Freshness;
  /**
   * Asks the provider for new tokens: the record with the tokens replaced, or undefined when the
   * session must end (refused, or the provider cannot be reached). Never rejects.
   */
  refresh(record: SessionRecord, now: number): Promise<SessionRecord | undefined>;
  /**
   * After a logout ended a session of this method: revokes what the method says (not in a dry run)
   * and answers where the browser goes next (the provider's end-session page), if anywhere. Never rejects.
   */
  afterLogout(record: SessionRecord, dryRun?: boolean): Promise<string | undefined>;
}
