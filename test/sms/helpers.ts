import twilio from 'twilio';
import type { TestServer } from '../helpers/server.js';
import type { RedisStore } from '../../src/session/redis-store.js';

let counter = 0;
/** A fresh provider message id. */
export const messageId = (prefix = 'ATXid_') =>
  `${prefix}${Date.now().toString(36)}${(counter++).toString(36)}${Math.random().toString(36).slice(2, 8)}`;

/** Posts a form over real HTTP. */
export async function postForm(server: TestServer, path: string, fields: Record<string, string>, headers: Record<string, string> = {}) {
  const res = await fetch(`${server.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams(fields).toString(),
  });
  return { status: res.status, type: res.headers.get('content-type') ?? '', body: await res.text() };
}

/** An Africa's Talking inbound SMS notification; returns the HTTP answer. */
export function atSms(server: TestServer, from: string, text: string, extra: Record<string, string> = {}, query = '') {
  return postForm(server, `/channels/africastalking/sms${query}`, {
    from,
    to: '22384',
    text,
    date: new Date().toISOString(),
    id: messageId(),
    networkCode: '63902',
    ...extra,
  });
}

/** Twilio's inbound SMS fields for a message. */
export const twilioFields = (from: string, body: string, sid = messageId('SM')): Record<string, string> => ({
  MessageSid: sid,
  SmsSid: sid,
  AccountSid: 'AC00000000000000000000000000000000',
  From: from,
  To: '+15005550006',
  Body: body,
  NumMedia: '0',
  NumSegments: '1',
  FromCountry: 'KE',
  ApiVersion: '2010-04-01',
});

/** A Twilio inbound SMS signed with the twilio library for `publicUrl` (or with `signature` as given). */
export function twilioSms(
  server: TestServer,
  fields: Record<string, string>,
  opts: { token: string; publicUrl: string; signature?: string | null },
) {
  const path = '/channels/twilio/sms';
  const signature =
    opts.signature === undefined ? twilio.getExpectedTwilioSignature(opts.token, `${opts.publicUrl}${path}`, fields) : opts.signature;
  return postForm(server, path, fields, signature === null ? {} : { 'x-twilio-signature': signature });
}

/** The text of `<Message>` in a TwiML answer (XML entities decoded). */
export function twimlMessage(body: string): string | undefined {
  const m = /<Message>([\s\S]*)<\/Message>/.exec(body);
  return m?.[1]
    ?.replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&amp;/g, '&');
}

/** Every string value the server keeps under its key prefix (sessions, counters, PIN records ...). */
export async function storedValues(server: TestServer): Promise<string[]> {
  const redis = (server.services.store as RedisStore).client;
  const keys = await redis.keys(`${server.config.redisPrefix}:*`);
  const out: string[] = [];
  for (const key of keys) {
    if ((await redis.type(key)) === 'string') out.push(`${key}=${(await redis.get(key)) ?? ''}`);
  }
  return out;
}

/** Waits until every queued SMS has been handed to the messenger, then lists the outbox for `to`. */
export async function outboxOf(server: TestServer, to: string) {
  await server.services.queue.idle();
  return server.services.outbox!.list(to);
}
