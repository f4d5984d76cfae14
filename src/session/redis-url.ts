/**
 * Parses the `REDIS_URL` forms Kiunga accepts into connection settings (see `createRedisStore`). Messages
 * never repeat the URL: it may hold a password.
 */

export interface HostPort {
  host: string;
  port: number;
}

interface Credentials {
  username?: string;
  password?: string;
}

export type RedisTarget = (
  | ({ mode: 'standalone'; db: number } & HostPort)
  | { mode: 'sentinel'; sentinels: HostPort[]; name: string; db: number; sentinelUsername?: string; sentinelPassword?: string }
  | { mode: 'cluster'; nodes: HostPort[] }
) &
  Credentials & {
    tls: boolean;
    /** Every secret found in the URL, to scrub from error messages and logs. */
    secrets: string[];
  };

const SCHEMES: Record<string, { mode: RedisTarget['mode']; tls: boolean; port: number }> = {
  redis: { mode: 'standalone', tls: false, port: 6379 },
  rediss: { mode: 'standalone', tls: true, port: 6379 },
  'redis-sentinel': { mode: 'sentinel', tls: false, port: 26379 },
  'rediss-sentinel': { mode: 'sentinel', tls: true, port: 26379 },
  'redis-cluster': { mode: 'cluster', tls: false, port: 6379 },
  'rediss-cluster': { mode: 'cluster', tls: true, port: 6379 },
};

function invalid(why: string): TypeError {
  return new TypeError(`invalid Redis URL: ${why}`);
}

function decode(part: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    throw invalid('bad percent-encoding in the credentials');
  }
}

function parseHost(item: string, defaultPort: number): HostPort {
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([^:[\]]+))(?::(\d{1,5}))?$/.exec(item);
  if (!m) throw invalid('bad host list');
  const port = m[3] === undefined ? defaultPort : Number(m[3]);
  if (port < 1 || port > 65535) throw invalid('port out of range');
  return { host: (m[1] ?? m[2]) as string, port };
}

function parseDb(segment: string | undefined): number {
  if (segment === undefined || segment === '') return 0;
  if (!/^\d{1,5}$/.test(segment)) throw invalid('database must be a number');
  return Number(segment);
}

export function parseRedisUrl(url: string): RedisTarget {
  const m = /^([a-z-]+):\/\/([^/?#]*)([^?#]*)(?:\?([^#]*))?$/i.exec(url.trim());
  if (!m) throw invalid('expected <scheme>://[user:password@]host[:port][/...]');
  const [, schemeRaw = '', authority = '', path = '', query = ''] = m;
  const scheme = SCHEMES[schemeRaw.toLowerCase()];
  if (!scheme) throw invalid(`unsupported scheme; use one of ${Object.keys(SCHEMES).join(', ')}`);

  const at = authority.lastIndexOf('@');
  const userinfo = at < 0 ? '' : authority.slice(0, at);
  const hostList = authority.slice(at + 1);
  if (hostList === '') throw invalid('no host');
  const colon = userinfo.indexOf(':');
  const username = decode(colon < 0 ? userinfo : userinfo.slice(0, colon));
  const password = colon < 0 ? '' : decode(userinfo.slice(colon + 1));
  const secrets = [password, colon < 0 ? '' : userinfo.slice(colon + 1)];

  const params = new URLSearchParams(query);
  const allowed = scheme.mode === 'sentinel' ? ['sentinelUsername', 'sentinelPassword'] : [];
  for (const key of params.keys()) if (!allowed.includes(key)) throw invalid(`unsupported query parameter "${key}"`);

  const base = {
    tls: scheme.tls,
    secrets: [] as string[],
    ...(username ? { username } : {}),
    ...(password ? { password } : {}),
  };
  const hosts = hostList.split(',').map((item) => parseHost(item, scheme.port));
  const segments = path.split('/').slice(1);
  let target: RedisTarget;

  switch (scheme.mode) {
    case 'standalone': {
      if (hosts.length !== 1) throw invalid('a standalone URL names one host');
      if (segments.length > 1) throw invalid('path must be /<db>');
      target = { ...base, mode: 'standalone', ...(hosts[0] as HostPort), db: parseDb(segments[0]) };
      break;
    }
    case 'sentinel': {
      const [name, db, ...rest] = segments;
      if (!name || rest.length > 0) throw invalid('path must be /<masterName>[/<db>]');
      const sentinelUsername = params.get('sentinelUsername') ?? undefined;
      const sentinelPassword = params.get('sentinelPassword') ?? undefined;
      if (sentinelPassword) secrets.push(sentinelPassword, encodeURIComponent(sentinelPassword));
      target = {
        ...base,
        mode: 'sentinel',
        sentinels: hosts,
        name: decode(name),
        db: parseDb(db),
        ...(sentinelUsername ? { sentinelUsername } : {}),
        ...(sentinelPassword ? { sentinelPassword } : {}),
      };
      break;
    }
    case 'cluster': {
      if (segments.some((s) => s !== '')) throw invalid('a cluster URL has no path');
      target = { ...base, mode: 'cluster', nodes: hosts };
      break;
    }
  }
  target.secrets = [...new Set(secrets.filter((s) => s.length > 0))];
  return target;
}

/** Removes every secret of `target`, and any `//user:password@` fragment, from a message. */
export function scrubSecrets(message: string, secrets: readonly string[]): string {
  let out = message.replace(/\/\/[^/\s@]*@/g, '//***@');
  for (const secret of secrets) out = out.split(secret).join('***');
  return out;
}
