// Client-side helpers over the query language (docs/query-language.md): the server parses;
// this only splits text into top-level terms (chips) and finds the word being typed.

/** Top-level units of a query: words, phrases, (groups), field:[ranges], operators. */
export function units(text: string): string[] {
  const out: string[] = [];
  let i = 0;
  const n = text.length;
  while (i < n) {
    while (i < n && /\s/.test(text[i])) i++;
    if (i >= n) break;
    const start = i;
    let depth = 0;
    let inQuote = false;
    let inRange = false;
    while (i < n) {
      const c = text[i];
      if (c === "\\") {
        i += 2;
        continue;
      }
      if (inQuote) {
        if (c === '"') inQuote = false;
      } else if (c === '"') inQuote = true;
      else if (c === "(") depth++;
      else if (c === ")") depth = Math.max(0, depth - 1);
      else if ((c === "[" || c === "{") && text[i - 1] === ":") inRange = true;
      else if (inRange && (c === "]" || c === "}")) inRange = false;
      else if (/\s/.test(c) && depth === 0 && !inRange) break;
      i++;
    }
    out.push(text.slice(start, Math.min(i, n)));
  }
  return out;
}

/** The AND-ed terms of a query as chips, or the whole query as one chip if it has a top-level OR. */
export function chips(text: string): string[] {
  const parts = units(text.trim());
  if (parts.includes("OR")) return parts.length ? [text.trim()] : [];
  const out: string[] = [];
  for (let i = 0; i < parts.length; i++) {
    if (parts[i] === "AND") continue;
    if (parts[i] === "NOT" && i + 1 < parts.length) {
      out.push("NOT " + parts[++i]);
      continue;
    }
    out.push(parts[i]);
  }
  return out;
}

export function withoutChip(text: string, index: number): string {
  const all = chips(text);
  if (all.length === 1 && all[0] === text.trim()) return "";
  return all.filter((_, i) => i !== index).join(" ");
}

/** A value written so the parser reads it literally. */
export function quoteValue(value: unknown): string {
  const text = String(value);
  if (text !== "" && /^[\w.\-+^/@]+$/.test(text) && !/^(AND|OR|NOT|TO)$/.test(text)) return text;
  return '"' + text.replace(/\\/g, "\\\\").replace(/"/g, '\\"') + '"';
}

/** Adds a term unless the query already has it. */
export function addTerm(text: string, term: string): string {
  const current = chips(text);
  if (current.includes(term)) return text;
  const trimmed = text.trim();
  if (!trimmed || trimmed === "*") return term;
  return units(trimmed).includes("OR") ? `(${trimmed}) ${term}` : `${trimmed} ${term}`;
}

export interface TokenContext {
  start: number; // where the word being typed starts
  end: number;
  field: string | null; // Field: before the value, if any
  prefix: string; // what has been typed of the name or value
  negated: boolean;
}

/** The word under the caret: a field name being typed, or a value after `Field:`. */
export function tokenAt(text: string, caret: number): TokenContext {
  let start = caret;
  while (start > 0 && !/[\s()]/.test(text[start - 1])) start--;
  let end = caret;
  while (end < text.length && !/[\s()]/.test(text[end])) end++;
  let word = text.slice(start, caret);
  let negated = false;
  if (word.startsWith("-")) {
    negated = true;
    word = word.slice(1);
    start += 1;
  }
  const colon = word.indexOf(":");
  if (colon > 0) {
    let prefix = word.slice(colon + 1).replace(/^(<=|>=|<|>)/, "");
    if (prefix.startsWith('"')) prefix = prefix.slice(1);
    return { start, end, field: word.slice(0, colon), prefix, negated };
  }
  return { start, end, field: null, prefix: word, negated };
}
