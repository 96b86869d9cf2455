// The structured gallery's data and ticks: the query's patients page by page, a patient's
// studies and a study's series when opened (/api/search/groups, /api/search), and the
// tri-state ticks of patients and studies (src/groupSelection.ts keeps the picks).
import { reactive } from "vue";
import { api, ApiError, type PatientGroupItem, type SeriesItem, type StudyGroupItem } from "./api/client";
import { picks, patientKey, studyKey, patientOn, studyOn } from "./groupSelection";
import { state, sentQuery, reportError, isSelected, clearSelection, saveSettings } from "./store";

export const PATIENT_PAGE = 100;
const SERIES_PAGE = 200;

export interface StudyView {
  group: StudyGroupItem;
  key: string;
  open: boolean;
  series: SeriesItem[];
  nextCursor: string | null;
  loading: boolean;
}

export interface PatientView {
  group: PatientGroupItem;
  key: string;
  open: boolean;
  studies: StudyView[] | null;
  loading: boolean;
}

export const grouped = reactive({
  patients: [] as PatientView[],
  total: 0,
  series: 0,
  nextCursor: null as string | null,
  loading: false,
  error: null as string | null,
  /** the state.generation (query) the patients belong to */
  generation: -1,
});

/** Flat or grouped: remembered in the user's settings; the selection starts over. */
export function setGalleryView(view: "flat" | "grouped"): void {
  if (state.galleryView === view) return;
  clearSelection();
  state.galleryView = view;
  void saveSettings();
}

let patientsAbort: AbortController | null = null;

/** The first page of patients of the current query (again), or the next one; `keep`: what
 * was open stays open (the same query asked again). */
export async function loadPatients(first: boolean, keep = false): Promise<void> {
  if (!first && (grouped.loading || !grouped.nextCursor)) return;
  patientsAbort?.abort();
  patientsAbort = new AbortController();
  const generation = state.generation;
  grouped.loading = true;
  try {
    const limit = keep ? Math.min(500, Math.max(PATIENT_PAGE, grouped.patients.length)) : PATIENT_PAGE;
    const page = await api.groups(
      { query: sentQuery(), level: "patients", limit, cursor: first ? null : grouped.nextCursor },
      patientsAbort.signal,
    );
    if (generation !== state.generation) return;
    const before = new Map(keep ? grouped.patients.map((p) => [p.key, p]) : []);
    const rows = (page.items as PatientGroupItem[]).map((group): PatientView => {
      const key = patientKey(group.patient_id);
      const kept = before.get(key);
      return { group, key, open: kept?.open ?? false, studies: kept?.studies ?? null, loading: false };
    });
    grouped.patients = first ? rows : [...grouped.patients, ...rows];
    grouped.total = page.total;
    grouped.series = page.series;
    grouped.nextCursor = page.next_cursor;
    grouped.generation = generation;
    grouped.error = null;
  } catch (error) {
    if (error instanceof DOMException && error.name === "AbortError") return;
    grouped.error = error instanceof Error ? error.message : String(error);
    // a bad query: the search bar says so (the flat page is asked too)
    if (!(error instanceof ApiError && error.status === 400)) reportError(error);
  } finally {
    if (generation === state.generation) grouped.loading = false;
  }
}

async function loadStudies(patient: PatientView): Promise<void> {
  patient.loading = true;
  try {
    const page = await api.groups({ query: sentQuery(), level: "studies", patient_id: patient.group.patient_id, limit: 500 });
    const before = new Map((patient.studies ?? []).map((s) => [s.key, s]));
    patient.studies = (page.items as StudyGroupItem[]).map((group) => {
      const key = studyKey(group.study_uid, patient.key);
      const kept = before.get(key);
      return { group, key, open: kept?.open ?? false, series: kept?.series ?? [], nextCursor: null, loading: false };
    });
  } catch (error) {
    reportError(error);
  } finally {
    patient.loading = false;
  }
}

/** One more page of a study's series (the first one when `first`). */
export async function loadSeries(patient: PatientView, study: StudyView, first: boolean): Promise<void> {
  if (study.loading || (!first && !study.nextCursor)) return;
  study.loading = true;
  try {
    const fields = ["SeriesInstanceUID", ...new Set(state.cardFields)];
    const query = `(${sentQuery()}) (${study.group.term})`;
    const page = await api.search(query, { fields, sort: state.sort, limit: SERIES_PAGE, cursor: first ? null : study.nextCursor });
    const where = { patient: patient.key, study: study.key };
    const known = new Map(picks.seriesGroup);
    for (const item of page.items) known.set(item.series_uid, where);
    picks.seriesGroup = known;
    study.series = first ? page.items : [...study.series, ...page.items];
    study.nextCursor = page.next_cursor;
  } catch (error) {
    reportError(error);
  } finally {
    study.loading = false;
  }
}

