import type { CliOptions } from "../args";
import type { Verdict } from "../claims";
import type { MnistData } from "../mnist";
import type { Figure } from "../report/figures";
import type { Section } from "../report/html";
import type { Table } from "../report/table";
import type { Console } from "../train";

export interface StudyContext {
  o: CliOptions;
  /** MNIST as loaded for this study (images scaled to [0, 1]). */
  data: MnistData;
  io: Console;
  /** No progress output (--json). */
  quiet: boolean;
  /** Where the study may write scratch files (the streaming study's large file). */
  scratchDir: string;
}

export interface StudyResult {
  id: string;
  title: string;
  /** Paragraphs before the sections: setup and what was measured. */
  intro: string[];
  verdicts: Verdict[];
  /** Sections of the report; figure captions are generated from the data. */
  sections: Section[];
  /** Every figure, also written as an SVG file (names unique within the study). */
  figures: Figure[];
  /** The terminal summary. */
  tables: Table[];
  /** Everything measured, for results.json and --json. */
  json: Record<string, unknown>;
}

/**
 * A study is a subcommand of the demo (`pnpm demo <id>`) and a chapter of `pnpm demo all`. Adding
 * one: write it under src/studies/, and list it in `STUDIES` (src/studies/index.ts).
 */
export interface Study {
  id: string;
  /** The claims (see CLAIMS) it measures. */
  claims: number[];
  title: string;
  /** One line for --help. */
  summary: string;
  /** Test images it evaluates on unless --test-size says otherwise (null: all 10,000). */
  defaultTestSize: number | null;
  run(ctx: StudyContext): Promise<StudyResult>;
}
