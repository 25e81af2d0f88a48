/**
 * `greenline browse <endpoint>`: prints an OPC UA server's address space
 * from the Objects folder (browse names, node ids, node classes, and data
 * type and current value of each variable), to help write a config.
 *
 * It connects the way the gateway does: same application certificate and
 * trust list (`<data dir>/opcua-pki`, default `data/gateway/opcua-pki`), so
 * a server certificate trusted for one is trusted for the other.
 */
import path from 'node:path';
import { parseArgs } from 'node:util';
import type { ClientSession, OPCUAClient } from 'node-opcua';
import { describeError } from '../protocols/errors.js';
import { type BrowsedNode, type BrowseTree, browseAddressSpace } from '../protocols/opcua/browse.js';
import {
  createClient,
  loadNodeOpcua,
  type OpcuaAuth,
  readServerInfo,
  type SecurityModeName,
  type SecurityPolicyName,
  type ServerInfo,
  userIdentity,
} from '../protocols/opcua/client.js';
import { openPki, type Pki } from '../protocols/opcua/pki.js';

export const BROWSE_USAGE = `usage: greenline browse <opc.tcp://host:port/path> [options]

prints the server's address space from Objects: browse name, node id, node class,
and data type = current value of each variable

options:
  --depth N              levels below Objects (default 4)
  --security MODE        None (default), Sign or SignAndEncrypt
  --policy POLICY        Basic256Sha256 (default with Sign/SignAndEncrypt),
                         Aes128_Sha256_RsaOaep, Aes256_Sha256_RsaPss
  --user NAME            sign in with a user name; the password comes from
                         --password or the GREENLINE_OPCUA_PASSWORD variable
  --cert FILE --key FILE sign in with an X.509 user certificate (PEM files)
  --data-dir DIR         the gateway's data folder; certificates in DIR/opcua-pki
                         (default data/gateway)
  --trust-server         trust the server certificate if it is not trusted yet
  --all                  expand the standard Server object too
  --paths                show each variable's browse path
  --max-nodes N          stop after N nodes (default 2000)
  --timeout MS           per request (default 10000)
  --json                 the tree as JSON
`;

const MODES: readonly SecurityModeName[] = ['None', 'Sign', 'SignAndEncrypt'];
const POLICIES: readonly SecurityPolicyName[] = [
  'None',
  'Basic256Sha256',
  'Aes128_Sha256_RsaOaep',
  'Aes256_Sha256_RsaPss',
];

export interface BrowseRequest {
  readonly endpointUrl: string;
  readonly securityMode: SecurityModeName;
  readonly securityPolicy: SecurityPolicyName;
  readonly auth: OpcuaAuth;
  readonly dataDir: string;
  readonly trustServer: boolean;
  readonly depth: number;
  readonly maxNodes: number;
  readonly includeServer: boolean;
  readonly timeoutMs: number;
  /** told about what happened on the way (a certificate trusted) */
  readonly note?: (line: string) => void;
}

export class BrowseError extends Error {
  readonly code = 'GL_ERR_OPCUA_BROWSE';
}

function withTimeout<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  work.catch(() => {});
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
  });
  return Promise.race([work, deadline]).finally(() => clearTimeout(timer));
}

