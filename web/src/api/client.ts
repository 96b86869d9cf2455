// The typed API client. Shapes of endpoints the server has come from the generated
// OpenAPI schema (schema.d.ts, `npm run gen-api`); the few that are still being built
// are typed by hand from /work/coord/api-contract.md (contract.ts) and only called when
// the server's OpenAPI document lists them (see `features`).
import type { components } from "./schema";
import type {
  AggregateRequest,
  AggregateResponse,
  Counts,
  Dataset,
  Selection,
  Tag,
  BulkResult,
  JsonSchema,
  QCChecksResponse,
  Review,
  ReviewBulkResult,
  ReviewProgress,
  ReviewStatus,
} from "./contract";

type S = components["schemas"];
export type SearchResponse = S["SearchResponse"];
export type SeriesItem = S["SeriesItem"] & { tags?: string[]; datasets?: string[]; review?: ReviewStatus | null };
export type SeriesResponse = S["SeriesResponse"] & { tags?: string[]; datasets?: string[] };
export type FieldInfo = S["FieldPublic"];
export type ErrorDetail = S["ErrorDetail"];
export type Job = S["Job"] & { cancel_requested?: boolean; heartbeat_at?: string | null };
export type Workflow = Omit<S["WorkflowDescription"], "params_schema"> & { params_schema: JsonSchema };
export type WorkflowRunRequest = S["WorkflowRunRequest"];
export type JobErrors = S["JobErrors"];
export type SeriesResults = S["SeriesResults"];
export type Provenance = S["ResultProvenance"];
export type BiasResponse = S["BiasResponse"];
export type Association = S["Association"];
export type Representation = S["Representation"];
export type CompareResponse = S["CompareResponse"];
export type Shift = S["Shift"];
export type ClinicalTable = S["ClinicalTablePublic"];
export type ClinicalImport = S["ClinicalImportResponse"];
export type GroupsRequest = S["GroupsRequest"];
export type GroupsResponse = S["GroupsResponse"];
export type PatientGroupItem = S["PatientGroupItem"];
export type StudyGroupItem = S["StudyGroupItem"];
export type SharedLayout = S["LayoutPublic"];

// ---- users, sessions and API tokens (issue 18; docs/ui.md "Signing in, tokens and users")
export type Role = "viewer" | "curator" | "admin";
export type TokenScope = "read" | "write" | "admin";
export interface AuthUser {
  name: string;
  role: Role;
}
export interface Me {
  user: AuthUser | null;
  auth: "on" | "off";
}
export interface UserRecord extends AuthUser {
  disabled: boolean;
  created_at: string | null;
  last_login_at: string | null;
}
export interface TokenRecord {
  id: string;
  user: string;
  name: string;
  scope: TokenScope;
  created_at: string | null;
  expires_at: string | null;
  last_used_at: string | null;
  revoked: boolean;
}

// ---- projects and the access log (issue 18; docs/ui.md "Projects")
export interface Project {
  name: string;
  description: string;
  ae_title: string | null;
  created_at: string;
  members: string[];
  series_count: number;
}
export interface AccessEntry {
  at: string;
  user: string;
  action: string;
  patient_id: string | null;
  study_uid: string | null;
  series_uid: string | null;
}
export interface AccessFilter {
  user?: string;
  patient_id?: string;
  series_uid?: string;
  since?: string;
  until?: string;
  limit?: number;
}

/** What the client tells the app about authentication (set by src/auth.ts). */
export const authEvents = {
  /** a request was answered 401: nobody (or no longer anybody) is signed in */
  unauthenticated: (): void => undefined,
};
/** answers about credentials themselves, whose 401 is not "signed out" */
const AUTH_PATHS = new Set(["/api/auth/login", "/api/auth/me"]);

export class ApiError extends Error {
  status: number;
  detail: ErrorDetail;
  constructor(status: number, detail: ErrorDetail) {
    super(detail.message);
    this.status = status;
    this.detail = detail;
  }
}

