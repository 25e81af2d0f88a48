/**
 * What the driver and `greenline browse` share to reach an OPC UA server:
 * loading node-opcua, the client settings, the user identity, and what the
 * server tells about itself (namespaces, operation limits).
 */
import { readFile } from 'node:fs/promises';
import type {
  ClientSession,
  NodeId,
  OPCUACertificateManager,
  OPCUAClient,
  ReadValueIdOptions,
  UserIdentityInfo,
} from 'node-opcua';
import type { OpcuaDevice } from '../../config/schema.js';

export type NodeOpcua = typeof import('node-opcua');

/**
 * node-opcua is large (it loads in most of a second): it is imported when
 * first needed, not when the gateway starts.
 */
let nodeOpcua: Promise<NodeOpcua> | null = null;
export const loadNodeOpcua = (): Promise<NodeOpcua> => {
  nodeOpcua ??= import('node-opcua');
  return nodeOpcua;
};

export type SecurityModeName = OpcuaDevice['securityMode'];
export type SecurityPolicyName = OpcuaDevice['securityPolicy'];
export type OpcuaAuth = OpcuaDevice['auth'];

export interface ClientSettings {
  readonly securityMode: SecurityModeName;
  readonly securityPolicy: SecurityPolicyName;
  readonly certificateManager: OPCUACertificateManager;
  /** how long the session may stay idle on the server, ms */
  readonly sessionTimeoutMs?: number;
  readonly keepSessionAlive?: boolean;
}

/**
 * A client that tries once: node-opcua's own retry is off, the caller owns
 * reconnection. `endpointMustExist: false` lets a server that advertises a
 * different host name (its own, behind NAT) still be reached at the address
 * we were given.
 */
export function createClient(ua: NodeOpcua, s: ClientSettings): OPCUAClient {
  return ua.OPCUAClient.create({
    applicationName: 'greenline',
    connectionStrategy: { maxRetry: 0, initialDelay: 100, maxDelay: 200 },
    endpointMustExist: false,
    securityMode: ua.MessageSecurityMode[s.securityMode],
    securityPolicy: ua.SecurityPolicy[s.securityPolicy],
    keepSessionAlive: s.keepSessionAlive ?? true,
    requestedSessionTimeout: s.sessionTimeoutMs ?? 60_000,
    clientCertificateManager: s.certificateManager,
  });
}

/** The DER bytes of a PEM (or already DER) certificate file. */
export function certificateDer(content: Buffer): Buffer {
  const text = content.toString('latin1');
  const blocks = [...text.matchAll(/-----BEGIN CERTIFICATE-----([\s\S]+?)-----END CERTIFICATE-----/g)];
  if (blocks.length === 0) return content;
  return Buffer.concat(blocks.map((m) => Buffer.from(m[1]!.replace(/\s+/g, ''), 'base64')));
}

export async function userIdentity(ua: NodeOpcua, auth: OpcuaAuth): Promise<UserIdentityInfo> {
  const { UserTokenType } = ua;
  switch (auth.type) {
    case 'anonymous':
      return { type: UserTokenType.Anonymous };
    case 'username':
      return { type: UserTokenType.UserName, userName: auth.username, password: auth.password };
    case 'certificate': {
      const cert = await readFile(auth.certificateFile).catch((err: Error) => {
        throw new Error(`cannot read the user certificate ${auth.certificateFile}: ${err.message}`);
      });
      const key = await readFile(auth.privateKeyFile, 'utf8').catch((err: Error) => {
        throw new Error(`cannot read the user private key ${auth.privateKeyFile}: ${err.message}`);
      });
      return { type: UserTokenType.Certificate, certificateData: certificateDer(cert), privateKey: key };
    }
  }
}

export interface ServerInfo {
  /** the server's namespace array (index → URI); empty when it could not be read */
  readonly namespaces: readonly string[];
  readonly maxMonitoredItemsPerCall: number | null;
  readonly maxNodesPerTranslate: number | null;
  readonly maxNodesPerRead: number | null;
  readonly maxNodesPerBrowse: number | null;
}

/** Namespaces and operation limits in one Read; what the server does not answer stays unknown. */
export async function readServerInfo(ua: NodeOpcua, session: ClientSession): Promise<ServerInfo> {
  const { VariableIds, AttributeIds } = ua;
  const ids = [
    VariableIds.Server_NamespaceArray,
    VariableIds.Server_ServerCapabilities_OperationLimits_MaxMonitoredItemsPerCall,
    VariableIds.Server_ServerCapabilities_OperationLimits_MaxNodesPerTranslateBrowsePathsToNodeIds,
    VariableIds.Server_ServerCapabilities_OperationLimits_MaxNodesPerRead,
    VariableIds.Server_ServerCapabilities_OperationLimits_MaxNodesPerBrowse,
  ];
  const nodes: ReadValueIdOptions[] = ids.map((i) => ({
    nodeId: ua.makeNodeId(i, 0),
    attributeId: AttributeIds.Value,
  }));
  const values = await session.read(nodes);
  const limit = (i: number): number | null => {
    const dv = values[i];
    const v: unknown = dv?.statusCode.isGood() ? dv.value.value : null;
    return typeof v === 'number' && v > 0 ? v : null;
  };
  const ns: unknown = values[0]?.statusCode.isGood() ? values[0].value.value : null;
  return {
    namespaces: Array.isArray(ns) ? ns.map(String) : [],
    maxMonitoredItemsPerCall: limit(1),
    maxNodesPerTranslate: limit(2),
    maxNodesPerRead: limit(3),
    maxNodesPerBrowse: limit(4),
  };
}

export type NodeIdResolution =
  | { readonly ok: true; readonly nodeId: NodeId }
  | { readonly ok: false; readonly reason: string };

/**
 * A node id from the config: `ns=…;`, no namespace (0), or `nsu=<URI>;`
 * looked up in the server's namespace array.
 */
export function resolveNodeIdText(ua: NodeOpcua, text: string, namespaces: readonly string[]): NodeIdResolution {
  let id = text;
  const m = /^nsu=([^;]+);(.*)$/.exec(text);
  if (m) {
    const uri = m[1]!;
    let index = namespaces.indexOf(uri);
    if (index < 0) {
      try {
        index = namespaces.indexOf(decodeURIComponent(uri));
      } catch {
        // not percent-encoded: nothing more to try
      }
    }
    if (index < 0) {
      return {
        ok: false,
        reason: namespaces.length === 0 ? 'namespace array unreadable' : `namespace not on the server: ${uri}`,
      };
    }
    id = `ns=${index};${m[2]}`;
  }
  try {
    return { ok: true, nodeId: ua.coerceNodeId(id) };
  } catch {
    return { ok: false, reason: `invalid node id: ${text}` };
  }
}
