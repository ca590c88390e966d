// Bundles the scenario modules of js/drivers/ with esbuild (conformance/drivers/bundle.py runs it).
//
//   node drivers-build.mjs '{"node_modules": ..., "outdir": ..., "target": "workerd"|"node",
//                            "entries": {"pg": "/abs/drivers/pg.js", ...}, "runner": "/abs/drivers/_runner.js",
//                            "sockets": "/abs/drivers/_sockets.js"}'
//
// Settings are wrangler's for a Worker: bundle, ESM, platform neutral, conditions
// [workerd, worker, browser], mainFields [module, main], cloudflare:* external, and a require()
// of a Node built-in turned into an import of node:<name> (a CommonJS driver needs it: an ESM
// bundle has no require). Every import of cloudflare:sockets resolves to _sockets.js, whose own
// import is the runtime's (target workerd) or, for target node, a shim that calls the `connect` the
// host put at globalThis[Symbol.for("connect-conformance.sockets")] (the node-socket adapter puts the
// implementation it tests there, whatever its version) and else the polyfill @arrowood.dev/socket.
// Each output <name>.js exports `run(scenario, input)` and `scenarios` (README.md).
// Prints one JSON line: {"outputs": {name: {"bytes": N}}, "warnings": [...]}.
import { builtinModules, createRequire } from "node:module";
import { writeFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";

const settings = JSON.parse(process.argv[2]);
const require = createRequire(join(settings.node_modules, "noop.js"));
const esbuild = require("esbuild");

const builtins = new Set(builtinModules.filter((name) => !name.startsWith("_")));
const bare = (path) => path.replace(/^node:/, "");
// Exact names only: "process/" (trailing slash) means the npm package of that name, not the built-in.
const isBuiltin = (path) => builtins.has(bare(path));

const runtimePlugin = {
  name: "connect-conformance-runtime",
  setup(build) {
    build.onResolve({ filter: /^cloudflare:sockets$/ }, (args) => {
      if (args.importer === settings.sockets) {
        return settings.target === "node"
          ? { path: "host-sockets", namespace: "host-sockets" }
          : { path: args.path, external: true };
      }
      return { path: settings.sockets };
    });
    build.onLoad({ filter: /.*/, namespace: "host-sockets" }, () => ({
      contents:
        `import * as polyfill from ${JSON.stringify(require.resolve("@arrowood.dev/socket"))};\n` +
        `const HOST = Symbol.for("connect-conformance.sockets");\n` +
        `export function connect(...args) { return (globalThis[HOST] ?? polyfill).connect(...args); }\n`,
      loader: "js",
      resolveDir: settings.node_modules,
    }));
    build.onResolve({ filter: /^cloudflare:/ }, (args) => ({ path: args.path, external: true }));
    build.onResolve({ filter: /^(node:)?[a-z_/]+$/ }, (args) => {
      if (!isBuiltin(args.path)) return undefined;
      const path = `node:${bare(args.path)}`;
      if (args.kind === "require-call") return { path, namespace: "node-require" };
      return { path, external: true };
    });
    build.onLoad({ filter: /.*/, namespace: "node-require" }, (args) => ({
      contents: `import * as all from ${JSON.stringify(args.path)};\nmodule.exports = "default" in all ? all.default : all;\n`,
      loader: "js",
    }));
  },
};

mkdirSync(settings.outdir, { recursive: true });
const entryDir = join(settings.outdir, ".entries");
mkdirSync(entryDir, { recursive: true });
const entryPoints = {};
for (const [name, path] of Object.entries(settings.entries)) {
  const entry = join(entryDir, `${name}.js`);
  writeFileSync(
    entry,
    `import * as scenarios from ${JSON.stringify(path)};\n` +
      `import { runScenario, scenarioNames } from ${JSON.stringify(settings.runner)};\n` +
      `export const driver = ${JSON.stringify(name)};\n` +
      `export const names = scenarioNames(scenarios);\n` +
      `export function run(scenario, input) { return runScenario(scenarios, scenario, input); }\n`,
  );
  entryPoints[name] = entry;
}

const result = await esbuild.build({
  entryPoints,
  outdir: settings.outdir,
  bundle: true,
  format: "esm",
  platform: "neutral",
  target: "es2022",
  conditions: ["workerd", "worker", "browser"],
  mainFields: ["module", "main"],
  nodePaths: [settings.node_modules],
  plugins: [runtimePlugin],
  define: { global: "globalThis" },
  metafile: true,
  logLevel: "silent",
  legalComments: "none",
});
const outputs = {};
for (const [file, meta] of Object.entries(result.metafile.outputs)) {
  const name = file.split("/").pop().replace(/\.js$/, "");
  outputs[name] = { bytes: meta.bytes };
}
const warnings = result.warnings.map((warning) => `${warning.location?.file ?? ""}: ${warning.text}`);
process.stdout.write(JSON.stringify({ outputs, warnings }) + "\n");
