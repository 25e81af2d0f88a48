/**
 * A time-series chart (uPlot) for the dashboard: times in the site's zone,
 * numbers per language, a window that may reach past the data (a quiet
 * value still shows the whole range), zoom by dragging across it, and a
 * note instead of an empty frame when the range holds no value.
 *
 * uPlot draws on a canvas and sets element styles from script only, which
 * the page's Content-Security-Policy allows.
 *
 * Long series stay smooth to zoom and pan: the chart keeps all the values it
 * is given but draws, for the window shown, at most each pixel column's
 * lowest and highest value (decimate.ts), and draws a line that has more
 * values than pixel columns one pixel wide: wider strokes of a zigzag that
 * dense show nothing more and cost many times the drawing time.
 */
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { h } from '../dom.js';
import type { Lang } from '../i18n.js';
import { fixed, stepDecimals, timeFull, timeTick } from './chart-format.js';
import { decimateMinMax } from './decimate.js';

export interface ChartSeries {
  readonly label: string;
  readonly color: string;
  readonly width?: number;
  readonly dash?: number[];
  /** fill under the line */
  readonly fill?: string;
  /** holds each value until the next (states, on/off values) */
  readonly stepped?: boolean;
}

export interface TrendChartOptions {
  readonly series: readonly ChartSeries[];
  readonly lang: Lang;
  readonly timeZone: string;
  /** a value in a readout, e.g. with its unit */
  readonly formatValue: (value: number) => string;
  /** fixed y range (ratios: 0 to 1); otherwise from the data */
  readonly yRange?: readonly [number, number];
  /** a y tick, when it differs from the plain number (percentages) */
  readonly formatTick?: (value: number, step: number) => string;
  readonly height?: number;
  /** charts with the same key move their cursors together */
  readonly syncKey?: string;
  /** the user dragged across a range: the page loads finer data for it */
  readonly onZoom?: (from: number, to: number) => void;
  /** said over the chart while the range holds no value */
  readonly emptyText: string;
  /** the readout's name for the time */
  readonly timeLabel: string;
  readonly testId?: string;
}

export type ChartData = readonly [readonly number[], ...(readonly (number | null)[])[]];

const MIN_WIDTH = 200;
/** with this many values or fewer in view, each is drawn as a dot too */
const SPARSE_POINTS = 40;
const AXIS_FONT = '13px system-ui, sans-serif';

let measurer: CanvasRenderingContext2D | null = null;
/** room for the widest tick label of the y axis, so long numbers are never cut */
function axisWidth(values: readonly string[] | undefined): number {
  if (!values || values.length === 0) return 40;
  measurer ??= document.createElement('canvas').getContext('2d');
  if (!measurer) return 60;
  measurer.font = AXIS_FONT;
  const widest = Math.max(...values.map((v) => measurer!.measureText(v).width));
  return Math.ceil(widest) + 18;
}

export class TrendChart {
  readonly el: HTMLElement;
  private readonly plotEl: HTMLElement;
  private readonly emptyEl: HTMLElement;
  private plot: uPlot | null = null;
  private window: [number, number] = [0, 1];
  /** every value given */
  private data: ChartData;
  /** what uPlot has: the data, or its decimation for the window shown */
  private shown: ChartData;
  private observer: ResizeObserver | null = null;
  private lastWidth = 0;

  constructor(private readonly opts: TrendChartOptions) {
    this.plotEl = h('div', { class: 'chart-plot' });
    this.emptyEl = h('p', { class: 'chart-empty' }, opts.emptyText);
    this.el = h('div', { class: 'chart', 'data-points': 0, ...(opts.testId ? { 'data-testid': opts.testId } : {}) });
    this.el.append(this.plotEl, this.emptyEl);
    this.data = [[], ...opts.series.map(() => [])] as unknown as ChartData;
    this.shown = this.data;
  }

  /** the chart is in the document: it takes its container's width and follows it */
  attach(): void {
    if (this.observer) return;
    this.observer = new ResizeObserver(() => this.resize());
    this.observer.observe(this.el);
    this.resize();
  }

  destroy(): void {
    this.observer?.disconnect();
    this.observer = null;
    this.plot?.destroy();
    this.plot = null;
  }

  /** the time range shown, ms */
  setWindow(from: number, to: number): void {
    this.window = [from, Math.max(to, from + 1)];
    if (!this.plot) return;
    this.showData(this.plot);
    this.plot.setScale('x', { min: this.window[0], max: this.window[1] });
  }

  setData(data: ChartData): void {
    this.data = data;
    let points = 0;
    for (let s = 1; s < data.length; s++) for (const v of data[s]!) if (v !== null) points++;
    this.el.dataset.points = String(points);
    this.emptyEl.hidden = points > 0;
    if (this.plot) {
      this.showData(this.plot, true);
      this.plot.setScale('x', { min: this.window[0], max: this.window[1] });
    }
  }

