#!/usr/bin/env node
// The install test: pack every public package with pnpm, install the tarballs with plain npm into a
// temporary project outside the workspace, and check that ESM import, CJS require and TypeScript
// types all work and compute something. This is what "install one package from npm" means.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const root = resolve(import.meta.dirname, "..");
const run = (cmd, args, cwd) =>
  execFileSync(cmd, args, { cwd, stdio: ["ignore", "pipe", "pipe"], encoding: "utf8" });

const pkgs = readdirSync(join(root, "packages"))
  .map((d) => ({
    dir: join(root, "packages", d),
    json: JSON.parse(readFileSync(join(root, "packages", d, "package.json"), "utf8")),
  }))
  .filter((p) => !p.json.private);

const work = mkdtempSync(join(tmpdir(), "minibatch-install-"));
const started = Date.now();
try {
  const tarballs = pkgs.map((p) => {
    const out = run("pnpm", ["pack", "--pack-destination", work], p.dir).trim().split("\n").pop();
    return out.endsWith(".tgz")
      ? out
      : join(
          work,
          readdirSync(work).find((f) => f.startsWith(p.json.name.replace("@", "").replace("/", "-"))),
        );
  });
  writeFileSync(
    join(work, "package.json"),
    JSON.stringify({ name: "install-test", private: true, version: "0.0.0" }),
  );
  const tsVersion = JSON.parse(
    readFileSync(join(root, "node_modules", "typescript", "package.json"), "utf8"),
  ).version;
  run(
    "npm",
    [
      "install",
      "--no-audit",
      "--no-fund",
      "--loglevel=error",
      ...tarballs,
      `typescript@${tsVersion}`,
      "@types/node@20",
    ],
    work,
  );

  // Each package's check: the same few lines as ESM, CJS and TypeScript.
  const body = (imp, any = "") => `
${imp("tensor", "{ tensor, matmul }")}
${imp("backend-cpu", "{ CpuBackend }")}
${imp("backend-webgpu", "{ WebGPUBackend }")}
${imp("nn", "{ Linear, crossEntropy }")}
${imp("norm", "{ BatchNorm1d, StandardScaler }")}
${imp("optim", "{ SGD }")}
${imp("data", "{ DataLoader, TensorDataset }")}
const y = matmul(tensor([[1, 2], [3, 4]]), tensor([[1], [1]]));
const check = async () => {
  const v = Array.from(await y.data());
  if (v.join(",") !== "3,7") throw new Error("matmul gave " + v);
  if (typeof CpuBackend !== "function" || typeof WebGPUBackend !== "function") throw new Error("missing backends");
  // one training step through every package: data -> nn -> norm -> loss -> optim
  const x = tensor([[0, 1], [1, 0], [1, 1], [0, 0]]);
  const labels = tensor(new Int32Array([1, 1, 0, 0]));
  const loader = new DataLoader(new TensorDataset(x, labels), { batchSize: 4 });
  const lin = new Linear(2, 2);
  const bn = new BatchNorm1d(2);
  const opt = new SGD([...lin.parameters(), ...bn.parameters()], { lr: 0.1 });
  let loss = NaN;
  for await (const batch of loader) {
    const [xb, yb] = batch${any};
    const l = crossEntropy(bn.call(lin.call(xb)), yb);
    l.backward();
    opt.step();
    loss = await l.item();
  }
  const scaler = new StandardScaler();
  await scaler.fit(x);
  const z = Array.from(await scaler.transform(x).data());
  if (!(loss > 0) || z.length !== 8) throw new Error("training step gave loss " + loss);
  console.log("ok: matmul = " + v.join(",") + ", one step loss = " + loss.toFixed(4));
};
`;
  writeFileSync(
    join(work, "esm.mjs"),
    `${body((p, what) => `import ${what.startsWith("{") ? what : `* as ${what}`} from "@minibatch/${p}";`)}\nawait check();\n`,
  );
  writeFileSync(
    join(work, "cjs.cjs"),
    `${body((p, what) => `const ${what} = require("@minibatch/${p}");`)}\ncheck().catch((e) => { console.error(e); process.exit(1); });\n`,
  );
  writeFileSync(
    join(work, "types.ts"),
    `${body((p, what) => `import ${what.startsWith("{") ? what : `* as ${what}`} from "@minibatch/${p}";`, " as any")}\nconst n: number[] = y.shape.slice();\nvoid n;\nvoid check;\n`,
  );
  writeFileSync(
    join(work, "tsconfig.json"),
    JSON.stringify({
      compilerOptions: {
        module: "nodenext",
        moduleResolution: "nodenext",
        target: "es2022",
        strict: true,
        noEmit: true,
        skipLibCheck: false,
        lib: ["es2022", "dom", "esnext.disposable"],
        types: ["node"],
      },
      files: ["types.ts"],
    }),
  );
  writeFileSync(
    join(work, "types-cjs.cts"),
    `import { tensor } from "@minibatch/tensor";\nconst t = tensor([1]);\nvoid t.shape;\n`,
  );
  const esm = run("node", ["esm.mjs"], work).trim();
  const cjs = run("node", ["cjs.cjs"], work).trim();
  run(join(work, "node_modules", ".bin", "tsc"), ["-p", "."], work);
  run(
    join(work, "node_modules", ".bin", "tsc"),
    [
      "--noEmit",
      "--module",
      "nodenext",
      "--moduleResolution",
      "nodenext",
      "--strict",
      "--skipLibCheck",
      "--types",
      "node",
      "types-cjs.cts",
    ],
    work,
  );
  console.log(
    `install test: ${pkgs.length} packages packed and installed with npm; ESM "${esm}", CJS "${cjs}", TypeScript types resolve (${((Date.now() - started) / 1000).toFixed(1)} s)`,
  );
} catch (e) {
  console.error("install test failed:", e.stderr?.toString() || e.stdout?.toString() || e.message);
  process.exitCode = 1;
} finally {
  rmSync(work, { recursive: true, force: true });
}