async function request<T>(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<T> {
  const init: RequestInit = { method, signal, headers: { Accept: "application/json" } };
  if (body instanceof FormData) {
    init.body = body; // multipart: the browser writes the boundary
  } else if (body !== undefined) {
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
    if (response.status === 401 && !AUTH_PATHS.has(path)) authEvents.unauthenticated();
    throw new ApiError(response.status, detail);
  }
  if (response.status === 204) return undefined as T;
  return (await response.json()) as T;
}

function qs(params: Record<string, string | number | undefined | null>): string {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== "") search.set(key, String(value));
  }
  const text = search.toString();
  return text ? "?" + text : "";
}

/** the OpenAPI extension in which the server names each operation's permission */
const PERMISSION_KEY = "x-radcurate-permission";

/** Which operations the running server offers to the signed-in user, read once from its
 * OpenAPI document: an operation whose permission (`x-radcurate-permission`: public, read,
 * curate, admin) the user's role lacks counts as absent, so its controls do not show. */
export const features = {
  paths: new Set<string>(),
  /** "METHOD /path" -> the permission the operation declares */
  permissions: new Map<string, string>(),
  /** whether the user may use an operation needing `permission` (src/auth.ts sets it) */
  allow: (() => true) as (permission: string) => boolean,
  usable(key: string): boolean {
    const needed = this.permissions.get(key);
    return needed === undefined || this.allow(needed);
  },
  has(method: string, path: string): boolean {
    const key = method.toUpperCase() + " " + path;
    return this.paths.has(key) && this.usable(key);
  },
  /** like `has`, whatever the path parameters are named: `/api/series/{}/results` */
  hasLike(method: string, path: string): boolean {
    const wanted = method.toUpperCase() + " " + path;
    for (const p of this.paths) if (p.replace(/\{[^}]*\}/g, "{}") === wanted) return this.usable(p);
    return false;
  },
};

let featuresDone: () => void = () => undefined;
/** settles once `loadFeatures` has read the OpenAPI document (or failed to) */
export const featuresLoaded = new Promise<void>((resolve) => (featuresDone = resolve));

export async function loadFeatures(): Promise<void> {
  try {
    const doc = await request<{ paths: Record<string, Record<string, unknown>> }>("GET", "/openapi.json");
    for (const [path, ops] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(ops)) {
        const key = method.toUpperCase() + " " + path;
        features.paths.add(key);
        const permission = (op as Record<string, unknown> | null)?.[PERMISSION_KEY];
        if (typeof permission === "string") features.permissions.set(key, permission);
      }
    }
  } catch {
    /* no document: only the core endpoints are used */
  } finally {
    featuresDone();
  }
}

