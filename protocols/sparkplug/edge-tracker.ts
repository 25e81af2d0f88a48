/**
 * What a Sparkplug B host knows about the edge nodes of one group: which
 * nodes and devices are born, their alias maps, the next expected `seq`
 * and the `bdSeq` of the current NBIRTH. Pure: the clock is an argument.
 *
 * Rules (spec v3.0, sections 6.4, 7 and 10):
 * - NBIRTH starts a node's session: aliases, datatypes and seq are taken
 *   from it, earlier device births are forgotten (the node re-births them).
 * - Every later NDATA, DBIRTH, DDATA and DDEATH of that node must carry the
 *   next seq (0..255, wrapping). A gap, data from a node or device that was
 *   not born, an unknown alias, or a payload that does not decode makes the
 *   host ask for a rebirth (at most once per hold-off per node).
 * - NDEATH ends the session only when its bdSeq matches the NBIRTH's: a
 *   will left from an earlier connection must not kill a live node.
 * - DDEATH ends a device's session.
 *
 * Metrics by name are usable even without a birth (their datatype comes
 * from the metric, or the value field); metrics by alias need the birth.
 */
import { ProtobufError } from './protobuf.js';
import { BDSEQ_METRIC, type SparkplugTopic } from './topic.js';
import { type Metric, decodePayload, impliedDataType } from './payload.js';

export interface ResolvedMetric {
  readonly name: string;
  readonly datatype: number;
  readonly metric: Metric;
}

export type TrackerEvent =
  | {
      readonly kind: 'data';
      readonly edgeNodeId: string;
      readonly deviceId: string | null;
      /** an NBIRTH or DBIRTH: the full set of the node's or device's metrics */
      readonly birth: boolean;
      readonly timestamp: number | undefined;
      readonly metrics: readonly ResolvedMetric[];
    }
  | {
      /** deviceId null: the node and every device of it */
      readonly kind: 'offline';
      readonly edgeNodeId: string;
      readonly deviceId: string | null;
      readonly reason: string;
    }
  | {
      /** the payload did not decode: nothing of it is usable */
      readonly kind: 'undecodable';
      readonly edgeNodeId: string;
      readonly deviceId: string | null;
      readonly reason: string;
    }
  | {
      readonly kind: 'problem';
      readonly edgeNodeId: string;
      readonly deviceId: string | null;
      readonly code: 'seq-gap' | 'no-birth' | 'unknown-alias' | 'unnamed-metric' | 'old-death';
      readonly detail: string;
    };

export interface TrackerResult {
  readonly events: TrackerEvent[];
  /** ask this message's edge node to rebirth (NCMD `Node Control/Rebirth`) */
  readonly rebirth: boolean;
  /** historical metrics (is_historical) left out of the events */
  readonly historical: number;
}

interface MetricDef {
  readonly name: string;
  readonly datatype: number;
}

interface Definitions {
  readonly byAlias: Map<number, MetricDef>;
  readonly byName: Map<string, number>;
}

interface DeviceSession extends Definitions {
  born: boolean;
}

interface NodeSession extends Definitions {
  born: boolean;
  bdSeq: number | null;
  nextSeq: number | null;
  readonly devices: Map<string, DeviceSession>;
  lastRebirthRequest: number | null;
}

export interface EdgeTrackerOptions {
  /** no second rebirth request to one node within this time, ms (default 5000) */
  rebirthHoldoffMs?: number;
}

const emptyDefinitions = (): Definitions => ({ byAlias: new Map(), byName: new Map() });

const bdSeqOf = (metrics: readonly Metric[]): number | null => {
  const m = metrics.find((x) => x.name === BDSEQ_METRIC);
  const v = m?.value;
  if (v?.kind === 'long') return Number(BigInt.asUintN(64, v.value));
  if (v?.kind === 'int') return v.value;
  return null;
};

export class EdgeTracker {
  private readonly nodes = new Map<string, NodeSession>();
  private readonly holdoffMs: number;

  constructor(options: EdgeTrackerOptions = {}) {
    this.holdoffMs = options.rebirthHoldoffMs ?? 5000;
  }

  /** whether a node (deviceId null) or a device is born and not dead */
  isAlive(edgeNodeId: string, deviceId: string | null): boolean {
    const node = this.nodes.get(edgeNodeId);
    if (!node?.born) return false;
    return deviceId === null || node.devices.get(deviceId)?.born === true;
  }

  /** forget every session (after our own connection to the broker was lost: messages may be missing) */
  reset(): void {
    this.nodes.clear();
  }

