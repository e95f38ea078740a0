// What every page uses: the API client, jobs, errors, DOM builders and small SVG/canvas charts.
//
//   api.get(path) / api.post(path, body) / api.del(path)   JSON in and out; throw ApiError(server's one line)
//   api.upload(file, onProgress?)                          -> {id, name, size, info}
//   api.job(id, onProgress?)                               -> Promise of the job's result, with .cancel(), .stop()
//   api.startJob(path, body, onProgress?)                  POST path -> {job: id}, then api.job(id)
//   showError(root, message) / clearError(root)            the page's one `.error` line
//   el(tag, attrs, ...children), svg(tag, attrs, ...)      DOM builders (text children are text, never HTML)
//   lineChart, barChart, timeline                          SVG charts; numbers also in data-* attributes
//   drawFrames(canvas, frames, index), framePlayer(...)    frames (PNG data URLs) on a canvas, with play/scrub
//   progressBar(parent, {label, onCancel})                 a job's progress with a Cancel button
//   fmt(x, digits), pct(x, digits), COLORS, colorOf(i)
//
// A path given to api.* starts with "/api/" (or is relative to it: "flicker/data" is "/api/flicker/data").

export class ApiError extends Error {
  constructor(message, { status = 0, cancelled = false, stopped = false } = {}) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.cancelled = cancelled; // the job was cancelled
    this.stopped = stopped; // we stopped following the job (promise.stop())
  }
}

function url(path) {
  if (path.startsWith("/")) return path;
  return `/api/${path}`;
}

async function parse(response) {
  let data = null;
  const text = await response.text();
  try { data = text ? JSON.parse(text) : null; } catch { data = null; }
  if (!response.ok) {
    const message = data && typeof data.error === "string" ? data.error : `${response.status} ${response.statusText}`;
    throw new ApiError(message, { status: response.status });
  }
  return data;
}

