import { batchSizeStudy } from "./batch-sizes";
import { figure1Study } from "./figure1";
import { gradientNoiseStudy } from "./gradient-noise";
import { inputsStudy } from "./inputs";
import { lrSweepStudy } from "./lr";
import { smallBatchStudy } from "./small-batch";
import { streamStudy } from "./stream";
import type { Study } from "./study";

/**
 * Every study, in the order `pnpm demo all` runs and reports them. A new study (say a
 * data-parallel one) is a `Study` in its own file plus one entry here and its id in SUBCOMMANDS.
 */
export const STUDIES: readonly Study[] = [
  figure1Study,
  batchSizeStudy,
  gradientNoiseStudy,
  streamStudy,
  inputsStudy,
  lrSweepStudy,
  smallBatchStudy,
];

export function studyById(id: string): Study {
  const s = STUDIES.find((x) => x.id === id);
  if (!s) throw new Error(`no study '${id}' (studies: ${STUDIES.map((x) => x.id).join(", ")})`);
  return s;
}

export type { Study, StudyContext, StudyResult } from "./study";
