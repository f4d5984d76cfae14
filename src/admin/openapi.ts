/**
 * The admin API described as OpenAPI 3.1, served at `GET /admin/openapi.json` (without a token: it holds no
 * secret and no data, and tools need it before anyone signs in).
 *
 * To add a route: add its path (OpenAPI style, `{param}`) and method to `paths` below, with a summary and its
 * answers. test/admin/openapi.test.ts walks the admin router and fails when a route is missing here or a
 * path here has no route.
 */

import { AUDIT_OPENAPI_PATHS } from './audit-routes.js';
import { MANDATE_OPENAPI_PATHS } from './mandate-routes.js';
import { APPLICATION_OPENAPI_PATHS } from './application-routes.js';
import { AGENT_OPENAPI_PATHS } from './agent-routes.js';
import { DENIED, error, json, jsonRequest, ref, type Schema } from './openapi-parts.js';

const clientIdParam = { name: 'clientId', in: 'path', required: true, schema: { type: 'string', pattern: '^\\d{1,12}$' } };

const switchState: Schema = {
  type: 'object',
  required: ['scope', 'off'],
  properties: {
    scope: { type: 'string', examples: ['all', 'money', 'channel:ussd', 'channel:sms', 'channel:voice', 'flow:banking'] },
    off: { type: 'boolean' },
    reason: { type: 'string', maxLength: 200 },
    by: { type: 'string', description: 'operator of the last change' },
    at: { type: 'string', format: 'date-time' },
    pending: {
      type: 'object',
      description: 'ADMIN_FOUR_EYES: a request to switch back on, waiting for a second operator',
      properties: { requestedBy: { type: 'string' }, at: { type: 'string', format: 'date-time' } },
    },
  },
};

