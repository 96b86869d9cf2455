// The app's state: the query and view (mirrored in the URL), the results, the selection.
import { reactive, computed, watch } from "vue";
import { api, features, ApiError, type SeriesItem } from "./api/client";
import type { Counts, Selection } from "./api/contract";
import { knownFields, queryWarnings } from "./fieldcheck";
import { quoteValue, units } from "./query";
import { hasFreeText, searchExplained } from "./explain";
import { picks, clearPicks, pickedCount, groupState, groupQuery } from "./groupSelection";
import { applyLayout, currentLayout, migrateOldLayout, parseLayout } from "./dashboardLayout";

/** Series per page fetch; `?page_size=` overrides it (bench/ui.py measures small catalogs). */
export let PAGE_SIZE = 200;
/** newest studies first, until the user picks another order (remembered: `sort` in the settings) */
export const DEFAULT_SORT = "-StudyDate";
export const DEFAULT_CARD_FIELDS = ["SeriesDescription", "Modality", "StudyDate", "instance_count"];

export interface Toast {
  id: number;
  text: string;
  kind: "info" | "error";
}

export const state = reactive({
  query: "",
  /** the project the view is narrowed to (`?project=`; src/components/ProjectSwitcher.vue) */
  project: null as string | null,
  sort: DEFAULT_SORT,
  /** the order the user chose last (the sort of a URL without `sort=`) */
  preferredSort: DEFAULT_SORT,
  openSeries: null as string | null,
  /** review mode (src/review.ts) walks the query's series */
  reviewing: false,
  cardSize: 180,
  /** the gallery flat, or grouped by patient and study (src/components/GroupedGallery.vue) */
  galleryView: "flat" as "flat" | "grouped",
  cardFields: [...DEFAULT_CARD_FIELDS],
  tagShortcuts: [] as string[],
  savedSearches: [] as { name: string; query: string }[],
  // results
  items: [] as SeriesItem[],
  total: 0,
  nextCursor: null as string | null,
  loading: false,
  done: false,
  generation: 0, // bumped on every new query: stale pages are dropped
  firstPage: -1, // the generation whose first page has arrived (panels wait for it)
  counts: null as Counts | null,
  queryError: null as { message: string; position: number | null } | null,
  /** a new query is on its way: the last answer stays on screen until it arrives */
  pending: false,
  /** what the query asks that is accepted but matches nothing for a reason (src/fieldcheck.ts) */
  queryWarnings: [] as string[],
  /** the query has free-text words: each card says where they were found (src/explain.ts) */
  explaining: false,
  /** the server cannot be reached: what shows is the last answer; a retry is scheduled */
  offline: null as { retryIn: number; attempt: number } | null,
  // selection: explicit uids, or every match (minus exclusions)
  selectAll: false,
  selected: new Set<string>(),
  excluded: new Set<string>(),
  anchor: -1,
  focus: -1,
  // bumped after a bulk action so panels (dashboard, datasets) refresh
  revision: 0,
  toasts: [] as Toast[],
  pageTimings: [] as number[],
});

// With patients or studies ticked in the grouped view (src/groupSelection.ts), `selected`
// holds series ticked outside a ticked group and `excluded` series unticked inside one.
export const selectionCount = computed(() => {
  if (!picks.groups.size) return state.selectAll ? Math.max(0, state.total - state.excluded.size) : state.selected.size;
  const base = state.selectAll ? state.total : 0;
  return Math.max(0, base + pickedCount() + state.selected.size - state.excluded.size);
});

export function isSelected(uid: string): boolean {
  if (state.selected.has(uid)) return true;
  if (state.excluded.has(uid)) return false;
  return groupState(uid, state.selectAll) ?? state.selectAll;
}

export function clearSelection(): void {
  state.selectAll = false;
  state.selected = new Set();
  state.excluded = new Set();
  state.anchor = -1;
  clearPicks();
}

export function selectAllMatches(): void {
  state.selectAll = true;
  state.selected = new Set();
  state.excluded = new Set();
  clearPicks();
}

