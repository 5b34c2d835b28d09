// How the container image starts node (Dockerfile: ENTRYPOINT and ENV), in one place: the image
// test checks the built image against it, and bench:compile and bench:swap run the gateway this way.

/** One V8 background thread: the four node starts by default took the event loop's cores during activations. */
export const IMAGE_NODE_ARGS: readonly string[] = ['--v8-pool-size=1'];

/** A fixed mmap threshold: glibc then never raises it and keeps an activation's freed buffers in its arenas. */
export const IMAGE_ENV: Readonly<Record<string, string>> = { MALLOC_MMAP_THRESHOLD_: '131072' };