/** Connects, browses, disconnects. Throws a BrowseError that says what went wrong and what to do. */
export async function browseEndpoint(req: BrowseRequest): Promise<BrowseTree> {
  const ua = await loadNodeOpcua();
  const pki: Pki = await openPki(ua, path.join(req.dataDir, 'opcua-pki'), {
    trustUnknown: req.trustServer,
    onTrusted: (thumbprint) =>
      req.note?.(`trusted the server certificate (SHA-1 ${thumbprint}); it is now in ${pki.trustedDir}`),
  });
  let client: OPCUAClient | null = null;
  let session: ClientSession | null = null;
  let phase = `cannot connect to ${req.endpointUrl}`;
  try {
    client = createClient(ua, {
      securityMode: req.securityMode,
      securityPolicy: req.securityPolicy,
      certificateManager: pki.manager,
      keepSessionAlive: false,
      sessionTimeoutMs: 60_000,
    });
    await withTimeout(client.connect(req.endpointUrl), req.timeoutMs, 'connect');
    phase = `cannot open a session on ${req.endpointUrl}`;
    const identity = await userIdentity(ua, req.auth);
    session = await withTimeout(client.createSession(identity), req.timeoutMs, 'create session');
    phase = `browsing ${req.endpointUrl} failed`;
    const s = session;
    const info: Partial<ServerInfo> = await withTimeout(readServerInfo(ua, s), req.timeoutMs, 'read').catch(() => ({}));
    return await browseAddressSpace(ua, s, {
      depth: req.depth,
      maxNodes: req.maxNodes,
      includeServer: req.includeServer,
      limits: { maxNodesPerBrowse: info.maxNodesPerBrowse ?? null, maxNodesPerRead: info.maxNodesPerRead ?? null },
      call: (name, work) => withTimeout(work, req.timeoutMs, name),
    });
  } catch (err) {
    const rejection = pki.lastRejection;
    if (rejection) {
      throw new BrowseError(`${phase}: ${pki.describeRejection(rejection, 'or run again with --trust-server')}`);
    }
    throw new BrowseError(`${phase}: ${describeError(err)}`);
  } finally {
    if (session) await withTimeout(session.close(), 2000, 'close session').catch(() => undefined);
    if (client) await withTimeout(client.disconnect(), 2000, 'disconnect').catch(() => undefined);
    await pki.release();
  }
}

/** The tree as text, one node a line. */
export function renderTree(tree: BrowseTree, opts: { paths?: boolean; depth?: number } = {}): string {
  const lines: string[] = [];
  const label = (n: BrowsedNode): string => {
    let s = `${n.browseName}  ${n.nodeId}  ${n.nodeClass}`;
    if (n.nodeClass === 'Variable') {
      s += `  ${n.dataType ?? '?'}`;
      if (n.value !== undefined) s += ` = ${n.value}`;
      if (opts.paths) s += `  ${n.browsePath}`;
    }
    return s;
  };
  const more = (n: BrowsedNode): string | null => {
    switch (n.notExpanded) {
      case 'server':
        return '… (the standard Server object: --all expands it)';
      case 'depth':
        return `… (deeper: --depth ${(opts.depth ?? 0) + 1})`;
      case 'limit':
        return '… (stopped at --max-nodes)';
      default:
        return null;
    }
  };
  const walk = (n: BrowsedNode, prefix: string): void => {
    const rows: { text: string; node?: BrowsedNode }[] = n.children.map((c) => ({ text: label(c), node: c }));
    const tail = more(n);
    if (tail && n !== tree.root) rows.push({ text: tail });
    rows.forEach((row, i) => {
      const last = i === rows.length - 1;
      lines.push(`${prefix}${last ? '└─ ' : '├─ '}${row.text}`);
      if (row.node) walk(row.node, `${prefix}${last ? '   ' : '│  '}`);
    });
  };
  lines.push(label(tree.root));
  walk(tree.root, '');
  lines.push('');
  lines.push(`${tree.count} node${tree.count === 1 ? '' : 's'}${tree.truncated ? ' (stopped at --max-nodes)' : ''}.`);
  const variable = firstVariable(tree.root);
  if (variable) {
    lines.push('a tag takes the node id or the browse path, e.g.');
    lines.push(`  nodeId: "${variable.nodeId}"`);
    lines.push(`  browsePath: "${variable.browsePath}"`);
  }
  return `${lines.join('\n')}\n`;
}

function firstVariable(n: BrowsedNode): BrowsedNode | null {
  for (const c of n.children) {
    // the server's own variables, not the standard ones of namespace 0
    if (c.nodeClass === 'Variable' && !c.nodeId.startsWith('ns=0;')) return c;
    const v = firstVariable(c);
    if (v) return v;
  }
  return null;
}

interface Output {
  write(text: string): unknown;
}

