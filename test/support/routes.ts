import type { Express } from 'express';

interface Layer {
  name: string;
  route?: { path: string; methods: Record<string, boolean> };
  regexp: RegExp & { fast_slash?: boolean };
  handle: { stack?: Layer[] };
}

/** The path a router is mounted at, read back from the pattern express 4 compiles it into. */
function mountPath(layer: Layer): string {
  if (layer.regexp.fast_slash) return '';
  const match = /^\^(.*)\\\/\?\(\?=\\\/\|\$\)$/.exec(layer.regexp.source);
  if (!match) throw new Error(`cannot read the mount path of ${layer.regexp.source}`);
  return match[1].replace(/\\\//g, '/');
}

/** Lists every route of the application as "METHOD /path", walking nested routers. */
export function listRoutes(app: Express): string[] {
  const routes: string[] = [];
  const walk = (stack: Layer[], prefix: string) => {
    for (const layer of stack) {
      if (layer.route) {
        for (const [method, enabled] of Object.entries(layer.route.methods)) {
          if (enabled) routes.push(`${method.toUpperCase()} ${prefix}${layer.route.path}`);
        }
      } else if (layer.name === 'router' && layer.handle.stack) {
        walk(layer.handle.stack, prefix + mountPath(layer));
      }
    }
  };
  walk((app as unknown as { _router: { stack: Layer[] } })._router.stack, '');
  return routes;
}