export const api = {
  search(
    query: string,
    opts: { fields?: string[]; sort?: string; limit?: number; cursor?: string | null },
    signal?: AbortSignal,
  ): Promise<SearchResponse & { items: SeriesItem[] }> {
    return request("POST", "/api/search", {
      query,
      fields: opts.fields,
      sort: opts.sort || null,
      limit: opts.limit ?? 100,
      cursor: opts.cursor ?? null,
    }, signal);
  },
  /** the query's patients, or one patient's studies (the structured gallery, src/groups.ts) */
  groups(body: Partial<GroupsRequest>, signal?: AbortSignal): Promise<GroupsResponse> {
    return request("POST", "/api/search/groups", body, signal);
  },
  count(q: string, signal?: AbortSignal): Promise<Counts> {
    return request("GET", "/api/count" + qs({ q }), undefined, signal);
  },
  fields(): Promise<{ items: FieldInfo[] }> {
    return request("GET", "/api/fields");
  },
  series(uid: string): Promise<SeriesResponse> {
    return request("GET", "/api/series/" + encodeURIComponent(uid));
  },
  sliceUrl(uid: string, p: { index?: number; plane?: string; window?: number | null; level?: number | null }): string {
    return (
      "/api/series/" +
      encodeURIComponent(uid) +
      "/slice" +
      qs({ index: p.index, plane: p.plane, window: p.window ?? undefined, level: p.level ?? undefined })
    );
  },
  overlayUrl(uid: string, index: number, plane = "native"): string {
    return "/api/series/" + encodeURIComponent(uid) + "/overlay" + qs({ index, plane });
  },
  // --- contract endpoints (used when `features` lists them) ---
  autocompleteFields(prefix: string, limit = 20): Promise<{ items: FieldInfo[] }> {
    return request("GET", "/api/autocomplete/fields" + qs({ prefix, limit }));
  },
  autocompleteValues(field: string, prefix: string, q: string, limit = 10): Promise<{ field: string; items: { value: unknown; count: number }[] }> {
    return request("GET", "/api/autocomplete/values" + qs({ field, prefix, q, limit }));
  },
  aggregate(body: AggregateRequest, signal?: AbortSignal): Promise<AggregateResponse> {
    return request("POST", "/api/aggregate", body, signal);
  },
  tags(prefix = ""): Promise<{ items: Tag[] }> {
    return request("GET", "/api/tags" + qs({ prefix }));
  },
  tagAction(name: string, action: "add" | "remove", selection: Selection): Promise<BulkResult> {
    return request("POST", `/api/tags/${encodeURIComponent(name)}/${action}`, { selection });
  },
  datasets(): Promise<{ items: Dataset[] }> {
    return request("GET", "/api/datasets");
  },
  createDataset(name: string, description: string): Promise<unknown> {
    return request("POST", "/api/datasets", { name, description });
  },
  datasetAction(name: string, action: "add" | "remove", selection: Selection): Promise<BulkResult> {
    return request("POST", `/api/datasets/${encodeURIComponent(name)}/${action}`, { selection });
  },
  freezeDataset(name: string, note: string): Promise<{ version: number; series_count: number }> {
    return request("POST", `/api/datasets/${encodeURIComponent(name)}/versions`, { note });
  },
  // --- shared dashboard layouts (src/components/LayoutMenu.vue) ---
  layouts(): Promise<{ items: SharedLayout[] }> {
    return request("GET", "/api/dashboard-layouts");
  },
  layout(name: string): Promise<SharedLayout> {
    return request("GET", `/api/dashboard-layouts/${encodeURIComponent(name)}`);
  },
  putLayout(name: string, layout: object, description = ""): Promise<SharedLayout> {
    return request("PUT", `/api/dashboard-layouts/${encodeURIComponent(name)}`, { layout, description });
  },
  deleteLayout(name: string): Promise<void> {
    return request("DELETE", `/api/dashboard-layouts/${encodeURIComponent(name)}`);
  },
  getSettings(): Promise<{ user: string; settings: Record<string, unknown> }> {
    return request("GET", "/api/settings");
  },
  putSettings(settings: Record<string, unknown>): Promise<unknown> {
    return request("PUT", "/api/settings", { settings });
  },
  // --- results, workflows and jobs ---
  jobs(limit = 30, signal?: AbortSignal): Promise<{ items: Job[] }> {
    return request("GET", "/api/jobs" + qs({ limit }), undefined, signal);
  },
  cancelJob(id: string): Promise<Job> {
    return request("POST", `/api/jobs/${encodeURIComponent(id)}/cancel`);
  },
  jobErrors(id: string, limit = 100): Promise<JobErrors> {
    return request("GET", `/api/jobs/${encodeURIComponent(id)}/errors` + qs({ limit }));
  },
  workflows(): Promise<Workflow[]> {
    return request("GET", "/api/workflows");
  },
  runWorkflow(name: string, body: WorkflowRunRequest): Promise<Job> {
    return request("POST", `/api/workflows/${encodeURIComponent(name)}/runs`, body);
  },
  seriesResults(uid: string, signal?: AbortSignal): Promise<SeriesResults> {
    return request("GET", `/api/series/${encodeURIComponent(uid)}/results`, undefined, signal);
  },
  // --- quality control and review ---
  qcChecks(q: string, signal?: AbortSignal): Promise<QCChecksResponse> {
    return request("GET", "/api/qc/checks" + qs({ q }), undefined, signal);
  },
  review(uid: string, signal?: AbortSignal): Promise<Review> {
    return request("GET", `/api/series/${encodeURIComponent(uid)}/review`, undefined, signal);
  },
  putReview(uid: string, status: ReviewStatus, note: string | null): Promise<Review> {
    return request("PUT", `/api/series/${encodeURIComponent(uid)}/review`, { status, note });
  },
  bulkReview(selection: Selection, status: ReviewStatus, note: string | null): Promise<ReviewBulkResult> {
    return request("POST", "/api/review", { selection, status, note });
  },
  reviewProgress(q: string, signal?: AbortSignal): Promise<ReviewProgress> {
    return request("GET", "/api/review/progress" + qs({ q }), undefined, signal);
  },
  // --- bias and clinical tables ---
  bias(body: { query: string; target: string | null; attributes: string[] | null }, signal?: AbortSignal): Promise<BiasResponse> {
    return request("POST", "/api/bias", body, signal);
  },
  compare(a: string, b: string, attributes: string[] | null, signal?: AbortSignal): Promise<CompareResponse> {
    return request("POST", "/api/bias/compare", { a, b, attributes }, signal);
  },
  clinicalTables(): Promise<{ items: ClinicalTable[] }> {
    return request("GET", "/api/clinical/tables");
  },
  importClinical(form: FormData): Promise<ClinicalImport> {
    return request("POST", "/api/clinical/tables", form);
  },
  removeClinical(name: string): Promise<{ name: string; series_count: number }> {
    return request("DELETE", `/api/clinical/tables/${encodeURIComponent(name)}`);
  },
  // --- users, sessions and API tokens ---
  me(): Promise<Me> {
    return request("GET", "/api/auth/me");
  },
  login(username: string, password: string): Promise<{ user: AuthUser }> {
    return request("POST", "/api/auth/login", { username, password });
  },
  logout(): Promise<void> {
    return request("POST", "/api/auth/logout");
  },
  users(): Promise<{ items: UserRecord[] }> {
    return request("GET", "/api/users");
  },
  createUser(name: string, role: Role, password: string): Promise<UserRecord> {
    return request("POST", "/api/users", { name, role, password });
  },
  updateUser(name: string, change: { role?: Role; password?: string; disabled?: boolean }): Promise<UserRecord> {
    return request("PATCH", `/api/users/${encodeURIComponent(name)}`, change);
  },
  deleteUser(name: string): Promise<void> {
    return request("DELETE", `/api/users/${encodeURIComponent(name)}`);
  },
  tokens(): Promise<{ items: TokenRecord[] }> {
    return request("GET", "/api/tokens");
  },
  createToken(name: string, scope: TokenScope, expiresInDays: number | null): Promise<{ token: string; item: TokenRecord }> {
    return request("POST", "/api/tokens", { name, scope, expires_in_days: expiresInDays });
  },
  revokeToken(id: string): Promise<void> {
    return request("DELETE", `/api/tokens/${encodeURIComponent(id)}`);
  },
  // --- projects and the access log ---
  projects(): Promise<{ items: Project[] }> {
    return request("GET", "/api/projects");
  },
  createProject(name: string, description: string, aeTitle: string | null): Promise<Project> {
    return request("POST", "/api/projects", { name, description, ae_title: aeTitle });
  },
  updateProject(name: string, change: { description?: string; ae_title?: string | null }): Promise<Project> {
    return request("PATCH", `/api/projects/${encodeURIComponent(name)}`, change);
  },
  deleteProject(name: string): Promise<void> {
    return request("DELETE", `/api/projects/${encodeURIComponent(name)}`);
  },
  projectMembers(name: string, add: string[], remove: string[]): Promise<Project> {
    return request("POST", `/api/projects/${encodeURIComponent(name)}/members`, { add, remove });
  },
  projectAction(name: string, action: "add" | "remove", selection: Selection): Promise<BulkResult> {
    return request("POST", `/api/projects/${encodeURIComponent(name)}/${action}`, { selection });
  },
  accessLog(filter: AccessFilter, signal?: AbortSignal): Promise<{ items: AccessEntry[] }> {
    return request("GET", "/api/access-log" + qs({ ...filter }), undefined, signal);
  },
};
