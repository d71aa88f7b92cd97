// The live page: the reference DenseNet and ResNet run in the reader's browser with ONNX Runtime
// Web (WebAssembly, one thread), vendored in _static/onnxruntime/. No server, no kernel, and
// nothing fetched from another host; it also works from file://. dnet_lib/live.py embeds this
// file, the two ONNX models (base64) and the 50 test images in the page.
(function () {
  "use strict";
  const root = document.getElementById("__ROOT_ID__");
  if (!root || root.dataset.started) return;
  root.dataset.started = "1";
  const get = (role) => root.querySelector('[data-role="' + role + '"]');
  const data = JSON.parse(get("data").textContent);
  const NETS = ["densenet", "resnet"];
  const state = {pixels: null, index: null, outputs: null, timings: [], zoom: null,
                 firstMs: null, step: {densenet: null, resnet: null}};
  const api = {state, ready: null, timings: state.timings};
  root.dnetLive = api;
  window.dnetLive = api;

  // ------------------------------------------------------------------ loading
  function staticBase() {
    const rootPath = document.documentElement.dataset.content_root;
    return (rootPath !== undefined ? rootPath : "../") + "_static/onnxruntime/";
  }
  function loadScript(src) {
    return new Promise((resolve, reject) => {
      const s = document.createElement("script");
      s.src = src;
      s.onload = resolve;
      s.onerror = () => reject(new Error("could not load " + src));
      document.head.appendChild(s);
    });
  }
  async function decode(b64, gzipped) {
    // the browser's own base64 and gzip decoders (a data: URL is no request to any host)
    const response = await fetch("data:application/octet-stream;base64," + b64);
    const body = gzipped ? response.body.pipeThrough(new DecompressionStream("gzip"))
      : response.body;
    return new Uint8Array(await new Response(body).arrayBuffer());
  }
  const phases = {};
  api.phases = phases;
  const mark = (name) => { phases[name] = Math.round(performance.now()); };
  // the load event's time (performance.now(), ms since navigation start), for the timing line
  let loadEventMs = document.readyState === "complete"
    ? performance.getEntriesByType("navigation")[0]?.loadEventStart || performance.now() : null;
  if (loadEventMs === null) {
    window.addEventListener("load", () => {
      loadEventMs = api.loadEventMs = performance.now();
      // negative when the first probabilities came before the load event
      if (state.firstMs !== null) api.afterLoadEventMs = state.firstMs - loadEventMs;
    }, {once: true});
  }
  async function start() {
    // at once, not after the load event: the runtime's download overlaps the page's own
    const base = staticBase();
    mark("start");
    const models = Promise.all(NETS.map((net) => decode(get("model-" + net).textContent.trim(),
                                                         false)));
    // both scripts at once (the page preloads them); the WebAssembly is unpacked as soon as
    // its script is in, while the library may still be arriving
    const wasm = (window.dnetOrtWasm ? Promise.resolve() : loadScript(base + "ort-wasm-payload.js"))
      .then(() => decode(window.dnetOrtWasm.wasmGzipBase64, true));
    if (!window.ort) await loadScript(base + "ort.wasm.min.js");
    mark("library");
    const payload = window.dnetOrtWasm || (await wasm, window.dnetOrtWasm);
    ort.env.wasm.numThreads = 1;       // no SharedArrayBuffer: no cross-origin isolation needed
    ort.env.wasm.proxy = false;
    ort.env.wasm.wasmBinary = await wasm;
    mark("wasmDecoded");
    const glue = new Blob([payload.glue], {type: "text/javascript"});
    ort.env.wasm.wasmPaths = {mjs: URL.createObjectURL(glue)};
    const options = {executionProviders: ["wasm"], graphOptimizationLevel: "all"};
    const blobs = await models;
    // the first create instantiates the WebAssembly module; the second then reuses it
    const first = ort.InferenceSession.create(blobs[0], options);
    const made = await Promise.all([first, first.then(() =>
      ort.InferenceSession.create(blobs[1], options))]);
    mark("sessions");
    api.sessions = {[NETS[0]]: made[0], [NETS[1]]: made[1]};
    get("status").textContent = "";
    root.classList.add("dnet-live-ready");
    await pick(0);
    state.firstMs = performance.now();
    api.firstProbabilitiesMs = state.firstMs;            // since navigation start
    api.loadEventMs = loadEventMs;
    api.afterLoadEventMs = loadEventMs === null ? null : state.firstMs - loadEventMs;
    showTiming();
    return api;
  }

  // ------------------------------------------------------------------ inference
  async function infer(pixels) {
    const begin = performance.now();
    const outputs = {};
    for (const net of NETS) {
      const input = new ort.Tensor("float32", pixels, [1, 1, 28, 28]);
      outputs[net] = await api.sessions[net].run({pixels: input});
    }
    const ms = performance.now() - begin;
    state.timings.push(ms);
    api.lastInferenceMs = ms;
    return outputs;
  }
  let busy = null, queued = null;
  async function show(pixels, index) {
    api.idle = false;
    if (busy) { queued = [pixels, index]; return busy; }   // drawing: keep only the newest
    busy = (async () => {
      state.pixels = pixels;
      state.index = index;
      state.outputs = await infer(pixels);
      render();
    })();
    await busy;
    busy = null;
    if (queued) { const [p, i] = queued; queued = null; await show(p, i); }
    api.idle = !busy && !queued;
  }
  function imagePixels(index) {
    const out = new Float32Array(784);
    for (let i = 0; i < 784; i++) out[i] = images[index * 784 + i] / 255;
    return out;
  }
  async function pick(index) {
    root.querySelectorAll('[data-role="pick"]').forEach((b) =>
      b.classList.toggle("selected", Number(b.dataset.index) === index));
    const pixels = imagePixels(index);
    drawInput(pixels);
    await show(pixels, index);
    replay();
  }
  api.pick = pick;

  // ------------------------------------------------------------------ drawing helpers
  function grayTile(ctx, values, offset, size, x, y, scale) {
    let lo = Infinity, hi = -Infinity;
    for (let i = 0; i < size * size; i++) {
      const v = values[offset + i];
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
    const span = hi - lo || 1;
    const img = ctx.createImageData(size, size);
    for (let i = 0; i < size * size; i++) {
      const g = Math.round(255 * (values[offset + i] - lo) / span);
      img.data.set([g, g, g, 255], 4 * i);
    }
    const tmp = document.createElement("canvas");
    tmp.width = tmp.height = size;
    tmp.getContext("2d").putImageData(img, 0, 0);
    ctx.imageSmoothingEnabled = false;
    ctx.drawImage(tmp, x, y, size * scale, size * scale);
  }
  const images = Uint8Array.from(atob(data.images), (c) => c.charCodeAt(0));
  const input = get("input");
  function drawInput(pixels) {
    const ctx = input.getContext("2d");
    const img = ctx.createImageData(28, 28);
    for (let i = 0; i < 784; i++) {
      const g = Math.round(255 * pixels[i]);
      img.data.set([g, g, g, 255], 4 * i);
    }
    ctx.putImageData(img, 0, 0);
  }

  // ------------------------------------------------------------------ probabilities
  function renderProbabilities() {
    let largest = 0;
    for (const net of NETS) {
      const p = state.outputs[net].probabilities.data;
      const rows = get("probs-" + net).querySelectorAll("tr");
      let top = 0;
      for (let c = 0; c < 10; c++) if (p[c] > p[top]) top = c;
      rows.forEach((tr, c) => {
        tr.dataset.p = String(p[c]);
        tr.classList.toggle("top", c === top);
        tr.querySelector(".bar").style.width = (100 * p[c]).toFixed(1) + "%";
        tr.querySelector(".value").textContent = (100 * p[c]).toFixed(1) + "%";
      });
      get("prediction-" + net).textContent = data.classes[top];
      if (state.index !== null) {
        const ref = data.pytorch[net][state.index];
        for (let c = 0; c < 10; c++) largest = Math.max(largest, Math.abs(ref[c] - p[c]));
      }
    }
    const truth = state.index === null ? "your drawing"
      : "test image " + data.indices[state.index] + ", a " + data.classes[data.labels[state.index]];
    get("truth").textContent = truth;
    get("check").textContent = state.index === null ? ""
      : "Largest difference from PyTorch's probabilities (build time): "
        + largest.toExponential(1) + ".";
  }

  // ------------------------------------------------------------------ the two map views
  const TILE = 28, GAP = 2;
  function denseLayout(b) {
    const names = data.outputs.densenet;
    const stack = names["denseblock" + b];
    const layers = Object.keys(names).filter((n) => n.startsWith("denseblock" + b + "."));
    const k = names[layers[0]][0];
    return {name: "denseblock" + b, layers, k, channels: stack[0], size: stack[1],
            input: stack[0] - layers.length * k, steps: layers.length};
  }
  function residualLayout(s) {
    const names = data.outputs.resnet;
    const blocks = Object.keys(names).filter((n) => n.startsWith("layer" + s + "."));
    const before = s === 1 ? "stem" : Object.keys(names).filter((n) =>
      n.startsWith("layer" + (s - 1) + ".")).pop();
    return {blocks, before, steps: blocks.length};
  }
  function stage() { return Number(get("stage").value); }
  function drawGrid(canvas, values, first, count, size, cols, mark) {
    const scale = Math.max(1, Math.floor(TILE / size));
    const tile = size * scale + GAP;
    const rows = Math.ceil(count / cols);
    canvas.width = cols * tile;
    canvas.height = rows * tile;
    const ctx = canvas.getContext("2d");
    ctx.fillStyle = "#fff";
    ctx.fillRect(0, 0, canvas.width, canvas.height);
    for (let c = 0; c < count; c++) {
      const x = (c % cols) * tile, y = Math.floor(c / cols) * tile;
      if (values && c < first) {
        grayTile(ctx, values, c * size * size, size, x, y, scale);
        if (mark && mark(c)) {
          ctx.strokeStyle = "#d95f02";
          ctx.lineWidth = 2;
          ctx.strokeRect(x + 1, y + 1, size * scale - 2, size * scale - 2);
        }
      } else {
        ctx.strokeStyle = "#ccc";
        ctx.strokeRect(x + 0.5, y + 0.5, size * scale - 1, size * scale - 1);
      }
    }
    canvas.dataset.tile = String(tile);
    canvas.dataset.cols = String(cols);
  }
  function renderDense() {
    const L = denseLayout(stage());
    const step = state.step.densenet === null ? L.steps : state.step.densenet;
    const shown = L.input + step * L.k;
    const stack = state.outputs.densenet[L.name].data;
    const canvas = get("dense-maps");
    drawGrid(canvas, stack, shown, L.channels, L.size, L.k,
             (c) => step > 0 && c >= shown - L.k);
    canvas.dataset.channels = String(shown);
    get("dense-step").max = String(L.steps);
    get("dense-step").value = String(step);
    get("dense-label").textContent = step === 0
      ? "block input: " + L.input + " maps of " + L.size + "x" + L.size
      : "after layer " + step + " of " + L.steps + ": " + L.input + " + " + step + " x "
        + L.k + " = " + shown + " maps (the newest " + L.k + " outlined)";
  }
  function residualValues(L, step) {
    const name = step === 0 ? L.before : L.blocks[step - 1];
    return {name, tensor: state.outputs.resnet[name]};
  }
  function renderResidual() {
    const L = residualLayout(stage());
    const step = state.step.resnet === null ? L.steps : state.step.resnet;
    const {name, tensor} = residualValues(L, step);
    const [, channels, size] = tensor.dims;
    const canvas = get("residual-maps");
    drawGrid(canvas, tensor.data, channels, channels, size, 16, null);
    canvas.dataset.channels = String(channels);
    get("residual-step").max = String(L.steps);
    get("residual-step").value = String(step);
    get("residual-label").textContent = (step === 0
      ? "stage input (" + name + "): "
      : "after block " + step + " of " + L.steps + ", relu(x + F(x)): ")
      + channels + " maps of " + size + "x" + size + (step > 0 ? ", all replaced" : "");
  }
  function render() {
    if (!state.outputs) return;
    renderProbabilities();
    renderDense();
    renderResidual();
    renderZoom();
  }

  // ------------------------------------------------------------------ zoom on a map
  function renderZoom() {
    const z = state.zoom;
    const box = get("zoom");
    if (!z || !state.outputs) { box.hidden = true; return; }
    let tensor, label;
    if (z.net === "densenet") {
      const L = denseLayout(stage());
      tensor = state.outputs.densenet[L.name];
      const from = z.channel < L.input ? "the block's input"
        : "layer " + (1 + Math.floor((z.channel - L.input) / L.k));
      label = "DenseNet block " + stage() + ", map " + (z.channel + 1) + " of "
        + L.channels + " (from " + from + ")";
    } else {
      const L = residualLayout(stage());
      const step = state.step.resnet === null ? L.steps : state.step.resnet;
      const r = residualValues(L, step);
      tensor = r.tensor;
      label = "ResNet " + r.name + ", map " + (z.channel + 1) + " of " + tensor.dims[1];
    }
    if (z.channel >= tensor.dims[1]) { box.hidden = true; return; }
    const size = tensor.dims[2];
    const canvas = get("zoom-map");
    canvas.width = canvas.height = 168;
    grayTile(canvas.getContext("2d"), tensor.data, z.channel * size * size, size, 0, 0,
             168 / size);
    get("zoom-label").textContent = label;
    box.hidden = false;
  }
  function onMapClick(net) {
    return (event) => {
      const canvas = event.currentTarget;
      const rect = canvas.getBoundingClientRect();
      const tile = Number(canvas.dataset.tile) * rect.width / canvas.width;
      const col = Math.floor((event.clientX - rect.left) / tile);
      const row = Math.floor((event.clientY - rect.top) / tile);
      const channel = row * Number(canvas.dataset.cols) + col;
      if (channel < Number(canvas.dataset.channels)) {
        state.zoom = {net, channel};
        renderZoom();
      }
    };
  }
  get("dense-maps").addEventListener("click", onMapClick("densenet"));
  get("residual-maps").addEventListener("click", onMapClick("resnet"));
  get("zoom-close").addEventListener("click", () => { state.zoom = null; renderZoom(); });

  // ------------------------------------------------------------------ steps and replay
  let timer = null;
  function replay() {
    clearInterval(timer);
    state.step = {densenet: 0, resnet: 0};
    render();
    timer = setInterval(() => {
      const d = denseLayout(stage()).steps, r = residualLayout(stage()).steps;
      if (state.step.densenet < d) state.step.densenet++;
      if (state.step.resnet < r) state.step.resnet++;
      if (state.step.densenet >= d && state.step.resnet >= r) clearInterval(timer);
      if (state.outputs) { renderDense(); renderResidual(); renderZoom(); }
    }, 600);
  }
  for (const net of NETS) {
    const slider = get((net === "densenet" ? "dense" : "residual") + "-step");
    slider.addEventListener("input", () => {
      clearInterval(timer);
      state.step[net] = Number(slider.value);
      render();
    });
  }
  get("replay").addEventListener("click", replay);
  get("stage").addEventListener("change", () => { state.zoom = null; replay(); });

  // ------------------------------------------------------------------ picking and drawing
  root.querySelectorAll('[data-role="pick"]').forEach((button) => {
    const i = Number(button.dataset.index);
    const ctx = button.querySelector("canvas").getContext("2d");
    const img = ctx.createImageData(28, 28);
    for (let p = 0; p < 784; p++) {
      const g = images[i * 784 + p];
      img.data.set([g, g, g, 255], 4 * p);
    }
    ctx.putImageData(img, 0, 0);
    button.addEventListener("click", () => { if (api.sessions) pick(i); });
  });
  let drawing = false;
  function paint(event) {
    const rect = input.getBoundingClientRect();
    const cx = (event.clientX - rect.left) * 28 / rect.width;
    const cy = (event.clientY - rect.top) * 28 / rect.height;
    const pixels = state.pixels ? Float32Array.from(state.pixels) : new Float32Array(784);
    for (let y = 0; y < 28; y++) {
      for (let x = 0; x < 28; x++) {
        const d2 = (x + 0.5 - cx) ** 2 + (y + 0.5 - cy) ** 2;
        const ink = Math.exp(-d2 / 1.5);
        pixels[y * 28 + x] = Math.min(1, pixels[y * 28 + x] + ink);
      }
    }
    root.querySelectorAll('[data-role="pick"]').forEach((b) => b.classList.remove("selected"));
    drawInput(pixels);
    show(pixels, null);
  }
  input.addEventListener("pointerdown", (e) => {
    if (!api.sessions) return;
    drawing = true;
    input.setPointerCapture(e.pointerId);
    paint(e);
  });
  input.addEventListener("pointermove", (e) => { if (drawing) paint(e); });
  input.addEventListener("pointerup", () => { drawing = false; });
  get("clear").addEventListener("click", () => {
    if (!api.sessions) return;
    const blank = new Float32Array(784);
    drawInput(blank);
    root.querySelectorAll('[data-role="pick"]').forEach((b) => b.classList.remove("selected"));
    show(blank, null);
  });
  api.show = (pixels) => { drawInput(pixels); return show(Float32Array.from(pixels), null); };

  function showTiming() {
    const t = state.timings;
    get("timing").textContent = "In this browser: first answer " + Math.round(state.firstMs)
      + " ms after navigation started" + (api.afterLoadEventMs === null ? " (before the load "
      + "event)" : " (" + Math.round(api.afterLoadEventMs) + " ms after the load event)")
      + "; one image through both networks takes "
      + t[t.length - 1].toFixed(1) + " ms (WebAssembly, one thread).";
  }

  get("status").textContent = "Loading the two networks...";
  api.ready = start().catch((error) => {
    get("status").textContent = "The live networks could not start here (" + error.message
      + "). They run in the built book's pages; the figure below shows the same views.";
    api.error = String(error.message || error);
    throw error;
  });
})();