/** Click (replace), ctrl/cmd-click (toggle) and shift-click (range from the anchor). */
export function clickCard(index: number, mods: { ctrl: boolean; shift: boolean }): void {
  const item = state.items[index];
  if (!item) return;
  const uid = item.series_uid;
  if (mods.shift && state.anchor >= 0) {
    const [a, b] = state.anchor < index ? [state.anchor, index] : [index, state.anchor];
    const next = mods.ctrl ? new Set(state.selected) : new Set<string>();
    if (state.selectAll && mods.ctrl) {
      const excluded = new Set(state.excluded);
      for (let i = a; i <= b; i++) excluded.delete(state.items[i].series_uid);
      state.excluded = excluded;
    } else {
      state.selectAll = false;
      state.excluded = new Set();
      for (let i = a; i <= b; i++) next.add(state.items[i].series_uid);
      state.selected = next;
    }
  } else if (mods.ctrl) {
    if (state.selectAll) {
      const excluded = new Set(state.excluded);
      if (excluded.has(uid)) excluded.delete(uid);
      else excluded.add(uid);
      state.excluded = excluded;
    } else {
      const next = new Set(state.selected);
      if (next.has(uid)) next.delete(uid);
      else next.add(uid);
      state.selected = next;
    }
    state.anchor = index;
  } else {
    state.selectAll = false;
    state.excluded = new Set();
    state.selected = new Set([uid]);
    state.anchor = index;
  }
  state.focus = index;
}

/** The `project:NAME` term of the chosen project, or "" with none. */
export function projectTerm(): string {
  return state.project ? `project:${quoteValue(state.project)}` : "";
}

/** The query as the server is asked it: the user's query narrowed to the chosen project
 * (`project:NAME (query)`), whose text and chips stay the user's own. "*" for everything. */
export function sentQuery(query: string = state.query): string {
  const term = projectTerm();
  const text = query.trim();
  if (!term) return text || "*";
  if (!text || text === "*") return term;
  return units(text).includes("OR") ? `${term} (${text})` : `${term} ${text}`;
}

/** How far the user's query is moved in `sentQuery()` (a syntax error's position is moved back). */
function sentOffset(): number {
  const term = projectTerm();
  const text = state.query.trim();
  const leading = state.query.length - state.query.trimStart().length;
  if (!term || !text || text === "*") return -leading;
  return term.length + (units(text).includes("OR") ? 2 : 1) - leading;
}

/** The selection as the API takes it (server-side: the query travels, not the uids). */
export function currentSelection(): Selection {
  if (picks.groups.size) {
    return { query: groupQuery(sentQuery(), state.selectAll), include: [...state.selected], exclude: [...state.excluded] };
  }
  if (state.selectAll) return { query: sentQuery(), include: [], exclude: [...state.excluded] };
  return { query: null, include: [...state.selected], exclude: [] };
}

/** What keys 1-9 act on: the series on screen (detail view), else the selection, else the focused card. */
export function targetSelection(): { selection: Selection; items: SeriesItem[] } | null {
  if (state.openSeries) {
    const uid = state.openSeries;
    return { selection: { query: null, include: [uid], exclude: [] }, items: state.items.filter((i) => i.series_uid === uid) };
  }
  if (selectionCount.value > 0) {
    return { selection: currentSelection(), items: state.items.filter((i) => isSelected(i.series_uid)) };
  }
  const focused = state.items[state.focus];
  if (!focused) return null;
  return { selection: { query: null, include: [focused.series_uid], exclude: [] }, items: [focused] };
}

let toastId = 0;
export function toast(text: string, kind: "info" | "error" = "info"): void {
  const id = ++toastId;
  state.toasts.push({ id, text, kind });
  setTimeout(() => {
    const i = state.toasts.findIndex((t) => t.id === id);
    if (i >= 0) state.toasts.splice(i, 1);
  }, kind === "error" ? 8000 : 3500);
}

/** a request that never reached the server (fetch's TypeError "Failed to fetch") */
export function isNetworkError(error: unknown): boolean {
  return error instanceof TypeError;
}

export function reportError(error: unknown): void {
  if (error instanceof DOMException && error.name === "AbortError") return;
  if (error instanceof ApiError && error.status === 401) return; // the sign-in page shows
  if (isNetworkError(error)) {
    serverUnreachable();
    return;
  }
  toast(error instanceof Error ? error.message : String(error), "error");
}

// ---------------------------------------------------------------- results

let pageAbort: AbortController | null = null;

function requestedFields(): string[] {
  return ["SeriesInstanceUID", ...new Set(state.cardFields)];
}

/** Starts over: first page of the current query and sort, counts. What shows (items,
 * totals, charts) stays until the first page of the new answer replaces it. */
