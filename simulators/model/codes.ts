/** State and reason codes as the simulated PLCs and the CNC expose them. */

export const MachineState = {
  off: 0,
  running: 1,
  idle: 2,
  /** unplanned stop, including micro-stops / jams shorter than 120 s */
  fault: 3,
  /** setup or changeover: a planned stop */
  setup: 4,
  /** planned maintenance or no order: a planned stop */
  planned: 5,
} as const;

export type MachineStateCode = (typeof MachineState)[keyof typeof MachineState];

export const STATE_NAMES: Readonly<Record<MachineStateCode, string>> = {
  0: 'off',
  1: 'running',
  2: 'idle',
  3: 'fault',
  4: 'setup',
  5: 'planned-stop',
};

export const Reason = {
  none: 0,
  jam: 1,
  materialShortage: 2,
  toolBreak: 3,
  overheat: 4,
  setup: 10,
  changeover: 11,
  maintenance: 12,
  noOrder: 13,
} as const;

export type ReasonCode = (typeof Reason)[keyof typeof Reason];

export const REASON_NAMES: Readonly<Record<ReasonCode, string>> = {
  0: 'none',
  1: 'jam',
  2: 'material-shortage',
  3: 'tool-break',
  4: 'overheat',
  10: 'setup',
  11: 'changeover',
  12: 'maintenance',
  13: 'no-order',
};

/** Reasons a fault (state 3) may carry. */
export const FAULT_REASONS: readonly ReasonCode[] = [1, 2, 3, 4];

export function isReasonCode(n: unknown): n is ReasonCode {
  return typeof n === 'number' && Object.hasOwn(REASON_NAMES, n);
}

/** Micro-stops end before this many seconds; longer unplanned stops are breakdowns. */
export const MICRO_STOP_LIMIT_S = 120;
