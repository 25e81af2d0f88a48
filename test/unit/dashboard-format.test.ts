import { describe, expect, it } from 'vitest';
import {
  formatClock,
  formatCount,
  formatDuration,
  formatPercent,
  formatPeriod,
  formatSignificant,
} from '../../dashboard/src/format.js';
import { translator } from '../../dashboard/src/i18n.js';

const en = translator('en');
const zh = translator('zh-Hant');

describe('dashboard number formats', () => {
  it('shows ratios as percentages with one decimal', () => {
    expect(formatPercent(0.747937, 'en')).toBe('74.8%');
    expect(formatPercent(0.888095, 'zh-Hant')).toBe('88.8%');
    expect(formatPercent(1, 'en')).toBe('100.0%');
    expect(formatPercent(0, 'en')).toBe('0.0%');
    // raw performance may exceed 100 %
    expect(formatPercent(1.0432, 'en')).toBe('104.3%');
  });

  it('shows intensities with three significant digits whatever their size', () => {
    expect(formatSignificant(0.052349, 'en')).toBe('0.0523');
    expect(formatSignificant(0.5, 'en')).toBe('0.500');
    expect(formatSignificant(12.44, 'en')).toBe('12.4');
    expect(formatSignificant(1234.5, 'en')).toBe('1,230');
    expect(formatSignificant(0, 'en')).toBe('0');
    expect(formatSignificant(0.000123456, 'zh-Hant')).toBe('0.000123');
  });

  it('groups whole counts', () => {
    expect(formatCount(18848, 'en')).toBe('18,848');
    expect(formatCount(0, 'en')).toBe('0');
    expect(formatCount(1234567, 'zh-Hant')).toBe('1,234,567');
  });
});

describe('dashboard durations', () => {
  it('counts seconds for the first minute and minutes with seconds for the first hour', () => {
    expect(formatDuration(0, en)).toBe('0 s');
    expect(formatDuration(-5000, en)).toBe('0 s');
    expect(formatDuration(59_999, en)).toBe('59 s');
    expect(formatDuration(61_000, en)).toBe('1 min 1 s');
    expect(formatDuration(3_599_000, en)).toBe('59 min 59 s');
  });

  it('then hours with minutes, and days with hours after two days', () => {
    expect(formatDuration(3_600_000, en)).toBe('1 h 0 min');
    expect(formatDuration((25 * 60 + 7) * 60_000 + 30_000, en)).toBe('25 h 7 min');
    expect(formatDuration(50 * 3_600_000, en)).toBe('2 d 2 h');
  });

  it('speaks Traditional Chinese', () => {
    expect(formatDuration(75_000, zh)).toBe('1 分 15 秒');
    expect(formatDuration(2 * 3_600_000 + 5 * 60_000, zh)).toBe('2 小時 5 分');
  });
});

describe('dashboard times', () => {
  // 2025-03-01 07:00 and 19:00 in Hong Kong (UTC+8)
  const from = Date.UTC(2025, 2, 1, 7 - 8, 0);
  const to = Date.UTC(2025, 2, 1, 19 - 8, 0);

  it('shows a period in the site time zone, the date once when both ends share it', () => {
    const text = formatPeriod(from, to, 'Asia/Hong_Kong', 'en');
    expect(text).toMatch(/07:00/);
    expect(text).toMatch(/19:00/);
    expect(text).toMatch(/Mar/);
    expect(text.match(/Mar/g)?.length).toBe(1);
    // the same instants read in another zone give other clock times
    expect(formatPeriod(from, to, 'UTC', 'en')).toMatch(/23:00.*11:00/);
  });

  it('names both dates when a night shift crosses midnight', () => {
    const nightEnd = Date.UTC(2025, 2, 2, 7 - 8, 0);
    const text = formatPeriod(to, nightEnd, 'Asia/Hong_Kong', 'en');
    expect(text).toMatch(/1.*19:00.*2.*07:00/);
  });

  it('shows a clock time in 24 hours', () => {
    expect(formatClock(to + 32 * 60_000, 'Asia/Hong_Kong', 'en')).toBe('19:32');
    expect(formatClock(from, 'Asia/Hong_Kong', 'zh-Hant')).toBe('07:00');
  });
});
