import type { CliOptions } from "./args";
import { DEFAULTS, type NormKind, RUN_LABELS, RUN_NAMES, type RunConfig } from "./config";

/** Steps from --steps, --epochs or the default of one epoch. */
export function resolveSteps(o: CliOptions, trainCount: number, fallback?: number): number {
  const perEpoch = Math.max(1, Math.floor(trainCount / o.batchSize));
  if (o.steps !== null) return o.steps;
  if (o.epochs !== null) return Math.max(1, Math.round(o.epochs * perEpoch));
  return fallback ?? perEpoch;
}

export function runConfig(
  o: CliOptions,
  norm: NormKind,
  steps: number,
  overrides: Partial<RunConfig> = {},
): RunConfig {
  return {
    name: RUN_NAMES[norm],
    label: RUN_LABELS[norm],
    model: o.model,
    norm,
    backend: o.backend,
    steps,
    batchSize: o.batchSize,
    lr: o.lr,
    seed: o.seed,
    // About 20 evaluations per run unless asked otherwise (50 steps for the default epoch).
    evalEvery: o.evalEvery ?? Math.max(1, Math.round(steps / 20)),
    initStd: DEFAULTS.initStd,
    probeUnit: DEFAULTS.probeUnit,
    compiled: !o.eager,
    ...overrides,
  };
}