export async function runQuery(): Promise<void> {
  state.generation++;
  pageAbort?.abort();
  state.nextCursor = null;
  state.done = false;
  state.loading = false;
  state.pending = true;
  const generation = state.generation;
  // the gallery first: counts and the dashboard ask once its first page is in
  const query = state.query;
  void knownFields().then((fields) => {
    if (generation === state.generation) state.queryWarnings = queryWarnings(query, fields);
  });
  const ok = await loadMore(true);
  if (generation !== state.generation || !ok) return;
  state.firstPage = state.generation;
  if (state.counts === null && !state.queryError) await loadCounts();
}

// ---------------------------------------------------------------- the server is down

const BACKOFF = [1, 2, 4, 8, 15];
let retryTimer: number | undefined;

/** Says the server cannot be reached and tries again, 1, 2, 4, 8 then every 15 seconds. */
export function serverUnreachable(): void {
  if (state.offline && retryTimer !== undefined) return; // a retry is already counting down
  const attempt = state.offline ? state.offline.attempt + 1 : 0;
  state.offline = { retryIn: BACKOFF[Math.min(attempt, BACKOFF.length - 1)], attempt };
  window.clearInterval(retryTimer);
  retryTimer = window.setInterval(() => {
    if (!state.offline) return;
    state.offline.retryIn -= 1;
    if (state.offline.retryIn <= 0) retryNow();
  }, 1000);
}

/** Asks again at once (the retry of the countdown, or the user's). */
export function retryNow(): void {
  window.clearInterval(retryTimer);
  retryTimer = undefined;
  void runQuery();
}

function serverReached(): void {
  if (!state.offline) return;
  window.clearInterval(retryTimer);
  retryTimer = undefined;
  state.offline = null;
  state.revision++; // panels that failed meanwhile ask again
}

let countAbort: AbortController | null = null;
export async function loadCounts(): Promise<void> {
  countAbort?.abort();
  countAbort = new AbortController();
  try {
    state.counts = await api.count(sentQuery(), countAbort.signal);
  } catch (error) {
    if (error instanceof ApiError && error.status === 400) return;
    reportError(error);
  }
}

/** The next page after the last one loaded (one request per page, never per card);
 * `first`: the first page of a new query, which replaces what shows. True if it arrived. */
export async function loadMore(first = false): Promise<boolean> {
  if (state.loading || state.done) return false;
  const generation = state.generation;
  state.loading = true;
  pageAbort = new AbortController();
  const started = performance.now();
  try {
    const ask = { fields: requestedFields(), sort: state.sort, limit: PAGE_SIZE, cursor: first ? null : state.nextCursor };
    // free-text words: the server says where each card matched them
    const explain = hasFreeText(state.query);
    const page = explain ? await searchExplained(sentQuery(), ask, pageAbort.signal) : await api.search(sentQuery(), ask, pageAbort.signal);
    if (generation !== state.generation) return false;
    serverReached();
    state.pageTimings.push(performance.now() - started);
    performance.mark("radcurate:page", { detail: { count: page.items.length } });
    if (first) {
      state.explaining = explain;
      state.items = [];
      state.focus = -1;
      clearSelection();
      state.queryError = null;
      state.counts = null;
      state.pending = false;
    }
    state.items.push(...page.items);
    state.total = page.total;
    const extra = page as { studies?: number; patients?: number };
    if (extra.studies !== undefined && extra.patients !== undefined) {
      // the page carries the exact totals: no /api/count round trip
      state.counts = { series: page.total, studies: extra.studies, patients: extra.patients };
    }
    state.nextCursor = page.next_cursor;
    state.done = !page.next_cursor;
    return true;
  } catch (error) {
    if (generation !== state.generation) return false;
    if (error instanceof DOMException && error.name === "AbortError") return false;
    state.done = true;
    if (first) state.pending = false;
    if (error instanceof ApiError && error.status === 400) {
      // the last answer stays on screen; the error shows beside it
      serverReached();
      const at = error.detail.position;
      state.queryError = { message: error.detail.message, position: typeof at === "number" ? Math.max(0, at - sentOffset()) : null };
    } else reportError(error);
    return false;
  } finally {
    if (generation === state.generation) state.loading = false;
  }
}

// ---------------------------------------------------------------- the URL holds the view

export function readUrl(): void {
  const params = new URLSearchParams(location.search);
  const size = Number(params.get("page_size"));
  if (Number.isInteger(size) && size >= 1 && size <= 1000) PAGE_SIZE = size;
  state.query = params.get("q") ?? "";
  state.sort = params.get("sort") ?? state.preferredSort;
  state.project = params.get("project") || null;
  state.openSeries = params.get("series");
}

