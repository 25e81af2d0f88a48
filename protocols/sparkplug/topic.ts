/**
 * Sparkplug B topics (spec v3.0, section 4.1):
 * `spBv1.0/<group_id>/<message_type>/<edge_node_id>[/<device_id>]`, and the
 * host's `spBv1.0/STATE/<host_id>`. Pure.
 */

export const NAMESPACE = 'spBv1.0';

export const MESSAGE_TYPES = ['NBIRTH', 'NDEATH', 'DBIRTH', 'DDEATH', 'NDATA', 'DDATA', 'NCMD', 'DCMD'] as const;
export type MessageType = (typeof MESSAGE_TYPES)[number];
const TYPES = new Set<string>(MESSAGE_TYPES);
const DEVICE_TYPES = new Set<string>(['DBIRTH', 'DDEATH', 'DDATA', 'DCMD']);

export interface SparkplugTopic {
  readonly groupId: string;
  readonly type: MessageType;
  readonly edgeNodeId: string;
  /** null for node-level messages */
  readonly deviceId: string | null;
}

/** The parts of a Sparkplug topic, or null when the topic is not one (STATE included). */
export function parseTopic(topic: string): SparkplugTopic | null {
  const parts = topic.split('/');
  if (parts.length < 4 || parts.length > 5 || parts[0] !== NAMESPACE) return null;
  const [, groupId, type, edgeNodeId, deviceId] = parts as [string, string, string, string, string | undefined];
  if (!TYPES.has(type) || groupId === '' || edgeNodeId === '') return null;
  const isDevice = DEVICE_TYPES.has(type);
  if (isDevice !== (deviceId !== undefined) || deviceId === '') return null;
  return { groupId, type: type as MessageType, edgeNodeId, deviceId: deviceId ?? null };
}

/** Every message of one edge node and its devices. */
export const edgeNodeFilter = (groupId: string, edgeNodeId: string): string =>
  `${NAMESPACE}/${groupId}/+/${edgeNodeId}/#`;

export const nodeCommandTopic = (groupId: string, edgeNodeId: string): string =>
  `${NAMESPACE}/${groupId}/NCMD/${edgeNodeId}`;

export const stateTopic = (hostId: string): string => `${NAMESPACE}/STATE/${hostId}`;

/** The host's STATE payload (v3.0): JSON, the same timestamp in the birth and in the will of one connection. */
export const statePayload = (online: boolean, timestamp: number): string => JSON.stringify({ online, timestamp });

/** Group, edge node and device ids are single topic levels: no `/`, `+` or `#`. */
export const isSparkplugId = (s: string): boolean => s.length > 0 && !/[/+#]/.test(s);

/** The metric name an edge node listens to for rebirth requests. */
export const REBIRTH_METRIC = 'Node Control/Rebirth';
export const BDSEQ_METRIC = 'bdSeq';
