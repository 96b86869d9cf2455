// The header table's data dictionary (tag, VR, name of each document key, from
// GET /api/series/{uid}/header) and how its values read: binary values as hex bytes or
// their size, tags as (gggg,eeee), long values broken at separators.

export interface Element {
  tag: string; // 8 hex digits, "" for a fact radcurate derives
  vr: string; // "DS", "OB or OW"; "" unknown
  name: string; // "Slice Thickness"
  private: boolean;
}

/** VRs whose values are bytes (the catalog keeps up to 64 as base64, longer ones as their size) */
const BINARY_VRS = new Set(["OB", "OW", "OF", "OD", "OL", "OV", "UN", "OB or OW"]);
const HEADER_PATH = "/api/series/{series_uid}/header";

export { HEADER_PATH };

/** the dictionary entries of a series document's keys; null if the server has no such route */
export async function loadElements(uid: string, signal?: AbortSignal): Promise<Record<string, Element>> {
  const response = await fetch(`/api/series/${encodeURIComponent(uid)}/header`, { headers: { Accept: "application/json" }, signal });
  if (!response.ok) throw new Error(`the header dictionary could not be read (HTTP ${response.status})`);
  return ((await response.json()) as { elements: Record<string, Element> }).elements;
}

/** "00180050" as "(0018,0050)"; "" stays "" */
export function formatTag(tag: string): string {
  return tag.length === 8 ? `(${tag.slice(0, 4)},${tag.slice(4)})` : tag;
}

/** A filter as a tag number, if it reads as one: "0018,0050", "(0018,0050)", "00180050",
 * "(0018," -> its hex digits, upper case ("00180050", "0018"); null otherwise. */
export function tagNeedle(text: string): string | null {
  const t = text.replace(/[()\s]/g, "");
  const pair = /^([0-9a-f]{1,4}),([0-9a-f]{0,4})$/i.exec(t);
  if (pair) return (pair[1].padStart(4, "0") + pair[2]).toUpperCase();
  return /^[0-9a-f]{4,8}$/i.test(t) ? t.toUpperCase() : null;
}

export function isBinaryVr(vr: string): boolean {
  return BINARY_VRS.has(vr);
}

/** base64 text as hex bytes ("AAE=" -> "00 01"); null if it is not base64 */
export function base64Hex(text: string): string | null {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text) || text.length % 4 !== 0) return null;
  try {
    const raw = atob(text);
    return Array.from(raw, (c) => c.charCodeAt(0).toString(16).padStart(2, "0")).join(" ");
  } catch {
    return null;
  }
}

/** A binary element's value for reading: "00 01" for the bytes kept, "920 bytes of binary
 * data (OB)" for those summarised; null when the value is not binary. */
export function binaryText(value: unknown, vr: string, binary: boolean): string | null {
  const label = vr ? ` (${vr})` : "";
  if (value !== null && typeof value === "object" && !Array.isArray(value) && "binary_bytes" in value) {
    const n = Number((value as { binary_bytes: unknown }).binary_bytes);
    return `${n.toLocaleString("en-US")} byte${n === 1 ? "" : "s"} of binary data${label}`;
  }
  if ((binary || isBinaryVr(vr)) && typeof value === "string") return base64Hex(value);
  return null;
}

/** How many characters of a value show before "show all" (the title and copy have all). */
export const LONG_VALUE = 160;
