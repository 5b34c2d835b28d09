// The Kubernetes manifests of deploy/kubernetes/: first validated against the Kubernetes API
// schemas (kubernetes-models, whose validators are generated from the Kubernetes OpenAPI
// definitions), then checked for what keeps a fleet correct: each document has a known
// apiVersion/kind and a name; selectors, ports and names agree across documents; the
// probes use the admin port and the routes it serves; the grace period covers preStop, the
// shutdown delay and the drain timeout; the pod runs non-root on a read-only root file system
// with a writable cache volume; and the container's environment, as the real settings parser
// (runtime/config/parse-args.ts) reads it, gives the settings those checks assume.
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { Service } from 'kubernetes-models/v1/Service';
import { ServiceAccount } from 'kubernetes-models/v1/ServiceAccount';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { parseServeArgs, type RuntimeSettings } from '../../runtime/config/parse-args.ts';

const DIR = fileURLToPath(new URL('../../deploy/kubernetes/', import.meta.url));
// biome-ignore lint/suspicious/noExplicitAny: manifests are checked field by field below
type Doc = any;

const KINDS: Record<string, string> = {
  ConfigMap: 'v1',
  ServiceAccount: 'v1',
  Service: 'v1',
  Deployment: 'apps/v1',
  PodDisruptionBudget: 'policy/v1',
  HorizontalPodAutoscaler: 'autoscaling/v2',
  Kustomization: 'kustomize.config.k8s.io/v1beta1',
};

let docs: Doc[];
let files: string[];
const byKind = (kind: string): Doc => {
  const found = docs.filter((d) => d.kind === kind);
  expect(found, kind).toHaveLength(1);
  return found[0];
};

beforeAll(async () => {
  files = (await readdir(DIR)).filter((f) => f.endsWith('.yaml'));
  docs = [];
  for (const file of files) {
    for (const doc of parseAllDocuments(await readFile(join(DIR, file), 'utf8'))) {
      expect(doc.errors, file).toEqual([]);
      docs.push(doc.toJS());
    }
  }
});

const deployment = (): Doc => byKind('Deployment');
const container = (): Doc => deployment().spec.template.spec.containers[0];
const seconds = (text: string): number => {
  const m = /^(\d+)(ms|s|m)$/.exec(text);
  if (m === null) throw new Error(`not a duration: ${text}`);
  return Number(m[1]) / (m[2] === 'ms' ? 1000 : m[2] === 'm' ? 1 / 60 : 1);
};

/** The settings `modelgate serve` derives from the container's environment (ConfigMap first, env over it). */
function containerSettings(): RuntimeSettings {
  const env: Record<string, string> = {};
  for (const from of container().envFrom ?? []) Object.assign(env, docs.find((d) => d.kind === 'ConfigMap' && d.metadata.name === from.configMapRef.name).data);
  for (const entry of container().env) env[entry.name] = entry.value;
  const parsed = parseServeArgs(container().args.slice(1), env);
  if (parsed.help || 'problem' in parsed) throw new Error(`the container's settings do not parse: ${JSON.stringify(parsed)}`);
  return parsed.settings;
}

// The API objects' models; Kustomization is kustomize's own file, not an API object.
const MODELS: Record<string, new (data: Doc) => { validate(): void }> = {
  ConfigMap,
  ServiceAccount,
  Service,
  Deployment,
  PodDisruptionBudget,
  HorizontalPodAutoscaler,
};

describe('when the manifests are validated against the Kubernetes API schemas', () => {
  it("validates every API object against its kind's schema", () => {
    const validated: string[] = [];
    for (const doc of docs) {
      if (doc.kind === 'Kustomization') continue;
      const Model = MODELS[doc.kind];
      expect(Model, `a model for ${doc.kind}`).toBeDefined();
      expect(() => new (Model as NonNullable<typeof Model>)(doc).validate(), `${doc.kind} ${doc.metadata?.name}`).not.toThrow();
      validated.push(doc.kind);
    }
    expect(validated.sort()).toEqual(Object.keys(MODELS).sort());
  });

  it('refuses a Deployment the API server would refuse (so the validation above can fail)', () => {
    const broken = structuredClone(deployment());
    broken.spec.template.spec.containers[0].ports = [{ containerPort: 'http' }];
    expect(() => new Deployment(broken).validate()).toThrow(/containerPort must be integer/);
    const noSelector = structuredClone(deployment());
    delete noSelector.spec.selector;
    expect(() => new Deployment(noSelector).validate()).toThrow(/selector/);
  });
});

