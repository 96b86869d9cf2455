// Who is signed in, and what their role lets the UI offer (docs/ui.md "Signing in, tokens
// and users"). The server decides (401 unauthenticated, 403 forbidden); the UI only hides or
// disables what the role cannot use so nobody clicks into a refusal.
//
// Auth "off" (a laptop: no users in the catalog, the server on loopback) changes nothing:
// everything is offered, as before. Auth "on": the app starts once someone is signed in,
// and any 401 (an expired or revoked session) puts the sign-in page over it again.
import { reactive } from "vue";
import { api, ApiError, authEvents, features, type AuthUser, type Role, type TokenScope } from "./api/client";

export type { AuthUser, Role, TokenScope };

export const ROLES: Role[] = ["viewer", "curator", "admin"];
export const ROLE_TEXT: Record<Role, string> = {
  viewer: "searches and looks at series, charts and images",
  curator: "also tags, datasets, review, workflows, de-identified export",
  admin: "also users, deletion, identified export, settings",
};
const ARTICLE: Record<string, string> = { viewer: "a", curator: "a", admin: "an" };

export const auth = reactive({
  /** null until GET /api/auth/me has answered */
  mode: null as "on" | "off" | null,
  user: null as AuthUser | null,
  /** a request was refused with 401: the sign-in page shows over the app */
  expired: false,
  /** the app (App.vue) has been mounted with someone signed in */
  started: false,
  /** the open auth page: none, the API tokens, or (admins) the users, projects, access log */
  page: null as "tokens" | "users" | "projects" | "access-log" | null,
  /** why /api/auth/me could not be read (the app then starts as before) */
  problem: null as string | null,
});

const RANK: Record<Role, number> = { viewer: 0, curator: 1, admin: 2 };

/** whether the signed-in user's role includes `needed` (always, with auth off) */
export function hasRole(needed: Role): boolean {
  if (auth.mode !== "on") return true;
  const role = auth.user?.role;
  return role !== undefined && role in RANK && RANK[role] >= RANK[needed];
}

/** what a role needs for an operation's declared permission (`x-radcurate-permission`) */
const PERMISSION_ROLE: Record<string, Role | null> = { public: null, read: "viewer", curate: "curator", admin: "admin" };

/** whether the signed-in user may use an operation that declares `permission` */
export function permits(permission: string): boolean {
  const needed = PERMISSION_ROLE[permission];
  return needed === null || hasRole(needed ?? "admin");
}
features.allow = permits;

/** tags, datasets, review, workflows: the curator role or above */
export function canCurate(): boolean {
  return hasRole("curator");
}

export function isAdmin(): boolean {
  return auth.mode === "on" && hasRole("admin");
}

/** the tooltip of a control the role cannot use */
export function needsRole(needed: Role): string {
  const role = auth.user?.role ?? "none";
  return `Needs the ${needed} role (you are ${ARTICLE[role] ?? "a"} ${role}): ask an admin`;
}

/** the token scopes a role may create: a token never does more than its owner */
export function scopesFor(role: Role | undefined): TokenScope[] {
  if (role === "admin") return ["read", "write", "admin"];
  if (role === "curator") return ["read", "write"];
  return ["read"];
}

/** Whether the app may start: auth off, or someone is signed in. */
export function signedIn(): boolean {
  return auth.mode === "off" || auth.user !== null;
}

/** Reads GET /api/auth/me. A server without it (older radcurate) counts as auth off. */
export async function loadMe(): Promise<void> {
  try {
    const me = await api.me();
    auth.mode = me.auth === "on" ? "on" : "off";
    auth.user = me.user ?? null;
  } catch (error) {
    auth.mode = "off";
    auth.user = null;
    if (!(error instanceof ApiError && error.status === 404)) {
      auth.problem = error instanceof Error ? error.message : String(error);
    }
  }
}

/** Signs in; returns null, or what to tell the user. The password is sent once, in the
 * body of a POST, and kept nowhere. */
export async function signIn(username: string, password: string): Promise<string | null> {
  if (!username.trim() || !password) return "Enter your user name and password.";
  try {
    const answer = await api.login(username.trim(), password);
    const before = auth.user?.name ?? null;
    auth.user = answer.user;
    auth.mode = "on";
    if (auth.started && before !== null && before !== answer.user.name) {
      // someone else took over an open app: start over on the same view (the URL keeps
      // the query, sort and open series), with their settings and nothing of the last user
      location.reload();
      return null;
    }
    auth.expired = false; // src/components/AuthGate.vue asks again what failed meanwhile
    return null;
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) return "Wrong user name or password.";
    if (error instanceof ApiError) return error.message;
    if (error instanceof TypeError) return "The radcurate server cannot be reached. Try again in a moment.";
    return error instanceof Error ? error.message : String(error);
  }
}

/** Signs out (the server forgets the session) and shows the sign-in page, with nothing
 * of the last view left in the page: the app is loaded again from the start. */
export async function signOut(): Promise<void> {
  try {
    await api.logout();
  } catch {
    /* the session is gone either way once the page is reloaded without it */
  }
  auth.user = null;
  location.replace(location.pathname);
}

// a 401 anywhere (a session that expired or was revoked) asks for a sign-in over the app
authEvents.unauthenticated = () => {
  auth.mode = "on";
  auth.expired = true;
  auth.page = null;
};
