// Exports (issue 17): start one on a dataset (POST /api/datasets/{name}/exports), the finished
// ones (GET /api/exports), their zip and deleting them. The export runs as a job: its progress
// is the jobs panel's.
import { reactive } from "vue";
import { ApiError, authEvents, features, type Job, type ErrorDetail } from "./api/client";

export const FORMATS = [
  { value: "nnunet", label: "nnU-Net v2 (imagesTr/labelsTr, dataset.json)" },
  { value: "monai", label: "MONAI / Decathlon datalist + NIfTI" },
  { value: "nifti", label: "NIfTI volumes + label maps" },
  { value: "dicom", label: "DICOM copy (de-identified when asked)" },
] as const;

export const LAYOUTS = ["patient/study/series", "series"] as const;

/** PS3.15 options, as the API names them, with what they keep */
export const DEID_OPTIONS = [
  { value: "retain-long-modified-dates", label: "Retain longitudinal dates (shifted per patient)" },
  { value: "retain-patient-characteristics", label: "Retain patient characteristics (sex, age, size, weight)" },
  { value: "retain-device-identity", label: "Retain device identity (serial numbers, station)" },
  { value: "retain-uids", label: "Retain UIDs (no replacement)" },
  { value: "clean-descriptors", label: "Clean descriptors (keep descriptions, identifiers cleaned out)" },
  { value: "retain-safe-private", label: "Retain safe private elements" },
] as const;

export interface ExportRequest {
  version?: number | null;
  format: string;
  split?: string | null;
  folds?: number | null;
  stratify?: string[];
  seed?: number;
  labels?: string | null;
  channels?: string[];
  include_rejected?: boolean;
  fields?: string[] | null;
  layout?: string;
  dataset_id?: number;
  deidentify?: boolean;
  deid_options?: string[];
  include_burned_in?: boolean;
}

export interface ExportItem {
  job_id: string;
  dataset: string;
  version: number | null;
  format: string;
  deidentified: boolean;
  identified: boolean;
  created: string | null;
  files: number;
  bytes: number;
  exported: number;
  failed: number;
  started_by: string | null;
  downloadable: boolean;
  download: string;
}

/** which dataset's Export dialog is open (null: none) */
export const exportDialog = reactive({ dataset: null as string | null });

async function call<T>(method: string, path: string, body?: unknown): Promise<T> {
  const init: RequestInit = { method, headers: { Accept: "application/json" } };
  if (body !== undefined) {
    init.body = JSON.stringify(body);
    init.headers = { ...init.headers, "Content-Type": "application/json" };
  }
  const response = await fetch(path, init);
  if (!response.ok) {
    let detail: ErrorDetail = { code: "http_" + response.status, message: response.statusText };
    try {
      const parsed = (await response.json()) as { error?: ErrorDetail };
      if (parsed.error) detail = parsed.error;
    } catch {
      /* not JSON */
    }
    if (response.status === 401) authEvents.unauthenticated();
    throw new ApiError(response.status, detail);
  }
  return (await response.json()) as T;
}

export function canExport(): boolean {
  return features.hasLike("POST", "/api/datasets/{}/exports");
}

export function startExport(dataset: string, body: ExportRequest): Promise<Job> {
  return call("POST", `/api/datasets/${encodeURIComponent(dataset)}/exports`, body);
}

export async function listExports(): Promise<ExportItem[]> {
  if (!features.has("GET", "/api/exports")) return [];
  return (await call<{ items: ExportItem[] }>("GET", "/api/exports")).items;
}

export function deleteExport(jobId: string): Promise<ExportItem> {
  return call("DELETE", `/api/exports/${encodeURIComponent(jobId)}`);
}

export function downloadUrl(jobId: string): string {
  return `/api/exports/${encodeURIComponent(jobId)}/download`;
}

/** An export job started over HTTP (its zip can be downloaded once done). */
export function isExportJob(job: Job): boolean {
  return job.kind === "export";
}

function params(job: Job): Record<string, unknown> {
  return (job.params ?? {}) as Record<string, unknown>;
}

/** "Export lung-ct v2" */
export function exportTitle(job: Job): string {
  const p = params(job);
  const version = p.version !== undefined && p.version !== null ? ` v${String(p.version)}` : "";
  return `Export ${String(p.dataset ?? "")}${version}`;
}

/** what the export was asked, short: "nnunet · train 0.8 / test 0.2 · de-identified" */
export function exportSummary(job: Job): string {
  const p = params(job);
  const parts = [String(p.format ?? "")];
  const split = p.split as { fractions?: Record<string, number>; folds?: number } | undefined;
  if (split?.fractions) parts.push(Object.entries(split.fractions).map(([k, v]) => `${k} ${v}`).join(" / "));
  if (split?.folds) parts.push(`${split.folds} folds`);
  if (Array.isArray(p.channels) && p.channels.length) parts.push(`${p.channels.length} channels`);
  if (Array.isArray(p.deidentify)) parts.push("de-identified DICOM");
  else if (p.identified) parts.push("identified");
  if (p.froze) parts.push(`froze v${String(p.version)}`);
  const result = (job.result ?? {}) as Record<string, unknown>;
  if (typeof result.bytes === "number") parts.push(`${Number(result.files ?? 0).toLocaleString()} files, ${formatBytes(result.bytes)}`);
  if (p.trigger && p.trigger !== "api") parts.push(String(p.trigger));
  return parts.filter(Boolean).join(" · ");
}

/** The zip of a finished export started over HTTP, when this user may have it. */
export function exportDownload(job: Job, admin: boolean): string | null {
  const p = params(job);
  if (!isExportJob(job) || job.state !== "done" || p.trigger !== "api") return null;
  if (p.identified && !admin) return null;
  return downloadUrl(job.id);
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ["KiB", "MiB", "GiB", "TiB"];
  let value = n / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}

export interface VersionInfo {
  version: number;
  series_count: number;
  created_at: string;
  note?: string | null;
}

export async function datasetVersions(dataset: string): Promise<VersionInfo[]> {
  return (await call<{ items: VersionInfo[] }>("GET", `/api/datasets/${encodeURIComponent(dataset)}/versions`)).items;
}
