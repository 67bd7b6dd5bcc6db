import { ENGINE } from "./engine";
import { DOCS } from "./singleton";

/** Where the docs explain what leaks and how to find it. */
export const MEMORY_HELP = `${DOCS}/memory.md`;

// A loop that leaks grows by about the same number of tensors every step; a healthy one grows in
// the first step or two (optimizer state) and then stays flat. So: warn when the live count rose
// at each of the last STEPS steps, by at least MIN_GROWTH in all.
const STEPS = 20;
const MIN_GROWTH = 100;

let enabled = defaultEnabled();
let warned = false;
let last = -1;
let rising = 0;
let from = 0;

function defaultEnabled(): boolean {
  // Bundlers replace process.env.NODE_ENV; in browsers without it, development is assumed.
  const env = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env;
  return env?.NODE_ENV !== "production" && env?.MINIBATCH_LEAK_WARNING !== "0";
}

/**
 * Turns the development-mode leak warning on or off (it is on unless NODE_ENV=production or
 * MINIBATCH_LEAK_WARNING=0). Returns the previous setting.
 */
export function setLeakWarning(on: boolean): boolean {
  const prev = enabled;
  enabled = on;
  warned = false;
  last = -1;
  rising = 0;
  return prev;
}

/**
 * Marks the end of a training step; optimizers call it from `step()`. In development mode it
 * compares the number of live tensors with the previous step's (one integer, so it costs
 * nothing) and warns once when the count keeps growing: the usual sign of a loop without `tidy`.
 */
export function markStep(): void {
  if (!enabled || warned) return;
  const now = ENGINE.liveTensors;
  if (last >= 0 && now > last) {
    if (rising === 0) from = last;
    rising++;
  } else {
    rising = 0;
  }
  last = now;
  if (rising >= STEPS && now - from >= MIN_GROWTH) {
    warned = true;
    console.warn(
      `@minibatch/tensor: live tensors grew at each of the last ${rising} steps (${from} -> ${now}, about ${Math.round((now - from) / rising)} per step): something made in every step is never disposed. ` +
        "Wrap the step in tidy(() => { ... }) (it disposes what it does not return), dispose what you keep, and check memory().tensors between steps. " +
        `See ${MEMORY_HELP} (this warning is off with NODE_ENV=production or setLeakWarning(false)).`,
    );
  }
}