async function request(method, path, body) {
  const init = { method, headers: {} };
  if (body !== undefined) {
    init.headers["content-type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(url(path), init);
  } catch (e) {
    throw new ApiError("the explorer's server does not answer (is `vidact explore` still running?)");
  }
  return parse(response);
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export const api = {
  get: (path) => request("GET", path),
  post: (path, body = {}) => request("POST", path, body),
  del: (path) => request("DELETE", path),

  /** Upload a File (from an <input type=file> or a drop): resolves to {id, name, size, info}. */
  upload(file, onProgress) {
    return new Promise((resolve, reject) => {
      const form = new FormData();
      form.append("file", file, file.name || "video");
      const xhr = new XMLHttpRequest();
      xhr.open("POST", "/api/uploads");
      if (onProgress) xhr.upload.onprogress = (e) => e.lengthComputable && onProgress(e.loaded / e.total);
      xhr.onload = () => {
        let data = null;
        try { data = JSON.parse(xhr.responseText); } catch { data = null; }
        if (xhr.status >= 200 && xhr.status < 300) resolve(data);
        else reject(new ApiError(data && data.error ? data.error : `upload failed (${xhr.status})`, { status: xhr.status }));
      };
      xhr.onerror = () => reject(new ApiError("the upload did not reach the server"));
      xhr.send(form);
    });
  },

  /**
   * Follow a job until it ends. onProgress(fraction, message, state) is called on each poll.
   * Resolves to the job's result; rejects with ApiError (the job's one-line error; `.cancelled` when cancelled).
   * The promise has `.cancel()` (asks the server to stop the job), `.stop()` (stops polling: the promise rejects
   * with `.stopped`, the job goes on) and `.id`.
   */
  job(id, onProgress, { interval = 250 } = {}) {
    let stop = false;
    let stopped = false;
    const promise = (async () => {
      for (;;) {
        if (stopped) throw new ApiError("stopped following the job", { stopped: true });
        const j = await request("GET", `/api/jobs/${encodeURIComponent(id)}`);
        if (onProgress) onProgress(j.progress, j.message, j.state);
        if (j.state === "done") return j.result;
        if (j.state === "failed") throw new ApiError(j.error || "the job failed");
        if (j.state === "cancelled") throw new ApiError("cancelled", { cancelled: true });
        await sleep(stop ? 50 : interval);
      }
    })();
    promise.id = id;
    promise.cancel = () => {
      stop = true;
      return request("DELETE", `/api/jobs/${encodeURIComponent(id)}`).catch(() => null);
    };
    promise.stop = () => { stopped = true; }; // stop polling (leaving the page); the job goes on
    return promise;
  },

  /** POST `path` (an endpoint that answers {job: id}) and follow the job: as api.job. */
  startJob(path, body, onProgress) {
    let inner = null;
    let cancelled = false;
    const promise = (async () => {
      const started = await request("POST", path, body ?? {});
      inner = api.job(started.job, onProgress);
      if (cancelled) inner.cancel();
      return inner;
    })();
    promise.cancel = () => {
      cancelled = true;
      return inner ? inner.cancel() : Promise.resolve(null);
    };
    return promise;
  },
};

// ------------------------------------------------------------------ errors

/** Show one error line in `root` (an element with class `error`, made on first use); "" or null hides it. */
export function showError(root, message) {
  let box = root.querySelector(":scope > .error");
  if (!box) {
    box = el("div", { class: "error", role: "alert" });
    root.prepend(box);
  }
  box.textContent = message ? String(message) : "";
  box.hidden = !message;
  return box;
}

export function clearError(root) {
  showError(root, "");
}

// ------------------------------------------------------------------ DOM builders

function build(node, attrs, children) {
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on") && typeof v === "function") node.addEventListener(k.slice(2), v);
    else if (k === "text") node.textContent = String(v);
    else if (k === "style" && typeof v === "object") Object.assign(node.style, v);
    else node.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}

/** An HTML element: el("button", {class: "primary", onclick: fn}, "Run"). Strings become text nodes. */
export function el(tag, attrs = {}, ...children) {
  return build(document.createElement(tag), attrs, children);
}

const SVG_NS = "http://www.w3.org/2000/svg";

/** An SVG element: svg("rect", {x: 0, y: 0, width: 10, height: 5}). */
export function svg(tag, attrs = {}, ...children) {
  return build(document.createElementNS(SVG_NS, tag), attrs, children);
}

// ------------------------------------------------------------------ numbers and colours

export const COLORS = ["#2563eb", "#dc2626", "#16a34a", "#d97706", "#7c3aed", "#0891b2", "#db2777", "#4b5563"];
export const colorOf = (i) => COLORS[((i % COLORS.length) + COLORS.length) % COLORS.length];

/** A number with `digits` significant decimals ("0.123"), "–" for null/NaN. */
export function fmt(x, digits = 3) {
  if (x === null || x === undefined || Number.isNaN(Number(x))) return "–";
  const n = Number(x);
  if (Number.isInteger(n) && Math.abs(n) < 1e6) return String(n);
  if (Math.abs(n) >= 1e6 || (Math.abs(n) < 1e-3 && n !== 0)) return n.toExponential(2);
  return n.toFixed(digits);
}

/** A fraction as a percentage ("87.5 %"). */
export function pct(x, digits = 1) {
  if (x === null || x === undefined || Number.isNaN(Number(x))) return "–";
  return `${(100 * Number(x)).toFixed(digits)} %`;
}

function niceTicks(lo, hi, count = 5) {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) || raw;
  const out = [];
  for (let t = Math.ceil(lo / step - 1e-9) * step; t <= hi + step * 1e-9; t += step) out.push(+t.toPrecision(12));
  return out;
}

function extent(values, fallback = [0, 1]) {
  const v = values.filter((x) => x !== null && x !== undefined && Number.isFinite(Number(x))).map(Number);
  if (!v.length) return fallback;
  let lo = Math.min(...v), hi = Math.max(...v);
  if (lo === hi) { lo -= 0.5; hi += 0.5; }
  return [lo, hi];
}

function frame(parent, { width, height, margin, title, cls }) {
  const root = svg("svg", {
    class: `chart ${cls}`, viewBox: `0 0 ${width} ${height}`, width, height,
    role: "img", "aria-label": title || cls,
  });
  if (title) root.append(svg("text", { class: "chart-title", x: margin.left, y: 14 }, title));
  if (parent) parent.append(root);
  return root;
}

function axes(root, { x, y, xTicks, yTicks, xLabel, yLabel, width, height, margin, xFormat, yFormat }) {
  const g = svg("g", { class: "axes" });
  const bottom = height - margin.bottom;
  for (const t of yTicks) {
    g.append(svg("line", { class: "grid", x1: margin.left, x2: width - margin.right, y1: y(t), y2: y(t) }));
    g.append(svg("text", { class: "tick", x: margin.left - 6, y: y(t) + 4, "text-anchor": "end" }, yFormat(t)));
  }
  for (const t of xTicks || []) {
    g.append(svg("line", { class: "tickmark", x1: x(t), x2: x(t), y1: bottom, y2: bottom + 4 }));
    g.append(svg("text", { class: "tick", x: x(t), y: bottom + 16, "text-anchor": "middle" }, xFormat(t)));
  }
  g.append(svg("line", { class: "axis", x1: margin.left, x2: width - margin.right, y1: bottom, y2: bottom }));
  g.append(svg("line", { class: "axis", x1: margin.left, x2: margin.left, y1: margin.top, y2: bottom }));
  if (xLabel) g.append(svg("text", { class: "axis-label", x: (margin.left + width - margin.right) / 2, y: height - 4, "text-anchor": "middle" }, xLabel));
  if (yLabel) g.append(svg("text", { class: "axis-label", x: 12, y: (margin.top + bottom) / 2, "text-anchor": "middle", transform: `rotate(-90 12 ${(margin.top + bottom) / 2})` }, yLabel));
  root.append(g);
}

// ------------------------------------------------------------------ charts

/**
 * Lines over a shared x axis.
 * opts: {series: [{name, x: [..], y: [..], color?, dashed?, points?}], xLabel, yLabel, xRange?: [lo, hi],
 *        yRange?: [lo, hi], markers?: [{x, label?}], title?, width = 640, height = 260, legend = true,
 *        xFormat?, yFormat?}
 * Each line is <path class="series" data-series=name data-n=len data-last=last y>; points are
 * <circle class="point" data-series data-x data-y>; markers <line class="marker" data-x>.
 * Returns the <svg>.
 */
export function lineChart(parent, opts) {
  const { series = [], xLabel = "", yLabel = "", title = "", width = 640, height = 260, legend = true } = opts;
  const margin = { top: title ? 24 : 12, right: 16, bottom: xLabel ? 40 : 26, left: yLabel ? 56 : 44 };
  const [x0, x1] = opts.xRange || extent(series.flatMap((s) => s.x));
  const [y0, y1] = opts.yRange || extent(series.flatMap((s) => s.y));
  const x = (v) => margin.left + ((v - x0) / (x1 - x0 || 1)) * (width - margin.left - margin.right);
  const y = (v) => height - margin.bottom - ((v - y0) / (y1 - y0 || 1)) * (height - margin.top - margin.bottom);
  const root = frame(parent, { width, height, margin, title, cls: "line-chart" });
  axes(root, {
    x, y, xTicks: niceTicks(x0, x1), yTicks: niceTicks(y0, y1, 4), xLabel, yLabel, width, height, margin,
    xFormat: opts.xFormat || ((t) => fmt(t, 2)), yFormat: opts.yFormat || ((t) => fmt(t, 2)),
  });
  series.forEach((s, i) => {
    const color = s.color || colorOf(i);
    let d = "";
    let pen = false;
    s.x.forEach((xv, j) => {
      const yv = s.y[j];
      if (yv === null || yv === undefined || !Number.isFinite(Number(yv))) { pen = false; return; }
      d += `${pen ? "L" : "M"}${x(xv).toFixed(2)},${y(yv).toFixed(2)}`;
      pen = true;
    });
    root.append(svg("path", {
      class: "series", d, stroke: color, fill: "none", "stroke-dasharray": s.dashed ? "6 4" : null,
      "data-series": s.name, "data-n": s.x.length, "data-last": s.y.length ? s.y[s.y.length - 1] : "",
    }));
    if (s.points) {
      s.x.forEach((xv, j) => {
        const yv = s.y[j];
        if (yv === null || yv === undefined) return;
        root.append(svg("circle", { class: "point", cx: x(xv), cy: y(yv), r: 3, fill: color, "data-series": s.name, "data-x": xv, "data-y": yv },
          svg("title", {}, `${s.name}: ${fmt(xv)}, ${fmt(yv)}`)));
      });
    }
  });
  for (const m of opts.markers || []) {
    root.append(svg("line", { class: "marker", x1: x(m.x), x2: x(m.x), y1: margin.top, y2: height - margin.bottom, "data-x": m.x }));
    if (m.label) root.append(svg("text", { class: "marker-label", x: x(m.x) + 4, y: margin.top + 10 }, m.label));
  }
  if (legend && series.length > 1) {
    let lx = margin.left + 8;
    series.forEach((s, i) => {
      const g = svg("g", { class: "legend-item" },
        svg("rect", { x: lx, y: margin.top + 2, width: 10, height: 10, fill: s.color || colorOf(i) }),
        svg("text", { x: lx + 14, y: margin.top + 11 }, s.name));
      root.append(g);
      lx += 24 + 7 * String(s.name).length;
    });
  }
  return root;
}

/**
 * Vertical bars, one per label.
 * opts: {labels: [..], values: [..], yLabel?, xLabel?, yRange?: [lo, hi], highlight?: index | label,
 *        colors?: [..], format?: (v) => string, title?, width = 640, height = 260}
 * Each bar is <rect class="bar" data-label data-value>, its value printed above it (<text class="bar-value">).
 */
export function barChart(parent, opts) {
  const { labels = [], values = [], xLabel = "", yLabel = "", title = "", width = 640, height = 260 } = opts;
  const format = opts.format || ((v) => fmt(v, 3));
  const margin = { top: title ? 28 : 18, right: 12, bottom: xLabel ? 54 : 40, left: yLabel ? 56 : 44 };
  const [lo, hi] = opts.yRange || [Math.min(0, ...values), Math.max(0, ...values) || 1];
  const y = (v) => height - margin.bottom - ((v - lo) / (hi - lo || 1)) * (height - margin.top - margin.bottom);
  const band = (width - margin.left - margin.right) / Math.max(1, labels.length);
  const root = frame(parent, { width, height, margin, title, cls: "bar-chart" });
  axes(root, {
    x: () => 0, y, xTicks: [], yTicks: niceTicks(lo, hi, 4), xLabel, yLabel, width, height, margin,
    xFormat: String, yFormat: (t) => fmt(t, 2),
  });
  labels.forEach((label, i) => {
    const v = values[i];
    const hl = opts.highlight === i || opts.highlight === label;
    const x = margin.left + i * band + band * 0.15;
    const top = y(Math.max(v, 0)), base = y(Math.min(v, 0));
    root.append(svg("rect", {
      class: hl ? "bar highlight" : "bar", x, y: top, width: band * 0.7, height: Math.max(0.5, base - top),
      fill: (opts.colors && opts.colors[i]) || (hl ? colorOf(1) : colorOf(0)), "data-label": label, "data-value": v,
    }, svg("title", {}, `${label}: ${format(v)}`)));
    root.append(svg("text", { class: "bar-value", x: x + band * 0.35, y: top - 4, "text-anchor": "middle" }, format(v)));
    root.append(svg("text", {
      class: "bar-label", x: x + band * 0.35, y: height - margin.bottom + 14, "text-anchor": "middle",
    }, String(label).length > 14 ? `${String(label).slice(0, 13)}…` : label));
  });
  return root;
}

/**
 * Tracks of segments and marks over time.
 * opts: {duration, tracks: [{name, segments?: [{start, end, label?, score?, color?}], marks?: [t | {t, label?}]}],
 *        cursor?: t, xLabel = "seconds", title?, width = 640, rowHeight = 26}
 * Segments are <rect class="segment" data-track data-start data-end data-label data-score>; marks
 * <line class="mark" data-track data-t>; the cursor <line class="cursor" data-t>.
 */
export function timeline(parent, opts) {
  const { duration = 1, tracks = [], xLabel = "seconds", title = "", width = 640, rowHeight = 26 } = opts;
  const nameWidth = Math.min(280, 16 + 6.5 * Math.max(4, ...tracks.map((t) => String(t.name).length)));
  const margin = { top: title ? 24 : 8, right: 12, bottom: 40, left: nameWidth };
  const height = margin.top + margin.bottom + rowHeight * tracks.length;
  const x = (t) => margin.left + (t / (duration || 1)) * (width - margin.left - margin.right);
  const root = frame(parent, { width, height, margin, title, cls: "timeline" });
  const bottom = height - margin.bottom;
  for (const t of niceTicks(0, duration, 6)) {
    root.append(svg("line", { class: "grid", x1: x(t), x2: x(t), y1: margin.top, y2: bottom }));
    root.append(svg("text", { class: "tick", x: x(t), y: bottom + 14, "text-anchor": "middle" }, fmt(t, 2)));
  }
  root.append(svg("text", { class: "axis-label", x: (margin.left + width - margin.right) / 2, y: height - 6, "text-anchor": "middle" }, xLabel));
  tracks.forEach((track, i) => {
    const top = margin.top + i * rowHeight;
    root.append(svg("text", { class: "track-name", x: 4, y: top + rowHeight / 2 + 4 }, track.name));
    root.append(svg("rect", { class: "track", x: margin.left, y: top + 3, width: width - margin.left - margin.right, height: rowHeight - 6 }));
    (track.segments || []).forEach((s) => {
      const w = Math.max(1.5, x(s.end) - x(s.start));
      root.append(svg("rect", {
        class: "segment", x: x(s.start), y: top + 4, width: w, height: rowHeight - 8, fill: s.color || track.color || colorOf(i),
        "data-track": track.name, "data-start": s.start, "data-end": s.end, "data-label": s.label ?? "", "data-score": s.score ?? "",
      }, svg("title", {}, `${s.label ?? track.name} ${fmt(s.start, 2)}–${fmt(s.end, 2)} s${s.score !== undefined ? ` (${fmt(s.score)})` : ""}`)));
      if (s.label && w > 40) root.append(svg("text", { class: "segment-label", x: x(s.start) + 3, y: top + rowHeight / 2 + 4 }, s.label));
    });
    (track.marks || []).forEach((m) => {
      const t = typeof m === "number" ? m : m.t;
      root.append(svg("line", {
        class: "mark", x1: x(t), x2: x(t), y1: top + 3, y2: top + rowHeight - 3, stroke: track.color || colorOf(i),
        "data-track": track.name, "data-t": t,
      }, svg("title", {}, typeof m === "number" ? `${fmt(t, 3)} s` : `${m.label ?? ""} ${fmt(t, 3)} s`)));
    });
  });
  if (opts.cursor !== undefined && opts.cursor !== null) {
    root.append(svg("line", { class: "cursor", x1: x(opts.cursor), x2: x(opts.cursor), y1: margin.top, y2: bottom, "data-t": opts.cursor }));
  }
  return root;
}

// ------------------------------------------------------------------ frames

const images = new Map();

function loadImage(src) {
  if (src instanceof HTMLImageElement || src instanceof HTMLCanvasElement || src instanceof ImageBitmap) {
    return Promise.resolve(src);
  }
  if (!images.has(src)) {
    images.set(src, new Promise((resolve, reject) => {
      const img = new Image();
      img.onload = () => resolve(img);
      img.onerror = () => reject(new Error("a frame could not be decoded"));
      img.src = src;
    }));
    if (images.size > 2000) images.delete(images.keys().next().value);
  }
  return images.get(src);
}

/**
 * Draw frame `index` of `frames` (PNG data URLs, or images) on `canvas`, scaled to fill it (pixels kept sharp).
 * Sets canvas.dataset.index. Resolves when drawn.
 */
export async function drawFrames(canvas, frames, index = 0) {
  if (!frames.length) return;
  const i = Math.max(0, Math.min(frames.length - 1, index));
  const img = await loadImage(frames[i]);
  const ctx = canvas.getContext("2d");
  ctx.imageSmoothingEnabled = false;
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  ctx.drawImage(img, 0, 0, canvas.width, canvas.height);
  canvas.dataset.index = String(i);
}

/**
 * A canvas that plays `frames` (PNG data URLs) with Play/Pause and a scrubber.
 * opts: {fps = 8, width = 256, height?, label?, loop = true, onFrame?: (i) => void}
 * Returns {el, canvas, show(i), play(), pause(), get index(), destroy()}; el.dataset.index is the frame shown.
 */
export function framePlayer(parent, frames, opts = {}) {
  const { fps = 8, width = 256, label = "", loop = true } = opts;
  const first = frames[0];
  const canvas = el("canvas", { class: "frames", width, height: opts.height || width });
  const slider = el("input", { type: "range", min: 0, max: Math.max(0, frames.length - 1), value: 0, class: "scrub", "aria-label": "frame" });
  const counter = el("span", { class: "frame-index" }, `1 / ${frames.length}`);
  const button = el("button", { type: "button", class: "play" }, "Play");
  const box = el("figure", { class: "player", "data-count": frames.length, "data-index": 0 },
    canvas, el("div", { class: "player-controls" }, button, slider, counter), label ? el("figcaption", {}, label) : null);
  parent.append(box);
  let index = 0;
  let timer = null;
  const show = async (i) => {
    index = Math.max(0, Math.min(frames.length - 1, i));
    slider.value = String(index);
    counter.textContent = `${index + 1} / ${frames.length}`;
    box.dataset.index = String(index);
    await drawFrames(canvas, frames, index);
    if (opts.onFrame) opts.onFrame(index);
  };
  const pause = () => {
    if (timer) clearInterval(timer);
    timer = null;
    button.textContent = "Play";
    box.classList.remove("playing");
  };
  const play = () => {
    if (timer || frames.length < 2) return;
    button.textContent = "Pause";
    box.classList.add("playing");
    timer = setInterval(() => {
      if (index + 1 >= frames.length && !loop) return pause();
      show((index + 1) % frames.length);
    }, 1000 / fps);
  };
  button.addEventListener("click", () => (timer ? pause() : play()));
  slider.addEventListener("input", () => { pause(); show(Number(slider.value)); });
  if (first && opts.height === undefined) {
    loadImage(first).then((img) => {
      canvas.height = Math.round((width * img.height) / img.width);
      show(index);
    }).catch(() => null);
  } else {
    show(0);
  }
  return { el: box, canvas, show, play, pause, get index() { return index; }, destroy: pause };
}

// ------------------------------------------------------------------ progress

/**
 * A progress bar with a message and a Cancel button (when onCancel is given).
 * Returns {el, set(fraction, message), remove()}; el.dataset.fraction is the last fraction set.
 */
export function progressBar(parent, { label = "", onCancel } = {}) {
  const bar = el("progress", { max: 1, value: 0 });
  const message = el("span", { class: "progress-message" }, label);
  const cancel = onCancel ? el("button", { type: "button", class: "cancel", onclick: () => { cancel.disabled = true; onCancel(); } }, "Cancel") : null;
  const box = el("div", { class: "progress", "data-fraction": 0 }, bar, message, cancel);
  parent.append(box);
  return {
    el: box,
    set(fraction, text) {
      bar.value = Math.max(0, Math.min(1, Number(fraction) || 0));
      box.dataset.fraction = String(bar.value);
      if (text) message.textContent = label ? `${label}: ${text}` : text;
    },
    remove() { box.remove(); },
  };
}
