// How values read on cards, in the Results section and in chart labels.

/** Namespaces of the derived results workflows write onto series (`ai.bodypart`, `qc.snr`). */
export const RESULT_NAMESPACES = ["ai", "qc", "clin"] as const;

export function isResultField(name: string): boolean {
  const dot = name.indexOf(".");
  return dot > 0 && (RESULT_NAMESPACES as readonly string[]).includes(name.slice(0, dot));
}

/** A number rounded for reading: integers as they are, others to about 3 significant digits
 * (at most 2 decimals from 1 up, 1 decimal from 100 up), trailing zeros dropped. */
export function formatNumber(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  if (Number.isInteger(value)) return String(value);
  const abs = Math.abs(value);
  let text: string;
  if (abs >= 100) text = value.toFixed(1);
  else if (abs >= 1) text = value.toFixed(2);
  else if (abs >= 0.001) text = value.toPrecision(3);
  else text = value.toExponential(2);
  if (text.includes("e")) return text.replace(/\.?0+e/, "e");
  return text.includes(".") ? text.replace(/\.?0+$/, "") : text;
}

/** A derived value for reading: lists joined with ", ", booleans yes/no, numbers rounded. */
export function formatResult(value: unknown): string {
  if (value === null || value === undefined) return "—";
  if (typeof value === "boolean") return value ? "yes" : "no";
  if (typeof value === "number") return formatNumber(value);
  if (Array.isArray(value)) return value.length ? value.map((v) => formatResult(v)).join(", ") : "—";
  if (typeof value === "object") return JSON.stringify(value);
  return String(value);
}

/** A parameter's value: as a result reads, null as "none", text as it is. */
export function formatParam(value: unknown): string {
  if (value === null || value === undefined) return "none";
  if (typeof value === "string") return value === "" ? '""' : value;
  return formatResult(value);
}

/** A card's value of a field: DICOM multi-values as the standard writes them (a\b), derived
 * results as `formatResult` reads them. */
export function formatField(name: string, value: unknown): string {
  if (isResultField(name)) return formatResult(value);
  if (value === null || value === undefined) return "—";
  if (Array.isArray(value)) return value.join("\\");
  if (typeof value === "object") return JSON.stringify(value);
  return String(value);
}

/** "2026-12-03T10:04:05.123Z" as local "2026-12-03 11:04:05" (the title keeps the exact text). */
export function formatTime(iso: string | null | undefined): string {
  if (!iso) return "—";
  const date = new Date(iso);
  if (isNaN(date.getTime())) return iso;
  const pad = (n: number): string => String(n).padStart(2, "0");
  return (
    `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} ` +
    `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`
  );
}

/** How long from `start` to `end` (now when null): "4 s", "2 min 5 s", "1 h 3 min". */
export function formatDuration(start: string | null | undefined, end: string | null | undefined, now = Date.now()): string {
  if (!start) return "";
  const from = new Date(start).getTime();
  const to = end ? new Date(end).getTime() : now;
  if (isNaN(from) || isNaN(to)) return "";
  const s = Math.max(0, Math.round((to - from) / 1000));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}

/** The value of a full result name ("ai.bodypart", "qc.geometry.missing_slices") in a series'
 * results (`{ai: {...}, qc: {...}}`), whether stored under the dotted key or nested. */
export function resultValue(results: Record<string, unknown> | null | undefined, name: string): unknown {
  const dot = name.indexOf(".");
  const space = results?.[name.slice(0, dot)];
  if (!space || typeof space !== "object") return undefined;
  const rest = name.slice(dot + 1);
  if (rest in space) return (space as Record<string, unknown>)[rest];
  let node: unknown = space;
  for (const part of rest.split(".")) {
    if (node === null || typeof node !== "object" || !(part in node)) return undefined;
    node = (node as Record<string, unknown>)[part];
  }
  return node;
}
