/**
 * The gateway's OPC UA certificate store: `<dataDir>/opcua-pki`.
 *
 *   own/certs/client_certificate.pem   the gateway's application certificate,
 *   own/private/private_key.pem        made at the first connection attempt
 *   trusted/certs/                     server certificates the gateway trusts
 *   rejected/                          server certificates it refused, named
 *                                      `<common name>[<SHA-1 thumbprint>].pem`
 *
 * A server certificate is trusted when its file is in `trusted/certs/`
 * (copy or move the file from `rejected/`, or put one exported from the
 * server there; the folder is watched, no restart needed). A device with `trustUnknownServerCertificate: true`
 * trusts any server certificate that is not trusted yet (one in `rejected/`
 * included) and moves it to `trusted/certs/`; a certificate that is expired,
 * revoked or malformed stays refused. Certificates are only exchanged with
 * securityMode Sign or SignAndEncrypt.
 *
 * Every driver using the same folder shares one certificate manager (and its
 * folder watchers); each gets its own view of it, which applies that
 * device's trust setting and remembers why its last check failed.
 */
import { createHash } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import type { OPCUACertificateManager, StatusCode } from 'node-opcua';
import type { NodeOpcua } from './client.js';

export interface CertificateRejection {
  /** the status the certificate store answered, e.g. `BadCertificateUntrusted` */
  readonly status: string;
  /** SHA-1 thumbprint of the server certificate, hex */
  readonly thumbprint: string;
  /** the refused certificate's file in `rejected/`, when the store wrote one */
  readonly file: string | null;
}

export interface PkiOptions {
  /** trust a certificate that is not trusted yet (and keep it in trusted/certs) */
  readonly trustUnknown: boolean;
  /** told when a certificate was trusted on first sight */
  readonly onTrusted?: (thumbprint: string) => void;
}

interface SharedStore {
  readonly manager: OPCUACertificateManager;
  readonly ready: Promise<void>;
  users: number;
  /** store updates (reject, trust) one at a time, so two devices seeing one new certificate agree */
  queue: Promise<unknown>;
}

const stores = new Map<string, SharedStore>();

export class Pki {
  readonly rootDir: string;
  readonly trustedDir: string;
  readonly rejectedDir: string;
  /** the view handed to node-opcua clients as their `clientCertificateManager` */
  readonly manager: OPCUACertificateManager;
  /** why the last server certificate check failed; cleared by `resetRejection()` */
  lastRejection: CertificateRejection | null = null;
  private released = false;

  constructor(
    private readonly store: SharedStore,
    rootDir: string,
    private readonly ua: NodeOpcua,
    private readonly options: PkiOptions,
  ) {
    this.rootDir = rootDir;
    this.trustedDir = path.join(rootDir, 'trusted', 'certs');
    this.rejectedDir = path.join(rootDir, 'rejected');
    const target = store.manager;
    const check = (certificate: Buffer, callback?: (err: Error | null, status?: StatusCode) => void) => {
      const work = this.check(certificate);
      if (callback)
        work.then(
          (s) => callback(null, s),
          (err: Error) => callback(err),
        );
      return work;
    };
    this.manager = new Proxy(target, {
      get(obj, prop) {
        if (prop === 'checkCertificate') return check;
        const value: unknown = Reflect.get(obj, prop, obj);
        // private fields of the manager need the real object as `this`
        return typeof value === 'function' ? value.bind(obj) : value;
      },
    });
  }

  resetRejection(): void {
    this.lastRejection = null;
  }

  private async check(certificate: Buffer): Promise<StatusCode> {
    const { StatusCodes } = this.ua;
    const manager = this.store.manager;
    const run = async (): Promise<StatusCode> => {
      let status = await manager.checkCertificate(certificate);
      if (status.isGood()) return status;
      const leaf = firstCertificate(certificate);
      const thumbprint = sha1(leaf);
      if (status.equals(StatusCodes.BadCertificateUntrusted)) {
        // A copy in trusted/ while the refused file still sits in rejected/ counts as trusted
        // (the store alone would let rejected/ win): tidy the store, then check again.
        const inTrusted = (await manager.isCertificateTrusted(leaf)) === 'Good';
        if (inTrusted || this.options.trustUnknown) {
          await manager.trustCertificate(leaf);
          if (!inTrusted) this.options.onTrusted?.(thumbprint);
          status = await manager.checkCertificate(certificate);
          if (status.isGood()) return status;
        }
      }
      this.lastRejection = { status: status.name, thumbprint, file: await this.rejectedFile(thumbprint) };
      return status;
    };
    const result = this.store.queue.then(run, run);
    this.store.queue = result.catch(() => undefined);
    return result;
  }

  private async rejectedFile(thumbprint: string): Promise<string | null> {
    try {
      const name = (await readdir(this.rejectedDir)).find((f) => f.toLowerCase().includes(`[${thumbprint}]`));
      return name ? path.join(this.rejectedDir, name) : null;
    } catch {
      return null;
    }
  }

  /** What to tell a person about a refused server certificate: which file to copy where. */
  describeRejection(r: CertificateRejection, orElse = 'or set trustUnknownServerCertificate: true'): string {
    if (r.status !== 'BadCertificateUntrusted') {
      return `server certificate refused (${r.status}), SHA-1 thumbprint ${r.thumbprint}`;
    }
    const what = r.file ? `copy ${r.file}` : `copy the server certificate (SHA-1 ${r.thumbprint})`;
    return `server certificate not trusted: ${what} to ${this.trustedDir}${path.sep} to trust it, ${orElse}`;
  }

  /** Lets go of the shared store; the last user closes it (and its folder watchers). */
  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    this.store.users--;
    if (this.store.users > 0) return;
    for (const [k, v] of stores) if (v === this.store) stores.delete(k);
    await this.store.ready.catch(() => undefined);
    await this.store.queue;
    // clients count themselves in and out of the manager; it is ours to close
    this.store.manager.referenceCounter = 0;
    await this.store.manager.dispose().catch(() => undefined);
  }
}

/** Opens (or joins) the certificate store in `rootDir`; creates the folders on first use. */
export async function openPki(ua: NodeOpcua, rootDir: string, options: PkiOptions): Promise<Pki> {
  const key = path.resolve(rootDir);
  let store = stores.get(key);
  if (!store) {
    const manager = new ua.OPCUACertificateManager({ rootFolder: key, automaticallyAcceptUnknownCertificate: false });
    store = { manager, ready: manager.initialize(), users: 0, queue: Promise.resolve() };
    stores.set(key, store);
  }
  store.users++;
  const pki = new Pki(store, key, ua, options);
  try {
    await store.ready;
  } catch (err) {
    await pki.release();
    throw err;
  }
  return pki;
}

/** The first certificate of a DER chain (a server may send its issuers after it). */
export function firstCertificate(chain: Buffer): Buffer {
  if (chain.length < 2 || chain[0] !== 0x30) return chain;
  let length = chain[1]!;
  let offset = 2;
  if (length & 0x80) {
    const n = length & 0x7f;
    length = 0;
    for (let i = 0; i < n; i++) length = length * 256 + (chain[2 + i] ?? 0);
    offset = 2 + n;
  }
  return chain.subarray(0, Math.min(chain.length, offset + length));
}

function sha1(der: Buffer): string {
  return createHash('sha1').update(der).digest('hex');
}
