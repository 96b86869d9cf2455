// The viewer's W and L fields: what is typed applies to the picture once it is a usable window.
import { ref, watch, type Ref } from "vue";

type Field = number | string | null;

/** ``value`` as a number when it is one (and above ``above``, when given), else null */
export function usable(value: Field, above?: number): number | null {
  if (value === null || value === "") return null;
  const n = Number(value);
  return Number.isFinite(n) && (above === undefined || n > above) ? n : null;
}

/**
 * What the W and L fields hold while being typed, kept apart from the window shown: a width
 * above 0 and a level that is a number apply at once; a field cleared to type a new value, or
 * a width of 0, leaves the picture as it was instead of asking the server for a window it
 * refuses (a 400, and a broken picture, until the next key). A window set elsewhere (a drag,
 * a preset) shows in the fields.
 */
export function useWindowFields(width: Ref<number | null>, level: Ref<number | null>) {
  const widthField = ref<Field>(null);
  const levelField = ref<Field>(null);
  watch(width, (w) => { if (w !== widthField.value) widthField.value = w; }, { immediate: true });
  watch(level, (l) => { if (l !== levelField.value) levelField.value = l; }, { immediate: true });
  watch(widthField, (text) => { const w = usable(text, 0); if (w !== null) width.value = w; });
  watch(levelField, (text) => { const l = usable(text); if (l !== null) level.value = l; });
  return { widthField, levelField };
}
