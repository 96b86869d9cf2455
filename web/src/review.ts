// Review mode: walk the series of the current query one by one, in its order (the gallery's
// pages), and set each one's review status with a key. The status is saved as the key is
// pressed (`PUT /api/series/{uid}/review`); where the reviewer stopped is kept per query in
// the user settings (`review_positions`), so a pass resumes there.
import { reactive, computed } from "vue";
import { api, features, ApiError, type SeriesItem } from "./api/client";
import type { Review, ReviewProgress, ReviewStatus, Selection } from "./api/contract";
import { state, loadMore, toast, reportError, sentQuery } from "./store";
import { addTerm } from "./query";
import { seriesQc } from "./qc";
import { canCurate } from "./auth";

const POSITIONS_KEY = "review_positions";
const MAX_POSITIONS = 30;

export const STATUS_LABEL: Record<ReviewStatus, string> = {
  accepted: "Accepted",
  rejected: "Rejected",
  questionable: "Questionable",
  pending: "Pending",
};

export const review = reactive({
  /** the position in the query's order (state.items) */
  index: 0,
  /** the review record of each series seen in this pass */
  records: {} as Record<string, Review>,
  progress: null as ReviewProgress | null,
  /** saves on their way to the server */
  saving: 0,
  /** the note being written for the current series */
  draft: "",
  /** where the pass started and why ("resumed", "first pending", "start") */
  startedFrom: "",
  /** past the last series of the query */
  atEnd: false,
  starting: false,
});

export const current = computed(() => state.items[review.index] ?? null);

/** whether the server has the review endpoints, and the role may set a review */
export function canReview(): boolean {
  return features.hasLike("PUT", "/api/series/{}/review") && canCurate();
}

function positionKey(): string {
  return `${sentQuery()}\u241f${state.sort}`;
}

/** waits until the gallery holds more than `index` series (or all of them) */
async function ensureLoaded(index: number, maxPages = 50): Promise<void> {
  const generation = state.generation;
  let pages = 0;
  while (state.items.length <= index && !state.done && generation === state.generation && pages < maxPages) {
    if (state.loading) {
      await new Promise((resolve) => setTimeout(resolve, 25));
      continue;
    }
    await loadMore();
    pages++;
  }
}

async function readPositions(): Promise<Record<string, { uid: string; index: number; at: string }>> {
  if (!features.has("GET", "/api/settings")) return {};
  try {
    const saved = (await api.getSettings()).settings[POSITIONS_KEY];
    return saved && typeof saved === "object" ? (saved as Record<string, { uid: string; index: number; at: string }>) : {};
  } catch {
    return {};
  }
}

let positionTimer: number | undefined;
/** remembers where the reviewer is (soon after each move, and at once on leaving) */
export function rememberPosition(now = false): void {
  window.clearTimeout(positionTimer);
  const item = current.value;
  if (!item || !features.has("PUT", "/api/settings")) return;
  const key = positionKey();
  const entry = { uid: item.series_uid, index: review.index, at: new Date().toISOString() };
  const write = async (): Promise<void> => {
    try {
      const settings = (await api.getSettings()).settings;
      const positions = { ...((settings[POSITIONS_KEY] as Record<string, typeof entry>) ?? {}), [key]: entry };
      const kept = Object.entries(positions)
        .sort(([, a], [, b]) => String(b.at).localeCompare(String(a.at)))
        .slice(0, MAX_POSITIONS);
      await api.putSettings({ ...settings, [POSITIONS_KEY]: Object.fromEntries(kept) });
    } catch (error) {
      reportError(error);
    }
  };
  if (now) void write();
  else positionTimer = window.setTimeout(() => void write(), 400);
}

/** a search item's review status, when the server sends it (cards show it as a badge) */
export function itemReview(item: SeriesItem): ReviewStatus | null {
  const value = (item as { review?: unknown }).review;
  if (value && typeof value === "object" && "status" in value) return (value as { status: ReviewStatus }).status;
  return typeof value === "string" ? (value as ReviewStatus) : null;
}

/** keeps a loaded card's status current after a change (only where the server sends one:
 * a card without it shows no badge rather than one from this session alone) */
function setItemReview(item: SeriesItem, status: ReviewStatus): void {
  if ("review" in item) (item as { review?: ReviewStatus | null }).review = status;
}

/** a series' status as this pass or its search item knows it; null when neither says */
function statusOf(uid: string, index: number): ReviewStatus | null {
  const record = review.records[uid];
  if (record) return record.status;
  const item = state.items[index] as { review?: unknown; fields?: Record<string, unknown> } | undefined;
  if (!item) return null;
  const known = "review" in item || (item.fields !== undefined && "review" in item.fields);
  const value = item.review ?? item.fields?.review;
  if (value && typeof value === "object" && "status" in value) return (value as { status: ReviewStatus }).status;
  if (typeof value === "string") return value as ReviewStatus;
  return known ? "pending" : null;
}

