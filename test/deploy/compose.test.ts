import { generateKeyPairSync } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BlockList } from 'node:net';
import { createRequire } from 'node:module';
import { Ajv } from 'ajv';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { SETTINGS } from '../../src/settings.js';
import { loadConfig } from '../../src/config.js';
import { parseRedisUrl } from '../../src/session/redis-url.js';

/**
 * deploy/compose.yaml cannot be run here (no container engine), so it is checked as far as a file can be:
 * against the Compose Specification's JSON Schema (vendored: compose-spec.NOTICE.md), and for what the schema
 * cannot see: every variable it sets for Kiunga is a Kiunga setting and, with the example secrets, makes a
 * configuration Kiunga accepts against a real Fineract; every host, port and address it or the proxy's
 * configuration names is a service of the file; every file it mounts exists, and every secret env file has a
 * committed example while the real one is ignored by git.
 */

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const DEPLOY = resolve(ROOT, 'deploy');
const read = (path: string) => readFileSync(resolve(DEPLOY, path), 'utf8');

interface Service {
  image?: string;
  build?: unknown;
  command?: string | string[];
  environment?: Record<string, string>;
  env_file?: { path: string; required?: boolean }[];
  depends_on?: Record<string, unknown> | string[];
  networks?: Record<string, { ipv4_address?: string } | null> | string[];
  volumes?: string[];
  ports?: string[];
}
interface Compose {
  services: Record<string, Service>;
  networks: Record<string, { ipam?: { config?: { subnet: string }[] } }>;
  volumes: Record<string, unknown>;
}

/** The file as Compose reads it: YAML 1.1 merge keys (`<<: *kiunga`) resolved. */
const compose = parse(read('compose.yaml'), { merge: true }) as Compose;
const { services } = compose;
const kiunga = Object.entries(services).filter(([, s]) => s.image === 'kiunga:local');
const exampleOf = (path: string) => `${path}.example`;

/** `NAME=value` lines of an env file. */
function envFile(path: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of read(path).split('\n')) {
    const m = /^([A-Z][A-Z0-9_]*)=(.*)$/.exec(line.trim());
    if (m) out[m[1]!] = m[2]!;
  }
  return out;
}

/** `${NAME:?message}` and `${NAME:-default}` as Compose interpolates them, from `vars`. */
function interpolate(value: string, vars: Record<string, string>): string {
  return value.replace(/\$\{([A-Z0-9_]+)(?::[?-]([^}]*))?\}/g, (_, name: string) => vars[name] ?? '');
}

describe('deploy/compose.yaml against the Compose Specification', () => {
  const schema = JSON.parse(readFileSync(resolve(ROOT, 'test/deploy/compose-spec.json'), 'utf8')) as object;
  // The schema uses the `deprecated` annotation of later drafts; strict mode would refuse it as unknown.
  const ajv = new Ajv({ allErrors: true, strict: false });
  // It names its meta-schema by the https address, which ajv knows under http: the same draft-07 document.
  const draft7 = createRequire(import.meta.url)('ajv/dist/refs/json-schema-draft-07.json') as object;
  ajv.addMetaSchema({ ...draft7, $id: 'https://json-schema.org/draft-07/schema' });
  const validate = ajv.compile(schema);

  it('is a valid Compose file', () => {
    const ok = validate(compose);
    expect(validate.errors ?? [], JSON.stringify(validate.errors, null, 2)).toEqual([]);
    expect(ok).toBe(true);
  });

  it('is really checked: the same file with a wrong field fails the schema', () => {
    const broken = structuredClone(compose) as unknown as { services: Record<string, Record<string, unknown>> };
    broken.services.proxy!.ports = 'all of them';
    broken.services['kiunga-1']!.restart_policy = 'always';
    expect(validate(broken)).toBe(false);
    expect(validate.errors?.map((e) => e.instancePath)).toEqual(expect.arrayContaining(['/services/proxy/ports', '/services/kiunga-1']));
  });
});

