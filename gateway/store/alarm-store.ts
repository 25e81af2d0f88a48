/**
 * The alarms' part of the store: the append-only audit trail (every state
 * change and every operator action, refused ones included), the current
 * state of each alarm (restored after a restart) and one row per alarm
 * event for the statistics. The tables live in the gateway's SQLite file
 * (migration 2); this class keeps its own connection to it, so it works
 * beside the sample store without reaching into it.
 *
 * Writes are synchronous and durable (`synchronous = FULL` on this
 * connection: an acknowledgement on record survives a power cut); each
 * `writeAlarmChanges` is one transaction, all or nothing. Start it after
 * the SqliteStore (which migrates the file) and stop it before.
 */
import { statfsSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import type {
  AlarmActivation,
  AlarmMode,
  AlarmPriority,
  AlarmRecord,
  AlarmState,
  AlarmStateName,
} from '../core/alarms/index.js';
import { StoreError } from './errors.js';
import { migrate } from './migrations.js';
import { gateWrites, OPEN_GATE, type WriteGate } from './write-gate.js';

export interface AlarmStoreOptions {
  /** the SQLite file the SqliteStore uses (its `path`); `:memory:` gives a throwaway database of its own */
  readonly path: string;
  /** how long a write waits for the sample store's connection (default 5000) */
  readonly busyTimeoutMs?: number;
  /** the sample store's `writeGate`, so a write here never waits for a whole batch of samples */
  readonly writeGate?: WriteGate;
  readonly now?: () => number;
}

/** One line of the audit trail as stored. */
export interface AlarmAuditRow {
  readonly id: number;
  readonly ts: number;
  readonly alarmId: string;
  readonly activation: number;
  readonly action: string;
  readonly user: string | null;
  readonly comment: string | null;
  readonly from: { readonly state: AlarmStateName; readonly modes: readonly AlarmMode[] };
  readonly to: { readonly state: AlarmStateName; readonly modes: readonly AlarmMode[] };
  readonly result: string;
  readonly value?: unknown;
  readonly until?: number;
}

export interface AlarmAuditQuery {
  readonly from: number;
  readonly to: number;
  readonly alarmId?: string;
  /** default 1000 */
  readonly limit?: number;
  /** only rows recorded after this one (its `id`): the next page of a long trail */
  readonly afterId?: number;
  /** newest first (the latest rows of a long trail); default oldest first */
  readonly newestFirst?: boolean;
  /** only these actions (`acknowledge`, `shelve`, …); empty or absent: all */
  readonly actions?: readonly string[];
  /** only what this user did (usernames compare without case) */
  readonly user?: string;
  /**
   * Search: rows whose alarm id, user or comment contains this text (without
   * case), or whose alarm is one of `textAlarmIds` (alarms whose message,
   * which the store does not keep, contains it).
   */
  readonly text?: string;
  readonly textAlarmIds?: readonly string[];
}

/** the audit trail's filters; a parameter left null does not filter */
const AUDIT_FILTER = `
  ts >= @from AND ts <= @to AND id > @afterId
  AND (@alarmId IS NULL OR alarm_id = @alarmId)
  AND (@actions IS NULL OR action IN (SELECT value FROM json_each(@actions)))
  AND (@user IS NULL OR username = @user COLLATE NOCASE)
  AND (@text IS NULL
       OR instr(lower(alarm_id), @text) > 0
       OR instr(lower(coalesce(username, '')), @text) > 0
       OR instr(lower(coalesce(comment, '')), @text) > 0
       OR alarm_id IN (SELECT value FROM json_each(@textAlarmIds)))`;

interface Statements {
  readonly audit: Database.Statement;
  readonly putState: Database.Statement;
  readonly states: Database.Statement;
  readonly activate: Database.Statement;
  readonly announce: Database.Statement;
  readonly acknowledge: Database.Statement;
  readonly clear: Database.Statement;
  readonly activations: Database.Statement;
  readonly auditRange: Database.Statement;
  readonly auditRangeNewest: Database.Statement;
}

export class AlarmStore {
  private db: Database.Database | undefined;
  private stmts: Statements | undefined;
  private readonly now: () => number;

  constructor(private readonly options: AlarmStoreOptions) {
    this.now = options.now ?? Date.now;
  }

  start(): void {
    if (this.db !== undefined) return;
    const { path } = this.options;
    let db: Database.Database;
    try {
      db = gateWrites(
        new Database(path, { timeout: this.options.busyTimeoutMs ?? 5000 }),
        this.options.writeGate ?? OPEN_GATE,
      );
    } catch (err) {
      throw new StoreError(
        'GL_ERR_STORE_OPEN',
        `cannot open the store ${path} for alarms: ${err instanceof Error ? err.message : String(err)}. ` +
          'Start the sample store first (it creates the file), and check the folder is writable.',
        { cause: err },
      );
    }
    try {
      if (path !== ':memory:') db.pragma('journal_mode = WAL');
      db.pragma('synchronous = FULL');
      db.pragma(`busy_timeout = ${Math.floor(this.options.busyTimeoutMs ?? 5000)}`);
      // checkpoints are the sample store's (SqliteStore): one here would copy its samples' log on the event loop
      db.pragma('wal_autocheckpoint = 0');
      migrate(db, path, this.now());
      this.stmts = {
        audit: db.prepare(`
          INSERT INTO alarm_audit (ts, alarm_id, activation, action, username, comment,
            from_state, from_modes, to_state, to_modes, result, payload)
          VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
        putState: db.prepare(`
          INSERT INTO alarm_state (alarm_id, version, updated_at, payload) VALUES (?, ?, ?, ?)
          ON CONFLICT (alarm_id) DO UPDATE SET version = excluded.version, updated_at = excluded.updated_at,
            payload = excluded.payload`),
        states: db.prepare('SELECT payload FROM alarm_state ORDER BY alarm_id').pluck(),
        activate: db.prepare(`
          INSERT INTO alarm_activations (alarm_id, activation, priority, activated_at, announced_at)
          VALUES (?, ?, ?, ?, ?)
          ON CONFLICT (alarm_id, activation) DO NOTHING`),
        announce: db.prepare(`
          UPDATE alarm_activations SET announced_at = ? WHERE alarm_id = ? AND activation = ? AND announced_at IS NULL`),
        acknowledge: db.prepare(`
          UPDATE alarm_activations SET acknowledged_at = ?, acknowledged_by = ?
          WHERE alarm_id = ? AND activation = ? AND acknowledged_at IS NULL`),
        clear: db.prepare(`
          UPDATE alarm_activations SET cleared_at = ? WHERE alarm_id = ? AND activation = ? AND cleared_at IS NULL`),
        // announced activations that began in the range, or began earlier and were still active at its start
        activations: db.prepare(`
          SELECT alarm_id AS alarmId, activated_at AS at, cleared_at AS clearedAt, priority
          FROM alarm_activations
          WHERE announced_at IS NOT NULL AND activated_at < ?
            AND (activated_at >= ? OR cleared_at IS NULL OR cleared_at >= ?)
          ORDER BY activated_at, alarm_id`),
        auditRange: db.prepare(`
          SELECT id, ts, alarm_id, activation, action, username, comment, from_state, from_modes, to_state, to_modes,
                 result, payload
          FROM alarm_audit WHERE ${AUDIT_FILTER} ORDER BY id LIMIT @limit`),
        auditRangeNewest: db.prepare(`
          SELECT id, ts, alarm_id, activation, action, username, comment, from_state, from_modes, to_state, to_modes,
                 result, payload
          FROM alarm_audit WHERE ${AUDIT_FILTER} ORDER BY id DESC LIMIT @limit`),
      };
      this.db = db;
    } catch (err) {
      db.close();
      if (err instanceof StoreError) throw err;
      throw new StoreError(
        'GL_ERR_STORE_OPEN',
        `cannot use the store ${path} for alarms: ${err instanceof Error ? err.message : String(err)}`,
        { cause: err },
      );
    }
  }

  stop(): void {
    const db = this.db;
    this.db = undefined;
    this.stmts = undefined;
    db?.close();
  }

  /**
   * The records and new states of one proposal, in one transaction: all of
   * them are on disk when this returns, none when it throws.
   */
  writeAlarmChanges(change: {
    readonly records: readonly AlarmRecord[];
    readonly states: readonly AlarmState[];
  }): void {
    const { db, s } = this.require();
    const updatedAt = this.now();
    db.transaction(() => {
      for (const r of change.records) {
        const payload: Record<string, unknown> = { priority: r.priority, announce: r.announce };
        if (r.value !== undefined) payload.value = r.value;
        if (r.until !== undefined) payload.until = r.until;
        s.audit.run(
          Math.round(r.at),
          r.alarmId,
          r.activation,
          r.action,
          r.user,
          r.comment,
          r.from.state,
          r.from.modes.join(','),
          r.to.state,
          r.to.modes.join(','),
          r.result,
          JSON.stringify(payload),
        );
        if (r.result !== 'accepted') continue;
        if (r.action === 'activate') {
          s.activate.run(r.alarmId, r.activation, r.priority, Math.round(r.at), r.announce ? Math.round(r.at) : null);
        } else if (r.announce) {
          s.announce.run(Math.round(r.at), r.alarmId, r.activation);
        }
        if (r.action === 'acknowledge') s.acknowledge.run(Math.round(r.at), r.user, r.alarmId, r.activation);
        if (r.action === 'clear') s.clear.run(Math.round(r.at), r.alarmId, r.activation);
      }
      for (const st of change.states) s.putState.run(st.alarmId, st.version, updatedAt, JSON.stringify(st));
    })();
  }

  /** The stored state of every alarm that ever changed. */
  loadAlarmStates(): AlarmState[] {
    const { s } = this.require();
    return (s.states.all() as string[]).map((p) => JSON.parse(p) as AlarmState);
  }

  /**
   * The announced activations that began in [from, to), plus those that began
   * earlier and were still active at `from` (standing alarms, floods under way).
   */
  alarmActivations(from: number, to: number): AlarmActivation[] {
    const { s } = this.require();
    checkRange(from, to);
    return s.activations.all(to, from, from) as {
      alarmId: string;
      at: number;
      clearedAt: number | null;
      priority: AlarmPriority;
    }[];
  }

  /** The audit trail between two times (inclusive), oldest first (or newest first when asked). */
  auditTrail(query: AlarmAuditQuery): AlarmAuditRow[] {
    const { s } = this.require();
    checkRange(query.from, query.to);
    const statement = query.newestFirst === true ? s.auditRangeNewest : s.auditRange;
    const text = query.text?.trim().toLowerCase() ?? '';
    const rows = statement.all({
      from: query.from,
      to: query.to,
      alarmId: query.alarmId ?? null,
      afterId: query.afterId ?? 0,
      limit: query.limit ?? 1000,
      actions: query.actions !== undefined && query.actions.length > 0 ? JSON.stringify(query.actions) : null,
      user: query.user ?? null,
      text: text === '' ? null : text,
      textAlarmIds: JSON.stringify(text === '' ? [] : (query.textAlarmIds ?? [])),
    }) as {
      id: number;
      ts: number;
      alarm_id: string;
      activation: number;
      action: string;
      username: string | null;
      comment: string | null;
      from_state: AlarmStateName;
      from_modes: string;
      to_state: AlarmStateName;
      to_modes: string;
      result: string;
      payload: string;
    }[];
    const modes = (m: string): AlarmMode[] => (m === '' ? [] : (m.split(',') as AlarmMode[]));
    return rows.map((r) => {
      const payload = JSON.parse(r.payload) as { value?: unknown; until?: number };
      return {
        id: r.id,
        ts: r.ts,
        alarmId: r.alarm_id,
        activation: r.activation,
        action: r.action,
        user: r.username,
        comment: r.comment,
        from: { state: r.from_state, modes: modes(r.from_modes) },
        to: { state: r.to_state, modes: modes(r.to_modes) },
        result: r.result,
        ...(payload.value === undefined ? {} : { value: payload.value }),
        ...(payload.until === undefined ? {} : { until: payload.until }),
      };
    });
  }

  private require(): { db: Database.Database; s: Statements } {
    if (this.db === undefined || this.stmts === undefined) {
      throw new StoreError('GL_ERR_STORE_NOT_STARTED', 'the alarm store is not open; call start() first');
    }
    return { db: this.db, s: this.stmts };
  }
}

/** How full the disk holding `path` is, in percent (what non-root users can no longer use counts as used); null when unknown. */
export function diskUsedPercent(path: string): number | null {
  try {
    const fs = statfsSync(path === ':memory:' ? process.cwd() : dirname(path));
    if (fs.blocks <= 0) return null;
    return ((fs.blocks - fs.bavail) / fs.blocks) * 100;
  } catch {
    return null;
  }
}

function checkRange(from: number, to: number): void {
  if (!Number.isFinite(from) || !Number.isFinite(to)) {
    throw new StoreError('GL_ERR_STORE_ARGUMENT', `a time range needs ms since epoch, got ${from} … ${to}`);
  }
}
