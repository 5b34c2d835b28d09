// The fleet settings of `modelgate serve` (runtime/config/parse-args.ts): the shutdown delay and
// drain timeout, the admin listener, and the default cache folder.
import { describe, expect, it } from 'vitest';
import { parseServeArgs, type RuntimeSettings } from '../../runtime/config/parse-args.ts';

const BASE = ['--bundle', '/srv/bundle.json', '--public-key', '/srv/key.pem', '--audience', 'prod-gateway'];

function settings(args: string[], env: NodeJS.ProcessEnv = {}): RuntimeSettings {
  const parsed = parseServeArgs([...BASE, ...args], env);
  if (parsed.help || 'problem' in parsed) throw new Error(`expected settings, got ${JSON.stringify(parsed)}`);
  return parsed.settings;
}

function problem(args: string[], env: NodeJS.ProcessEnv = {}): string {
  const parsed = parseServeArgs([...BASE, ...args], env);
  return !parsed.help && 'problem' in parsed ? parsed.problem : '';
}

describe('when no shutdown settings are given', () => {
  it('waits 5s for the load balancer and drains for up to 30s', () => {
    expect(settings([])).toMatchObject({ shutdownDelayMs: 5_000, drainTimeoutMs: 30_000 });
  });
});

describe('when shutdown settings are given', () => {
  it('reads flags and variables, and accepts a zero delay', () => {
    expect(settings(['--shutdown-delay', '0', '--drain-timeout', '2m'])).toMatchObject({ shutdownDelayMs: 0, drainTimeoutMs: 120_000 });
    expect(settings([], { MODELGATE_SHUTDOWN_DELAY: '12s', MODELGATE_DRAIN_TIMEOUT: '45s' })).toMatchObject({
      shutdownDelayMs: 12_000,
      drainTimeoutMs: 45_000,
    });
  });

  it('refuses a malformed delay and a zero drain timeout', () => {
    expect(problem(['--shutdown-delay', 'soon'])).toContain('--shutdown-delay');
    expect(problem(['--drain-timeout', '0'])).toContain('--drain-timeout');
  });
});

describe('when an admin port is asked for', () => {
  it('listens on --host unless --admin-host says otherwise', () => {
    expect(settings(['--admin-port', '9090', '--host', '0.0.0.0'])).toMatchObject({ adminPort: 9090, adminHost: '0.0.0.0' });
    expect(settings([], { MODELGATE_ADMIN_PORT: '9090', MODELGATE_ADMIN_HOST: '10.0.0.5' })).toMatchObject({ adminPort: 9090, adminHost: '10.0.0.5' });
    expect(settings([]).adminPort).toBeNull();
  });

  it('refuses a port out of range or equal to the API port', () => {
    expect(problem(['--admin-port', '70000'])).toContain('--admin-port');
    expect(problem(['--admin-port', '8080'])).toContain('must differ from --port');
  });
});

describe('when no --cache-dir is given', () => {
  it('keeps the cache per audience under XDG_CACHE_HOME, else under ~/.cache', () => {
    expect(settings([], { XDG_CACHE_HOME: '/var/tmp/xdg', HOME: '/home/op' }).cacheDir).toBe('/var/tmp/xdg/modelgate/prod-gateway');
    expect(settings([], { HOME: '/home/op' }).cacheDir).toBe('/home/op/.cache/modelgate/prod-gateway');
  });

  it('turns an audience into one safe folder name', () => {
    const parsed = parseServeArgs(['--bundle', '/b.json', '--public-key', '/k.pem', '--audience', '../etc/x y'], { HOME: '/home/op' });
    expect(!parsed.help && 'settings' in parsed ? parsed.settings.cacheDir : null).toBe('/home/op/.cache/modelgate/__etc_x_y');
  });

  it('has no cache when there is no home, or when told "none"', () => {
    expect(settings([], {}).cacheDir).toBeNull();
    expect(settings(['--cache-dir', 'none'], { HOME: '/home/op' }).cacheDir).toBeNull();
    expect(settings([], { MODELGATE_CACHE_DIR: '/var/cache/modelgate', HOME: '/home/op' }).cacheDir).toBe('/var/cache/modelgate');
  });
});
