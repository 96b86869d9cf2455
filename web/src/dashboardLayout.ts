// The dashboard's layout: its charts (field, order, zoom step, height) and its width (the
// dashboard/gallery split). Part of the user's settings on the server (`dashboard`, saved by
// store.ts with the rest); the browser's copy of the settings paints the first screen.
// Shared layouts: /api/dashboard-layouts (src/components/LayoutMenu.vue).
import { reactive } from "vue";

export interface ChartSetting {
  field: string;
  /** the zoom step (top values, bins, period), absent: the chart type's default */
  zoom?: number;
  /** the chart's height in px, absent: its natural height */
  height?: number;
}

export interface DashboardLayout {
  charts: ChartSetting[];
  width?: number;
}

export const DEFAULT_CHART_FIELDS = ["Modality", "BodyPartExamined", "Manufacturer", "PatientSex", "StudyDate", "age_years", "SliceThickness"];
export const DEFAULT_WIDTH = 300;
export const WIDTH_RANGE = [220, 900] as const;
export const HEIGHT_RANGE = [60, 800] as const;

/** what the browser kept before the layout moved into the settings (read once, then dropped) */
const OLD_FIELDS_KEY = "radcurate.dashboard_fields";
const OLD_ZOOM_KEY = "radcurate.dashboard_zoom";

export const layout = reactive({
  charts: DEFAULT_CHART_FIELDS.map((field) => ({ field })) as ChartSetting[],
  width: DEFAULT_WIDTH,
  /** bumped whenever a whole layout is applied (settings arrived, a shared one was applied) */
  applied: 0,
});

function clamp(value: number, [low, high]: readonly [number, number]): number {
  return Math.min(high, Math.max(low, Math.round(value)));
}

/** A layout from settings JSON (anything unusable dropped); null if it is not one. */
export function parseLayout(value: unknown): DashboardLayout | null {
  if (!value || typeof value !== "object") return null;
  const raw = value as { charts?: unknown; width?: unknown };
  if (!Array.isArray(raw.charts)) return null;
  const charts: ChartSetting[] = [];
  for (const c of raw.charts) {
    if (!c || typeof c !== "object" || typeof (c as ChartSetting).field !== "string") continue;
    const { field, zoom, height } = c as ChartSetting;
    const chart: ChartSetting = { field };
    if (typeof zoom === "number") chart.zoom = zoom;
    if (typeof height === "number") chart.height = clamp(height, HEIGHT_RANGE);
    charts.push(chart);
  }
  const width = typeof raw.width === "number" ? clamp(raw.width, WIDTH_RANGE) : undefined;
  return { charts, width };
}

/** Shows `value` (a layout from the settings or a shared one). */
export function applyLayout(value: DashboardLayout): void {
  layout.charts = value.charts.map((c) => ({ ...c }));
  layout.width = value.width ?? DEFAULT_WIDTH;
  layout.applied++;
}

/** The layout as the settings hold it. */
export function currentLayout(): DashboardLayout {
  return { charts: layout.charts.map((c) => ({ ...c })), width: layout.width };
}

/** Settings without `dashboard` (saved before it was one): the charts this browser kept. */
export function migrateOldLayout(): boolean {
  try {
    const fields = JSON.parse(localStorage.getItem(OLD_FIELDS_KEY) ?? "null") as unknown;
    const zoom = (JSON.parse(localStorage.getItem(OLD_ZOOM_KEY) ?? "null") ?? {}) as Record<string, unknown>;
    if (!Array.isArray(fields) || !fields.length) return false;
    applyLayout({
      charts: fields.map(String).map((field) => (typeof zoom[field] === "number" ? { field, zoom: zoom[field] as number } : { field })),
    });
    localStorage.removeItem(OLD_FIELDS_KEY);
    localStorage.removeItem(OLD_ZOOM_KEY);
    return true;
  } catch {
    return false;
  }
}

export function chartOf(field: string): ChartSetting | undefined {
  return layout.charts.find((c) => c.field === field);
}
