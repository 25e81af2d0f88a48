/**
 * Config tags → node ids on a connected server: node ids as written (with
 * `nsu=` looked up), browse paths through TranslateBrowsePathsToNodeIds in
 * batches. Runs after every connect: a server that restarted with a new
 * configuration may have new node ids or namespace indexes behind the same
 * paths.
 */
import type { BrowsePath, BrowsePathResult, ClientSession } from 'node-opcua';
import type { BrowsePathElement } from './browse-path.js';
import { parseBrowsePath } from './browse-path.js';
import { type NodeIdResolution, type NodeOpcua, resolveNodeIdText } from './client.js';
import { chunk } from './monitor-plan.js';

export interface TagAddress {
  readonly nodeId?: string | undefined;
  readonly browsePath?: string | undefined;
}

/** Runs one service call; the driver passes its deadline-and-abort wrapper. */
export type ServiceCall = <T>(name: string, work: Promise<T>) => Promise<T>;

const direct: ServiceCall = (_name, work) => work;

const NO_REMAINING_PATH = 0xffffffff;

export async function resolveTags(
  ua: NodeOpcua,
  session: ClientSession,
  tags: readonly TagAddress[],
  options: { namespaces: readonly string[]; maxPerCall: number; call?: ServiceCall },
): Promise<NodeIdResolution[]> {
  const call = options.call ?? direct;
  const out: NodeIdResolution[] = new Array(tags.length);
  const paths: { index: number; elements: readonly BrowsePathElement[] }[] = [];
  tags.forEach((tag, index) => {
    if (tag.browsePath !== undefined) {
      const parsed = parseBrowsePath(tag.browsePath);
      if (parsed.ok) paths.push({ index, elements: parsed.elements });
      else out[index] = { ok: false, reason: `invalid browse path: ${parsed.error}` };
    } else if (tag.nodeId !== undefined) {
      out[index] = resolveNodeIdText(ua, tag.nodeId, options.namespaces);
    } else {
      out[index] = { ok: false, reason: 'no nodeId or browsePath' };
    }
  });
  for (const batch of chunk(paths, options.maxPerCall)) {
    const results = await call(
      'translate browse paths',
      session.translateBrowsePath(batch.map((p) => toBrowsePath(ua, p.elements))),
    );
    batch.forEach((p, i) => {
      out[p.index] = pathResult(ua, results[i]);
    });
  }
  return out;
}

function toBrowsePath(ua: NodeOpcua, elements: readonly BrowsePathElement[]): BrowsePath {
  return new ua.BrowsePath({
    startingNode: ua.makeNodeId(ua.ObjectIds.RootFolder, 0),
    relativePath: {
      elements: elements.map((e) => ({
        referenceTypeId: ua.makeNodeId(ua.ReferenceTypeIds.HierarchicalReferences, 0),
        isInverse: false,
        includeSubtypes: true,
        targetName: { namespaceIndex: e.namespaceIndex, name: e.name },
      })),
    },
  });
}

function pathResult(ua: NodeOpcua, result: BrowsePathResult | undefined): NodeIdResolution {
  if (!result) return { ok: false, reason: 'browse path not found (no answer)' };
  if (!result.statusCode.isGood()) return { ok: false, reason: `browse path not found (${result.statusCode.name})` };
  const target = result.targets?.find((t) => t.remainingPathIndex === NO_REMAINING_PATH);
  if (!target) return { ok: false, reason: 'browse path leads to another server' };
  const id = target.targetId;
  if (id.serverIndex || id.namespaceUri) return { ok: false, reason: 'browse path leads to another server' };
  return { ok: true, nodeId: new ua.NodeId(id.identifierType, id.value, id.namespace) };
}