export const ADMIN_OPENAPI = {
  openapi: '3.1.0',
  info: {
    title: 'Kiunga admin API',
    version: '1',
    description:
      'Operator routes under /admin (threat T17). Every route but this document and the console needs ' +
      '`Authorization: Bearer <token>` of an operator (ADMIN_TOKENS); every call is audited with the ' +
      "operator's name. Error bodies never carry a phone number or a name. With ADMIN_PORT set, /admin is " +
      'served only on ADMIN_HOST:ADMIN_PORT.',
  },
  components: {
    securitySchemes: { operatorToken: { type: 'http', scheme: 'bearer' } },
    schemas: {
      Error: { type: 'object', required: ['error'], properties: { error: { type: 'string' } } },
      SwitchState: switchState,
      PinStatus: {
        type: 'object',
        properties: {
          clientId: { type: 'integer' },
          locked: { type: 'boolean' },
          hard: { type: 'boolean' },
          until: { type: 'string', format: 'date-time' },
          failures: { type: 'integer' },
          locks: { type: 'integer' },
        },
      },
    },
  },
  security: [{ operatorToken: [] }],
  paths: {
    '/admin/openapi.json': {
      get: { summary: 'This document', security: [], responses: { '200': json({ type: 'object' }) } },
    },
    '/admin/console': {
      get: {
        summary: 'The operator console: a web page the operator signs into with their token (the page holds no data)',
        security: [],
        responses: { '200': { description: 'the page', content: { 'text/html': { schema: { type: 'string' } } } } },
      },
    },
    '/admin/summary': {
      get: {
        summary:
          "The console's key numbers from /metrics (this process since start, except shared ones: sessions, switches, " +
          'audit head, jobs), each with its split by label, and the operator signed in',
        responses: {
          '200': json({
            type: 'object',
            properties: {
              operator: { type: 'string' },
              numbers: {
                type: 'array',
                items: {
                  type: 'object',
                  required: ['key', 'label', 'value'],
                  properties: {
                    key: { type: 'string', examples: ['sessions', 'hops', 'otpSent', 'switchesOff', 'auditHead'] },
                    label: { type: 'string' },
                    value: { type: ['number', 'null'], description: 'null: not measured by this process' },
                    by: { type: 'object', additionalProperties: { type: 'number' } },
                  },
                },
              },
            },
          }),
          ...DENIED,
        },
      },
    },
    '/admin/enrolments': {
      post: {
        summary:
          'Enrols a customer (threat T11): finds the active Fineract client by phone number and sends an activation ' +
          'code by SMS to the number Fineract holds; the next USSD session asks for it, then a new PIN twice. ' +
          '`reset: true` replaces an existing PIN: the old one stops working at once, any lock is lifted, open codes are void.',
        requestBody: jsonRequest({
          type: 'object',
          required: ['phone'],
          additionalProperties: false,
          properties: {
            phone: { type: 'string', examples: ['+254711000002', '0711000002'] },
            reset: { type: 'boolean', default: false },
          },
        }),
        responses: {
          '201': json(
            { type: 'object', properties: { clientId: { type: 'integer' }, status: { const: 'code-sent' } } },
            'activation code sent',
          ),
          '400': error('body is not {phone, reset?}, or phone is not a phone number'),
          '404': error('no active client with this number'),
          '409': json(
            { type: 'object', properties: { error: { type: 'string' }, clientId: { type: 'integer' } } },
            'the customer already has a PIN (send reset: true)',
          ),
          '503': error('Fineract could not be asked'),
          ...DENIED,
          '429': {
            description: 'too many codes sent to this customer lately (JSON), or ADMIN_RATE_PER_MIN exceeded (text)',
            content: { 'application/json': { schema: ref('Error') }, 'text/plain': { schema: { type: 'string' } } },
          },
        },
      },
    },
    '/admin/customers/{clientId}/pin': {
      get: {
        summary: "A customer's PIN lock: locked, hard, until, failures, locks",
        parameters: [clientIdParam],
        responses: { '200': json(ref('PinStatus')), '400': error('clientId is not a number'), ...DENIED },
      },
    },
    '/admin/customers/{clientId}/pin/lock': {
      delete: {
        summary: 'Unlocks a customer locked out by wrong PINs (timed or hard), on every channel',
        parameters: [clientIdParam],
        responses: {
          '200': json({ type: 'object', properties: { clientId: { type: 'integer' }, locked: { const: false } } }),
          '400': error('clientId is not a number'),
          '404': error('no such client in Fineract'),
          '503': error('Fineract could not be asked'),
          ...DENIED,
        },
      },
    },
    '/admin/customers/locked': {
      get: {
        summary: 'Customers whose PIN is locked right now',
        responses: {
          '200': json({
            type: 'object',
            properties: {
              customers: {
                type: 'array',
                items: {
                  type: 'object',
                  properties: {
                    clientId: { type: 'integer' },
                    hard: { type: 'boolean' },
                    until: { type: 'string', format: 'date-time' },
                    locks: { type: 'integer' },
                  },
                },
              },
            },
          }),
          ...DENIED,
        },
      },
    },
    '/admin/transfers': {
      get: {
        summary: 'Money movements whose outcome is not known yet (threats T29, T30), oldest first',
        parameters: [{ name: 'status', in: 'query', schema: { const: 'uncertain' } }],
        responses: {
          '200': json({
            type: 'object',
            properties: { status: { const: 'uncertain' }, transfers: { type: 'array', items: { type: 'object' } } },
          }),
          '400': error('status is not uncertain'),
          ...DENIED,
        },
      },
    },
    '/admin/sessions/count': {
      get: {
        summary: 'Sessions with a live record, by channel (SCAN over the session keys; on a Cluster, every master)',
        responses: {
          '200': json({
            type: 'object',
            properties: {
              sessions: { type: 'object', additionalProperties: { type: 'integer' }, examples: [{ ussd: 12, sms: 3, voice: 0 }] },
              total: { type: 'integer' },
            },
          }),
          '503': error('the store could not be read'),
          ...DENIED,
        },
      },
    },
    '/admin/switches': {
      get: {
        summary: 'Every kill switch scope (all, money, channel:*, flow:<id> of each loaded flow) and its state',
        responses: {
          '200': json({
            type: 'object',
            properties: { fourEyes: { type: 'boolean' }, switches: { type: 'array', items: ref('SwitchState') } },
          }),
          '503': error('the switch state could not be read'),
          ...DENIED,
        },
      },
    },
    '/admin/switches/{scope}': {
      put: {
        summary:
          'Switches a scope off (reason required, at most 200 characters) or on. With ADMIN_FOUR_EYES, switching ' +
          'money or all back on takes two different operators: the first gets 202 pending, the second applies it.',
        parameters: [{ name: 'scope', in: 'path', required: true, schema: { type: 'string' } }],
        requestBody: jsonRequest({
          type: 'object',
          required: ['off'],
          properties: { off: { type: 'boolean' }, reason: { type: 'string', minLength: 1, maxLength: 200 } },
        }),
        responses: {
          '200': json(ref('SwitchState'), 'applied'),
          '202': json(
            { type: 'object', properties: { status: { const: 'pending' }, requestedBy: { type: 'string' } } },
            'four eyes: waiting for a second operator (15 minutes)',
          ),
          '400': error('body is not {off, reason}; reason missing when switching off, or too long'),
          '404': error('unknown scope'),
          '409': error('four eyes: the operator who asked cannot confirm'),
          '503': error('the switch state could not be read or written'),
          ...DENIED,
        },
      },
    },
    ...AUDIT_OPENAPI_PATHS,
    ...MANDATE_OPENAPI_PATHS,
    ...APPLICATION_OPENAPI_PATHS,
    ...AGENT_OPENAPI_PATHS,
  } as Record<string, Record<string, unknown>>,
};