  /** the plot's pixel columns: the width of its drawing area (the chart's, until uPlot has laid it out) */
  private columns(plot: uPlot | null): number {
    return plot && plot.bbox.width > 0 ? plot.bbox.width / uPlot.pxRatio : this.lastWidth;
  }

  /** hands uPlot what it draws of the data for the window and width shown, when that changed */
  private showData(plot: uPlot, changed = false): void {
    const shown = decimateMinMax(this.data, this.window[0], this.window[1], this.columns(plot));
    if (!changed && shown === this.shown) return;
    this.shown = shown;
    plot.setData(shown as uPlot.AlignedData, false);
  }

  private resize(): void {
    const width = Math.max(MIN_WIDTH, Math.floor(this.el.clientWidth));
    if (this.el.clientWidth === 0 || width === this.lastWidth) return;
    this.lastWidth = width;
    const height = this.opts.height ?? 180;
    if (this.plot) {
      this.plot.setSize({ width, height });
      this.showData(this.plot);
    } else {
      this.shown = decimateMinMax(this.data, this.window[0], this.window[1], this.columns(null));
      this.plot = new uPlot(this.options(width, height), this.shown as uPlot.AlignedData, this.plotEl);
    }
  }

  private options(width: number, height: number): uPlot.Options {
    const { lang, timeZone, formatValue, yRange, formatTick } = this.opts;
    const axisStroke = '#46525f';
    const grid = { stroke: '#e1e6eb', width: 1 };
    const ticks = { stroke: '#c5ced8', width: 1, size: 4 };
    const linear = uPlot.paths.linear!();
    const stepped = uPlot.paths.stepped!({ align: 1 });
    return {
      width,
      height,
      ms: 1,
      tzDate: (ts) => uPlot.tzDate(new Date(ts), timeZone),
      legend: { show: true, live: true },
      cursor: {
        drag: { x: true, y: false, setScale: false },
        ...(this.opts.syncKey ? { sync: { key: this.opts.syncKey } } : {}),
      },
      scales: {
        x: { time: true, range: () => [this.window[0], this.window[1]] },
        y: yRange
          ? { range: [yRange[0], yRange[1]] }
          : {
              range: (_u, min, max) => {
                if (min === null || max === null || !Number.isFinite(min) || !Number.isFinite(max)) return [0, 1];
                if (min === max) {
                  const pad = Math.abs(min) * 0.05 || 1;
                  return [min - pad, max + pad];
                }
                const pad = (max - min) * 0.08;
                return [min - pad, max + pad];
              },
            },
      },
      axes: [
        {
          stroke: axisStroke,
          grid,
          ticks,
          font: AXIS_FONT,
          space: 70,
          values: (_u, splits, _i, _space, incr) => splits.map((ts) => timeTick(ts, incr, lang, timeZone)),
        },
        {
          stroke: axisStroke,
          grid,
          ticks,
          font: AXIS_FONT,
          size: (_u, values) => axisWidth(values),
          space: 28,
          values: (_u, splits, _i, _space, incr) =>
            splits.map((v) => (formatTick ? formatTick(v, incr) : fixed(v, stepDecimals(incr), lang))),
        },
      ],
      series: [
        { label: this.opts.timeLabel, value: (_u, ts) => (ts === null ? '—' : timeFull(ts, lang, timeZone)) },
        ...this.opts.series.map(
          (s): uPlot.Series => ({
            label: s.label,
            stroke: s.color,
            width: s.width ?? 2,
            ...(s.dash ? { dash: s.dash } : {}),
            ...(s.fill ? { fill: s.fill } : {}),
            paths: (u, si, i0, i1) => {
              const paths = (s.stepped ? stepped : linear)(u, si, i0, i1);
              // `_width` is how a path builder overrides the series' width for one drawing
              if (paths && i1 - i0 > this.columns(u)) (paths as uPlot.Series.Paths & { _width?: number })._width = 1;
              return paths;
            },
            spanGaps: false,
            // a few values (a fresh range, a bucket or two) show as dots: a line needs two neighbours
            points: {
              show: (u, si, i0, i1) => {
                const ys = u.data[si] ?? [];
                let n = 0;
                for (let i = i0; i <= i1 && n <= SPARSE_POINTS; i++) if (ys[i] != null) n++;
                return n <= SPARSE_POINTS;
              },
              size: 6,
            },
            value: (_u, v) => (v === null || v === undefined ? '—' : formatValue(v)),
          }),
        ),
      ],
      hooks: {
        setSelect: [
          (u) => {
            if (u.select.width < 5) return;
            const from = u.posToVal(u.select.left, 'x');
            const to = u.posToVal(u.select.left + u.select.width, 'x');
            u.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false);
            if (to > from) this.opts.onZoom?.(Math.round(from), Math.round(to));
          },
        ],
      },
    };
  }
}
