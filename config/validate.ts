/**
 * Cross-reference checks the schema cannot express: ids that must exist, ids
 * that must be unique, periods that must not overlap. They run on the raw
 * document as well as it can be read, so one run reports every problem, even
 * when some parts also fail the schema.
 */
import type { ConfigProblem } from './errors.js';
import { formatPath } from './errors.js';

type Rec = Record<string, unknown>;
type Path = (string | number)[];

const isRec = (v: unknown): v is Rec => typeof v === 'object' && v !== null && !Array.isArray(v);
const list = (v: unknown): Rec[] => (Array.isArray(v) ? v.map((x) => (isRec(x) ? x : {})) : []);
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

const NUMERIC_TYPES = new Set(['int16', 'uint16', 'int32', 'uint32', 'int64', 'uint64', 'float32', 'float64']);

interface TagInfo {
  path: Path;
  deviceId: string | undefined;
  type: string | undefined;
}

export function crossCheck(doc: unknown): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const add = (path: Path, message: string, hint?: string) =>
    problems.push(hint === undefined ? { path: formatPath(path), message } : { path: formatPath(path), message, hint });
  if (!isRec(doc)) return problems;

  /** registers ids of one kind, reporting duplicates; returns the id set */
  const uniqueIds = (items: { id: unknown; path: Path }[], kind: string): Map<string, Path> => {
    const seen = new Map<string, Path>();
    for (const { id, path } of items) {
      if (typeof id !== 'string') continue;
      const first = seen.get(id);
      if (first)
        add(
          [...path, 'id'],
          `duplicate ${kind} id "${id}"`,
          `already used at ${formatPath(first)}; ${kind} ids must be unique`,
        );
      else seen.set(id, path);
    }
    return seen;
  };

  const known = (ids: Map<string, unknown>, kind: string) => {
    const names = [...ids.keys()];
    return (value: unknown, path: Path) => {
      if (typeof value !== 'string' || ids.has(value)) return;
      const close = closest(value, names);
      add(
        path,
        `unknown ${kind} "${value}"`,
        close
          ? `did you mean "${close}"?`
          : names.length
            ? `known ${kind}s: ${preview(names)}`
            : `declare the ${kind} first`,
      );
    };
  };

  // ----- ids -----
  const areas = uniqueIds(
    list(doc.areas).map((a, i) => ({ id: a.id, path: ['areas', i] })),
    'area',
  );
  const lines = list(doc.lines);
  const lineIds = uniqueIds(
    lines.map((l, i) => ({ id: l.id, path: ['lines', i] })),
    'line',
  );
  const machineIds = uniqueIds(
    lines.flatMap((l, i) => list(l.machines).map((m, j) => ({ id: m.id, path: ['lines', i, 'machines', j] as Path }))),
    'machine',
  );
  const devices = list(doc.devices);
  const deviceIds = uniqueIds(
    devices.map((d, i) => ({ id: d.id, path: ['devices', i] })),
    'device',
  );
  const calendars = list(doc.calendars);
  const calendarIds = uniqueIds(
    calendars.map((c, i) => ({ id: c.id, path: ['calendars', i] })),
    'calendar',
  );
  const carbonIds = uniqueIds(
    list(doc.carbonTables).map((t, i) => ({ id: t.id, path: ['carbonTables', i] })),
    'carbon table',
  );
  uniqueIds(
    list(doc.alarms).map((a, i) => ({ id: a.id, path: ['alarms', i] })),
    'alarm',
  );
  const users = list(doc.users);
  const seenUsers = new Map<string, number>();
  users.forEach((u, i) => {
    const name = str(u.username);
    if (name === undefined) return;
    if (seenUsers.has(name))
      add(['users', i, 'username'], `duplicate user "${name}"`, `already declared at users[${seenUsers.get(name)}]`);
    else seenUsers.set(name, i);
  });

  const tags = new Map<string, TagInfo>();
  devices.forEach((d, i) => {
    list(d.tags).forEach((t, j) => {
      const id = str(t.id);
      if (id === undefined) return;
      const path: Path = ['devices', i, 'tags', j];
      const first = tags.get(id);
      if (first)
        add(
          [...path, 'id'],
          `duplicate tag id "${id}"`,
          `already used at ${formatPath(first.path)}; tag ids are unique across all devices`,
        );
      else tags.set(id, { path, deviceId: str(d.id), type: str(t.type) ?? defaultType(str(d.protocol)) });
    });
  });

  const areaRef = known(areas, 'area');
  const lineRef = known(lineIds, 'line');
  const machineRef = known(machineIds, 'machine');
  const deviceRef = known(deviceIds, 'device');
  const calendarRef = known(calendarIds, 'calendar');
  const carbonRef = known(carbonIds, 'carbon table');
  const tagRef = known(new Map([...tags].map(([k, v]) => [k, v.path])), 'tag');
  const numericTagRef = (value: unknown, path: Path, role: string) => {
    tagRef(value, path);
    const info = typeof value === 'string' ? tags.get(value) : undefined;
    if (info?.type !== undefined && !NUMERIC_TYPES.has(info.type)) {
      add(
        path,
        `tag "${value as string}" is of type ${info.type}, but a ${role} needs a number`,
        'point the role at a numeric tag',
      );
    }
  };

  // ----- site -----
  const site = isRec(doc.site) ? doc.site : {};
  (Array.isArray(site.carbonTables) ? site.carbonTables : []).forEach((t, i) =>
    carbonRef(t, ['site', 'carbonTables', i]),
  );

  // ----- lines and machines -----
  lines.forEach((line, i) => {
    const lp: Path = ['lines', i];
    areaRef(line.area, [...lp, 'area']);
    calendarRef(line.calendar, [...lp, 'calendar']);
    (Array.isArray(line.carbonTables) ? line.carbonTables : []).forEach((t, k) =>
      carbonRef(t, [...lp, 'carbonTables', k]),
    );
    const own = list(line.machines).map((m) => str(m.id));
    if (typeof line.outputMachine === 'string' && !own.includes(line.outputMachine)) {
      add(
        [...lp, 'outputMachine'],
        `"${line.outputMachine}" is not a machine of line "${str(line.id) ?? i}"`,
        `choose one of: ${preview(own.filter((x): x is string => !!x))}`,
      );
    }
    checkEnergy(line.energy, [...lp, 'energy']);
    list(line.machines).forEach((m, j) => {
      const mp: Path = [...lp, 'machines', j];
      if (isRec(m.state)) {
        tagRef(m.state.tag, [...mp, 'state', 'tag']);
        if (m.state.reasonTag !== undefined) tagRef(m.state.reasonTag, [...mp, 'state', 'reasonTag']);
      }
      if (isRec(m.counters)) {
        for (const role of ['total', 'good', 'reject'] as const) {
          if (m.counters[role] !== undefined)
            numericTagRef(m.counters[role], [...mp, 'counters', role], `${role} counter`);
        }
      }
      checkEnergy(m.energy, [...mp, 'energy']);
    });
  });

  function checkEnergy(energy: unknown, path: Path) {
    if (!isRec(energy)) return;
    if (energy.kwhTag !== undefined) numericTagRef(energy.kwhTag, [...path, 'kwhTag'], 'kWh meter');
    if (energy.kwTag !== undefined) numericTagRef(energy.kwTag, [...path, 'kwTag'], 'kW meter');
  }

  // ----- devices -----
  devices.forEach((d, i) => {
    const dp: Path = ['devices', i];
    const protocol = str(d.protocol);
    if (protocol === 'modbus-tcp' || protocol === 'modbus-rtu') {
      const groups = isRec(d.pollGroups) ? Object.keys(d.pollGroups) : ['default'];
      list(d.tags).forEach((t, j) => {
        const group = str(t.pollGroup) ?? 'default';
        if (!groups.includes(group)) {
          add(
            [...dp, 'tags', j, 'pollGroup'],
            `unknown poll group "${group}"`,
            `declare it under devices[${i}].pollGroups (known: ${preview(groups)})`,
          );
        }
      });
    }
    if (protocol === 'modbus-rtu') {
      const transport = str(d.transport) ?? 'serial';
      if (transport === 'serial' && d.path === undefined)
        add([...dp, 'path'], 'an RTU serial device needs `path`', 'e.g. path: /dev/ttyUSB0');
      if (transport === 'tcp' && (d.host === undefined || d.port === undefined)) {
        add(
          dp,
          'RTU over TCP needs `host` and `port`',
          'give the serial-to-Ethernet gateway address, e.g. host: 10.0.0.9, port: 4001',
        );
      }
    }
    if (protocol === 'opcua') {
      const mode = str(d.securityMode) ?? 'None';
      const policy = str(d.securityPolicy) ?? 'None';
      if ((mode === 'None') !== (policy === 'None')) {
        add(
          [...dp, 'securityPolicy'],
          `securityMode ${mode} does not go with securityPolicy ${policy}`,
          'use None with None, or Sign/SignAndEncrypt with a real policy such as Basic256Sha256',
        );
      }
    }
  });

  // ----- calendars -----
  calendars.forEach((c, i) => {
    const cp: Path = ['calendars', i];
    const shifts = list(c.shifts);
    uniqueIds(
      shifts.map((s, j) => ({ id: s.id, path: [...cp, 'shifts', j] })),
      'shift',
    );
    shifts.forEach((s, j) => {
      const sp: Path = [...cp, 'shifts', j];
      const start = minutes(s.start);
      const end = minutes(s.end);
      if (start !== undefined && start === end) {
        add(
          [...sp, 'end'],
          'a shift cannot end when it starts',
          'for a 24-hour shift use two shifts, e.g. 07:00–19:00 and 19:00–07:00',
        );
      }
      list(s.breaks).forEach((b, k) => {
        const bs = minutes(b.start);
        const be = minutes(b.end);
        // a shift that ends when it starts is reported once, not again for each of its breaks
        if (bs === undefined || be === undefined || start === undefined || end === undefined || start === end) return;
        if (bs === be) add([...sp, 'breaks', k, 'end'], 'a break cannot end when it starts');
        else if (!within(start, end, bs, be))
          add(
            [...sp, 'breaks', k],
            `break ${b.start as string}–${b.end as string} lies outside the shift ${s.start as string}–${s.end as string}`,
            'breaks must fall inside their shift',
          );
      });
    });
    list(c.plannedStops).forEach((p, k) => {
      const pp: Path = [...cp, 'plannedStops', k];
      if (typeof p.from === 'string' && typeof p.to === 'string' && p.to <= p.from)
        add([...pp, 'to'], `planned stop ends (${p.to}) before it starts (${p.from})`);
      (Array.isArray(p.lines) ? p.lines : []).forEach((l, n) => lineRef(l, [...pp, 'lines', n]));
    });
  });

  // ----- carbon -----
  list(doc.carbonTables).forEach((t, i) => {
    const factors = list(t.factors);
    factors.forEach((f, j) => {
      const fp: Path = ['carbonTables', i, 'factors', j];
      if (typeof f.from === 'string' && typeof f.to === 'string' && f.to < f.from)
        add([...fp, 'to'], `factor period ends (${f.to}) before it starts (${f.from})`);
      for (let k = 0; k < j; k++) {
        const g = factors[k]!;
        if (g.method !== f.method || typeof f.from !== 'string' || typeof g.from !== 'string') continue;
        const fTo = str(f.to) ?? '9999-12-31';
        const gTo = str(g.to) ?? '9999-12-31';
        if (f.from <= gTo && g.from <= fTo) {
          add(
            fp,
            `${String(f.method)}-based factor ${f.from}…${str(f.to) ?? 'open'} overlaps factors[${k}] (${g.from}…${str(g.to) ?? 'open'})`,
            'one factor per method may apply on any day: close the earlier period with `to`',
          );
        }
      }
    });
  });

  // ----- alarms -----
  list(doc.alarms).forEach((a, i) => {
    const ap: Path = ['alarms', i];
    const numeric = ['high-high', 'high', 'low', 'low-low', 'rate-of-change'].includes(str(a.kind) ?? '');
    if (a.tag !== undefined) {
      if (numeric) numericTagRef(a.tag, [...ap, 'tag'], `${String(a.kind)} alarm`);
      else tagRef(a.tag, [...ap, 'tag']);
    }
    if (a.machine !== undefined) machineRef(a.machine, [...ap, 'machine']);
    if (a.line !== undefined) lineRef(a.line, [...ap, 'line']);
    if (a.device !== undefined) deviceRef(a.device, [...ap, 'device']);
    if (a.suppressInStates !== undefined && a.machine === undefined) {
      add(
        [...ap, 'suppressInStates'],
        'suppression by machine state needs the machine',
        'name the `machine` whose state suppresses this alarm',
      );
    }
  });

  return problems;
}

