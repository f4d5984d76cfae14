import { createHash } from 'node:crypto';

/**
 * The Content-Security-Policy of a self-contained page (the admin console, the simulator): its own inline
 * scripts and styles allowed by hash, fetches to its own origin, nothing else. Computed from the page as
 * served, so an injected script or style (a different hash) does not run.
 */

const sha256 = (text: string) => `'sha256-${createHash('sha256').update(text, 'utf8').digest('base64')}'`;

export function inlinePagePolicy(html: string): string {
  const inline = (tag: string) => [...html.matchAll(new RegExp(`<${tag}>([\\s\\S]*?)</${tag}>`, 'g'))].map((m) => sha256(m[1]!));
  return [
    "default-src 'none'",
    `script-src ${inline('script').join(' ')}`,
    `style-src ${inline('style').join(' ')}`,
    "connect-src 'self'",
    "img-src 'self' data:",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
}
