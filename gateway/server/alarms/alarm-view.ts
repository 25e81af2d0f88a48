/**
 * Alarms as the API shows them: built field by field from the alarm
 * service's view and the plant config (names, units, limits), so nothing
 * internal (versions, tracker state) leaks by being added later.
 */
import type { AlarmRule, PlantConfig } from '../../../config/schema.js';
import type { AlarmChange, AlarmRecord, AlarmView } from '../../core/alarms/index.js';
import type { AlarmAuditEntry, AlarmChangeView, AlarmItem } from './alarm-contract.js';
import type { PlantIndex } from '../plant-index.js';
import type { AlarmAuditRecord } from '../ports.js';

interface RuleFacts {
  readonly line: string | null;
  readonly lineName: string | null;
  readonly machineName: string | null;
  readonly limit: number | null;
  readonly unit: string | null;
}

/** Turns the service's views into API items; one per server, built once from the config. */
export class AlarmViews {
  private readonly facts = new Map<string, RuleFacts>();

  constructor(config: PlantConfig, index: PlantIndex) {
    const lineNames = new Map(config.lines.map((l) => [l.id, l.name]));
    const machines = new Map<string, { name: string; line: string }>();
    for (const l of config.lines) for (const m of l.machines) machines.set(m.id, { name: m.name, line: l.id });
    for (const rule of config.alarms) {
      const machine = rule.machine === undefined ? undefined : machines.get(rule.machine);
      const line = rule.line ?? machine?.line ?? null;
      this.facts.set(rule.id, {
        line,
        lineName: line === null ? null : (lineNames.get(line) ?? null),
        machineName: machine?.name ?? null,
        limit: limitOf(rule),
        unit: unitOf(rule, index),
      });
    }
  }

  /** is it a configured alarm */
  has(alarmId: string): boolean {
    return this.facts.has(alarmId);
  }

  item(a: AlarmView): AlarmItem {
    const f = this.facts.get(a.alarmId);
    return {
      id: a.alarmId,
      kind: a.kind,
      priority: a.priority,
      message: { en: a.message.en, 'zh-Hant': a.message['zh-Hant'] ?? null },
      line: f?.line ?? a.line,
      lineName: f?.lineName ?? null,
      machine: a.machine,
      machineName: f?.machineName ?? null,
      source: a.source,
      limit: f?.limit ?? null,
      unit: f?.unit ?? null,
      latching: a.latching,
      state: a.state,
      modes: modes(a),
      hidden: a.hidden,
      conditionActive: a.conditionActive,
      activation: a.activation,
      activeSince: a.activeSince,
      clearedAt: a.clearedAt,
      since: a.since,
      value: a.value,
      currentValue: a.currentValue,
      acknowledged: a.acknowledged && {
        user: a.acknowledged.user,
        at: a.acknowledged.at,
        comment: a.acknowledged.comment,
      },
      shelved: a.shelved && {
        user: a.shelved.user,
        at: a.shelved.at,
        until: a.shelved.until,
        reason: a.shelved.reason,
      },
      suppressed: a.suppressed,
      outOfService: a.outOfService && {
        user: a.outOfService.user,
        at: a.outOfService.at,
        reason: a.outOfService.reason,
      },
      reAlarms: a.reAlarms,
    };
  }
}

function modes(a: AlarmView): AlarmItem['modes'] {
  const out: AlarmItem['modes'][number][] = [];
  if (a.shelved !== null) out.push('shelved');
  if (a.suppressed) out.push('suppressed');
  if (a.outOfService !== null) out.push('out-of-service');
  return out;
}

function limitOf(rule: AlarmRule): number | null {
  switch (rule.kind) {
    case 'high-high':
    case 'high':
    case 'low':
    case 'low-low':
    case 'metric':
    case 'system':
      return rule.limit;
    case 'rate-of-change':
      return rule.limitPerS;
    default:
      return null;
  }
}

function unitOf(rule: AlarmRule, index: PlantIndex): string | null {
  switch (rule.kind) {
    case 'high-high':
    case 'high':
    case 'low':
    case 'low-low':
      return index.tags.get(rule.tag)?.unit ?? null;
    case 'rate-of-change': {
      const unit = index.tags.get(rule.tag)?.unit;
      return unit ? `${unit}/s` : null;
    }
    case 'system':
      return rule.signal === 'store-disk-used-percent' ? '%' : null;
    default:
      return null;
  }
}

export function changeView(record: AlarmRecord): AlarmChangeView {
  return {
    action: record.action,
    at: record.at,
    activation: record.activation,
    user: record.user,
    comment: record.comment,
    from: { state: record.from.state, modes: [...record.from.modes] },
    to: { state: record.to.state, modes: [...record.to.modes] },
    result: record.result,
    announce: record.announce,
  };
}

export function auditEntry(r: AlarmAuditRecord): AlarmAuditEntry {
  return {
    id: r.id,
    ts: r.ts,
    alarmId: r.alarmId,
    activation: r.activation,
    action: r.action,
    user: r.user,
    comment: r.comment,
    from: { state: r.from.state, modes: [...r.from.modes] },
    to: { state: r.to.state, modes: [...r.to.modes] },
    result: r.result,
    ...(r.value === undefined ? {} : { value: r.value }),
    ...(r.until === undefined ? {} : { until: r.until }),
  };
}

/** a change as the live hub sends it */
export function liveAlarmChange(views: AlarmViews, change: AlarmChange): { alarm: AlarmItem; change: AlarmChangeView } {
  return { alarm: views.item(change.alarm), change: changeView(change.record) };
}