  handle(topic: SparkplugTopic, bytes: Uint8Array, now: number): TrackerResult {
    const { edgeNodeId, deviceId } = topic;
    const events: TrackerEvent[] = [];
    let historical = 0;
    let wantRebirth = false;
    const node = this.node(edgeNodeId);
    const problem = (code: Extract<TrackerEvent, { kind: 'problem' }>['code'], detail: string, rebirth: boolean) => {
      events.push({ kind: 'problem', edgeNodeId, deviceId, code, detail });
      if (rebirth) wantRebirth = true;
    };
    const done = (): TrackerResult => ({
      events,
      rebirth: wantRebirth && this.mayRequestRebirth(node, now),
      historical,
    });

    if (topic.type === 'NCMD' || topic.type === 'DCMD') return done();

    let payload: ReturnType<typeof decodePayload>;
    try {
      payload = decodePayload(bytes);
    } catch (err) {
      const why = err instanceof ProtobufError ? err.message : String(err);
      events.push({
        kind: 'undecodable',
        edgeNodeId,
        deviceId,
        reason: `decode error: not a Sparkplug B payload (${why})`,
      });
      // whatever it carried is lost; a birth brings every value back
      wantRebirth = topic.type !== 'NDEATH';
      return done();
    }

    const resolve = (defs: Definitions | null): ResolvedMetric[] => {
      const out: ResolvedMetric[] = [];
      for (const metric of payload.metrics) {
        if (metric.isHistorical) {
          historical++;
          continue;
        }
        let name = metric.name;
        let datatype = metric.datatype;
        if (name === undefined) {
          if (metric.alias === undefined) {
            problem('unnamed-metric', 'a metric has neither name nor alias', false);
            continue;
          }
          const def = defs?.byAlias.get(metric.alias);
          if (def === undefined) {
            problem('unknown-alias', `unknown alias ${metric.alias}`, true);
            continue;
          }
          name = def.name;
          datatype ??= def.datatype;
        }
        datatype ??= defs?.byName.get(name) ?? impliedDataType(metric.value);
        out.push({ name, datatype, metric });
      }
      return out;
    };

    const define = (defs: Definitions, metrics: readonly ResolvedMetric[]) => {
      defs.byAlias.clear();
      defs.byName.clear();
      for (const r of metrics) {
        defs.byName.set(r.name, r.datatype);
        if (r.metric.alias !== undefined) defs.byAlias.set(r.metric.alias, { name: r.name, datatype: r.datatype });
      }
    };

    const checkSeq = () => {
      if (!node.born) {
        problem('no-birth', `${topic.type} from edge node "${edgeNodeId}" before its NBIRTH`, true);
        return;
      }
      if (payload.seq === undefined) return;
      const seq = payload.seq & 0xff;
      if (node.nextSeq !== null && seq !== node.nextSeq) {
        problem('seq-gap', `seq gap: expected ${node.nextSeq}, got ${seq}`, true);
      }
      node.nextSeq = (seq + 1) & 0xff;
    };

    switch (topic.type) {
      case 'NBIRTH': {
        node.born = true;
        node.bdSeq = bdSeqOf(payload.metrics);
        node.nextSeq = payload.seq === undefined ? null : (payload.seq + 1) & 0xff;
        node.devices.clear();
        const metrics = resolve(null);
        define(node, metrics);
        events.push({ kind: 'data', edgeNodeId, deviceId: null, birth: true, timestamp: payload.timestamp, metrics });
        break;
      }
      case 'NDEATH': {
        const bdSeq = bdSeqOf(payload.metrics);
        if (node.born && node.bdSeq !== null && bdSeq !== null && bdSeq !== node.bdSeq) {
          problem(
            'old-death',
            `NDEATH with bdSeq ${bdSeq} does not match the NBIRTH's ${node.bdSeq}: ignored (an earlier session)`,
            false,
          );
          break;
        }
        node.born = false;
        node.bdSeq = null;
        node.nextSeq = null;
        node.devices.clear();
        node.byAlias.clear();
        node.byName.clear();
        events.push({ kind: 'offline', edgeNodeId, deviceId: null, reason: 'edge node offline (NDEATH)' });
        break;
      }
      case 'NDATA': {
        checkSeq();
        const metrics = resolve(node.born ? node : null);
        events.push({ kind: 'data', edgeNodeId, deviceId: null, birth: false, timestamp: payload.timestamp, metrics });
        break;
      }
      case 'DBIRTH': {
        checkSeq();
        const device: DeviceSession = { born: true, ...emptyDefinitions() };
        node.devices.set(deviceId!, device);
        const metrics = resolve(null);
        define(device, metrics);
        events.push({ kind: 'data', edgeNodeId, deviceId, birth: true, timestamp: payload.timestamp, metrics });
        break;
      }
      case 'DDEATH': {
        checkSeq();
        const device = node.devices.get(deviceId!);
        if (device) device.born = false;
        events.push({ kind: 'offline', edgeNodeId, deviceId, reason: 'device offline (DDEATH)' });
        break;
      }
      case 'DDATA': {
        checkSeq();
        const device = node.devices.get(deviceId!);
        if (node.born && !device?.born) {
          problem('no-birth', `DDATA from device "${deviceId}" before its DBIRTH`, true);
        }
        const metrics = resolve(device?.born ? device : null);
        events.push({ kind: 'data', edgeNodeId, deviceId, birth: false, timestamp: payload.timestamp, metrics });
        break;
      }
    }
    return done();
  }

  private node(edgeNodeId: string): NodeSession {
    let node = this.nodes.get(edgeNodeId);
    if (!node) {
      node = {
        born: false,
        bdSeq: null,
        nextSeq: null,
        devices: new Map(),
        lastRebirthRequest: null,
        ...emptyDefinitions(),
      };
      this.nodes.set(edgeNodeId, node);
    }
    return node;
  }

  private mayRequestRebirth(node: NodeSession, now: number): boolean {
    if (node.lastRebirthRequest !== null && now - node.lastRebirthRequest < this.holdoffMs) return false;
    node.lastRebirthRequest = now;
    return true;
  }
}
