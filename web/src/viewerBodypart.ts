// The viewer's body-part strip: ai.bodypart_slices ("head*12 neck*5 ...") as runs of slices.

export interface Run {
  region: string;
  start: number;
  count: number;
}

/** body-part colours of the per-slice strip; none is left see-through */
const REGION_COLOURS: Record<string, string> = {
  head: "#8e6cd8",
  neck: "#4aa3df",
  chest: "#3cb371",
  abdomen: "#e0b83a",
  pelvis: "#e07b39",
  legs: "#d2496b",
  arms: "#8c8c8c",
  none: "transparent",
};

export function regionColour(region: string): string {
  return REGION_COLOURS[region] ?? "#b0b0b0";
}

/** the runs, each with the slice it starts at; null when malformed */
export function parseRuns(runs: string | null): Run[] | null {
  if (!runs) return null;
  const out: Run[] = [];
  let start = 0;
  for (const run of runs.split(/\s+/)) {
    const star = run.lastIndexOf("*");
    const count = star > 0 ? Number(run.slice(star + 1)) : NaN;
    if (!Number.isInteger(count) || count <= 0) return null;
    out.push({ region: run.slice(0, star), start, count });
    start += count;
  }
  return out;
}

/** one label per slice (the runs expanded) */
export function sliceLabels(runs: Run[] | null): string[] {
  const out: string[] = [];
  for (const s of runs ?? []) for (let i = 0; i < s.count; i++) out.push(s.region);
  return out;
}

/** the regions in the order they first appear */
export function regionsOf(runs: Run[] | null): string[] {
  const seen: string[] = [];
  for (const s of runs ?? []) if (!seen.includes(s.region)) seen.push(s.region);
  return seen;
}