function positiveInt(text: string | undefined, fallback: number, name: string, problems: string[]): number {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) problems.push(`--${name} must be a whole number ≥ 1, not "${text}"`);
  return n;
}

export async function runBrowseCli(
  args: readonly string[],
  out: Output = process.stdout,
  err: Output = process.stderr,
  env: NodeJS.ProcessEnv = process.env,
): Promise<number> {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(args);
  } catch (e) {
    err.write(`greenline browse: ${describeError(e)}\n\n${BROWSE_USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    out.write(BROWSE_USAGE);
    return 0;
  }
  const problems: string[] = [];
  const endpointUrl = positionals[0];
  if (!endpointUrl) problems.push('give the server endpoint, e.g. greenline browse opc.tcp://10.0.0.5:4840');
  else if (!/^opc\.tcp:\/\/\S+$/.test(endpointUrl)) problems.push(`"${endpointUrl}" is not an opc.tcp:// endpoint`);
  if (positionals.length > 1) problems.push(`one endpoint at a time (also got ${positionals.slice(1).join(' ')})`);
  const securityMode = (values.security ?? 'None') as SecurityModeName;
  if (!MODES.includes(securityMode)) problems.push(`--security is one of ${MODES.join(', ')}`);
  const securityPolicy = (values.policy ?? (securityMode === 'None' ? 'None' : 'Basic256Sha256')) as SecurityPolicyName;
  if (!POLICIES.includes(securityPolicy)) problems.push(`--policy is one of ${POLICIES.join(', ')}`);
  else if ((securityMode === 'None') !== (securityPolicy === 'None')) {
    problems.push(`--security ${securityMode} does not go with --policy ${securityPolicy}`);
  }
  let auth: OpcuaAuth = { type: 'anonymous' };
  if (values.user !== undefined) {
    auth = { type: 'username', username: values.user, password: values.password ?? env.GREENLINE_OPCUA_PASSWORD ?? '' };
  }
  if (values.cert !== undefined || values.key !== undefined) {
    if (values.user !== undefined) problems.push('--user and --cert exclude each other');
    if (values.cert === undefined || values.key === undefined) problems.push('--cert and --key go together');
    else auth = { type: 'certificate', certificateFile: values.cert, privateKeyFile: values.key };
  }
  const depth = positiveInt(values.depth, 4, 'depth', problems);
  const maxNodes = positiveInt(values['max-nodes'], 2000, 'max-nodes', problems);
  const timeoutMs = positiveInt(values.timeout, 10_000, 'timeout', problems);
  if (problems.length > 0 || !endpointUrl) {
    for (const p of problems) err.write(`greenline browse: ${p}\n`);
    err.write(`\n${BROWSE_USAGE}`);
    return 2;
  }
  try {
    const tree = await browseEndpoint({
      endpointUrl,
      securityMode,
      securityPolicy,
      auth,
      dataDir: path.resolve(values['data-dir'] ?? path.join('data', 'gateway')),
      trustServer: values['trust-server'] ?? false,
      depth,
      maxNodes,
      includeServer: values.all ?? false,
      timeoutMs,
      note: (line) => err.write(`${line}\n`),
    });
    out.write(values.json ? `${JSON.stringify(tree, null, 2)}\n` : renderTree(tree, { paths: values.paths, depth }));
    return 0;
  } catch (e) {
    const code = e instanceof BrowseError ? `${e.code}: ` : '';
    err.write(`greenline browse: ${code}${describeError(e)}\n`);
    return 1;
  }
}

function parse(args: readonly string[]) {
  return parseArgs({
    args: [...args],
    allowPositionals: true,
    options: {
      depth: { type: 'string' },
      security: { type: 'string' },
      policy: { type: 'string' },
      user: { type: 'string' },
      password: { type: 'string' },
      cert: { type: 'string' },
      key: { type: 'string' },
      'data-dir': { type: 'string' },
      'trust-server': { type: 'boolean' },
      all: { type: 'boolean' },
      paths: { type: 'boolean' },
      json: { type: 'boolean' },
      'max-nodes': { type: 'string' },
      timeout: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
}
