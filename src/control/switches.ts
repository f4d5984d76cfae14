/**
 * Kill switches (issue: identity and control): an operator turns self-service off by scope, and every
 * process obeys within a second. The contract is here; the Redis-backed implementation next to it.
 *
 * Scopes: `all`, `money` (every money movement; reads stay on), `channel:ussd`, `channel:sms`,
 * `channel:voice`, `flow:<id>`.
 */
export type SwitchScope = 'all' | 'money' | `channel:${string}` | `flow:${string}`;

export interface SwitchState {
  scope: SwitchScope;
  off: boolean;
  reason?: string;
  /** Operator name of the last change. */
  by?: string;
  /** ISO time of the last change. */
  at?: string;
}

export interface Switches {
  /**
   * Is this scope off right now, as far as this process knows (its view is at most a second old)?
   * When the state could not be read lately: `money` answers off (fail closed), every other scope on.
   */
  isOff(scope: SwitchScope): boolean;
  /** Is money movement allowed right now (`money` and `all` on, state known)? */
  moneyAllowed(): boolean;
}
