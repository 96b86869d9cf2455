// Smooth scrolling of the viewer (issue 19, docs/viewer.md "Scrolling"): slices are fetched
// ahead as decoded Image objects, and the viewer's <img> only ever switches to a slice that
// is already loaded, so a scroll faster than the server paints every slice that arrives
// instead of cancelling each request before it ends (0 slices/s painted before, at 60 key
// presses/s on a 512² CT).
//
// - latest wins: the slice asked for now loads first, then its neighbours in the direction
//   of the scroll (AHEAD), then a few behind (BEHIND);
// - at most PARALLEL requests at a time; a request of another plane or window, or far
//   from the slice asked for, is cancelled (its Image's src is cleared); one on the way
//   is kept (painted as it arrives, or kept for a scroll back: the server renders a
//   request it has started whether or not the browser still waits for it);
// - the last CACHE loaded slices are kept (a scroll back is instant).

const PARALLEL = 5;
const AHEAD = 12;
const BEHIND = 3;
const CACHE = 300;

type Url = (index: number) => string;

interface Entry {
  index: number;
  image: HTMLImageElement;
  ready: boolean;
  failed: boolean;
}

export class SlicePrefetcher {
  private entries = new Map<string, Entry>();
  private wanted: string[] = [];
  private wantedIndices: number[] = [];
  /** called with a URL when it has loaded (the viewer may show it) */
  onReady: (url: string) => void = () => {};

  /** whether ``url`` is loaded and decoded (showing it paints at once) */
  ready(url: string): boolean {
    return !!this.entries.get(url)?.ready;
  }

  /** whether loading ``url`` failed (the viewer shows it to get the server's error) */
  failed(url: string): boolean {
    return !!this.entries.get(url)?.failed;
  }

  /** the viewer asks for ``index`` of ``count`` (``from`` on screen), moving by
   * ``direction``: load it, then around it; ``url`` names a slice of the current plane
   * and window (a URL not made by it now is another plane's or window's) */
  want(url: Url, index: number, count: number, direction: number, from: number | null): void {
    const order: number[] = [index];
    const step = direction < 0 ? -1 : 1;
    for (let k = 1; k <= AHEAD; k++) order.push(index + step * k);
    for (let k = 1; k <= BEHIND; k++) order.push(index - step * k);
    const indices = order.filter((i) => i >= 0 && i < count);
    this.wanted = indices.map(url);
    // a request the server has started costs it the same whether or not it is cancelled:
    // keep those of this plane and window near the way (they serve a scroll back)
    const reach = 2 * AHEAD + Math.abs((from ?? index) - index);
    const current = (key: string, entry: Entry): boolean => key === url(entry.index) && Math.abs(entry.index - index) <= reach;
    // cancel requests for slices no longer wanted (latest wins)
    for (const [key, entry] of this.entries) {
      if (!entry.ready && !entry.failed && !current(key, entry)) {
        entry.image.src = "";
        this.entries.delete(key);
      }
    }
    this.pump(indices);
  }

  private inFlight(): number {
    let n = 0;
    for (const entry of this.entries.values()) if (!entry.ready && !entry.failed) n++;
    return n;
  }

  private pump(indices: number[] = this.wantedIndices): void {
    this.wantedIndices = indices;
    this.wanted.forEach((key, k) => {
      if (this.inFlight() >= PARALLEL || this.entries.has(key)) return;
      const image = new Image();
      const entry: Entry = { index: indices[k], image, ready: false, failed: false };
      this.entries.set(key, entry);
      image.onload = () => {
        // decoded off the main thread before the <img> shows it
        image.decode().catch(() => undefined).finally(() => {
          if (this.entries.get(key) !== entry) return;
          entry.ready = true;
          this.trim();
          this.onReady(key);
          this.pump();
        });
      };
      image.onerror = () => {
        if (this.entries.get(key) !== entry) return;
        entry.failed = true;
        this.onReady(key);
        this.pump();
      };
      image.src = key;
    });
  }

  /** drop the oldest loaded slices over CACHE (a Map iterates in insertion order) */
  private trim(): void {
    let loaded = 0;
    for (const entry of this.entries.values()) if (entry.ready) loaded++;
    for (const [key, entry] of this.entries) {
      if (loaded <= CACHE) return;
      if (entry.ready && !this.wanted.includes(key)) {
        this.entries.delete(key);
        loaded--;
      }
    }
  }

  /** cancel everything (the viewer closes, or shows another series) */
  clear(): void {
    for (const entry of this.entries.values()) if (!entry.ready) entry.image.src = "";
    this.entries.clear();
    this.wanted = [];
    this.wantedIndices = [];
  }
}
