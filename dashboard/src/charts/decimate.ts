/**
 * What a chart draws of a long series: a pixel column shows one vertical
 * stroke at most, so for each column only the lowest and the highest value
 * of every series matter (in the order they came). Handing the chart those
 * two instead of thousands keeps zooming and panning smooth on long ranges;
 * the full data stays with the chart for the next window.
 *
 * The data is uPlot's aligned form: ascending times, then one array of
 * values per series, `null` where a series has no value (a gap).
 */

export type AlignedData = readonly [readonly number[], ...(readonly (number | null)[])[]];

/** index of the first time ≥ t, or with `after` > t (xs.length when none) */
export function firstAtOrAfter(xs: readonly number[], t: number, after = false): number {
  let lo = 0;
  let hi = xs.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (xs[mid]! < t || (after && xs[mid] === t)) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * The data to draw for the window [from, to] on `columns` pixel columns.
 * Unchanged (the same object) when the window holds at most two values per
 * column: nothing would be saved. Otherwise, per column that holds any time,
 * two points: the column's first and last time, with each series' lowest
 * and highest value there in the order they came (a series with no value in
 * the column keeps its gap: null). The nearest point outside the window on
 * each side is kept as it is, so lines run on to the chart's edges.
 */
export function decimateMinMax<D extends AlignedData>(data: D, from: number, to: number, columns: number): D {
  const xs = data[0];
  const cols = Math.floor(columns);
  if (!(cols > 0) || !(to > from)) return data;
  const i0 = firstAtOrAfter(xs, from);
  const end = firstAtOrAfter(xs, to, true); // one past the last time ≤ to
  if (end - i0 <= 2 * cols) return data;

  const seriesCount = data.length - 1;
  const outX: number[] = [];
  const outY: (number | null)[][] = Array.from({ length: seriesCount }, () => []);
  const keep = (i: number) => {
    outX.push(xs[i]!);
    for (let s = 0; s < seriesCount; s++) outY[s]!.push(data[s + 1]![i] ?? null);
  };

  if (i0 > 0) keep(i0 - 1);
  const width = (to - from) / cols;
  let i = i0;
  for (let c = 0; c < cols && i < end; c++) {
    // the column's times: [start, next), the last column closed at `to`
    const next = c === cols - 1 ? end : firstAtOrAfter(xs, from + (c + 1) * width);
    if (next <= i) continue;
    const first = i;
    const last = next - 1;
    if (first === last) {
      keep(first);
      i = next;
      continue;
    }
    outX.push(xs[first]!, xs[last]!);
    for (let s = 0; s < seriesCount; s++) {
      const ys = data[s + 1]!;
      let minAt = -1;
      let maxAt = -1;
      let min = Number.POSITIVE_INFINITY;
      let max = Number.NEGATIVE_INFINITY;
      for (let k = first; k <= last; k++) {
        const v = ys[k];
        if (v === null || v === undefined) continue;
        if (v < min) {
          min = v;
          minAt = k;
        }
        if (v > max) {
          max = v;
          maxAt = k;
        }
      }
      const out = outY[s]!;
      if (minAt < 0) out.push(null, null);
      else if (minAt <= maxAt) out.push(min, max);
      else out.push(max, min);
    }
    i = next;
  }
  if (end < xs.length) keep(end);
  return [outX, ...outY] as unknown as D;
}
