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

// ---- quality control and review (issue 15)

/** a registered QC check with how many series of the query fail it (`GET /api/qc/checks`) */
export interface QCCheckCount {
  field: string;
  title: string;
  meaning: string;
  tolerance: string;
  fails: string;
  family: string;
  severity: "error" | "warning" | "info" | string;
  workflow: string;
  count: number;
  /** series of the query the check ran on (carrying its field); absent on older servers */
  checked?: number;
}

export interface QCChecksResponse {
  query: string;
  total: number;
  checks: QCCheckCount[];
}

export type ReviewStatus = "accepted" | "rejected" | "questionable" | "pending";
export const REVIEW_STATUSES: ReviewStatus[] = ["accepted", "rejected", "questionable", "pending"];

/** `GET/PUT /api/series/{uid}/review` */
export interface Review {
  series_uid: string;
  status: ReviewStatus;
  reviewer: string | null;
  note: string | null;
  reviewed_at: string | null;
}

/** `GET /api/review/progress?q=` */
export interface ReviewProgress {
  total: number;
  reviewed: number;
  accepted: number;
  rejected: number;
  questionable: number;
  pending: number;
}

/** `POST /api/review` */
export interface ReviewBulkResult {
  changed: number;
  total?: number;
  series_count?: number;
}
