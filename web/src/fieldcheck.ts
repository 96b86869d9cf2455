// Checks of what the user typed against the field registry (/api/fields): unknown field
// names with the near one, a number compared with a text field, a word given to a number
// field. The API answers unknown fields itself (400 with suggestions); these are the cases
// it accepts silently (they match nothing).
import { api, type FieldInfo } from "./api/client";

const NUMERIC = new Set(["number", "integer", "float", "int"]);
/** compared as text (PatientAge is the DICOM age string "045Y") */
const TEXT = new Set(["keyword", "text", "string", "age"]);
let cache: Promise<FieldInfo[]> | null = null;

/** the registry's fields, asked for once (again after `forgetFields`) */
export function knownFields(): Promise<FieldInfo[]> {
  cache ??= api.fields().then(
    (answer) => answer.items,
    () => {
      cache = null; // the server is down: ask again next time
      return [];
    },
  );
  return cache;
}

export function forgetFields(): void {
  cache = null;
}

function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let previous = row[0];
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const next = Math.min(row[j] + 1, row[j - 1] + 1, previous + (a[i - 1] === b[j - 1] ? 0 : 1));
      previous = row[j];
      row[j] = next;
    }
  }
  return row[b.length];
}

/** the field nearest to ``name`` (case and small misspellings), if one is near */
export function nearField(name: string, fields: FieldInfo[]): string | null {
  let best: string | null = null;
  let bestDistance = Infinity;
  const lower = name.toLowerCase();
  for (const f of fields) {
    const d = distance(lower, f.name.toLowerCase());
    if (d < bestDistance) [best, bestDistance] = [f.name, d];
  }
  return best !== null && bestDistance <= Math.max(2, Math.floor(name.length / 3)) ? best : null;
}

function words(name: string): string[] {
  return name.replace(/([a-z])([A-Z])/g, "$1 $2").toLowerCase().split(/[^a-z0-9]+/).filter((w) => w.length > 2);
}

/** a number field that shares a word with the text field ``name`` (PatientAge → age_years) */
function numericSibling(name: string, fields: FieldInfo[]): string | null {
  // the last word says what it is (PatientAge: age; Patient is only whose)
  const last = words(name).at(-1);
  const hit = last ? fields.find((f) => NUMERIC.has(f.type) && f.name !== name && words(f.name).includes(last)) : undefined;
  return hit?.name ?? null;
}

/** ``names`` that are not fields, each with the near field when there is one */
export function unknownFields(names: string[], fields: FieldInfo[]): string[] {
  if (!fields.length) return [];
  const known = new Set(fields.map((f) => f.name));
  return names
    .filter((n) => !known.has(n) && !n.startsWith("SeriesInstanceUID"))
    .map((n) => {
      const near = nearField(n, fields);
      return `No field “${n}”` + (near ? `: did you mean ${near}?` : ".");
    });
}

const TERM = /(?:^|[\s(])[-+]?([A-Za-z_][\w.]*):(>=|<=|>|<)?("[^"]*"|\[[^\]]*\]|\{[^}]*\}|[^\s()]+)/g;

/** What in ``query`` is accepted but matches nothing for a reason the user should hear. */
export function queryWarnings(query: string, fields: FieldInfo[]): string[] {
  const types = new Map(fields.map((f) => [f.name, f.type]));
  const out: string[] = [];
  for (const m of query.matchAll(TERM)) {
    const [, field, op, value] = m;
    const type = types.get(field);
    if (type === undefined || value.includes("*") || value.startsWith("[") || value.startsWith("{")) continue;
    if (NUMERIC.has(type)) {
      if (Number.isNaN(Number(value.replace(/^"|"$/g, "")))) {
        out.push(`${field}:${op ?? ""}${value} — ${field} is a number; “${value}” is not a number, so nothing matches.`);
      }
    } else if (op && TEXT.has(type) && !Number.isNaN(Number(value))) {
      const sibling = numericSibling(field, fields);
      out.push(
        `${field}:${op}${value} — ${field} is text, so “${op}” compares it as text, not as a number.` +
          (sibling ? ` Did you mean ${sibling}:${op}${value}?` : ""),
      );
    }
  }
  return out;
}
