// nginx as a reference reverse proxy for bench:proxy (Debian's nginx-light): the same upstream,
// with 1 and with N worker processes, so that the gateway's cost and its scaling with --workers
// can be read against a proxy written in C. Only for the benchmark; nothing else needs nginx.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/** True when an nginx binary is on the PATH (or in /usr/sbin). */
export function nginxBinary(): string | null {
  for (const candidate of ['nginx', '/usr/sbin/nginx']) {
    if (spawnSync(candidate, ['-v'], { stdio: 'ignore' }).status === 0) return candidate;
  }
  return null;
}

/**
 * Starts nginx in the foreground with `workers` worker processes on 127.0.0.1:port, proxying to
 * upstreamPort over kept-alive connections, unbuffered (so SSE streams as it comes), without an
 * access log (the gateway's audit log is its own cost, and part of what is measured there).
 */
export async function startNginx(binary: string, dir: string, port: number, upstreamPort: number, workers: number): Promise<ChildProcess> {
  const prefix = join(dir, `nginx-${workers}`);
  await mkdir(join(prefix, 'tmp'), { recursive: true });
  const conf = `
${process.getuid?.() === 0 ? 'user root root;' : ''}
worker_processes ${workers};
pid ${prefix}/nginx.pid;
error_log ${prefix}/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${prefix}/tmp/body;
  proxy_temp_path ${prefix}/tmp/proxy;
  fastcgi_temp_path ${prefix}/tmp/fastcgi;
  uwsgi_temp_path ${prefix}/tmp/uwsgi;
  scgi_temp_path ${prefix}/tmp/scgi;
  upstream bench_upstream { server 127.0.0.1:${upstreamPort}; keepalive 256; }
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://bench_upstream;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_buffering off;
      proxy_request_buffering off;
    }
  }
}
`;
  await writeFile(join(prefix, 'nginx.conf'), conf);
  const child = spawn(binary, ['-p', prefix, '-c', join(prefix, 'nginx.conf'), '-g', 'daemon off;'], { stdio: ['ignore', 'ignore', 'inherit'] });
  for (let i = 0; i < 400; i++) {
    if (child.exitCode !== null) throw new Error(`nginx exited with ${child.exitCode} (config ${prefix}/nginx.conf)`);
    try {
      await fetch(`http://127.0.0.1:${port}/v1/models`);
      return child;
    } catch {
      await new Promise((r) => setTimeout(r, 25));
    }
  }
  child.kill('SIGTERM');
  throw new Error(`nginx on port ${port} never answered`);
}
