// The viewer's mouse tools (docs/viewer.md): window/level by drag, pan, zoom, measurements.
// Pure helpers; the state lives in ViewerStage.vue.

export type Tool = "window" | "pan" | "zoom" | "length" | "ellipse" | "rectangle" | "crosshair";

export const TOOLS: { tool: Tool; label: string; key: string; title: string }[] = [
  { tool: "window", label: "W/L", key: "w", title: "Window/level: drag right for a wider window, down for a higher level (W)" },
  { tool: "pan", label: "Pan", key: "p", title: "Pan: drag the picture (P; the middle button always pans)" },
  { tool: "zoom", label: "Zoom", key: "z", title: "Zoom: drag up to zoom in (Z; Ctrl+wheel, + and - too; the right button always zooms)" },
  { tool: "length", label: "Length", key: "l", title: "Length in mm: drag from one end to the other (L)" },
  { tool: "ellipse", label: "Ellipse", key: "e", title: "Mean/SD/min/max and area of an elliptic region: drag its box (E)" },
  { tool: "rectangle", label: "Rect", key: "r", title: "Mean/SD/min/max and area of a rectangle: drag its corners (R)" },
  { tool: "crosshair", label: "Cross", key: "c", title: "Three planes: click or drag to move the crosshair, the other planes follow (C)" },
];

export type Plane3 = "axial" | "coronal" | "sagittal";
export const PLANES3: Plane3[] = ["axial", "coronal", "sagittal"];
type Indices = Record<Plane3, number>;

/** where the other two planes cut plane ``p``, as fractions of its picture (x, y). Each
 * plane's index counts right to left (sagittal), anterior to posterior (coronal),
 * inferior to superior (axial); pictures are in the display convention: patient's right
 * on the left (axial, coronal), anterior on the left (sagittal), anterior up (axial),
 * superior up (coronal, sagittal) */
export function crosshairAt(p: Plane3, at: Indices, n: Indices): [number, number] {
  const f = (q: Plane3): number => (at[q] + 0.5) / n[q];
  if (p === "axial") return [f("sagittal"), f("coronal")];
  if (p === "coronal") return [f("sagittal"), 1 - f("axial")];
  return [f("coronal"), 1 - f("axial")];
}

/** the indices of the other two planes at fractions (x, y) of plane ``p``'s picture */
export function pickAt(p: Plane3, x: number, y: number, n: Indices): Partial<Indices> {
  const at = (q: Plane3, f: number): number => Math.min(n[q] - 1, Math.max(0, Math.floor(f * n[q])));
  if (p === "axial") return { sagittal: at("sagittal", x), coronal: at("coronal", y) };
  if (p === "coronal") return { sagittal: at("sagittal", x), axial: at("axial", 1 - y) };
  return { coronal: at("coronal", x), axial: at("axial", 1 - y) };
}

/** the picture's box inside an element showing it with object-fit: contain */
export function contentBox(rect: DOMRect, naturalWidth: number, naturalHeight: number): { left: number; top: number; scale: number } {
  const scale = Math.min(rect.width / naturalWidth, rect.height / naturalHeight);
  return {
    left: rect.left + (rect.width - naturalWidth * scale) / 2,
    top: rect.top + (rect.height - naturalHeight * scale) / 2,
    scale,
  };
}

/** a screen point in the picture's pixels (clamped to the picture) */
export function toPicture(image: HTMLImageElement, clientX: number, clientY: number): [number, number] {
  const w = image.naturalWidth;
  const h = image.naturalHeight;
  const box = contentBox(image.getBoundingClientRect(), w, h);
  const x = (clientX - box.left) / box.scale;
  const y = (clientY - box.top) / box.scale;
  return [Math.min(w, Math.max(0, x)), Math.min(h, Math.max(0, y))];
}

/** window/level after a drag of (dx, dy) screen pixels from (width, level): right widens,
 * down raises the level; the step grows with the window (fine for brain, fast for lung) */
export function dragWindow(width: number, level: number, dx: number, dy: number): [number, number] {
  const step = Math.max(1, width / 256);
  return [Math.max(1, Math.round(width + dx * step)), Math.round(level + dy * step)];
}

export const ZOOM_MIN = 0.25;
export const ZOOM_MAX = 16;
export function clampZoom(z: number): number {
  return Math.min(ZOOM_MAX, Math.max(ZOOM_MIN, z));
}

export interface Measurement {
  id: number;
  shape: "line" | "ellipse" | "rectangle";
  plane: string;
  index: number;
  points: [number, number][];
  result: Record<string, number | string | null> | null;
  error: string | null;
}

/** a measurement's text: "12.3 mm", or "mean 40.1 HU, SD 3.2, min 30, max 52, 120.5 mm²" */
export function describe(m: Measurement): string {
  if (m.error) return m.error;
  const r = m.result;
  if (!r) return "measuring…";
  const f = (v: unknown, d = 1): string => (typeof v === "number" ? v.toFixed(d) : "—");
  if (m.shape === "line") return r.length_mm != null ? `${f(r.length_mm)} mm` : `${f(r.length_px)} px (no pixel spacing)`;
  const unit = r.unit === "HU" ? " HU" : "";
  const area = r.area_mm2 != null ? `${f(r.area_mm2)} mm²` : `${r.pixels} px`;
  return `mean ${f(r.mean)}${unit}, SD ${f(r.sd)}, min ${f(r.min, 0)}, max ${f(r.max, 0)}, ${area}`;
}
