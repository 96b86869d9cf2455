// A form from a workflow's `params_schema` (JSON Schema as pydantic writes it): one input
// per property — text, number, integer, checkbox, a choice for enums, comma-separated lists —
// with defaults, descriptions and bounds; values checked here before the server checks them.
import type { JsonSchema } from "./api/contract";

export type ParamKind = "string" | "number" | "integer" | "boolean" | "enum" | "list" | "json";

export interface ParamField {
  name: string;
  label: string;
  description: string;
  kind: ParamKind;
  required: boolean;
  /** null is allowed (an optional parameter pydantic writes as anyOf [T, null]) */
  nullable: boolean;
  default: unknown;
  hasDefault: boolean;
  choices: unknown[];
  /** the item kind of a list */
  itemKind: "string" | "number" | "integer";
  min: number | null;
  max: number | null;
  exclusiveMin: boolean;
  exclusiveMax: boolean;
}

/** What an input holds: text for text, lists and JSON; text or a number for numbers (Vue's
 * v-model casts a number input's value); a boolean for checkboxes; the index of the choice
 * (as text) for enums. */
export type FormValues = Record<string, string | number | boolean>;

function resolve(schema: JsonSchema, root: JsonSchema, depth = 0): JsonSchema {
  if (depth > 8) return schema;
  if (schema.$ref) {
    const match = /^#\/(\$defs|definitions)\/(.+)$/.exec(schema.$ref);
    const target = match ? (root[match[1] as "$defs" | "definitions"] ?? {})[decodeURIComponent(match[2])] : undefined;
    const { $ref: _ref, ...rest } = schema;
    void _ref;
    return target ? resolve({ ...target, ...rest }, root, depth + 1) : rest;
  }
  if (schema.allOf && schema.allOf.length === 1) {
    const { allOf, ...rest } = schema;
    return { ...resolve(allOf[0], root, depth + 1), ...rest };
  }
  return schema;
}

function typesOf(schema: JsonSchema): string[] {
  if (Array.isArray(schema.type)) return schema.type;
  return schema.type ? [schema.type] : [];
}

/** The fields of a parameter model, in the schema's order. */
export function paramFields(root: JsonSchema | null | undefined): ParamField[] {
  if (!root) return [];
  const top = resolve(root, root);
  const required = new Set(top.required ?? []);
  return Object.entries(top.properties ?? {}).map(([name, raw]) => {
    let schema = resolve(raw, root);
    let nullable = false;
    const alternatives = schema.anyOf ?? schema.oneOf;
    if (alternatives) {
      const real = alternatives.map((s) => resolve(s, root)).filter((s) => !typesOf(s).includes("null") || typesOf(s).length > 1);
      nullable = real.length < alternatives.length;
      if (real.length === 1) {
        const { anyOf: _a, oneOf: _o, ...rest } = schema;
        void _a;
        void _o;
        schema = { ...real[0], ...rest };
      }
    }
    const types = typesOf(schema).filter((t) => t !== "null");
    if (typesOf(schema).includes("null")) nullable = true;
    let kind: ParamKind = "json";
    let itemKind: ParamField["itemKind"] = "string";
    if (schema.enum && schema.enum.length) kind = "enum";
    else if (schema.const !== undefined) kind = "enum";
    else if (types.length === 1 && ["string", "number", "integer", "boolean"].includes(types[0])) kind = types[0] as ParamKind;
    else if (types.length === 1 && types[0] === "array") {
      const items = schema.items ? resolve(schema.items, root) : {};
      const t = typesOf(items)[0];
      if (t === "string" || t === "number" || t === "integer" || t === undefined) {
        kind = "list";
        itemKind = t ?? "string";
      }
    }
    const min = schema.minimum ?? schema.exclusiveMinimum ?? null;
    const max = schema.maximum ?? schema.exclusiveMaximum ?? null;
    return {
      name,
      label: schema.title ?? raw.title ?? name,
      description: schema.description ?? raw.description ?? "",
      kind,
      required: required.has(name),
      nullable,
      default: "default" in raw ? raw.default : schema.default,
      hasDefault: "default" in raw || "default" in schema,
      choices: schema.enum ?? (schema.const !== undefined ? [schema.const] : []),
      itemKind,
      min,
      max,
      exclusiveMin: schema.minimum === undefined && schema.exclusiveMinimum !== undefined,
      exclusiveMax: schema.maximum === undefined && schema.exclusiveMaximum !== undefined,
    };
  });
}

