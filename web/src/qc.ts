// Quality control: the registered checks (`GET /api/qc/checks`), grouped and coloured for the
// dashboard's QC panel, and one series' checks (its QC flags) for the detail view and review.
import { api } from "./api/client";
import { state } from "./store";
import type { QCCheckCount } from "./api/contract";
import { resultValue } from "./format";
import { units } from "./query";

/** families in the order the panel lists them (others follow, by name) */
export const FAMILY_ORDER = ["geometry", "header", "conformance", "pixels", "segmentation"];
const SEVERITY_RANK: Record<string, number> = { error: 0, warning: 1, info: 2 };

export function severityRank(severity: string): number {
  return SEVERITY_RANK[severity] ?? 3;
}

/** the family of a check: its own, else the second part of its field (qc.<family>.<name>) */
export function familyOf(check: QCCheckCount): string {
  return check.family || check.field.split(".")[1] || "other";
}

export interface Family {
  name: string;
  checks: QCCheckCount[];
  /** failing series of the family's worst check (a series can fail several) */
  worst: number;
}

/** checks by family (known families first), each family's checks by severity then title */
export function groupByFamily(checks: QCCheckCount[]): Family[] {
  const byName = new Map<string, QCCheckCount[]>();
  for (const c of checks) {
    const name = familyOf(c);
    byName.set(name, [...(byName.get(name) ?? []), c]);
  }
  const rank = (n: string): number => (FAMILY_ORDER.includes(n) ? FAMILY_ORDER.indexOf(n) : FAMILY_ORDER.length);
  return [...byName.entries()]
    .sort(([a], [b]) => rank(a) - rank(b) || a.localeCompare(b))
    .map(([name, list]) => ({
      name,
      checks: [...list].sort((a, b) => severityRank(a.severity) - severityRank(b.severity) || a.title.localeCompare(b.title)),
      worst: Math.max(0, ...list.map((c) => c.count)),
    }));
}

/** a check's failing query as one AND-able term (parenthesised when it has several parts) */
export function failsTerm(check: QCCheckCount): string {
  const text = check.fails.trim();
  return units(text).length > 1 ? `(${text})` : text;
}

/** what a check's tooltip says: meaning, tolerance, failing query, workflow */
export function checkTooltip(check: QCCheckCount): string {
  const lines = [check.meaning];
  if (check.tolerance) lines.push(`Tolerance: ${check.tolerance}`);
  lines.push(`Fails: ${check.fails}`);
  lines.push(`${check.field} · ${check.severity} · workflow ${check.workflow}`);
  return lines.filter(Boolean).join("\n");
}

export function seriesTerm(uid: string): string {
  return `SeriesInstanceUID:"${uid.replace(/["\\]/g, (c) => "\\" + c)}"`;
}

/** one check on one series: failing, passing, or not run there */
export interface SeriesFlag {
  check: QCCheckCount;
  state: "fail" | "pass" | "not-run";
  value: unknown;
}

/** the series' checks: failing first (by severity), then passing, then those not run */
export async function seriesFlags(uid: string, results: Record<string, unknown>, signal?: AbortSignal): Promise<SeriesFlag[]> {
  const answer = await api.qcChecks(seriesTerm(uid), signal);
  const order = { fail: 0, pass: 1, "not-run": 2 };
  return answer.checks
    .map((check): SeriesFlag => {
      const value = resultValue(results, check.field);
      const ran = check.checked !== undefined ? check.checked > 0 : value !== undefined;
      return { check, value, state: check.count > 0 ? "fail" : ran ? "pass" : "not-run" };
    })
    .sort(
      (a, b) =>
        order[a.state] - order[b.state] ||
        severityRank(a.check.severity) - severityRank(b.check.severity) ||
        familyOf(a.check).localeCompare(familyOf(b.check)) ||
        a.check.title.localeCompare(b.check.title),
    );
}

/** dciodvfy's messages of a series (`qc.conformance.messages`), when it has them */
export function conformanceMessages(results: Record<string, unknown>): string[] {
  const value = resultValue(results, "qc.conformance.messages");
  if (Array.isArray(value)) return value.map(String);
  if (typeof value === "string" && value.trim()) return value.split("\n").filter((l) => l.trim());
  return [];
}

/** a series' QC: its results, its flags and dciodvfy's messages */
export interface SeriesQc {
  results: Record<string, unknown>;
  flags: SeriesFlag[];
  messages: string[];
}

const CACHE_SIZE = 40;
const cache = new Map<string, Promise<SeriesQc>>();
let cacheRevision = -1;

/** a series' QC, cached (review mode asks for the next series ahead; a finished workflow or a
 * bulk action, `state.revision`, empties the cache) */
export function seriesQc(uid: string): Promise<SeriesQc> {
  if (cacheRevision !== state.revision) {
    cache.clear();
    cacheRevision = state.revision;
  }
  let answer = cache.get(uid);
  if (!answer) {
    answer = (async () => {
      const results = ((await api.seriesResults(uid)).results ?? {}) as Record<string, unknown>;
      return { results, flags: await seriesFlags(uid, results), messages: conformanceMessages(results) };
    })();
    answer.catch(() => cache.delete(uid));
    cache.set(uid, answer);
    if (cache.size > CACHE_SIZE) cache.delete(cache.keys().next().value as string);
  }
  return answer;
}
