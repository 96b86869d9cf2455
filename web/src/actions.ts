// Bulk actions on the selection (server-side: a query plus include/exclude, never a loop).
import { api } from "./api/client";
import type { Selection } from "./api/contract";
import { state, targetSelection, isSelected, toast, reportError, saveSettings } from "./store";
import type { SeriesItem } from "./api/client";
import { canCurate, needsRole } from "./auth";

function tagsOf(item: SeriesItem): string[] {
  const fields = item.fields as Record<string, unknown>;
  const tags = item.tags ?? fields.tags;
  return Array.isArray(tags) ? tags.map(String) : [];
}

function setTags(item: SeriesItem, tags: string[]): void {
  item.tags = tags;
}

function affected(selection: Selection): SeriesItem[] {
  if (selection.query !== null) return state.items.filter((i) => isSelected(i.series_uid));
  const uids = new Set(selection.include);
  return state.items.filter((i) => uids.has(i.series_uid));
}

export async function tagSelection(name: string, action: "add" | "remove", selection: Selection): Promise<void> {
  try {
    const result = await api.tagAction(name, action, selection);
    for (const item of affected(selection)) {
      const tags = tagsOf(item).filter((t) => t !== name);
      setTags(item, action === "add" ? [...tags, name].sort() : tags);
    }
    state.revision++;
    toast(`${action === "add" ? "Tagged" : "Untagged"} ${result.changed.toLocaleString()} series ${action === "add" ? "with" : "from"} “${name}”`);
  } catch (error) {
    reportError(error);
  }
}

/** Keys 1-9: the n-th shortcut tag on or off for the series on screen (`uid`, the detail
 * view), else the selected, else the focused cards. */
export async function toggleShortcut(n: number, uid?: string): Promise<void> {
  if (!canCurate()) {
    toast(`Tagging: ${needsRole("curator")}`, "error");
    return;
  }
  const name = state.tagShortcuts[n - 1];
  if (!name) {
    toast(`No tag on key ${n}: add one in the tag bar`, "error");
    return;
  }
  const shown = uid ?? state.openSeries;
  if (shown) {
    // the series on screen: its tags as the server has them (it need not be a loaded card)
    try {
      const has = ((await api.series(shown)).tags ?? []).includes(name);
      await tagSelection(name, has ? "remove" : "add", { query: null, include: [shown], exclude: [] });
    } catch (error) {
      reportError(error);
    }
    return;
  }
  const target = targetSelection();
  if (!target) {
    toast("Select or focus a card first", "error");
    return;
  }
  const allHave = target.items.length > 0 && target.items.every((i) => tagsOf(i).includes(name));
  await tagSelection(name, allHave ? "remove" : "add", target.selection);
}

export async function datasetSelection(name: string, action: "add" | "remove", selection: Selection): Promise<void> {
  try {
    const result = await api.datasetAction(name, action, selection);
    for (const item of affected(selection)) {
      const current = Array.isArray(item.datasets) ? item.datasets.filter((d) => d !== name) : [];
      item.datasets = action === "add" ? [...current, name] : current;
    }
    state.revision++;
    toast(`${action === "add" ? "Added" : "Removed"} ${result.changed.toLocaleString()} series ${action === "add" ? "to" : "from"} dataset “${name}”`);
  } catch (error) {
    reportError(error);
  }
}

export function setShortcuts(names: string[]): void {
  state.tagShortcuts = names.slice(0, 9);
  void saveSettings();
}
