/**
 * A walk through a server's address space from the Objects folder, level by
 * level: every node's browse name, node id and node class, and for each
 * variable its data type and current value. For `greenline browse`, to help
 * write a config.
 *
 * Each level costs a Browse (continued with BrowseNext while the server has
 * more) and a Read of the variables' DataType and Value, in batches no larger
 * than the server's operation limits.
 */
import type { BrowseResult, ClientSession, DataValue, NodeId, ReferenceDescription } from 'node-opcua';
import type { BrowsePathElement } from './browse-path.js';
import { formatBrowseName, formatBrowsePath } from './browse-path.js';
import type { NodeOpcua, ServerInfo } from './client.js';
import { chunk } from './monitor-plan.js';
import type { ServiceCall } from './resolve.js';
import { convertVariant, DataType } from './values.js';

export interface BrowsedNode {
  readonly nodeId: string;
  /** `ns:Name` as in a browse path (`Objects`, `1:State`) */
  readonly browseName: string;
  readonly displayName: string;
  readonly nodeClass: string;
  /** the path from the Root folder, usable as a tag's `browsePath` */
  readonly browsePath: string;
  /** variables: the data type's name (`Double`, `UInt16`, `Range`, …) */
  dataType?: string;
  /** variables: the current value, short and printable; a Bad status shows as `(BadName)` */
  value?: string;
  readonly children: BrowsedNode[];
  /** children not shown: `depth` (an object at the depth limit), `server` (the Server object), `limit` (maxNodes) */
  notExpanded?: 'depth' | 'server' | 'limit';
}

export interface BrowseOptions {
  /** levels below Objects to show (1: only the Objects folder's children) */
  readonly depth: number;
  /** stop after this many nodes */
  readonly maxNodes: number;
  /** expand the standard Server object too (hundreds of diagnostic nodes) */
  readonly includeServer: boolean;
  readonly limits?: Pick<ServerInfo, 'maxNodesPerBrowse' | 'maxNodesPerRead'>;
  readonly call?: ServiceCall;
}

export interface BrowseTree {
  readonly root: BrowsedNode;
  readonly count: number;
  /** maxNodes was reached */
  readonly truncated: boolean;
}

interface Pending {
  readonly node: BrowsedNode;
  readonly id: NodeId;
  readonly path: readonly BrowsePathElement[];
}

const direct: ServiceCall = (_name, work) => work;
const BATCH = 100;
const MAX_VALUE_CHARS = 80;

export async function browseAddressSpace(
  ua: NodeOpcua,
  session: ClientSession,
  options: BrowseOptions,
): Promise<BrowseTree> {
  const call = options.call ?? direct;
  const browseBatch = Math.min(BATCH, options.limits?.maxNodesPerBrowse ?? BATCH);
  const readBatch = Math.min(BATCH * 5, options.limits?.maxNodesPerRead ?? BATCH * 5);
  const objects = ua.makeNodeId(ua.ObjectIds.ObjectsFolder, 0);
  const serverId = ua.makeNodeId(ua.ObjectIds.Server, 0).toString();
  const rootPath: BrowsePathElement[] = [{ namespaceIndex: 0, name: 'Objects' }];
  const root: BrowsedNode = {
    nodeId: objects.toString(),
    browseName: 'Objects',
    displayName: 'Objects',
    nodeClass: 'Object',
    browsePath: formatBrowsePath(rootPath),
    children: [],
  };
  const dataTypeNames = new Map<string, string>();
  let level: Pending[] = [{ node: root, id: objects, path: rootPath }];
  let count = 0;
  let truncated = false;

  for (let depth = 1; depth <= options.depth && level.length > 0 && !truncated; depth++) {
    const references = await browseAll(ua, session, call, level, browseBatch);
    const next: Pending[] = [];
    const variables: Pending[] = [];
    for (const [i, parent] of level.entries()) {
      const seen = new Set<string>();
      for (const ref of references[i] ?? []) {
        const id = ref.nodeId.toString();
        if (seen.has(id)) continue; // a node reached by two references (Organizes and HasComponent)
        seen.add(id);
        if (count >= options.maxNodes) {
          truncated = true;
          parent.node.notExpanded = 'limit';
          break;
        }
        count++;
        const path = [
          ...parent.path,
          { namespaceIndex: ref.browseName.namespaceIndex, name: ref.browseName.name ?? '' },
        ];
        const node: BrowsedNode = {
          nodeId: id,
          browseName: formatBrowseName(ref.browseName.namespaceIndex, ref.browseName.name ?? ''),
          displayName: ref.displayName.text ?? '',
          nodeClass: ua.NodeClass[ref.nodeClass] ?? String(ref.nodeClass),
          browsePath: formatBrowsePath(path),
          children: [],
        };
        parent.node.children.push(node);
        const pending = {
          node,
          id: new ua.NodeId(ref.nodeId.identifierType, ref.nodeId.value, ref.nodeId.namespace),
          path,
        };
        if (ref.nodeClass === ua.NodeClass.Variable) variables.push(pending);
        if (id === serverId && !options.includeServer) node.notExpanded = 'server';
        else if (depth < options.depth) next.push(pending);
        // an object at the depth limit may hold more; a variable rarely does (its properties)
        else if (ref.nodeClass === ua.NodeClass.Object) node.notExpanded = 'depth';
      }
    }
    await describeVariables(ua, session, call, variables, readBatch, dataTypeNames);
    level = next;
  }
  return { root, count, truncated };
}

