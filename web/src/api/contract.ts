// Shapes of endpoints still being built (docs: /work/coord/api-contract.md). Once the
// server has them, schema.d.ts carries the same shapes, generated.

export interface Counts {
  series: number;
  studies?: number;
  patients?: number;
}

export type AggregationType = "terms" | "histogram" | "date_histogram";

export interface AggregationSpec {
  field: string;
  type: AggregationType;
  size?: number;
  bins?: number;
  interval?: "year" | "month" | "day";
}

export interface AggregateRequest {
  query: string;
  aggregations: AggregationSpec[];
}

export interface Bucket {
  key: string | number | boolean | null;
  count: number;
  low?: number | string | null;
  high?: number | string | null;
}

export interface Aggregation {
  field: string;
  type: AggregationType;
  buckets: Bucket[];
  other: number;
  missing: number;
}

export interface AggregateResponse {
  counts: Counts;
  aggregations: Aggregation[];
}

/** (series matching query, none when null) ∪ include − exclude */
export interface Selection {
  query: string | null;
  include: string[];
  exclude: string[];
}

export interface BulkResult {
  changed: number;
  series_count: number;
}

export interface Tag {
  name: string;
  color?: string | null;
  series_count: number;
}

export interface Dataset {
  name: string;
  description?: string | null;
  series: number;
  studies?: number;
  patients?: number;
  versions?: number | unknown[];
}

// ---- workflows: a parameter model's JSON Schema (the generated type says only "object")

/** JSON Schema of a workflow's parameter model, as pydantic writes it */
export interface JsonSchema {
  type?: string | string[];
  title?: string;
  description?: string;
  default?: unknown;
  enum?: unknown[];
  const?: unknown;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
  minLength?: number;
  maxLength?: number;
  pattern?: string;
  items?: JsonSchema;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  allOf?: JsonSchema[];
  $ref?: string;
  $defs?: Record<string, JsonSchema>;
  definitions?: Record<string, JsonSchema>;
}
