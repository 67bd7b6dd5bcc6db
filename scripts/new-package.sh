#!/usr/bin/env bash
# Creates the skeleton of a package: scripts/new-package.sh NAME "description" [dep ...]
set -euo pipefail
name=$1; desc=$2; shift 2
dir=packages/$name
mkdir -p "$dir/src"
# @minibatch/tensor is always a peer (one copy per app: see CONTRIBUTING.md, "Packaging rules");
# other @minibatch packages named here become dependencies.
deps=""
for d in "$@"; do [ "$d" = tensor ] || deps="$deps\"@minibatch/$d\": \"workspace:^\","; done
deps=${deps%,}
repo=$(node -p "require('./package.json').repository.url.replace(/^git\+/, '').replace(/\.git$/, '')")
cat > "$dir/package.json" <<JSON
{
  "name": "@minibatch/$name",
  "version": "0.1.0",
  "description": "$desc",
  "license": "MIT",
  "homepage": "$repo/tree/main/packages/$name#readme",
  "bugs": { "url": "$repo/issues" },
  "repository": { "type": "git", "url": "git+$repo.git", "directory": "packages/$name" },
  "type": "module",
  "main": "./dist/index.js",
  "types": "./dist/index.d.ts",
  "exports": {
    ".": { "types": "./dist/index.d.ts", "default": "./dist/index.js" },
    "./package.json": "./package.json"
  },
  "files": ["dist", "README.md", "CHANGELOG.md"],
  "sideEffects": false,
  "engines": { "node": ">=20.19" },
  "scripts": {
    "build": "tsup",
    "dev": "tsup --watch",
    "test": "vitest run",
    "typecheck": "tsc --noEmit",
    "lint": "biome check ."
  },
  "peerDependencies": { "@minibatch/tensor": "workspace:>=0.1.0" },
  "dependencies": { $deps },
  "devDependencies": {
    "@minibatch/tensor": "workspace:*",
    "@types/node": "catalog:",
    "tsup": "catalog:",
    "typescript": "catalog:",
    "vitest": "catalog:"
  },
  "publishConfig": { "access": "public" }
}
JSON
cat > "$dir/tsconfig.json" <<'JSON'
{
  "extends": "../../tsconfig.base.json",
  "include": ["src", "test", "*.ts"]
}
JSON
cat > "$dir/tsup.config.ts" <<'TS'
import { defineConfig } from "tsup";

export default defineConfig({
  entry: ["src/index.ts"],
  format: ["esm"],
  dts: true,
  sourcemap: true,
  clean: true,
  target: "es2022",
});
TS
cat > "$dir/vitest.config.ts" <<'TS'
import { defineProject } from "vitest/config";
import { testEnv, workspaceAliases } from "../../vitest.shared.ts";

export default defineProject({
  resolve: { alias: workspaceAliases },
  test: {
    env: testEnv,
    include: ["src/**/*.test.ts", "test/**/*.test.ts"],
  },
});
TS
[ -f "$dir/CHANGELOG.md" ] || printf '# @minibatch/%s\n' "$name" > "$dir/CHANGELOG.md"
# Released with the others: one fixed version group (CONTRIBUTING.md, "Changesets and releases").
node -e '
const fs = require("fs");
const f = ".changeset/config.json";
const c = JSON.parse(fs.readFileSync(f, "utf8"));
if (!c.fixed[0].includes(process.argv[1])) c.fixed[0].push(process.argv[1]);
fs.writeFileSync(f, JSON.stringify(c, null, 2) + "\n");
' "@minibatch/$name"
