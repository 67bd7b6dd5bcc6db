/**
 * The drawing box: white strokes on black, as MNIST digits are stored, and the conversion of a
 * drawing into a 28x28 MNIST-like input: the ink's bounding box is scaled to fit 20x20 (keeping
 * its aspect ratio, anti-aliased), then placed in a 28x28 field so its centre of mass is the
 * centre, which is how the MNIST images were made.
 */

export function setupPad(canvas: HTMLCanvasElement, onStroke: () => void): { clear(): void } {
  const ctx = canvas.getContext("2d", { willReadFrequently: true })!;
  const clear = () => {
    ctx.fillStyle = "#000";
    ctx.fillRect(0, 0, canvas.width, canvas.height);
  };
  clear();
  let last: [number, number] | null = null;
  const pos = (e: PointerEvent): [number, number] => {
    const r = canvas.getBoundingClientRect();
    return [
      ((e.clientX - r.left) / r.width) * canvas.width,
      ((e.clientY - r.top) / r.height) * canvas.height,
    ];
  };
  const line = (a: [number, number], b: [number, number]) => {
    ctx.strokeStyle = "#fff";
    ctx.lineWidth = canvas.width / 13;
    ctx.lineCap = "round";
    ctx.lineJoin = "round";
    ctx.beginPath();
    ctx.moveTo(a[0], a[1]);
    ctx.lineTo(b[0], b[1]);
    ctx.stroke();
  };
  canvas.addEventListener("pointerdown", (e) => {
    canvas.setPointerCapture(e.pointerId);
    last = pos(e);
    line(last, last);
  });
  canvas.addEventListener("pointermove", (e) => {
    if (!last) return;
    const p = pos(e);
    line(last, p);
    last = p;
  });
  const end = () => {
    if (!last) return;
    last = null;
    onStroke();
  };
  canvas.addEventListener("pointerup", end);
  canvas.addEventListener("pointercancel", end);
  return { clear };
}

/** The drawing as 784 values in [0, 1] (row-major 28x28), or null when nothing is drawn. */
export function toMnist(canvas: HTMLCanvasElement): Float32Array | null {
  const { width: w, height: h } = canvas;
  const src = canvas.getContext("2d", { willReadFrequently: true })!.getImageData(0, 0, w, h).data;
  let x0 = w;
  let y0 = h;
  let x1 = -1;
  let y1 = -1;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      if (src[(y * w + x) * 4] > 20) {
        if (x < x0) x0 = x;
        if (x > x1) x1 = x;
        if (y < y0) y0 = y;
        if (y > y1) y1 = y;
      }
    }
  }
  if (x1 < 0) return null;
  const bw = x1 - x0 + 1;
  const bh = y1 - y0 + 1;
  const scale = 20 / Math.max(bw, bh);
  const tw = Math.max(1, Math.round(bw * scale));
  const th = Math.max(1, Math.round(bh * scale));
  // Halve in steps: one bilinear jump from 280 to 20 pixels would alias thin strokes away.
  let cur: HTMLCanvasElement | OffscreenCanvas = canvas;
  let cx = x0;
  let cy = y0;
  let cw = bw;
  let ch = bh;
  while (cw / 2 > tw && ch / 2 > th) {
    const next = new OffscreenCanvas(Math.ceil(cw / 2), Math.ceil(ch / 2));
    const nctx = next.getContext("2d")!;
    nctx.imageSmoothingQuality = "high";
    nctx.drawImage(cur, cx, cy, cw, ch, 0, 0, next.width, next.height);
    cur = next;
    cx = 0;
    cy = 0;
    cw = next.width;
    ch = next.height;
  }
  const small = new OffscreenCanvas(tw, th);
  const sctx = small.getContext("2d")!;
  sctx.imageSmoothingQuality = "high";
  sctx.drawImage(cur, cx, cy, cw, ch, 0, 0, tw, th);
  const px = sctx.getImageData(0, 0, tw, th).data;
  let mass = 0;
  let mx = 0;
  let my = 0;
  for (let y = 0; y < th; y++) {
    for (let x = 0; x < tw; x++) {
      const v = px[(y * tw + x) * 4];
      mass += v;
      mx += v * (x + 0.5);
      my += v * (y + 0.5);
    }
  }
  const ox = Math.round(14 - (mass ? mx / mass : tw / 2));
  const oy = Math.round(14 - (mass ? my / mass : th / 2));
  const out = new Float32Array(784);
  for (let y = 0; y < th; y++) {
    for (let x = 0; x < tw; x++) {
      const X = x + ox;
      const Y = y + oy;
      if (X >= 0 && X < 28 && Y >= 0 && Y < 28) out[Y * 28 + X] = px[(y * tw + x) * 4] / 255;
    }
  }
  return out;
}

/** Shows the 28x28 input in a (CSS-enlarged) canvas. */
export function showPreview(canvas: HTMLCanvasElement, img: Float32Array | null): void {
  const ctx = canvas.getContext("2d")!;
  const data = ctx.createImageData(28, 28);
  for (let i = 0; i < 784; i++) {
    const v = Math.round((img?.[i] ?? 0) * 255);
    data.data.set([v, v, v, 255], i * 4);
  }
  ctx.putImageData(data, 0, 0);
}