function writeUrl(push: boolean): void {
  const params = new URLSearchParams();
  const size = new URLSearchParams(location.search).get("page_size");
  if (size) params.set("page_size", size);
  if (state.project) params.set("project", state.project);
  if (state.query) params.set("q", state.query);
  if (state.sort) params.set("sort", state.sort);
  if (state.openSeries) params.set("series", state.openSeries);
  if (state.reviewing) params.set("review", "1");
  const text = params.toString();
  const url = location.pathname + (text ? "?" + text : "");
  if (url === location.pathname + location.search) return;
  if (push) history.pushState(null, "", url);
  else history.replaceState(null, "", url);
}

export function startUrlSync(): void {
  watch(
    () => [state.query, state.sort, state.project],
    () => writeUrl(true),
  );
  watch(
    () => [state.openSeries, state.reviewing],
    () => writeUrl(true),
  );
  window.addEventListener("popstate", () => {
    const before = [state.query, state.sort, state.project];
    readUrl();
    if (new URLSearchParams(location.search).get("review") !== "1") state.reviewing = false;
    if (before[0] !== state.query || before[1] !== state.sort || before[2] !== state.project) void runQuery();
  });
}

// ---------------------------------------------------------------- user settings

const LOCAL_KEY = "radcurate.settings";
/** how many times this page changed a setting (an answer asked for before one is stale) */
let settingsEdits = 0;

function applySettings(settings: Record<string, unknown>): void {
  if (Array.isArray(settings.card_fields) && settings.card_fields.length) {
    state.cardFields = settings.card_fields.map(String);
  }
  if (Array.isArray(settings.tag_shortcuts)) state.tagShortcuts = settings.tag_shortcuts.map(String).slice(0, 9);
  if (typeof settings.card_size === "number") state.cardSize = settings.card_size;
  if (settings.gallery_view === "flat" || settings.gallery_view === "grouped") state.galleryView = settings.gallery_view;
  const dashboard = parseLayout(settings.dashboard);
  if (dashboard) applyLayout(dashboard);
  else migrateOldLayout(); // charts this browser kept before they were settings
  if (typeof settings.sort === "string") state.preferredSort = settings.sort;
  if (Array.isArray(settings.saved_searches)) {
    state.savedSearches = settings.saved_searches
      .filter((s): s is { name: string; query: string } => typeof s === "object" && s !== null && "name" in s && "query" in s)
      .map((s) => ({ name: String(s.name), query: String(s.query) }));
  }
}

/** The settings this browser saw last (no round trip: the first page need not wait). */
export function loadLocalSettings(): void {
  try {
    applySettings(JSON.parse(localStorage.getItem(LOCAL_KEY) ?? "{}") as Record<string, unknown>);
  } catch {
    /* defaults */
  }
}

/** The user's settings on the server (after `loadFeatures`); true if they changed what shows
 * (the card fields, or the remembered sort of a URL without `sort=`). */
export async function loadServerSettings(): Promise<boolean> {
  if (!features.has("GET", "/api/settings")) return false;
  const before = JSON.stringify(state.cardFields);
  const sortBefore = state.sort;
  const editsBefore = settingsEdits;
  try {
    const settings = (await api.getSettings()).settings;
    // a setting the user changed while this was on its way is newer than the answer: it
    // stays, and saveSettings has sent it (it merges the server's copy under it)
    if (settingsEdits === editsBefore) {
      applySettings(settings);
      localStorage.setItem(LOCAL_KEY, JSON.stringify(settings));
    }
  } catch (error) {
    reportError(error);
  }
  if (!new URLSearchParams(location.search).has("sort")) state.sort = state.preferredSort;
  return JSON.stringify(state.cardFields) !== before || state.sort !== sortBefore;
}

let savedSettings: Record<string, unknown> = {};
export async function saveSettings(): Promise<void> {
  settingsEdits++;
  const settings = {
    ...savedSettings,
    card_fields: state.cardFields,
    tag_shortcuts: state.tagShortcuts,
    card_size: state.cardSize,
    gallery_view: state.galleryView,
    dashboard: currentLayout(),
    sort: state.preferredSort,
    saved_searches: state.savedSearches,
  };
  savedSettings = settings;
  localStorage.setItem(LOCAL_KEY, JSON.stringify(settings));
  if (features.has("PUT", "/api/settings")) {
    try {
      const current = (await api.getSettings()).settings;
      await api.putSettings({ ...current, ...settings });
    } catch (error) {
      reportError(error);
    }
  }
}
