// The Run-workflow dialog's state and what it runs on.
import { reactive } from "vue";
import { features } from "./api/client";
import type { Selection } from "./api/contract";
import { selectionCount, currentSelection, sentQuery } from "./store";
import { canCurate } from "./auth";

export const runDialog = reactive({
  open: false,
  /** the selection (selected cards, or all matches) or every match of the query */
  target: "selection" as "selection" | "query",
});

export function canRunWorkflows(): boolean {
  return features.has("GET", "/api/workflows") && features.hasLike("POST", "/api/workflows/{}/runs") && canCurate();
}

/** Opens the dialog on the selection when there is one, else on the current query. */
export function openRunDialog(target?: "selection" | "query"): void {
  runDialog.target = target ?? (selectionCount.value > 0 ? "selection" : "query");
  runDialog.open = true;
}

/** What a run acts on, as the API takes it (never a list of every uid). */
export function runSelection(target: "selection" | "query"): Selection {
  if (target === "selection") return currentSelection();
  return { query: sentQuery(), include: [], exclude: [] };
}
