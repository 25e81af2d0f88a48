/**
 * OPC UA security against a node-opcua server offering None, Sign and
 * SignAndEncrypt with Basic256Sha256, Aes128_Sha256_RsaOaep and
 * Aes256_Sha256_RsaPss: the server certificate trust rule (refused until its
 * file is in trusted/certs, or trusted on first sight by opt-in), and the
 * three user identities (anonymous, user name, X.509 certificate).
 */
import { copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  DataType,
  MessageSecurityMode,
  nodesets,
  OPCUACertificateManager,
  OPCUAServer,
  SecurityPolicy,
  Variant,
} from 'node-opcua';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OpcuaDevice } from '../../config/schema.js';
import { createDriver } from '../../protocols/index.js';
import { certificateDer } from '../../protocols/opcua/client.js';
import type { Driver } from '../../protocols/types.js';
import { freePort } from './peers/free-port.js';
import { type RecordingContext, recordingContext } from './peers/recording-context.js';

let tmp: string;
let port: number;
let server: OPCUAServer;
let ns: number;
const drivers: Driver[] = [];

/** A user certificate and its key, as a person would get them from their IT: two PEM files. */
async function makeUserCertificate(name: string): Promise<{ certificateFile: string; privateKeyFile: string }> {
  const dir = path.join(tmp, `user-${name}`);
  const cm = new OPCUACertificateManager({ rootFolder: dir });
  await cm.initialize();
  const certificateFile = path.join(dir, 'own', 'certs', `${name}.pem`);
  await cm.createSelfSignedCertificate({
    applicationUri: `urn:greenline:test:${name}`,
    subject: `/CN=${name}`,
    dns: [],
    startDate: new Date(Date.now() - 60_000),
    validity: 30,
    outputFile: certificateFile,
  });
  await cm.dispose();
  return { certificateFile, privateKeyFile: cm.privateKey };
}

let trustedUser: { certificateFile: string; privateKeyFile: string };
let strangerUser: { certificateFile: string; privateKeyFile: string };

beforeAll(async () => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'gl-opcua-sec-'));
  port = await freePort();
  [trustedUser, strangerUser] = await Promise.all([makeUserCertificate('alice'), makeUserCertificate('mallory')]);
  const userPki = new OPCUACertificateManager({
    rootFolder: path.join(tmp, 'server-user-pki'),
    automaticallyAcceptUnknownCertificate: false,
  });
  await userPki.initialize();
  await userPki.trustCertificate(certificateDer(readFileSync(trustedUser.certificateFile)));
  server = new OPCUAServer({
    port,
    host: '127.0.0.1',
    hostname: '127.0.0.1',
    nodeset_filename: [nodesets.standard],
    securityModes: [MessageSecurityMode.None, MessageSecurityMode.Sign, MessageSecurityMode.SignAndEncrypt],
    securityPolicies: [
      SecurityPolicy.None,
      SecurityPolicy.Basic256Sha256,
      SecurityPolicy.Aes128_Sha256_RsaOaep,
      SecurityPolicy.Aes256_Sha256_RsaPss,
    ],
    allowAnonymous: true,
    userManager: {
      isValidUser: (user: string, password: string) => user === 'operator' && password === 'line-2-secret',
    },
    // the server trusts every client; what is tested here is the gateway's side
    serverCertificateManager: new OPCUACertificateManager({
      rootFolder: path.join(tmp, 'server-pki'),
      automaticallyAcceptUnknownCertificate: true,
    }),
    userCertificateManager: userPki,
  });
  await server.initialize();
  const addressSpace = server.engine.addressSpace!;
  const own = addressSpace.getOwnNamespace();
  ns = own.index;
  own.addVariable({
    organizedBy: addressSpace.rootFolder.objects,
    browseName: 'Temperature',
    nodeId: 's=Temperature',
    dataType: 'Double',
    minimumSamplingInterval: 50,
    value: { get: () => new Variant({ dataType: DataType.Double, value: 21.5 }) },
  });
  await server.start();
});

