// The viewer's facts about a series (GET /api/series/{uid}/views, docs/rendering.md "Viewer
// views"): which controls apply, each plane's slices and orientation markers, an SR's text.
import { features } from "./api/client";

export type Edge = "top" | "bottom" | "left" | "right";
export const EDGES: Edge[] = ["top", "bottom", "left", "right"];

export interface PlaneView {
  available: boolean;
  count: number;
  index: number;
  markers: Partial<Record<Edge, string>> | null;
  reason: string | null;
  native_order: boolean;
  /** each slice's markers when the slices lie in several orientations (a localizer) */
  slice_markers?: (Partial<Record<Edge, string>> | null)[] | null;
}

export interface SeriesViews {
  kind: string;
  greyscale: boolean;
  undecodable: boolean;
  reason: string | null;
  planes: Record<string, PlaneView>;
  text: string[];
}

/** the views of a series, or null when the server has no such endpoint or cannot answer */
export async function fetchViews(uid: string): Promise<SeriesViews | null> {
  if (!features.has("GET", "/api/series/{series_uid}/views")) return null;
  try {
    const response = await fetch("/api/series/" + encodeURIComponent(uid) + "/views", { headers: { Accept: "application/json" } });
    if (!response.ok) return null;
    return (await response.json()) as SeriesViews;
  } catch {
    return null;
  }
}

/** an SR line's indent (leading spaces) and text, for selectable text with the tree's depth */
export function srLine(line: string): { depth: number; text: string } {
  const text = line.trimStart();
  return { depth: Math.floor((line.length - text.length) / 2), text };
}