function defaultType(protocol: string | undefined): string | undefined {
  if (protocol === 'modbus-tcp' || protocol === 'modbus-rtu') return 'uint16';
  if (protocol === 'mqtt') return 'float64';
  return undefined;
}

function minutes(v: unknown): number | undefined {
  if (typeof v !== 'string') return undefined;
  const m = /^(\d{2}):(\d{2})$/.exec(v);
  return m ? Number(m[1]) * 60 + Number(m[2]) : undefined;
}

/** is the break [bs, be) inside the shift [start, end), both possibly crossing midnight? */
function within(start: number, end: number, bs: number, be: number): boolean {
  const day = 24 * 60;
  const len = (end - start + day) % day;
  const off = (bs - start + day) % day;
  const blen = (be - bs + day) % day;
  return off + blen <= len;
}

function preview(names: readonly string[]): string {
  return names.length <= 8 ? names.join(', ') : `${names.slice(0, 8).join(', ')} … (${names.length} in all)`;
}

/** the known name nearest to `word`, if it is a plausible typo */
export function closest(word: string, names: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Math.max(2, Math.floor(word.length / 4)) + 1;
  for (const name of names) {
    const d = editDistance(word.toLowerCase(), name.toLowerCase());
    if (d < bestDistance) {
      best = name;
      bestDistance = d;
    }
  }
  return best;
}

function editDistance(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0]!;
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = prev[j]!;
      prev[j] = Math.min(prev[j]! + 1, prev[j - 1]! + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = tmp;
    }
  }
  return prev[b.length]!;
}
