import { describe, expect, it } from 'vitest';
import { parseRedisUrl, scrubSecrets } from '../../src/session/redis-url.js';

describe('parseRedisUrl', () => {
  it('reads a standalone URL, with credentials, database and TLS', () => {
    expect(parseRedisUrl('redis://127.0.0.1:6380')).toMatchObject({ mode: 'standalone', host: '127.0.0.1', port: 6380, db: 0, tls: false });
    const t = parseRedisUrl('rediss://app:p%40ss@cache.example:6390/2');
    expect(t).toMatchObject({ mode: 'standalone', host: 'cache.example', port: 6390, db: 2, tls: true, username: 'app', password: 'p@ss' });
    expect(t.secrets).toEqual(expect.arrayContaining(['p@ss', 'p%40ss']));
    expect(parseRedisUrl('redis://:pw@h')).toMatchObject({ port: 6379, password: 'pw' });
    expect(parseRedisUrl('redis://[::1]:7000')).toMatchObject({ host: '::1', port: 7000 });
  });

  it('reads a Sentinel URL', () => {
    expect(parseRedisUrl('redis-sentinel://:pw@s1:26379,s2,s3:26400/mymaster/1?sentinelPassword=spw')).toMatchObject({
      mode: 'sentinel',
      name: 'mymaster',
      db: 1,
      password: 'pw',
      sentinelPassword: 'spw',
      sentinels: [
        { host: 's1', port: 26379 },
        { host: 's2', port: 26379 },
        { host: 's3', port: 26400 },
      ],
    });
  });

  it('reads a Cluster URL', () => {
    expect(parseRedisUrl('rediss-cluster://n1:7000,n2:7001')).toMatchObject({
      mode: 'cluster',
      tls: true,
      nodes: [
        { host: 'n1', port: 7000 },
        { host: 'n2', port: 7001 },
      ],
    });
  });

  it('refuses what it does not understand', () => {
    for (const url of [
      'http://h',
      'redis://',
      'redis://a,b',
      'redis://h/x',
      'redis://h?enableOfflineQueue=true',
      'redis-sentinel://s1',
      'redis-cluster://n1/0',
      'redis://h:0',
      'redis://u:%zz@h',
    ]) {
      expect(() => parseRedisUrl(url), url).toThrow(TypeError);
    }
  });
});

describe('scrubSecrets', () => {
  it('removes the secrets and any URL credentials from a message', () => {
    expect(scrubSecrets('auth hunter2 failed for redis://u:other@h', ['hunter2'])).toBe('auth *** failed for redis://***@h');
  });
});
