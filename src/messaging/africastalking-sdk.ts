import { createRequire } from 'node:module';

/**
 * The two calls Kiunga makes with the `africastalking` SDK (0.8.3), typed here: the SDK ships no types and
 * `@types/africastalking` does not match the SDK's actual calls. The adapters take this narrow interface, so
 * their mapping is tested with a stub and the SDK's wire format against a loopback fake.
 *
 * SDK facts this relies on (read in `node_modules/africastalking/lib`):
 * - `SMS.send({ to, message, from? })` posts `username,to,message,bulkSMSMode=1[,from]` to
 *   `Common.SMS_URL` with header `apikey`; it resolves only on HTTP 201 (with the body), rejects with the
 *   body on another 2xx, with an axios error on 4xx/5xx or no answer, and with an `Error` when its own
 *   validation fails (a number without `+`).
 * - `SMS.sendPremium({ to, message, from?, keyword, linkId })` posts `...,bulkSMSMode=0,keyword,linkId` to
 *   `${Common.CONTENT_URL}/messaging`; an omitted `linkId` is sent as the string "undefined",
 *   so it is only called with both `keyword` and `linkId`.
 * - `VOICE.call({ callFrom, callTo, clientRequestId })` posts `username,to,from,clientRequestId` to
 *   `${Common.VOICE_URL}/call`; an omitted `clientRequestId` is sent as the string "undefined", so callers
 *   always pass one. Its validation errors reject with a **string**.
 * - Neither sets a timeout (axios' default instance): the adapters race their own.
 * - The URLs live in the SDK's module state (`lib/common.js`); a username of `sandbox` switches them, for
 *   the whole process, to Africa's Talking's sandbox hosts.
 */

export interface AtSmsSendOptions {
  to: string[];
  message: string;
  from?: string;
}

export interface AtSmsPremiumOptions {
  to: string[];
  message: string;
  /** The premium short code. */
  from?: string;
  keyword: string;
  linkId: string;
}

export interface AtVoiceCallOptions {
  callFrom: string;
  callTo: string[];
  clientRequestId: string;
}

export interface AfricasTalkingApi {
  SMS: { send(options: AtSmsSendOptions): Promise<unknown>; sendPremium(options: AtSmsPremiumOptions): Promise<unknown> };
  VOICE: { call(options: AtVoiceCallOptions): Promise<unknown> };
}

export interface AfricasTalkingSdkOptions {
  username: string;
  apiKey: string;
  /**
   * Send to other base URLs than Africa's Talking's (tests: a loopback fake). `sms` replaces the messaging
   * URL (`https://api.africastalking.com/version1/messaging`), `voice` the voice base
   * (`https://voice.africastalking.com`), `content` the premium base (`https://content.africastalking.com/version1`).
   * Process-wide: the SDK keeps its URLs in module state.
   */
  endpoints?: { sms?: string; voice?: string; content?: string };
}

const require = createRequire(import.meta.url);

interface SdkCommon {
  SMS_URL: string;
  VOICE_URL: string;
  CONTENT_URL: string;
}

/** Builds the SDK client; only the two calls above are exposed, with every optional field under our control. */
export function createAfricasTalkingSdk(options: AfricasTalkingSdkOptions): AfricasTalkingApi {
  const factory = require('africastalking') as (opts: { username: string; apiKey: string }) => AfricasTalkingApi;
  const at = factory({ username: options.username, apiKey: options.apiKey });
  // After construction: a `sandbox` username resets the URLs while constructing.
  if (options.endpoints) {
    const common = require('africastalking/lib/common') as SdkCommon;
    if (options.endpoints.sms) common.SMS_URL = options.endpoints.sms;
    if (options.endpoints.voice) common.VOICE_URL = options.endpoints.voice.replace(/\/+$/, '');
    if (options.endpoints.content) common.CONTENT_URL = options.endpoints.content.replace(/\/+$/, '');
  }
  return {
    SMS: {
      // Only defined fields are passed: the SDK turns an undefined value into the text "undefined".
      send: (o) => at.SMS.send({ to: o.to, message: o.message, ...(o.from ? { from: o.from } : {}) }),
      sendPremium: (o) =>
        at.SMS.sendPremium({ to: o.to, message: o.message, keyword: o.keyword, linkId: o.linkId, ...(o.from ? { from: o.from } : {}) }),
    },
    VOICE: {
      call: (o) => at.VOICE.call({ callFrom: o.callFrom, callTo: o.callTo, clientRequestId: o.clientRequestId }),
    },
  };
}