describe('when the manifests are read', () => {
  it('has one known apiVersion and kind per document, each with a name', () => {
    expect(docs.map((d) => d.kind).sort()).toEqual(Object.keys(KINDS).sort());
    for (const doc of docs) {
      expect(doc.apiVersion, doc.kind).toBe(KINDS[doc.kind]);
      if (doc.kind !== 'Kustomization') expect(doc.metadata.name, doc.kind).toMatch(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
    }
  });

  it('lists every manifest in the kustomization', () => {
    expect([...byKind('Kustomization').resources].sort()).toEqual(files.filter((f) => f !== 'kustomization.yaml').sort());
  });
});

describe('when the pieces refer to each other', () => {
  it('selects the pods of the Deployment from the Service, the PodDisruptionBudget and the Deployment itself', () => {
    const labels = deployment().spec.template.metadata.labels;
    const matches = (selector: Record<string, string>): boolean => Object.entries(selector).every(([k, v]) => labels[k] === v);
    expect(matches(deployment().spec.selector.matchLabels)).toBe(true);
    expect(matches(byKind('Service').spec.selector)).toBe(true);
    expect(matches(byKind('PodDisruptionBudget').spec.selector.matchLabels)).toBe(true);
  });

  it('scales the Deployment from the HorizontalPodAutoscaler, never below what the budget allows to lose', () => {
    const hpa = byKind('HorizontalPodAutoscaler');
    expect(hpa.spec.scaleTargetRef).toEqual({ apiVersion: 'apps/v1', kind: 'Deployment', name: deployment().metadata.name });
    expect(hpa.spec.minReplicas).toBeGreaterThan(byKind('PodDisruptionBudget').spec.maxUnavailable);
    // The HPA scales on CPU utilization, which needs a CPU request.
    expect(container().resources.requests.cpu).toBeDefined();
  });

  it('exposes only the API port in the Service', () => {
    const named = Object.fromEntries(container().ports.map((p: Doc) => [p.name, p.containerPort]));
    expect(byKind('Service').spec.ports.map((p: Doc) => p.targetPort)).toEqual(['http']);
    expect(named.http).toBe(containerSettings().port);
  });

  it('runs as the ServiceAccount it defines (the workload identity of the secret stores)', () => {
    expect(deployment().spec.template.spec.serviceAccountName).toBe(byKind('ServiceAccount').metadata.name);
  });
});

describe('when the kubelet probes the pod', () => {
  it('probes /readyz for startup and readiness and /healthz for liveness, all on the admin port', () => {
    const settings = containerSettings();
    const admin = container().ports.find((p: Doc) => p.name === 'admin');
    expect(admin.containerPort).toBe(settings.adminPort);
    expect(settings.adminHost).toBe('0.0.0.0'); // the kubelet probes the pod IP
    const { startupProbe, readinessProbe, livenessProbe } = container();
    expect([startupProbe, readinessProbe, livenessProbe].map((p) => [p.httpGet.path, p.httpGet.port])).toEqual([
      ['/readyz', 'admin'],
      ['/readyz', 'admin'],
      ['/healthz', 'admin'],
    ]);
  });
});

describe('when a pod is deleted', () => {
  it('gives it a grace period longer than preStop, the shutdown delay and the drain timeout together', () => {
    const settings = containerSettings();
    const preStop = container().lifecycle.preStop.sleep.seconds;
    const grace = deployment().spec.template.spec.terminationGracePeriodSeconds;
    expect(grace).toBeGreaterThan(preStop + settings.shutdownDelayMs / 1000 + settings.drainTimeoutMs / 1000);
    expect(seconds(container().env.find((e: Doc) => e.name === 'MODELGATE_DRAIN_TIMEOUT').value) * 1000).toBe(settings.drainTimeoutMs);
  });

  it('never takes a replica out before its successor is ready in a rolling update', () => {
    expect(deployment().spec.strategy.rollingUpdate.maxUnavailable).toBe(0);
  });
});

describe('when the pod runs', () => {
  it('runs non-root, without privileges or capabilities, on a read-only root file system', () => {
    const pod = deployment().spec.template.spec;
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } });
    expect(pod.securityContext.runAsUser).toBeGreaterThan(0);
    expect(pod.automountServiceAccountToken).toBe(false);
    expect(container().securityContext).toEqual({
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      privileged: false,
      capabilities: { drop: ['ALL'] },
    });
  });

  it('writes its cache to an emptyDir mounted where the settings put it', () => {
    const settings = containerSettings();
    const mount = container().volumeMounts.find((m: Doc) => m.mountPath === settings.cacheDir);
    expect(mount).toBeDefined();
    expect(deployment().spec.template.spec.volumes.find((v: Doc) => v.name === mount.name).emptyDir).toBeDefined();
  });

  it('mounts the trusted public keys where the settings read them, from the ConfigMap', () => {
    const settings = containerSettings();
    const keys = container().volumeMounts.find((m: Doc) => settings.publicKeys.every((k) => k.startsWith(`${m.mountPath}/`)));
    const volume = deployment().spec.template.spec.volumes.find((v: Doc) => v.name === keys.name);
    const items = volume.configMap.items.map((i: Doc) => `${keys.mountPath}/${i.path}`);
    expect(items).toEqual(settings.publicKeys);
    for (const item of volume.configMap.items) expect(byKind('ConfigMap').data[item.key]).toContain('BEGIN PUBLIC KEY');
  });

  it('restricts the secret references and upstream hosts a bundle may name', () => {
    const settings = containerSettings();
    expect(settings.allowSecretRefs).not.toBeNull();
    expect(settings.allowUpstreamHosts).not.toBeNull();
  });

  it('sets memory and CPU', () => {
    expect(container().resources.requests).toMatchObject({ cpu: expect.any(String), memory: expect.any(String) });
    expect(container().resources.limits.memory).toBeDefined();
  });
});
