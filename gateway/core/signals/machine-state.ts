/**
 * A machine's raw state value read as one of the plant model's states, and
 * its stop reason.
 */
import type { MachineConfig, SampleValue } from '../model.js';

export type MachineStateName = 'running' | 'idle' | 'unplanned-stop' | 'planned-stop' | 'offline';

export interface MappedState {
  readonly state: MachineStateName;
  /** the reason the state mapping names (`{ state: planned-stop, reason: setup }`), else null */
  readonly reason: string | null;
  /** the raw value as a map key; null when there was no value */
  readonly raw: string | null;
  /** the raw value is not in the map: the machine counts as offline and the value is flagged */
  readonly unmapped: boolean;
}

/** Energy classes: what the machine was doing while the energy was used. */
export type EnergyClass = 'producing' | 'idle' | 'stopped';

export function energyClassOf(state: MachineStateName): EnergyClass {
  return state === 'running' ? 'producing' : state === 'idle' ? 'idle' : 'stopped';
}

/** Setup and changeover are told apart from other planned stops (six big losses: setup and adjustments). */
export function isSetupReason(reason: string | null): boolean {
  if (reason === null) return false;
  const r = reason.trim().toLowerCase();
  return r === 'setup' || r === 'set-up' || r === 'changeover' || r === 'change-over';
}

type StateSection = NonNullable<MachineConfig['state']>;

export class StateMapper {
  private readonly map: StateSection['map'];
  private readonly reasons: StateSection['reasons'];

  constructor(section: StateSection) {
    this.map = section.map;
    this.reasons = section.reasons;
  }

  /** The state a raw value stands for; unmapped values are offline and flagged. */
  read(value: SampleValue): MappedState {
    const keys = rawKeys(value);
    for (const key of keys) {
      const m = Object.hasOwn(this.map, key) ? this.map[key] : undefined;
      if (m === undefined) continue;
      return typeof m === 'string'
        ? { state: m, reason: null, raw: key, unmapped: false }
        : { state: m.state, reason: m.reason, raw: key, unmapped: false };
    }
    return { state: 'offline', reason: null, raw: keys[0] ?? null, unmapped: keys.length > 0 };
  }

  /**
   * The text of a stop reason code: the `reasons` table's entry, else the code
   * itself; no value, an empty string and an unlisted 0 mean "no reason given".
   */
  reasonText(value: SampleValue): string | null {
    for (const key of rawKeys(value)) {
      if (Object.hasOwn(this.reasons, key)) return this.reasons[key] ?? null;
    }
    if (value === null || value === '' || value === 0 || value === false) return null;
    return typeof value === 'string' ? value.trim() || null : String(value);
  }
}

/** Map keys a raw value may be written as: `1` → "1"; `true` → "true", "1"; strings as written, then trimmed. */
function rawKeys(value: SampleValue): string[] {
  if (value === null) return [];
  if (typeof value === 'boolean') return value ? ['true', '1'] : ['false', '0'];
  if (typeof value === 'number') return Number.isFinite(value) ? [String(value)] : [];
  const trimmed = value.trim();
  return trimmed === value ? [value] : [value, trimmed];
}