describe('what the schema cannot see', () => {
  it('runs two Kiunga processes from the Dockerfile', () => {
    expect(kiunga.map(([name]) => name)).toEqual(['kiunga-1', 'kiunga-2']);
    for (const [, s] of kiunga) expect(s.build).toEqual({ context: '..', dockerfile: 'Dockerfile' });
    expect(existsSync(resolve(ROOT, 'Dockerfile'))).toBe(true);
  });

  it('sets only real Kiunga settings, in the file and in its env file', () => {
    const known = new Set(Object.keys(SETTINGS));
    for (const [name, s] of kiunga) {
      for (const key of Object.keys(s.environment ?? {})) expect(known, `${name}: ${key}`).toContain(key);
      for (const file of s.env_file ?? []) {
        for (const key of Object.keys(envFile(exampleOf(file.path)))) expect(known, `${file.path}: ${key}`).toContain(key);
      }
    }
  });

  it('makes, with the example secrets, a configuration Kiunga accepts against a real Fineract', () => {
    const [, s] = kiunga[0]!;
    const vars = { KIUNGA_PUBLIC_URL: 'https://ussd.example-mfi.co.ke' };
    const env: Record<string, string> = {};
    for (const [key, value] of Object.entries(s.environment ?? {})) env[key] = interpolate(String(value), vars);
    for (const file of s.env_file ?? []) Object.assign(env, envFile(exampleOf(file.path)));
    // The example cannot hold a real key; a fresh one stands in for what `kiunga audit keygen` prints.
    env.AUDIT_SIGNING_KEY = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'der' }).toString('base64');
    // No KIUNGA_ALLOW_INSECURE: loadConfig refuses a deployment with an unsafe setting (threat T27).
    expect(env.KIUNGA_ALLOW_INSECURE).toBeUndefined();
    const config = loadConfig(env);
    expect(config.admin.listen).toEqual({ host: '0.0.0.0', port: 3001 });
    expect(config.fineract.url).toBe('http://fineract:8080/fineract-provider/api/v1');
  });

  it('points Kiunga at services of the file: Redis through the Sentinels, Fineract on its port', () => {
    const [, s] = kiunga[0]!;
    const env = { ...envFile(exampleOf(s.env_file![0]!.path)), ...s.environment };
    const redis = parseRedisUrl(env.REDIS_URL!);
    expect(redis.mode).toBe('sentinel');
    if (redis.mode !== 'sentinel') return;
    expect(redis.sentinels.map((h) => h.host)).toEqual(['sentinel-1', 'sentinel-2', 'sentinel-3']);
    for (const h of redis.sentinels) {
      expect(services).toHaveProperty([h.host]);
      expect(h.port).toBe(26379);
    }
    // The master name Kiunga asks for is the one the Sentinels monitor, on a data node of the file.
    const monitor = /sentinel monitor (\S+) (\S+) (\d+) (\d+)/.exec(String(services['sentinel-1']!.command))!;
    expect(monitor[1]).toBe(redis.name);
    expect(services).toHaveProperty([monitor[2]!]);
    const replicas = ['redis-replica', 'redis-replica-2'];
    for (const name of replicas) expect(String(services[name]!.command)).toContain(`--replicaof ${monitor[2]} ${monitor[3]}`);
    // A master cut off from every replica for 10 s refuses writes (NOREPLICAS) instead of taking writes a failover
    // throws away, on every node that can become the master; two replicas, so a new master still has one.
    for (const name of [monitor[2]!, ...replicas])
      expect(String(services[name]!.command)).toContain('--min-replicas-to-write 1 --min-replicas-max-lag 10');
    const fineract = new URL(env.FINERACT_URL!);
    expect(services).toHaveProperty([fineract.hostname]);
    expect(fineract.port).toBe(services.fineract!.environment!.FINERACT_SERVER_PORT);
  });

  it('names only services, networks and volumes the file defines', () => {
    for (const [name, s] of Object.entries(services)) {
      const deps = Array.isArray(s.depends_on) ? s.depends_on : Object.keys(s.depends_on ?? {});
      for (const dep of deps) expect(services, `${name} depends on ${dep}`).toHaveProperty([dep]);
      const nets = Array.isArray(s.networks) ? s.networks : Object.keys(s.networks ?? {});
      for (const net of nets) expect(compose.networks, `${name} joins ${net}`).toHaveProperty([net]);
      for (const volume of s.volumes ?? []) {
        const source = volume.split(':')[0]!;
        if (source.startsWith('.')) continue; // a bind mount: the next test
        expect(compose.volumes, `${name} mounts ${source}`).toHaveProperty([source]);
      }
    }
    // Fineract's database settings name the MariaDB service.
    const f = services.fineract!.environment!;
    expect(f.FINERACT_HIKARI_JDBC_URL).toMatch(/^jdbc:mariadb:\/\/mariadb:3306\//);
    expect(services).toHaveProperty([f.FINERACT_DEFAULT_TENANTDB_HOSTNAME!]);
    expect(f.FINERACT_HIKARI_USERNAME).toBe(services.mariadb!.environment!.MARIADB_USER);
  });

  it('mounts files that exist, and keeps every secret env file out of git with a committed example', () => {
    for (const [name, s] of Object.entries(services)) {
      for (const volume of s.volumes ?? []) {
        const source = volume.split(':')[0]!;
        if (!source.startsWith('.')) continue;
        if (source === './tls') {
          // The proxy's certificate is the operator's (docs/deployment.md): ignored by git, not committed.
          expect(execFileSync('git', ['check-ignore', 'deploy/tls/privkey.pem'], { cwd: ROOT }).toString().trim()).toBe(
            'deploy/tls/privkey.pem',
          );
          continue;
        }
        expect(existsSync(resolve(DEPLOY, source)), `${name} mounts ${source}`).toBe(true);
      }
      for (const file of s.env_file ?? []) {
        expect(existsSync(resolve(DEPLOY, exampleOf(file.path))), `${name}: ${file.path}.example`).toBe(true);
        const path = `deploy/${file.path.replace(/^\.\//, '')}`;
        expect(execFileSync('git', ['check-ignore', path], { cwd: ROOT }).toString().trim(), `${path} is ignored`).toBe(path);
      }
    }
  });

  it('trusts exactly the proxy as a source, at its fixed address on the backend network', () => {
    const address = (services.proxy!.networks as Record<string, { ipv4_address?: string }>).backend!.ipv4_address!;
    const subnet = compose.networks.backend!.ipam!.config![0]!.subnet;
    const [base, bits] = subnet.split('/');
    const inside = new BlockList();
    inside.addSubnet(base!, Number(bits));
    expect(inside.check(address)).toBe(true);
    for (const [, s] of kiunga) expect(s.environment!.TRUSTED_SOURCES).toBe(address);
    // Fineract's hooks reach Kiunga through the proxy's internal listener at that address.
    expect(read('nginx.conf')).toContain(`http://${address}:8080/hooks/fineract/`);
  });

  it('has the proxy balance over both processes, on the public and the admin ports Kiunga listens on', () => {
    const nginx = read('nginx.conf');
    const upstream = (name: string) => {
      const block = new RegExp(`upstream ${name} \\{([^}]*)\\}`).exec(nginx)?.[1] ?? '';
      return [...block.matchAll(/server ([\w.-]+):(\d+)/g)].map((m) => `${m[1]}:${m[2]}`);
    };
    const env = kiunga[0]![1].environment!;
    expect(upstream('kiunga')).toEqual(kiunga.map(([name]) => `${name}:${env.PORT}`));
    expect(upstream('kiunga_admin')).toEqual(kiunga.map(([name]) => `${name}:${env.ADMIN_PORT}`));
    // The public server passes the channels, recordings and health check only; /admin is on 8443 alone.
    const publicServer = /listen 443 ssl;([\s\S]*?)\n {4}\}/.exec(nginx)![1]!;
    expect([...publicServer.matchAll(/location (?:= )?(\S+) \{/g)].map((m) => m[1])).toEqual([
      '/channels/',
      '/voice/audio/',
      '/healthz',
      '/',
    ]);
    expect(services.proxy!.ports).toContain('127.0.0.1:8443:8443');
  });

  it('says at the top that it was not run', () => {
    expect(read('compose.yaml')).toMatch(/^# .*\n#\n# NOT RUN: no container engine was available/);
  });
});
