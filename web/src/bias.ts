// The Bias panel's state and helpers (docs/ui.md "Bias panel"): which view is open, the
// colours of the heatmap, how p-values and groups are written, and the field suggestions
// the target and attribute inputs share with the search bar.
import { reactive } from "vue";
import { api, features, type Association, type FieldInfo } from "./api/client";
import { canCurate } from "./auth";

export const bias = reactive({
  open: false,
  tab: "associations" as "associations" | "compare",
  clinicalOpen: false,
  /** bumped after a clinical import or removal: field lists are read again */
  fieldsRevision: 0,
});

export function canBias(): boolean {
  return features.has("POST", "/api/bias");
}

/** the clinical tables dialog (import, remove): the curator role or above */
export function canClinical(): boolean {
  return features.has("GET", "/api/clinical/tables") && canCurate();
}

/** Heatmap colour of an association strength in [0, 1] (V or eta²): white to deep red. */
export function strengthColour(v: number | null | undefined): string {
  if (v === null || v === undefined || Number.isNaN(v)) return "transparent";
  const t = Math.max(0, Math.min(1, v));
  const light = 97 - t * 55; // 97 % (white) .. 42 %
  return `hsl(8 ${40 + t * 45}% ${light}%)`;
}

/** Text colour readable on `strengthColour(v)`. */
export function strengthInk(v: number | null | undefined): string {
  return v !== null && v !== undefined && v > 0.55 ? "#fff" : "inherit";
}

/** Diverging colour of an adjusted residual: blue under-, red over-represented (|r| ≥ 4 full). */
export function residualColour(r: number): string {
  const t = Math.max(-1, Math.min(1, r / 4));
  if (Math.abs(t) < 0.05) return "transparent";
  const hue = t > 0 ? 8 : 215;
  return `hsl(${hue} 75% ${96 - Math.abs(t) * 40}%)`;
}

/** A p-value as it is read: `< 0.001` below that, else three digits. */
export function fmtP(p: number | null | undefined): string {
  if (p === null || p === undefined) return "–";
  if (p < 0.001) return p === 0 ? "< 1e-300" : "< 0.001";
  return p.toFixed(3);
}

export function fmtNum(x: number | null | undefined, digits = 2): string {
  return x === null || x === undefined ? "–" : x.toFixed(digits);
}

export function fmtShare(x: number | null | undefined): string {
  if (x === null || x === undefined) return "–";
  const pct = x * 100;
  return (pct > 0 && pct < 1 ? pct.toFixed(1) : pct.toFixed(0)) + " %";
}

/** A group's label: `(missing)` and booleans as written, numbers as they are. */
export function groupLabel(value: unknown): string {
  if (value === null || value === undefined) return "(missing)";
  if (typeof value === "boolean") return value ? "yes" : "no";
  return String(value);
}

/** The strength the heatmap shows: Cramér's V (chi-square) or eta² (Kruskal–Wallis). */
export function strength(a: Association): number | null {
  return a.test === "kruskal" ? (a.eta_squared ?? null) : (a.cramers_v ?? null);
}

/** The hover text of an attribute's heatmap cell. */
export function associationTitle(a: Association, target: string): string {
  if (!a.computable) return `${a.attribute} × ${target}: not computable: ${a.reason ?? "no reason given"}`;
  const lines = [`${a.attribute} × ${target} (${a.n.toLocaleString()} series)`];
  if (a.test === "kruskal") {
    lines.push(`Kruskal–Wallis H = ${fmtNum(a.h)}, eta² = ${fmtNum(a.eta_squared, 3)}`);
  } else {
    lines.push(`Cramér's V (bias-corrected) = ${fmtNum(a.cramers_v, 3)}`);
    lines.push(`chi² = ${fmtNum(a.chi2)}, dof ${a.dof ?? "–"}, NMI ${fmtNum(a.nmi, 3)}`);
  }
  lines.push(`p = ${fmtP(a.p)}, Holm-adjusted p = ${fmtP(a.p_adjusted)}`);
  if (a.flag) lines.push("Shortcut risk: strong and significant after correction");
  return lines.join("\n");
}

/** Field-name suggestions for a prefix, as the search bar makes them. */
export async function suggestFields(prefix: string): Promise<FieldInfo[]> {
  if (features.has("GET", "/api/autocomplete/fields")) {
    return (await api.autocompleteFields(prefix, 20)).items;
  }
  const lower = prefix.toLowerCase();
  const all = (await api.fields()).items;
  return all.filter((f) => f.name.toLowerCase().includes(lower)).slice(0, 20);
}