/** Forward hierarchical references of every node, BrowseNext included. */
async function browseAll(
  ua: NodeOpcua,
  session: ClientSession,
  call: ServiceCall,
  nodes: readonly Pending[],
  batchSize: number,
): Promise<ReferenceDescription[][]> {
  const out: ReferenceDescription[][] = [];
  for (const batch of chunk(nodes, batchSize)) {
    const results: BrowseResult[] = await call(
      'browse',
      session.browse(
        batch.map((p) => ({
          nodeId: p.id,
          browseDirection: ua.BrowseDirection.Forward,
          referenceTypeId: ua.makeNodeId(ua.ReferenceTypeIds.HierarchicalReferences, 0),
          includeSubtypes: true,
          nodeClassMask: ua.NodeClassMask.Object | ua.NodeClassMask.Variable,
          resultMask: 0x3f,
        })),
      ),
    );
    for (const result of results) {
      const refs = [...(result.references ?? [])];
      let cp = result.continuationPoint;
      while (cp && cp.length > 0) {
        const more: BrowseResult = await call('browse next', session.browseNext(cp, false));
        refs.push(...(more.references ?? []));
        cp = more.continuationPoint;
      }
      out.push(refs);
    }
  }
  return out;
}

async function describeVariables(
  ua: NodeOpcua,
  session: ClientSession,
  call: ServiceCall,
  variables: readonly Pending[],
  batchSize: number,
  dataTypeNames: Map<string, string>,
): Promise<void> {
  const { AttributeIds } = ua;
  // two attributes per variable: DataType, Value
  for (const batch of chunk(variables, Math.max(1, Math.floor(batchSize / 2)))) {
    const values: DataValue[] = await call(
      'read',
      session.read(
        batch.flatMap((v) => [
          { nodeId: v.id, attributeId: AttributeIds.DataType },
          { nodeId: v.id, attributeId: AttributeIds.Value },
        ]),
      ),
    );
    const unknownTypes = new Map<string, NodeId>();
    batch.forEach((v, i) => {
      const type = values[2 * i];
      const value = values[2 * i + 1];
      const typeId: unknown = type?.statusCode.isGood() ? type.value.value : null;
      if (typeId instanceof ua.NodeId) {
        const key = typeId.toString();
        const builtIn = typeId.namespace === 0 && typeof typeId.value === 'number' ? BUILT_IN[typeId.value] : undefined;
        if (builtIn) dataTypeNames.set(key, builtIn);
        else if (!dataTypeNames.has(key)) unknownTypes.set(key, typeId);
        v.node.dataType = key;
      }
      if (value) v.node.value = formatValue(value);
    });
    if (unknownTypes.size > 0) {
      const ids = [...unknownTypes.values()];
      const names: DataValue[] = await call(
        'read',
        session.read(ids.map((nodeId) => ({ nodeId, attributeId: AttributeIds.BrowseName }))),
      );
      ids.forEach((id, i) => {
        const qn: unknown = names[i]?.statusCode.isGood() ? names[i]!.value.value : null;
        const name = (qn as { name?: unknown } | null)?.name;
        dataTypeNames.set(id.toString(), typeof name === 'string' ? name : id.toString());
      });
    }
    for (const v of batch) if (v.node.dataType) v.node.dataType = dataTypeNames.get(v.node.dataType) ?? v.node.dataType;
  }
}

const BUILT_IN: Record<number, string> = Object.fromEntries(Object.entries(DataType).map(([k, v]) => [v, k]));

/** A value as one short line: what the driver would emit, or a preview of what it cannot. */
export function formatValue(dv: DataValue): string {
  if (dv.statusCode.value >>> 30 >= 2) return `(${dv.statusCode.name})`;
  const variant = dv.value;
  const converted = convertVariant(Number(variant.dataType), Number(variant.arrayType), variant.value);
  if (converted.ok) {
    return typeof converted.value === 'string' ? short(JSON.stringify(converted.value)) : String(converted.value);
  }
  const raw: unknown = variant.value;
  if (raw === null || raw === undefined) return '(empty)';
  if (Buffer.isBuffer(raw)) return `<${raw.length} bytes>`;
  if (Array.isArray(raw) || ArrayBuffer.isView(raw)) {
    const list = Array.from(raw as ArrayLike<unknown>);
    const shown = list.slice(0, 5).map((x) => preview(x));
    return short(`[${shown.join(', ')}${list.length > 5 ? `, … ${list.length} items` : ''}]`);
  }
  if (typeof raw === 'number' && !Number.isFinite(raw)) return String(raw);
  return short(preview(raw));
}

function preview(x: unknown): string {
  if (x && typeof x === 'object' && 'toJSON' in x && typeof x.toJSON === 'function') {
    try {
      return JSON.stringify(x.toJSON());
    } catch {
      return String(x);
    }
  }
  if (typeof x === 'string') return JSON.stringify(x);
  return String(x);
}

const short = (s: string): string => (s.length > MAX_VALUE_CHARS ? `${s.slice(0, MAX_VALUE_CHARS - 1)}…` : s);
