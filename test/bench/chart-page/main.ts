/**
 * The dashboard's own trend chart (dashboard/src/charts/trend-chart.ts) with
 * many series of many points, driven from test/bench/dashboard.bench.ts: it
 * renders once, then zooms, pans and moves the cursor every frame while the
 * frame times are taken. Built by Vite like the dashboard, with its styles.
 */
import '../../../dashboard/src/styles.css';
import '../../../dashboard/src/pages.css';
import { type ChartData, TrendChart } from '../../../dashboard/src/charts/trend-chart.js';

export interface RenderResult {
  readonly series: number;
  readonly pointsPerSeries: number;
  /** setData on an attached chart: the synchronous part, ms */
  readonly setDataMs: number;
  /** from creating the chart to the first frame after it is drawn, ms */
  readonly firstFrameMs: number;
}

export interface InteractionResult {
  /** requestAnimationFrame deltas, ms */
  readonly frameMs: number[];
  /** per frame: the new window and cursor until the chart has redrawn, ms */
  readonly workMs: number[];
  /** the zoom range reached: the narrowest window as a share of the whole */
  readonly narrowest: number;
}

declare global {
  interface Window {
    chartBench: {
      render(series: number, points: number): Promise<RenderResult>;
      interact(durationMs: number): Promise<InteractionResult>;
    };
  }
}

const COLORS = ['#1f6fd0', '#c2410c', '#157a43', '#7c3aed', '#b45309', '#0e7490', '#be185d', '#4d7c0f'];
const STEP_MS = 1000;
const START = Date.UTC(2025, 2, 3, 0, 0, 0);

let chart: TrendChart | null = null;
let span: [number, number] = [0, 1];

const nextFrame = () => new Promise<number>((resolve) => requestAnimationFrame(resolve));
/** after the frame that follows: the one in which the chart's drawing is shown */
const afterPaint = () => new Promise<void>((resolve) => requestAnimationFrame(() => setTimeout(resolve, 0)));

/** a process value: a slow drift, a daily swing, noise, a few steps and short gaps (a device that did not answer) */
function makeData(series: number, points: number): ChartData {
  const xs = new Array<number>(points);
  for (let i = 0; i < points; i++) xs[i] = START + i * STEP_MS;
  const out: (number | null)[][] = [];
  let seed = 12345;
  const random = () => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed / 2147483648;
  };
  for (let s = 0; s < series; s++) {
    const ys = new Array<number | null>(points);
    let level = 50 + s * 10;
    for (let i = 0; i < points; i++) {
      if (i % 7919 === 100 + s * 13) level += (random() - 0.5) * 20;
      const gap = i % 9973 >= 5000 && i % 9973 < 5030 + s;
      ys[i] = gap ? null : level + 8 * Math.sin((i / points) * Math.PI * 6 + s) + (random() - 0.5) * 3;
    }
    out.push(ys);
  }
  return [xs, ...out] as unknown as ChartData;
}

async function render(series: number, points: number): Promise<RenderResult> {
  const data = makeData(series, points);
  const box = document.getElementById('chart-box')!;
  span = [START, START + (points - 1) * STEP_MS];
  await afterPaint();
  const started = performance.now();
  chart = new TrendChart({
    series: Array.from({ length: series }, (_, s) => ({ label: `Tag ${s + 1}`, color: COLORS[s % COLORS.length]! })),
    lang: 'en',
    timeZone: 'Asia/Hong_Kong',
    formatValue: (v) => `${v.toFixed(1)} °C`,
    height: 320,
    emptyText: 'No values in this range',
    timeLabel: 'Time',
    testId: 'bench-chart',
  });
  box.replaceChildren(chart.el);
  chart.attach();
  chart.setWindow(span[0], span[1]);
  const before = performance.now();
  chart.setData(data);
  const setDataMs = performance.now() - before;
  await afterPaint();
  return { series, pointsPerSeries: points, setDataMs, firstFrameMs: performance.now() - started };
}

/**
 * For `durationMs`: the first third zooms in from the whole range to 1 % of
 * it, the second pans that window across the range, the last zooms out
 * again; the cursor sweeps across the plot all the while.
 */
async function interact(durationMs: number): Promise<InteractionResult> {
  if (!chart) throw new Error('render first');
  const c = chart;
  const over = c.el.querySelector<HTMLElement>('.u-over');
  if (!over) throw new Error('the chart has no plot area');
  const box = over.getBoundingClientRect();
  const [lo, hi] = span;
  const whole = hi - lo;
  const frameMs: number[] = [];
  const workMs: number[] = [];
  let narrowest = 1;
  let last = await nextFrame();
  const started = last;
  await new Promise<void>((done) => {
    const frame = (now: number) => {
      frameMs.push(now - last);
      last = now;
      const p = (now - started) / durationMs;
      if (p >= 1) {
        done();
        return;
      }
      const t0 = performance.now();
      const third = Math.min(2, Math.floor(p * 3));
      const q = p * 3 - third;
      let width: number;
      let centre: number;
      if (third === 0) {
        width = whole * 0.01 ** q;
        centre = lo + whole / 2;
      } else if (third === 1) {
        width = whole * 0.01;
        centre = lo + width / 2 + (whole - width) * q;
      } else {
        width = whole * 0.01 ** (1 - q);
        centre = Math.min(hi - width / 2, Math.max(lo + width / 2, hi - whole * 0.005));
      }
      narrowest = Math.min(narrowest, width / whole);
      c.setWindow(Math.round(centre - width / 2), Math.round(centre + width / 2));
      const x = box.left + 1 + ((frameMs.length * 7) % Math.max(1, Math.floor(box.width - 2)));
      over.dispatchEvent(new MouseEvent('mousemove', { clientX: x, clientY: box.top + box.height / 2, bubbles: true }));
      // the chart redraws in a microtask queued by the calls above: this one runs after it
      queueMicrotask(() => workMs.push(performance.now() - t0));
      requestAnimationFrame(frame);
    };
    requestAnimationFrame(frame);
  });
  return { frameMs: frameMs.slice(1), workMs, narrowest };
}

window.chartBench = { render, interact };
