// Jobs (workflow runs, thumbnails): polled from /api/jobs, every second while one runs.
import { reactive, computed } from "vue";
import { api, features, type Job } from "./api/client";
import type { JobErrors } from "./api/client";
import { state, toast, reportError, PAGE_SIZE } from "./store";
import { isExportJob, exportTitle } from "./exports";

/** poll intervals: while a job is queued or running, and otherwise */
export const FAST_POLL_MS = 1000;
export const SLOW_POLL_MS = 10000;
const LIMIT = 30;

export const jobs = reactive({
  items: [] as Job[],
  open: false,
  /** the job the panel scrolls to and marks (a link from the Results section) */
  focus: null as string | null,
  errors: {} as Record<string, JobErrors | { failed: string }>,
  loaded: false,
});

/** workflow name -> its title (GET /api/workflows, read once) */
export const workflowTitles = reactive<Record<string, string>>({});
let titlesAsked = false;

async function loadTitles(): Promise<void> {
  if (titlesAsked || !features.has("GET", "/api/workflows")) return;
  titlesAsked = true;
  try {
    const answer = await api.workflows();
    for (const w of answer) workflowTitles[w.name] = w.title || w.name;
  } catch {
    titlesAsked = false; // asked again at the next poll
  }
}

export function isActive(job: Job): boolean {
  return job.state === "queued" || job.state === "running";
}

export const activeCount = computed(() => jobs.items.filter(isActive).length);

/** The workflow a job runs, or null for other kinds (thumbnails). */
export function workflowOf(job: Job): string | null {
  const params = (job.params ?? {}) as Record<string, unknown>;
  if (typeof params.workflow === "string") return params.workflow;
  if (job.kind.startsWith("workflow:")) return job.kind.slice("workflow:".length);
  if (job.kind === "workflow" && typeof params.name === "string") return params.name;
  return null;
}

let timer: number | undefined;
let started = false;
let inFlight = false;

/** Starts polling (once); a call while polling asks now. */
export function pollJobs(): void {
  if (!features.has("GET", "/api/jobs")) return;
  started = true;
  void loadTitles();
  window.clearTimeout(timer);
  void tick();
}

async function tick(): Promise<void> {
  if (inFlight) return;
  inFlight = true;
  try {
    const before = new Map(jobs.items.map((j) => [j.id, j.state]));
    const items = (await api.jobs(LIMIT)).items;
    jobs.items = items;
    jobs.loaded = true;
    for (const job of items) {
      const was = before.get(job.id);
      if (was && was !== job.state && !isActive(job) && (was === "queued" || was === "running")) void finished(job);
    }
  } catch {
    /* the next tick tries again; the panel shows what it had */
  } finally {
    inFlight = false;
    if (started) {
      const fast = jobs.items.some(isActive);
      timer = window.setTimeout(() => void tick(), fast ? FAST_POLL_MS : document.hidden ? SLOW_POLL_MS * 3 : SLOW_POLL_MS);
    }
  }
}

/** A job seen ending: charts, cards and the open detail follow what it wrote. */
async function finished(job: Job): Promise<void> {
  if (isExportJob(job)) return exportFinished(job);
  const name = workflowOf(job);
  if (!name) return;
  const workflow = workflowTitles[name] ?? name;
  await loadErrors(job.id);
  const errors = jobs.errors[job.id];
  const failed = errors && "total" in errors && errors.total ? `, ${errors.total.toLocaleString()} failed` : "";
  const summary = job.message || `${job.done.toLocaleString()} series${failed}`;
  if (job.state === "done") toast(`Workflow “${workflow}” done: ${summary}`, failed ? "error" : "info");
  else if (job.state === "failed") toast(`Workflow “${workflow}” failed${job.error ? ": " + job.error : ""}`, "error");
  else toast(`Workflow “${workflow}” cancelled${failed}`);
  state.revision++;
  await refreshCards(job.id);
}

/** An export seen ending: a toast (the zip is in the jobs panel and the Datasets section). */
function exportFinished(job: Job): void {
  const result = (job.result ?? {}) as Record<string, unknown>;
  const failed = Number(result.failed ?? 0);
  if (job.state === "done") {
    const summary = `${Number(result.exported ?? 0).toLocaleString()} exported${failed ? `, ${failed.toLocaleString()} failed` : ""}`;
    toast(`${exportTitle(job)} done: ${summary}`, failed ? "error" : "info");
  } else if (job.state === "failed") toast(`${exportTitle(job)} failed${job.error ? ": " + job.error : ""}`, "error");
  else toast(`${exportTitle(job)} cancelled`);
}

/** The loaded cards a job wrote to get their fields again (one search, `job:ID`). */
async function refreshCards(jobId: string): Promise<void> {
  if (!state.items.length) return;
  const fields = ["SeriesInstanceUID", ...new Set(state.cardFields)];
  const byUid = new Map(state.items.map((item, i) => [item.series_uid, i]));
  let cursor: string | null = null;
  try {
    for (let page = 0; page < 5; page++) {
      const result = await api.search(`job:${jobId}`, { fields, limit: Math.max(PAGE_SIZE, 500), cursor });
      for (const fresh of result.items) {
        const i = byUid.get(fresh.series_uid);
        if (i !== undefined) state.items[i] = { ...state.items[i], fields: fresh.fields };
      }
      cursor = result.next_cursor;
      if (!cursor) break;
    }
  } catch {
    /* the next search shows them */
  }
}

export async function loadErrors(jobId: string): Promise<void> {
  if (!features.hasLike("GET", "/api/jobs/{}/errors")) return;
  try {
    jobs.errors = { ...jobs.errors, [jobId]: await api.jobErrors(jobId) };
  } catch (error) {
    jobs.errors = { ...jobs.errors, [jobId]: { failed: error instanceof Error ? error.message : String(error) } };
  }
}

export async function cancelJob(job: Job): Promise<void> {
  try {
    const updated = await api.cancelJob(job.id);
    const i = jobs.items.findIndex((j) => j.id === job.id);
    if (i >= 0) jobs.items[i] = updated;
    toast(`Asked job ${job.id.slice(0, 8)} to stop`);
    pollJobs();
  } catch (error) {
    reportError(error);
  }
}

/** A job just started here: shown at once, polled fast from now on. */
export function addJob(job: Job): void {
  jobs.items = [job, ...jobs.items.filter((j) => j.id !== job.id)];
  pollJobs();
}

export function showJob(jobId: string): void {
  jobs.open = true;
  jobs.focus = jobId;
  pollJobs();
}
