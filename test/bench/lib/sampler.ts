/**
 * CPU and memory of a process over a measurement window: this process
 * through process.cpuUsage() / process.memoryUsage(), a child process
 * through /proc/<pid>/stat and /proc/<pid>/status (Linux).
 *
 * CPU % is of one core: 100 % = one core busy for the whole window.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

export interface UsageReport {
  readonly wallSeconds: number;
  readonly cpuSeconds: number;
  /** of one core */
  readonly cpuPercent: number;
  readonly rssAvgMB: number;
  readonly rssPeakMB: number;
  readonly samples: number;
}

let clockTicks: number | undefined;
function ticksPerSecond(): number {
  if (clockTicks === undefined) {
    try {
      clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      clockTicks = 100;
    }
  }
  return clockTicks;
}

/** CPU seconds (user + system) a process has used so far. */
export function cpuSecondsOf(pid: number | 'self'): number {
  if (pid === 'self') {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1e6;
  }
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // the command name (field 2) may hold spaces: count fields after its closing parenthesis
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  return (utime + stime) / ticksPerSecond();
}

/** Resident set size, MB. */
export function rssMBOf(pid: number | 'self'): number {
  if (pid === 'self') return process.memoryUsage().rss / 2 ** 20;
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
  return m ? Number(m[1]) / 1024 : Number.NaN;
}

export class UsageSampler {
  private timer: NodeJS.Timeout | null = null;
  private startWall = 0;
  private startCpu = 0;
  private rssSum = 0;
  private rssPeak = 0;
  private n = 0;

  constructor(
    private readonly pid: number | 'self',
    private readonly everyMs = 250,
  ) {}

  start(): void {
    this.startWall = performance.now();
    this.startCpu = cpuSecondsOf(this.pid);
    this.rssSum = 0;
    this.rssPeak = 0;
    this.n = 0;
    this.sampleRss();
    this.timer = setInterval(() => this.sampleRss(), this.everyMs);
  }

  stop(): UsageReport {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.sampleRss();
    const wallSeconds = (performance.now() - this.startWall) / 1000;
    const cpuSeconds = cpuSecondsOf(this.pid) - this.startCpu;
    return {
      wallSeconds,
      cpuSeconds,
      cpuPercent: (100 * cpuSeconds) / wallSeconds,
      rssAvgMB: this.n ? this.rssSum / this.n : Number.NaN,
      rssPeakMB: this.rssPeak,
      samples: this.n,
    };
  }

  private sampleRss(): void {
    try {
      const rss = rssMBOf(this.pid);
      if (!Number.isFinite(rss)) return;
      this.rssSum += rss;
      this.n++;
      if (rss > this.rssPeak) this.rssPeak = rss;
    } catch {
      // the process is gone
    }
  }
}