/** where a pass starts: where this reviewer stopped on this query, else the first pending series */
async function startIndex(): Promise<number> {
  const saved = (await readPositions())[positionKey()];
  if (saved && typeof saved.index === "number") {
    await ensureLoaded(saved.index);
    if (state.items[saved.index]?.series_uid === saved.uid) {
      review.startedFrom = "resumed";
      return saved.index;
    }
    const moved = state.items.findIndex((i) => i.series_uid === saved.uid);
    if (moved >= 0) {
      review.startedFrom = "resumed";
      return moved;
    }
  }
  // the first series still pending, in the query's order (the server's review: term)
  try {
    const page = await api.search(addTerm(sentQuery(), "review:pending"), { fields: ["SeriesInstanceUID"], sort: state.sort, limit: 1 });
    const uid = page.items[0]?.series_uid;
    if (uid) {
      for (let i = 0; i < 100_000; i++) {
        await ensureLoaded(i);
        if (i >= state.items.length) break;
        if (state.items[i].series_uid === uid) {
          review.startedFrom = i ? "first pending" : "start";
          return i;
        }
      }
    }
  } catch (error) {
    if (!(error instanceof ApiError && error.status === 400)) reportError(error);
  }
  review.startedFrom = "start";
  return 0;
}

/** opens review mode on the current query */
export async function startReview(): Promise<void> {
  if (!canReview() || review.starting) return;
  review.starting = true;
  review.records = {};
  review.atEnd = false;
  try {
    await ensureLoaded(0);
    state.openSeries = null;
    state.reviewing = true;
    await go(await startIndex());
  } finally {
    review.starting = false;
  }
  void refreshProgress();
}

export function stopReview(): void {
  if (!state.reviewing) return;
  rememberPosition(true);
  state.reviewing = false;
  state.focus = review.index;
}

/** moves to the series at `index` of the query (loading pages as needed) */
export async function go(index: number): Promise<void> {
  if (index < 0) return;
  await ensureLoaded(index + 2);
  if (index >= state.items.length) {
    review.atEnd = state.items.length > 0;
    return;
  }
  review.atEnd = false;
  review.index = index;
  review.draft = review.records[state.items[index].series_uid]?.note ?? "";
  rememberPosition();
  void loadRecord(state.items[index].series_uid);
  // the next series' QC flags ahead of the reviewer
  const next = state.items[index + 1];
  if (next && features.has("GET", "/api/qc/checks")) seriesQc(next.series_uid).catch(() => undefined);
}

export function step(delta: number): Promise<void> {
  if (delta > 0 && review.atEnd) return Promise.resolve();
  if (delta < 0 && review.atEnd) {
    review.atEnd = false;
    return go(review.index);
  }
  return go(review.index + delta);
}

async function loadRecord(uid: string): Promise<void> {
  try {
    const record = await api.review(uid);
    if (review.saving && review.records[uid]) return; // a save of ours is on its way
    review.records = { ...review.records, [uid]: record };
    if (current.value?.series_uid === uid && !document.activeElement?.matches("[data-testid=review-note]")) {
      review.draft = record.note ?? "";
    }
  } catch (error) {
    if (!(error instanceof ApiError && error.status === 404)) reportError(error);
  }
}

let progressAbort: AbortController | null = null;
export async function refreshProgress(): Promise<void> {
  if (!features.has("GET", "/api/review/progress")) return;
  progressAbort?.abort();
  const controller = new AbortController();
  progressAbort = controller;
  try {
    review.progress = await api.reviewProgress(sentQuery(), controller.signal);
  } catch (error) {
    if (!(error instanceof DOMException && error.name === "AbortError")) reportError(error);
  }
}

/** saves the current series' status (and the note as typed); moves on unless reset to pending */
export async function setStatus(status: ReviewStatus, advance = status !== "pending"): Promise<void> {
  const item = current.value;
  if (!item || review.atEnd) return;
  const uid = item.series_uid;
  const note = review.draft.trim() || null;
  const before = review.records[uid];
  review.records = {
    ...review.records,
    [uid]: { series_uid: uid, status, note, reviewer: before?.reviewer ?? null, reviewed_at: before?.reviewed_at ?? null },
  };
  setItemReview(item, status);
  if (advance) void step(1);
  review.saving++;
  try {
    const saved = await api.putReview(uid, status, note);
    review.records = { ...review.records, [uid]: saved };
  } catch (error) {
    if (before) review.records = { ...review.records, [uid]: before };
    else {
      const rest = { ...review.records };
      delete rest[uid];
      review.records = rest;
    }
    setItemReview(item, before?.status ?? "pending");
    toast(`Could not save the review of series ${review.index + 1}: ${error instanceof Error ? error.message : String(error)}`, "error");
  } finally {
    review.saving--;
  }
  void refreshProgress();
}

/** saves the note of the current series, keeping its status */
export async function saveNote(): Promise<void> {
  const item = current.value;
  if (!item) return;
  const status = review.records[item.series_uid]?.status ?? statusOf(item.series_uid, review.index) ?? "pending";
  await setStatus(status, false);
}

/** the bulk bar's "Set review": one request for the whole selection */
export async function reviewSelection(selection: Selection, status: ReviewStatus, note: string | null): Promise<void> {
  try {
    const result = await api.bulkReview(selection, status, note);
    const uids = selection.query === null ? new Set(selection.include) : null;
    for (const item of state.items) {
      const inside = uids ? uids.has(item.series_uid) : !selection.exclude.includes(item.series_uid);
      if (inside) setItemReview(item, status);
    }
    state.revision++;
    toast(`Review set to ${status} on ${result.changed.toLocaleString()} series`);
  } catch (error) {
    reportError(error);
  }
}
