import type { IncomingMessage, ServerResponse } from 'node:http';
import { stringify } from './serialize.js';

/** Plumbing of the sandbox server: JSON bodies in and out, Basic credentials. */

const MAX_BODY_BYTES = 1_000_000;

/** Writes a Gson-style JSON answer; an `undefined` body sends no body at all (e.g. 425). */
export function write(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (body === undefined) {
    res.writeHead(status, { 'Content-Length': '0', ...headers });
    res.end();
    return;
  }
  const text = stringify(body);
  res.writeHead(status, {
    'Content-Type': 'application/json',
    'Content-Length': Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

export function parseBasic(header: string | undefined): { username: string; password: string } | null {
  if (!header) return null;
  const m = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header);
  if (!m) return null;
  const decoded = Buffer.from(m[1] as string, 'base64').toString('utf8');
  const i = decoded.indexOf(':');
  return i < 0 ? null : { username: decoded.slice(0, i), password: decoded.slice(i + 1) };
}

/** Reads a JSON body (at most 1 MB); an empty body is `undefined`, malformed JSON is flagged. */
export async function readJsonBody(req: IncomingMessage): Promise<{ value: unknown; invalid: boolean }> {
  if (req.method === 'GET' || req.method === 'HEAD' || req.method === 'DELETE') {
    req.resume();
    return { value: undefined, invalid: false };
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) return { value: undefined, invalid: true };
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString('utf8').trim();
  if (text === '') return { value: undefined, invalid: false };
  try {
    return { value: JSON.parse(text) as unknown, invalid: false };
  } catch {
    return { value: undefined, invalid: true };
  }
}
