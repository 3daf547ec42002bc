// A picture coloured in the browser: codes (one byte per pixel, sent when the maps change),
// per-tile coefficients (sent when the normalisation changes) and a colour table (sent when
// the colour map changes). The same colouring as cnnviz_widgets.render.codes.colour_codes.
const GAP = 255;

function bytesOf(model, name) {
  const v = model.get(name);
  if (!v) return new Uint8Array(0);
  return new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
}

function typed(model, name, Kind) {
  const b = bytesOf(model, name);
  const copy = b.slice();  // aligned for the typed view
  return new Kind(copy.buffer, 0, Math.floor(copy.byteLength / Kind.BYTES_PER_ELEMENT));
}

function render({ model, el }) {
  const canvas = document.createElement("canvas");
  canvas.className = "cnnviz-view cnnviz-coded";
  canvas.style.imageRendering = "pixelated";
  canvas.style.maxWidth = "100%";
  canvas.setAttribute("role", "img");
  el.appendChild(canvas);
  const ctx = canvas.getContext("2d");
  let pending = false;
  let frames = 0;

  function draw() {
    pending = false;
    const size = model.get("size") || [0, 0];
    const h = size[0], w = size[1];
    const codes = bytesOf(model, "codes");
    if (!h || !w || codes.length !== h * w) return;
    const rows = typed(model, "tile_rows", Int16Array);
    const cols = typed(model, "tile_cols", Int16Array);
    const coef = typed(model, "coefficients", Float32Array);
    const pal = bytesOf(model, "palette");
    const columns = model.get("columns");
    const n = coef.length / 2;
    if (rows.length !== h || cols.length !== w || pal.length < 257 * 3 || !n) return;
    const colours = new Uint32Array(257);
    for (let i = 0; i < 257; i++) {
      colours[i] = (0xff000000 | (pal[3 * i + 2] << 16) | (pal[3 * i + 1] << 8) | pal[3 * i]) >>> 0;
    }
    const background = colours[256];
    const table = new Uint32Array(n * 256);
    for (let t = 0; t < n; t++) {
      const a = coef[t], b = coef[n + t];
      for (let c = 0; c < GAP; c++) {
        let v = Math.fround(Math.fround(a * c) + b);
        v = v < 0 ? 0 : (v > 1 ? 1 : v);
        let i = Math.floor(Math.fround(v * 256));
        if (!(i >= 0)) i = 256; else if (i > 255) i = 255;
        table[t * 256 + c] = colours[i];
      }
      table[t * 256 + GAP] = background;
    }
    if (canvas.width !== w) canvas.width = w;
    if (canvas.height !== h) canvas.height = h;
    const image = ctx.createImageData(w, h);
    const out = new Uint32Array(image.data.buffer);
    for (let y = 0; y < h; y++) {
      const start = y * w, tr = rows[y];
      if (tr < 0) { out.fill(background, start, start + w); continue; }
      const first = tr * columns;
      for (let x = 0; x < w; x++) {
        const c = codes[start + x], tc = cols[x];
        const t = first + tc;
        out[start + x] = (c === GAP || tc < 0 || t >= n) ? background : table[t * 256 + c];
      }
    }
    ctx.putImageData(image, 0, 0);
    canvas.style.width = (w * (model.get("scale") || 1)) + "px";
    frames += 1;
    canvas.dataset.drawn = String(performance.timeOrigin + performance.now());
    canvas.dataset.frame = String(frames);
  }

  function schedule() {
    if (pending) return;
    pending = true;
    canvas.dataset.received = String(performance.timeOrigin + performance.now());
    queueMicrotask(draw);
  }

  const names = ["codes", "tile_rows", "tile_cols", "columns", "size", "coefficients",
                 "palette", "scale"];
  for (const name of names) model.on("change:" + name, schedule);
  draw();
  return () => { for (const name of names) model.off("change:" + name, schedule); };
}

export default { render };
