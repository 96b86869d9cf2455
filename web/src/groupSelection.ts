// The selection of the structured gallery: whole patients and studies, ticked or unticked,
// on top of the gallery's usual selection (every match or none, plus single series).
//
// A ticked patient or study is a *pick*: the query term that selects its series (from
// /api/search/groups) and how many of them match. A pick always differs from the level
// above it (a study ticked under an unticked patient, or unticked under a ticked one), so
// the count is a sum and the selection one query, sent to the server as it is:
//   (query) (S_on OR ((P_on OR (root NOT P_off)) NOT S_off))  ∪ include − exclude
// Nothing here imports the store: it passes in what it needs.
import { reactive } from "vue";

export interface GroupPick {
  level: "patient" | "study";
  on: boolean;
  /** the server's query term for the group's series */
  term: string;
  /** its series that match the query */
  count: number;
  /** the patient's key (a study's patient; a patient's own key) */
  patient: string;
}

export const picks = reactive({
  groups: new Map<string, GroupPick>(),
  /** where each series the grouped view has shown belongs: patient and study keys */
  seriesGroup: new Map<string, { patient: string; study: string }>(),
});

/** A patient's key: PatientIDs group case-insensitively, an empty one is none (as the server). */
export function patientKey(id: string | null | undefined): string {
  return "p:" + (id ?? "").toLowerCase();
}

export function studyKey(studyUid: string, patient: string): string {
  return "s:" + patient + "|" + studyUid;
}

export function clearPicks(): void {
  if (picks.groups.size) picks.groups = new Map();
}

/** series the picks add (ticked) or take away (unticked) */
export function pickedCount(): number {
  let n = 0;
  for (const p of picks.groups.values()) n += p.on ? p.count : -p.count;
  return n;
}

/** whether a patient is ticked: its pick, else every match (`root`) */
export function patientOn(patient: string, root: boolean): boolean {
  return picks.groups.get(patient)?.on ?? root;
}

/** whether a study is ticked: its pick, else its patient's */
export function studyOn(study: string, patient: string, root: boolean): boolean {
  return picks.groups.get(study)?.on ?? patientOn(patient, root);
}

/** a series' state from its groups (null: the grouped view has not shown it) */
export function groupState(uid: string, root: boolean): boolean | null {
  const where = picks.seriesGroup.get(uid);
  if (!where) return null;
  return studyOn(where.study, where.patient, root);
}

function anyOf(terms: string[]): string {
  return terms.length === 1 ? terms[0] : terms.map((t) => `(${t})`).join(" OR ");
}

/** The selection's query (null: the picks and `root` select nothing by query). */
export function groupQuery(sent: string, root: boolean): string | null {
  const of = (level: GroupPick["level"], on: boolean): string[] =>
    [...picks.groups.values()].filter((p) => p.level === level && p.on === on).map((p) => p.term);
  const patientsOff = of("patient", false);
  const patientParts = of("patient", true);
  if (root) patientParts.push(patientsOff.length ? `NOT (${anyOf(patientsOff)})` : "*");
  const studiesOff = of("study", false);
  const studyParts = of("study", true);
  if (patientParts.length) {
    const patients = anyOf(patientParts);
    studyParts.push(studiesOff.length ? `(${patients}) NOT (${anyOf(studiesOff)})` : patients);
  }
  if (!studyParts.length) return null;
  const picked = anyOf(studyParts);
  return picked === "*" ? sent : `(${sent}) (${picked})`;
}
