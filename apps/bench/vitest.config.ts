import { defineProject } from "vitest/config";

// The bench has no tests (it must never run in `pnpm test`); this keeps a root vitest run from
// failing on this folder.
export default defineProject({ test: { include: ["src/**/*.test.ts"] } });
