# syntax=docker/dockerfile:1
# The modelgate gateway image: `docker build -t modelgate .` then
#   docker run --read-only -p 8080:8080 -p 9090:9090 -v modelgate-cache:/var/cache/modelgate \
#     -e MODELGATE_BUNDLE=https://... -e MODELGATE_PUBLIC_KEYS=/etc/modelgate/keys/signing-key.pub.pem \
#     -e MODELGATE_AUDIENCE=prod-gateway modelgate
# Two stages: the build stage installs the locked dependencies and builds dist/ (npm run build);
# the runtime stage holds that build, the launcher and the cloud secret SDKs (the optional peer
# dependencies, at the versions package.json pins), nothing else of the repository.
# It runs as a non-root user, writes only to /var/cache/modelgate (a volume) and /tmp if mounted,
# and so works with a read-only root filesystem. Node is PID 1 and handles SIGTERM itself
# (graceful drain, docs/operations.md): no init process is needed, modelgate starts no children.
# Documented in docs/operations.md; built and run by `npm run test:image`.

FROM docker.io/library/node:24-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
COPY client/package.json client/package.json
RUN npm ci --no-audit --no-fund
COPY . .
RUN npm run build
# The runtime folder: the launcher, the build, and the cloud SDKs at the versions package.json pins.
RUN mkdir -p /out/bin /cache \
 && cp bin/modelgate.js /out/bin/ && cp -R dist /out/dist && cp LICENSE /out/ \
 && node -e "const p=require('./package.json');require('fs').writeFileSync('/out/package.json',JSON.stringify({name:p.name,version:p.version,type:p.type,private:true},null,2))" \
 && cd /out && npm install --no-audit --no-fund --omit=dev --no-package-lock \
      $(node -p "Object.entries(require('/src/package.json').peerDependencies).map(([n,v])=>n+'@'+v).join(' ')")

FROM docker.io/library/node:24-bookworm-slim
# MALLOC_MMAP_THRESHOLD_: glibc's malloc serves blocks of 128 KiB and more from mmap and gives them
# back when freed. By default it raises that threshold (up to 32 MiB) each time such a block is
# freed, and later big blocks stay in its arenas: a 100k-principal bundle's buffers, freed at
# each swap, then leave 126 to 239 MB resident after five swaps instead of about 33 MB
# (npm run bench:compile; docs/runtime.md).
ENV NODE_ENV=production \
    MALLOC_MMAP_THRESHOLD_=131072 \
    MODELGATE_HOST=0.0.0.0 \
    MODELGATE_PORT=8080 \
    MODELGATE_ADMIN_HOST=0.0.0.0 \
    MODELGATE_ADMIN_PORT=9090 \
    MODELGATE_CACHE_DIR=/var/cache/modelgate
WORKDIR /app
COPY --from=build /out /app
# The cache folder, owned by the runtime user; mount a volume there (an emptyDir in Kubernetes).
COPY --from=build --chown=10001:10001 /cache /var/cache/modelgate
USER 10001:10001
VOLUME ["/var/cache/modelgate"]
EXPOSE 8080 9090
# --v8-pool-size=1: one V8 background thread instead of four. They collect the garbage and compile
# for the event loop and for the bundle activation worker alike, at the event loop's priority: while
# a big bundle activates, four of them took both cores of a 2-core machine from the event loop in
# bursts (npm run bench:swap: requests' p99 during swaps 11 to 12 ms with one, 22 to 27 ms with
# four; docs/runtime.md). Inherited by --workers processes.
ENTRYPOINT ["node", "--v8-pool-size=1", "/app/bin/modelgate.js"]
CMD ["serve"]
