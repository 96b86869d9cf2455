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

// ---- results and workflows (the backend's routes/workflows.py; typed here until the
// generated schema carries them)

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

export interface Workflow {
  name: string;
  title: string;
  description: string;
  version: string;
  group: string;
  params_schema: JsonSchema;
}

export interface WorkflowRunRequest {
  selection?: Partial<Selection>;
  selection_id?: string;
  dataset?: string;
  dataset_version?: number;
  uids?: string[];
  params?: Record<string, unknown>;
  force?: boolean;
}

export interface JobErrors {
  total: number;
  errors: { series_uid: string; error: string }[];
}

export interface Provenance {
  producer: string;
  version: string;
  params: Record<string, unknown>;
  params_hash?: string;
  job_id: string | null;
  input_hash?: string | null;
  actor: string;
  written_at: string;
  /** full field names, e.g. "ai.bodypart" */
  keys: string[];
}

export interface SeriesResults {
  results: Record<string, Record<string, unknown>>;
  provenance: Provenance[];
}
