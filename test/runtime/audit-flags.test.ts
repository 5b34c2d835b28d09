// The audit and fleet-metrics flags of `modelgate serve` (runtime/config/parse-args.ts): flags,
// their MODELGATE_* variables, defaults, and usage problems for values that make no sense.
import { describe, expect, it } from 'vitest';
import { parseServeArgs } from '../../runtime/config/parse-args.ts';

const base = ['--bundle', '/tmp/b.json', '--public-key', '/tmp/k.pem', '--audience', 'prod'];

describe('when no audit flag is given', () => {
  it('audits to stdout, not required, trusts no proxy and labels no principal', () => {
    expect(parseServeArgs(base, {})).toMatchObject({
      settings: { auditLog: 'stdout', auditRequired: false, trustedProxies: [], metricsPrincipalLabel: 'none' },
    });
  });
});

describe('when audit flags are given', () => {
  it('reads them from flags', () => {
    const parsed = parseServeArgs(
      [
        ...base,
        '--audit-log',
        '/var/log/modelgate/audit.log',
        '--audit-required',
        '--trusted-proxies',
        '10.0.0.0/8,192.168.1.7',
        '--trusted-proxies',
        'fd00::/8',
        '--metrics-principal-label',
        'id',
      ],
      {},
    );
    expect(parsed).toMatchObject({
      settings: {
        auditLog: '/var/log/modelgate/audit.log',
        auditRequired: true,
        trustedProxies: [
          { address: '10.0.0.0', prefix: 8, family: 'ipv4' },
          { address: '192.168.1.7', prefix: 32, family: 'ipv4' },
          { address: 'fd00::', prefix: 8, family: 'ipv6' },
        ],
        metricsPrincipalLabel: 'id',
      },
    });
  });

  it('reads them from the environment', () => {
    const parsed = parseServeArgs(base, {
      MODELGATE_AUDIT_LOG: 'stderr',
      MODELGATE_AUDIT_REQUIRED: '1',
      MODELGATE_TRUSTED_PROXIES: '127.0.0.1, ::1',
      MODELGATE_METRICS_PRINCIPAL_LABEL: 'none',
    });
    expect(parsed).toMatchObject({
      settings: {
        auditLog: 'stderr',
        auditRequired: true,
        trustedProxies: [
          { address: '127.0.0.1', prefix: 32 },
          { address: '::1', prefix: 128 },
        ],
      },
    });
  });

  it.each([
    ['10.0.0.0/33', '--trusted-proxies'],
    ['10.0.0/8', '--trusted-proxies'],
    ['example.com', '--trusted-proxies'],
    ['10.0.0.0/8/1', '--trusted-proxies'],
  ])('refuses --trusted-proxies %s as a usage problem', (value, flag) => {
    expect(parseServeArgs([...base, flag, value], {})).toMatchObject({ problem: expect.stringContaining('--trusted-proxies') });
  });

  it('refuses a principal label other than none or id', () => {
    expect(parseServeArgs([...base, '--metrics-principal-label', 'name'], {})).toMatchObject({ problem: expect.stringContaining('none or id') });
  });
});