/** The inputs' first values: each field's default. */
export function initialValues(fields: ParamField[]): FormValues {
  const out: FormValues = {};
  for (const f of fields) {
    const d = f.hasDefault ? f.default : undefined;
    if (f.kind === "boolean") out[f.name] = d === true;
    else if (f.kind === "enum") {
      const i = f.choices.findIndex((c) => c === d);
      out[f.name] = i >= 0 ? String(i) : f.required && !f.nullable && f.choices.length === 1 ? "0" : "";
    } else if (d === undefined || d === null) out[f.name] = "";
    else if (f.kind === "list") out[f.name] = Array.isArray(d) ? d.map(String).join(", ") : String(d);
    else if (f.kind === "json") out[f.name] = JSON.stringify(d);
    else out[f.name] = String(d);
  }
  return out;
}

/** The bound a number breaks, or null. */
function outOfBounds(f: ParamField, n: number): string | null {
  if (f.min !== null && (f.exclusiveMin ? n <= f.min : n < f.min)) return `must be ${f.exclusiveMin ? ">" : "≥"} ${f.min}`;
  if (f.max !== null && (f.exclusiveMax ? n >= f.max : n > f.max)) return `must be ${f.exclusiveMax ? "<" : "≤"} ${f.max}`;
  return null;
}

function parseNumber(f: ParamField, text: string, integer: boolean): number | string {
  const n = Number(text);
  if (text.trim() === "" || !Number.isFinite(n)) return `${f.label}: not a number`;
  if (integer && !Number.isInteger(n)) return `${f.label}: must be a whole number`;
  const bound = outOfBounds(f, n);
  return bound ? `${f.label} ${bound}` : n;
}

/** The `params` to send, or the problems that keep the form from being sent (by field). */
export function collectParams(fields: ParamField[], values: FormValues): { params: Record<string, unknown>; problems: Record<string, string> } {
  const params: Record<string, unknown> = {};
  const problems: Record<string, string> = {};
  for (const f of fields) {
    const value = values[f.name];
    if (f.kind === "boolean") {
      params[f.name] = value === true;
      continue;
    }
    const text = typeof value === "string" ? value.trim() : typeof value === "number" ? String(value) : "";
    if (text === "") {
      if (f.required && !f.nullable) problems[f.name] = `${f.label} is required`;
      else if (f.nullable && !f.hasDefault) params[f.name] = null;
      else if (f.nullable && f.default === null) params[f.name] = null;
      // else: left out, the server's default applies
      continue;
    }
    if (f.kind === "enum") {
      params[f.name] = f.choices[Number(text)];
    } else if (f.kind === "number" || f.kind === "integer") {
      const n = parseNumber(f, text, f.kind === "integer");
      if (typeof n === "string") problems[f.name] = n;
      else params[f.name] = n;
    } else if (f.kind === "list") {
      const parts = text.split(",").map((p) => p.trim()).filter(Boolean);
      if (f.itemKind === "string") params[f.name] = parts;
      else {
        const numbers = parts.map((p) => parseNumber(f, p, f.itemKind === "integer"));
        const bad = numbers.find((n) => typeof n === "string");
        if (bad !== undefined) problems[f.name] = String(bad);
        else params[f.name] = numbers;
      }
    } else if (f.kind === "json") {
      try {
        params[f.name] = JSON.parse(text);
      } catch {
        problems[f.name] = `${f.label}: not valid JSON`;
      }
    } else {
      params[f.name] = text;
    }
  }
  return { params, problems };
}

/** "0 – 1", "≥ 1", "< 10": the bounds of a number as a hint. */
export function boundsHint(f: ParamField): string {
  if (f.min !== null && f.max !== null && !f.exclusiveMin && !f.exclusiveMax) return `${f.min} – ${f.max}`;
  const parts: string[] = [];
  if (f.min !== null) parts.push(`${f.exclusiveMin ? ">" : "≥"} ${f.min}`);
  if (f.max !== null) parts.push(`${f.exclusiveMax ? "<" : "≤"} ${f.max}`);
  return parts.join(", ");
}
