// Why a card matched: for a query with free-text words the gallery asks the server to
// explain each item (POST /api/search {explain: true} -> item.matched: the values a word was
// found in, with where), and the card marks them (src/components/Gallery.vue).
import { ApiError, authEvents, type ErrorDetail, type SearchResponse, type SeriesItem } from "./api/client";
import { units } from "./query";

/** One value a free-text word of the query was found in (the server's MatchedValue). */
export interface Matched {
  term: string;
  field: string; // SeriesDescription…, or tag, dataset, ai
  value: string; // cut to 160 characters around the match ("…" marks a cut)
  start: number; // the match in value
  end: number;
}

const OPERATORS = new Set(["AND", "OR", "NOT", "TO"]);

/** Whether the query has a free-text word outside any negation (`lung`, `"chest ct"`, `thor*`;
 * not `Modality:CT`, `-lung`, `NOT lung`). The server explains only those. */
export function hasFreeText(text: string): boolean {
  const parts = units(text.trim());
  for (let i = 0; i < parts.length; i++) {
    const unit = parts[i];
    if (unit === "NOT") {
      i++; // the negated unit explains nothing
      continue;
    }
    if (OPERATORS.has(unit) || unit.startsWith("-") || unit === "*") continue;
    if (unit.startsWith("(") && unit.endsWith(")")) {
      if (hasFreeText(unit.slice(1, -1))) return true;
      continue;
    }
    if (/^[^\s:"()]+:/.test(unit)) continue; // Field:value, has:, tag:, …
    return true;
  }
  return false;
}

interface SearchOptions {
  fields?: string[];
  sort?: string;
  limit?: number;
  cursor?: string | null;
}

/** `api.search` asking for the explanation of each item (a server that does not know
 * `explain` ignores it: no `matched`, nothing is marked). */
export async function searchExplained(
  query: string,
  opts: SearchOptions,
  signal?: AbortSignal,
): Promise<SearchResponse & { items: SeriesItem[] }> {
  const response = await fetch("/api/search", {
    method: "POST",
    signal,
    headers: { Accept: "application/json", "Content-Type": "application/json" },
    body: JSON.stringify({
      query,
      fields: opts.fields,
      sort: opts.sort || null,
      limit: opts.limit ?? 100,
      cursor: opts.cursor ?? null,
      explain: true,
    }),
  });
  if (!response.ok) {
    let detail: ErrorDetail = { code: "http_" + response.status, message: response.statusText };
    try {
      const parsed = (await response.json()) as { error?: ErrorDetail };
      if (parsed.error) detail = parsed.error;
    } catch {
      /* not JSON */
    }
    if (response.status === 401) authEvents.unauthenticated();
    throw new ApiError(response.status, detail);
  }
  return (await response.json()) as SearchResponse & { items: SeriesItem[] };
}

/** the explanation the server gave an item, if any */
export function matchesOf(item: SeriesItem): Matched[] {
  const found = (item as { matched?: Matched[] | null }).matched;
  return Array.isArray(found) ? found : [];
}

/** `text` in pieces, the part a match covers marked: the matched words of `matches` (of
 * this field) found in the text as shown, ignoring case. */
export function marked(text: string, matches: Matched[]): { text: string; mark: boolean }[] {
  const spans: [number, number][] = [];
  const lower = text.toLowerCase();
  for (const m of matches) {
    const hit = m.value.slice(m.start, m.end).toLowerCase();
    if (!hit) continue;
    for (let at = lower.indexOf(hit); at >= 0; at = lower.indexOf(hit, at + hit.length)) spans.push([at, at + hit.length]);
  }
  if (!spans.length) return [{ text, mark: false }];
  spans.sort((a, b) => a[0] - b[0]);
  const out: { text: string; mark: boolean }[] = [];
  let at = 0;
  for (const [start, end] of spans) {
    if (end <= at) continue;
    const from = Math.max(start, at);
    if (from > at) out.push({ text: text.slice(at, from), mark: false });
    out.push({ text: text.slice(from, end), mark: true });
    at = end;
  }
  if (at < text.length) out.push({ text: text.slice(at), mark: false });
  return out;
}