export async function togglePatient(patient: PatientView): Promise<void> {
  patient.open = !patient.open;
  if (patient.open && patient.studies === null) await loadStudies(patient);
}

export async function toggleStudy(patient: PatientView, study: StudyView): Promise<void> {
  study.open = !study.open;
  if (study.open && !study.series.length) await loadSeries(patient, study, true);
}

/** After a bulk action: the patients and what is open are read again (tags show; a query
 * on tags may move series between groups). */
export async function reloadGroups(): Promise<void> {
  if (grouped.generation !== state.generation) return;
  await loadPatients(true, true);
  await refreshOpen();
}

async function refreshOpen(): Promise<void> {
  for (const patient of grouped.patients) {
    if (!patient.open) continue;
    await loadStudies(patient);
    for (const study of patient.studies ?? []) if (study.open) await loadSeries(patient, study, true);
  }
}

/** The series the grouped view shows, in its order (the open studies of the open patients):
 * what ←/→ step through in the detail view. */
export function shownSeries(): string[] {
  const out: string[] = [];
  for (const patient of grouped.patients) {
    if (!patient.open) continue;
    for (const study of patient.studies ?? []) if (study.open) out.push(...study.series.map((s) => s.series_uid));
  }
  return out;
}

// ---------------------------------------------------------------- ticks

export type Tick = "on" | "off" | "some";

function seriesOverrides(test: (where: { patient: string; study: string }) => boolean): string[] {
  const out: string[] = [];
  for (const uid of [...state.selected, ...state.excluded]) {
    const where = picks.seriesGroup.get(uid);
    if (where && test(where)) out.push(uid);
  }
  return out;
}

export function patientTick(patient: PatientView): Tick {
  const below =
    [...picks.groups.values()].some((p) => p.level === "study" && p.patient === patient.key) ||
    seriesOverrides((w) => w.patient === patient.key).length > 0;
  if (below) return "some";
  return patientOn(patient.key, state.selectAll) ? "on" : "off";
}

export function studyTick(patient: PatientView, study: StudyView): Tick {
  if (seriesOverrides((w) => w.study === study.key).length) return "some";
  return studyOn(study.key, patient.key, state.selectAll) ? "on" : "off";
}

function dropSeries(uids: string[]): void {
  if (!uids.length) return;
  const gone = new Set(uids);
  state.selected = new Set([...state.selected].filter((u) => !gone.has(u)));
  state.excluded = new Set([...state.excluded].filter((u) => !gone.has(u)));
}

/** Ticks a patient (all its matching series) or, when it is ticked whole, unticks it. */
export function tickPatient(patient: PatientView): void {
  const on = patientTick(patient) !== "on";
  const groups = new Map([...picks.groups].filter(([, p]) => !(p.level === "study" && p.patient === patient.key)));
  groups.delete(patient.key);
  if (on !== state.selectAll) {
    groups.set(patient.key, { level: "patient", on, term: patient.group.term, count: patient.group.series, patient: patient.key });
  }
  picks.groups = groups;
  dropSeries(seriesOverrides((w) => w.patient === patient.key));
}

/** Ticks a study (all its matching series) or, when it is ticked whole, unticks it. */
export function tickStudy(patient: PatientView, study: StudyView): void {
  const on = studyTick(patient, study) !== "on";
  const groups = new Map(picks.groups);
  groups.delete(study.key);
  if (on !== patientOn(patient.key, state.selectAll)) {
    groups.set(study.key, { level: "study", on, term: study.group.term, count: study.group.series, patient: patient.key });
  }
  picks.groups = groups;
  dropSeries(seriesOverrides((w) => w.study === study.key));
}

/** Ticks or unticks one series of an open study. */
export function tickSeries(patient: PatientView, study: StudyView, uid: string): void {
  const want = !isSelected(uid);
  dropSeries([uid]);
  if (want === studyOn(study.key, patient.key, state.selectAll)) return;
  if (want) state.selected = new Set([...state.selected, uid]);
  else state.excluded = new Set([...state.excluded, uid]);
}
