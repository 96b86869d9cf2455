// Projects in the UI (docs/ui.md "Projects"): the projects the user can see (an admin: all),
// the one the view is narrowed to (`state.project`, `?project=` in the URL; the store adds
// `project:NAME` to every query it sends), and what an admin does with them.
//
// The server restricts a non-admin to their projects whatever the UI sends
// (src/radcurate/server/scope.py): narrowing here is for convenience, not for safety.
import { reactive } from "vue";
import { api, features, type Project } from "./api/client";
import type { Selection } from "./api/contract";
import { state, runQuery, toast, reportError } from "./store";
import { auth, isAdmin } from "./auth";

export const projects = reactive({
  items: [] as Project[],
  loaded: false,
});

/** whether the server has projects at all (an older radcurate has none) */
export function hasProjects(): boolean {
  return features.has("GET", "/api/projects");
}

/** projects and the access log are managed by admins (signed in: auth on) */
export function canManageProjects(): boolean {
  return isAdmin() && features.has("POST", "/api/projects");
}

/** Reads the projects the user can see (quietly: the switcher is only a convenience). */
export async function loadProjects(): Promise<void> {
  if (!hasProjects()) return;
  try {
    projects.items = (await api.projects()).items;
  } catch {
    projects.items = [];
  }
  projects.loaded = true;
}

/** what "no project chosen" means for this user */
export function allLabel(): string {
  return auth.mode === "on" && !isAdmin() ? "All my projects" : "All series";
}

/** Narrows the view to a project (null: all), as a new entry in the history. */
export function chooseProject(name: string | null): void {
  if ((name || null) === state.project) return;
  state.project = name || null;
  void runQuery();
}

/** Puts a selection into a project, or takes it out (admins). */
export async function projectSelection(name: string, action: "add" | "remove", selection: Selection): Promise<boolean> {
  try {
    const result = await api.projectAction(name, action, selection);
    state.revision++;
    toast(`${action === "add" ? "Added" : "Removed"} ${result.changed.toLocaleString()} series ${action === "add" ? "to" : "from"} project “${name}”`);
    void loadProjects();
    if (state.project === name) void runQuery(); // the narrowed view gains or loses them
    return true;
  } catch (error) {
    reportError(error);
    return false;
  }
}
