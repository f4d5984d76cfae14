/**
 * `/admin/openapi.json` describes every admin route, and only those (issue 10): the test walks the admin app's
 * router (every route registered on it or on a router mounted without a path) and compares paths and methods
 * with the document served. Adding a route without describing it, or describing one that does not exist,
 * fails here.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Express } from 'express';
import { buildAdminApp } from '../../src/app.js';
import { ADMIN_OPENAPI } from '../../src/admin/openapi.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

interface Layer {
  route?: { path: string | string[]; methods: Record<string, boolean> };
  handle?: { stack?: Layer[] };
}

/** `METHOD /path` of every route under /admin, express `:param` written as OpenAPI `{param}`. */
function routesOf(stack: Layer[], out = new Set<string>()): Set<string> {
  for (const layer of stack) {
    if (layer.route) {
      for (const path of [layer.route.path].flat()) {
        if (!path.startsWith('/admin')) continue;
        for (const method of Object.keys(layer.route.methods)) {
          if (method === '_all') continue;
          out.add(`${method.toUpperCase()} ${path.replace(/:([A-Za-z0-9_]+)/g, '{$1}')}`);
        }
      }
    } else if (layer.handle?.stack) routesOf(layer.handle.stack, out);
  }
  return out;
}

const documented = (doc: { paths: Record<string, Record<string, unknown>> }) =>
  new Set(Object.entries(doc.paths).flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`)));

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ ADMIN_TOKENS: 'alice:alice-token-for-openapi-0123456789' });
});
afterAll(async () => {
  await server?.close();
});

describe('the admin OpenAPI document', () => {
  it('should describe every admin route the router serves, and no route it does not', async () => {
    const app = buildAdminApp(server.services) as Express & { router: { stack: Layer[] } };
    const served = routesOf(app.router.stack);
    expect(served.size).toBeGreaterThan(8);
    const doc = (await (await fetch(`${server.url}/admin/openapi.json`)).json()) as typeof ADMIN_OPENAPI;
    expect(doc.openapi).toBe('3.1.0');
    const described = documented(doc);
    expect([...served].filter((r) => !described.has(r)).sort()).toEqual([]);
    expect([...described].filter((r) => !served.has(r)).sort()).toEqual([]);
  });

  it('should be served without a token, and every other admin route only with one', async () => {
    expect((await fetch(`${server.url}/admin/openapi.json`)).status).toBe(200);
    expect((await fetch(`${server.url}/admin/switches`)).status).toBe(401);
  });
});
