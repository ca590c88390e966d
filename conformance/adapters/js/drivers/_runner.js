// The entry point of every bundle: `run(scenario, input)` (README.md, "The bundle").
import { describeError, now, within } from "./_common.js";

export const DEFAULT_TIMEOUT_MS = 30000;

/**
 * Runs scenario `name` of `module` with `input` ({server, options}); never rejects.
 * Resolves with {status: "resolved", value, elapsed_ms} or {status: "rejected", error, elapsed_ms},
 * {status: "timeout", reason, elapsed_ms} after options.timeout_ms, {status: "invalid", reason, elapsed_ms}
 * when the value is not plain JSON, or {status: "unknown", reason, scenarios}.
 */
export async function runScenario(module, name, input) {
  const scenarios = Object.keys(module).filter((key) => typeof module[key] === "function").sort();
  if (typeof name !== "string" || !scenarios.includes(name)) {
    return { status: "unknown", reason: `no scenario ${JSON.stringify(name)}`, scenarios };
  }
  const options = (input && input.options) || {};
  const timeout = Number.isFinite(options.timeout_ms) ? options.timeout_ms : DEFAULT_TIMEOUT_MS;
  const started = now();
  const elapsed = () => Math.round(now() - started);
  const outcome = await within(
    Promise.resolve()
      .then(() => module[name]({ server: (input && input.server) || {}, options }))
      .then(
        (value) => plainJson(value === undefined ? null : value),
        (error) => ({ status: "rejected", error: describeError(error) }),
      ),
    timeout,
    () => ({ status: "timeout", reason: `the scenario did not settle within ${timeout} ms` }),
  );
  return { ...outcome, elapsed_ms: elapsed() };
}

function plainJson(value) {
  try {
    return { status: "resolved", value: JSON.parse(JSON.stringify(value)) };
  } catch (error) {
    return { status: "invalid", reason: `the scenario resolved with a value JSON cannot hold: ${error}` };
  }
}

export function scenarioNames(module) {
  return Object.keys(module).filter((key) => typeof module[key] === "function").sort();
}