afterAll(async () => {
  await Promise.all(drivers.map((d) => d.stop()));
  await server?.shutdown(0);
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

function device(id: string, extra: Record<string, unknown>) {
  return OpcuaDevice.parse({
    protocol: 'opcua',
    id,
    endpointUrl: `opc.tcp://127.0.0.1:${port}`,
    publishingIntervalMs: 100,
    samplingIntervalMs: 50,
    timeoutMs: 5000,
    tags: [{ id: 'temperature', nodeId: `ns=${ns};s=Temperature` }],
    ...extra,
  });
}

function start(
  dev: ReturnType<typeof device>,
  dataDir: string,
  backoff = { initialMs: 200, maxMs: 1000 },
): { driver: Driver; ctx: RecordingContext } {
  const ctx = recordingContext();
  const driver = createDriver(dev, ctx, { dataDir: path.join(tmp, dataDir), backoff });
  drivers.push(driver);
  void driver.start();
  return { driver, ctx };
}

const good = (ctx: RecordingContext) => ctx.latest('temperature')?.quality === 'good';

describe('OPC UA server certificate trust', () => {
  it('refuses an unknown server certificate, says which file to copy where, and connects once it is trusted', async () => {
    const { driver, ctx } = start(
      device('strict', { securityMode: 'SignAndEncrypt', securityPolicy: 'Basic256Sha256' }),
      'strict',
    );
    const pki = path.join(tmp, 'strict', 'opcua-pki');
    await ctx.until(() => ctx.latest('temperature') !== undefined, 20_000, 'the refusal');
    expect(ctx.latest('temperature')).toMatchObject({
      quality: 'bad',
      value: null,
      reason: 'server certificate not trusted',
    });
    const status = driver.status();
    expect(status.state).not.toBe('connected');
    const rejected = readdirSync(path.join(pki, 'rejected')).filter((f) => f.endsWith('.pem'));
    expect(rejected).toHaveLength(1);
    expect(status.lastError).toContain(path.join(pki, 'rejected', rejected[0]!));
    expect(status.lastError).toContain(path.join(pki, 'trusted', 'certs'));
    expect((status.counters as unknown as Record<string, number>).certificateRejections).toBeGreaterThanOrEqual(1);
    const logged = ctx.lines.find((l) => l.obj.kind === 'certificate-rejected');
    expect(logged?.level).toBe('error');

    // what a person does after reading lastError
    copyFileSync(path.join(pki, 'rejected', rejected[0]!), path.join(pki, 'trusted', 'certs', rejected[0]!));
    await ctx.until(() => good(ctx), 30_000, 'a value once the certificate is trusted');
    expect(driver.status().state).toBe('connected');
  });

  it('trusts an unknown server certificate on first sight only when the device opts in', async () => {
    const { ctx } = start(
      device('opt-in', {
        securityMode: 'SignAndEncrypt',
        securityPolicy: 'Basic256Sha256',
        trustUnknownServerCertificate: true,
      }),
      'opt-in',
    );
    await ctx.until(() => good(ctx), 20_000, 'a value');
    const pki = path.join(tmp, 'opt-in', 'opcua-pki');
    expect(readdirSync(path.join(pki, 'trusted', 'certs')).filter((f) => f.endsWith('.pem'))).toHaveLength(1);
    expect(ctx.lines.some((l) => l.obj.kind === 'certificate-trusted')).toBe(true);
  });

  it('exchanges no certificate with securityMode None, so nothing needs trusting', async () => {
    const { ctx } = start(device('plain', {}), 'plain');
    await ctx.until(() => good(ctx), 20_000, 'a value');
    expect(existsSync(path.join(tmp, 'plain', 'opcua-pki', 'own', 'certs', 'client_certificate.pem'))).toBe(true);
  });
});

describe('OPC UA security policies and user identities', () => {
  const trusting = { trustUnknownServerCertificate: true };

  it('signs in with a user name under every policy; a wrong password is a connection error', async () => {
    const cases = [
      ['Sign', 'Basic256Sha256'],
      ['SignAndEncrypt', 'Basic256Sha256'],
      ['SignAndEncrypt', 'Aes128_Sha256_RsaOaep'],
      ['SignAndEncrypt', 'Aes256_Sha256_RsaPss'],
    ] as const;
    const runs = cases.map(([securityMode, securityPolicy]) =>
      start(
        device(`user-${securityMode}-${securityPolicy}`, {
          ...trusting,
          securityMode,
          securityPolicy,
          auth: { type: 'username', username: 'operator', password: 'line-2-secret' },
        }),
        'shared',
      ),
    );
    const wrong = start(
      device('wrong-password', {
        ...trusting,
        securityMode: 'SignAndEncrypt',
        securityPolicy: 'Aes256_Sha256_RsaPss',
        auth: { type: 'username', username: 'operator', password: 'wrong' },
      }),
      'shared',
      { initialMs: 5000, maxMs: 5000 },
    );
    for (const [i, { ctx }] of runs.entries()) await ctx.until(() => good(ctx), 20_000, `a value (${cases[i]})`);
    await wrong.ctx.until(() => wrong.ctx.latest('temperature')?.reason === 'disconnected', 20_000, 'the refusal');
    expect(wrong.driver.status().lastError).toMatch(
      /BadUserAccessDenied|BadIdentityTokenRejected|BadIdentityTokenInvalid/,
    );
  });

  it('signs in with an X.509 user certificate the server trusts; another one is refused', async () => {
    const alice = start(
      device('cert-alice', {
        ...trusting,
        securityMode: 'SignAndEncrypt',
        securityPolicy: 'Basic256Sha256',
        auth: { type: 'certificate', ...trustedUser },
      }),
      'shared',
    );
    const mallory = start(
      device('cert-mallory', {
        ...trusting,
        securityMode: 'SignAndEncrypt',
        securityPolicy: 'Basic256Sha256',
        auth: { type: 'certificate', ...strangerUser },
      }),
      'shared',
      { initialMs: 5000, maxMs: 5000 },
    );
    await alice.ctx.until(() => good(alice.ctx), 20_000, 'a value with the user certificate');
    await mallory.ctx.until(
      () => mallory.ctx.latest('temperature')?.reason === 'disconnected',
      20_000,
      'the refused certificate',
    );
    expect(mallory.driver.status().lastError).toMatch(/BadIdentityTokenRejected|BadUserAccessDenied/);
  });

  it('reports a missing user certificate file by name', async () => {
    const { driver, ctx } = start(
      device('cert-missing', {
        ...trusting,
        securityMode: 'SignAndEncrypt',
        securityPolicy: 'Basic256Sha256',
        auth: {
          type: 'certificate',
          certificateFile: path.join(tmp, 'nope.pem'),
          privateKeyFile: trustedUser.privateKeyFile,
        },
      }),
      'shared',
      { initialMs: 5000, maxMs: 5000 },
    );
    await ctx.until(() => ctx.latest('temperature')?.reason === 'disconnected', 20_000, 'the failure');
    expect(driver.status().lastError).toContain(`cannot read the user certificate ${path.join(tmp, 'nope.pem')}`);
  });
});
