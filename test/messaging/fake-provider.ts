import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A loopback HTTP server standing in for api.africastalking.com / voice.africastalking.com / api.twilio.com.
 * It records every request (form fields as a list of pairs: repeated keys stay visible) and answers with
 * what the test scripted per path. Nothing leaves the machine.
 */

export interface RecordedRequest {
  at: number;
  method: string;
  path: string;
  headers: IncomingMessage['headers'];
  /** Every form field in order; a repeated key appears once per value. */
  pairs: [string, string][];
  /** Last value of each field. */
  form: Record<string, string>;
  raw: string;
}

export interface ScriptedAnswer {
  status: number;
  body?: unknown;
  /** Wait this long before answering (timeouts). */
  delayMs?: number;
}

export type Responder = (req: RecordedRequest, nth: number) => ScriptedAnswer;

export class FakeProvider {
  readonly requests: RecordedRequest[] = [];
  private readonly responders = new Map<string, Responder>();
  private server?: Server;
  url = '';

  /** Answers requests whose path ends with `suffix` (first matching registration wins). */
  on(suffix: string, responder: Responder): this {
    this.responders.set(suffix, responder);
    return this;
  }

  /** Requests to paths ending with `suffix`. */
  to(suffix: string): RecordedRequest[] {
    return this.requests.filter((r) => r.path.endsWith(suffix));
  }

  async start(): Promise<this> {
    this.server = createServer((req, res) => void this.handle(req, res));
    this.server.listen(0, '127.0.0.1');
    await once(this.server, 'listening');
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  async close(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let raw = '';
    for await (const chunk of req) raw += chunk;
    const path = (req.url ?? '/').split('?')[0]!;
    const pairs = [...new URLSearchParams(raw).entries()];
    const recorded: RecordedRequest = {
      at: Date.now(),
      method: req.method ?? '',
      path,
      headers: req.headers,
      pairs,
      form: Object.fromEntries(pairs),
      raw,
    };
    this.requests.push(recorded);
    const entry = [...this.responders.entries()].find(([suffix]) => path.endsWith(suffix));
    const nth = this.requests.filter((r) => entry && r.path.endsWith(entry[0])).length;
    const answer = entry ? entry[1](recorded, nth) : { status: 404, body: { error: 'no such fake route' } };
    if (answer.delayMs) await new Promise((r) => setTimeout(r, answer.delayMs));
    if (res.destroyed) return;
    res.writeHead(answer.status, { 'content-type': 'application/json' });
    res.end(answer.body === undefined ? '' : typeof answer.body === 'string' ? answer.body : JSON.stringify(answer.body));
  }
}

/** AT's answer to one SMS recipient. */
export function atSmsAnswer(statusCode: number, status: string, number = '+254711000001'): unknown {
  return {
    SMSMessageData: {
      Message: statusCode < 200 ? 'Sent to 1/1 Total Cost: KES 0.8000' : 'Sent to 0/1 Total Cost: 0',
      Recipients: [
        {
          statusCode,
          number,
          status,
          cost: statusCode < 200 ? 'KES 0.8000' : '0',
          messageId: statusCode < 200 ? `ATXid_${Date.now()}` : 'None',
        },
      ],
    },
  };
}

/** AT's answer to a call request. */
export function atCallAnswer(status: string, number = '+254711000001'): unknown {
  return {
    entries: [{ phoneNumber: number, status, sessionId: status === 'Queued' ? `ATVId_${Date.now()}` : 'None' }],
    errorMessage: 'None',
  };
}

/** Twilio's REST error body. */
export function twilioError(status: number, code: number, message = 'error'): ScriptedAnswer {
  return { status, body: { code, message, more_info: `https://www.twilio.com/docs/errors/${code}`, status } };
}
