/**
 * The InfluxDB v1 HTTP API, as far as the sink needs it: `/write` (line
 * protocol, ms precision, gzip), `/query` (to create the database) and
 * `/ping`. InfluxDB 2.x and 3.x serve the same endpoints for v1 clients.
 *
 * Every answer is sorted into what the sink does next: delivered, retry later
 * (the server or the network failed, or it refused the request as a whole),
 * or bad data (InfluxDB refused points of the batch; split it to find them).
 */
import { promisify } from 'node:util';
import { constants, gzip } from 'node:zlib';
import { messageOf } from '../errors.js';

const gzipAsync = promisify(gzip);

export interface InfluxClientOptions {
  /** `http(s)://host:port`, optionally with a path prefix */
  readonly url: string;
  readonly database: string;
  readonly retentionPolicy?: string;
  readonly username?: string;
  /** InfluxDB 2.x/3.x: an API token */
  readonly password?: string;
  /** `header` (default): HTTP basic authentication; `query`: the v1 `u` and `p` parameters */
  readonly credentialsIn?: 'header' | 'query';
  /** a request not answered in this time is abandoned and counts as failed (default 10 000) */
  readonly requestTimeoutMs?: number;
  /** gzip level of write bodies, 1 (fast) … 9 (small); default 1: line protocol shrinks about tenfold even so */
  readonly gzipLevel?: number;
}

export type WriteOutcome =
  | { readonly kind: 'delivered' }
  /** send the same points again later */
  | {
      readonly kind: 'retry';
      readonly reason: string;
      readonly status: number | null;
      /** no HTTP answer at all (refused, reset, timed out) */
      readonly network: boolean;
      /** the database (or its 2.x mapping) does not exist */
      readonly databaseMissing: boolean;
    }
  /** InfluxDB refused points of this batch (a parse error, a field type conflict, …) */
  | { readonly kind: 'bad-data'; readonly status: number; readonly reason: string }
  /** the request body was too large: send fewer points at once */
  | { readonly kind: 'too-large'; readonly reason: string };

export interface PingResult {
  readonly ok: boolean;
  /** the server's `X-Influxdb-Version` header */
  readonly version: string | null;
  readonly reason: string | null;
}

export type CreateOutcome =
  | { readonly kind: 'created' }
  /** the server answered but would not (no admin rights, a 2.x/3.x server without the statement): write anyway */
  | { readonly kind: 'refused'; readonly reason: string }
  | { readonly kind: 'retry'; readonly reason: string };

/**
 * A 400 whose message says which points were wrong; any other 400 (no
 * database given, a body InfluxDB could not inflate, …) is about the request,
 * and splitting the batch would only drop good points.
 */
const POINT_ERROR =
  /unable to parse|partial write|field type conflict|beyond retention|outside range|invalid (number|boolean|field|tag|timestamp|measurement)|bad timestamp|missing (fields|tag|measurement)|max-values-per-tag|parsing failed|line protocol|failed to parse|type mismatch|schema/i;

export class InfluxClient {
  private readonly base: string;
  private readonly options: InfluxClientOptions;
  private readonly authHeader: string | undefined;

  constructor(options: InfluxClientOptions) {
    // fetch refuses URLs with user info: credentials written into the URL move to the options
    const { url, username, password } = splitCredentials(options.url);
    this.options = {
      ...options,
      url,
      ...(options.username === undefined && username !== undefined ? { username } : {}),
      ...(options.password === undefined && password !== undefined ? { password } : {}),
    };
    options = this.options;
    this.base = url.replace(/\/+$/, '');
    const hasCredentials = options.username !== undefined || options.password !== undefined;
    this.authHeader =
      hasCredentials && options.credentialsIn !== 'query'
        ? `Basic ${Buffer.from(`${options.username ?? ''}:${options.password ?? ''}`).toString('base64')}`
        : undefined;
  }

  /** where the points go, without credentials: for logs and health */
  get target(): string {
    const rp = this.options.retentionPolicy === undefined ? '' : `.${this.options.retentionPolicy}`;
    return `${safeUrl(this.base)} database ${this.options.database}${rp}`;
  }

  /** Writes line protocol, one point per line. */
  async write(lines: readonly string[], signal?: AbortSignal): Promise<WriteOutcome> {
    const params = new URLSearchParams({ db: this.options.database, precision: 'ms' });
    if (this.options.retentionPolicy !== undefined) params.set('rp', this.options.retentionPolicy);
    this.addQueryCredentials(params);
    let body: Buffer;
    try {
      body = await gzipAsync(Buffer.from(lines.join('\n'), 'utf8'), {
        level: this.options.gzipLevel ?? constants.Z_BEST_SPEED,
      });
    } catch (err) {
      return {
        kind: 'retry',
        reason: `compressing failed: ${messageOf(err)}`,
        status: null,
        network: false,
        databaseMissing: false,
      };
    }
    const headers: Record<string, string> = {
      'Content-Type': 'text/plain; charset=utf-8',
      'Content-Encoding': 'gzip',
    };
    if (this.authHeader !== undefined) headers.Authorization = this.authHeader;
    let res: Response;
    let text: string;
    try {
      res = await fetch(`${this.base}/write?${params}`, {
        method: 'POST',
        headers,
        body: new Uint8Array(body.buffer as ArrayBuffer, body.byteOffset, body.byteLength),
        signal: this.signal(signal),
      });
      text = await res.text();
    } catch (err) {
      return { kind: 'retry', reason: networkReason(err), status: null, network: true, databaseMissing: false };
    }
    if (res.status >= 200 && res.status < 300) return { kind: 'delivered' };
    const reason = `InfluxDB answered ${res.status}: ${errorText(text) || res.statusText}`;
    switch (res.status) {
      case 400:
      case 422:
        if (POINT_ERROR.test(text)) return { kind: 'bad-data', status: res.status, reason };
        return { kind: 'retry', reason, status: res.status, network: false, databaseMissing: false };
      case 401:
      case 403:
        return {
          kind: 'retry',
          reason: `${reason} (check sinks.influxdb.username and password; on InfluxDB 2.x and 3.x the password is an API token allowed to write)`,
          status: res.status,
          network: false,
          databaseMissing: false,
        };
      case 404:
        return {
          kind: 'retry',
          reason: `${reason} (create the database, or on InfluxDB 2.x a DBRP mapping for it)`,
          status: 404,
          network: false,
          databaseMissing: true,
        };
      case 413:
        return { kind: 'too-large', reason };
      default:
        return { kind: 'retry', reason, status: res.status, network: false, databaseMissing: false };
    }
  }

  /** `CREATE DATABASE` through `/query` (InfluxDB 1.x; harmless when it exists). */
  async createDatabase(signal?: AbortSignal): Promise<CreateOutcome> {
    const params = new URLSearchParams({ q: `CREATE DATABASE "${this.options.database.replace(/["\\]/g, '\\$&')}"` });
    this.addQueryCredentials(params);
    const headers: Record<string, string> = { 'Content-Type': 'application/x-www-form-urlencoded' };
    if (this.authHeader !== undefined) headers.Authorization = this.authHeader;
    let res: Response;
    let text: string;
    try {
      res = await fetch(`${this.base}/query`, { method: 'POST', headers, body: params, signal: this.signal(signal) });
      text = await res.text();
    } catch (err) {
      return { kind: 'retry', reason: networkReason(err) };
    }
    const reason = `InfluxDB answered ${res.status} to CREATE DATABASE: ${errorText(text) || res.statusText}`;
    if (res.status >= 500 || res.status === 429 || res.status === 408) return { kind: 'retry', reason };
    if (res.status !== 200) return { kind: 'refused', reason };
    const statementError = errorText(text);
    return statementError === ''
      ? { kind: 'created' }
      : { kind: 'refused', reason: `CREATE DATABASE: ${statementError}` };
  }

  async ping(signal?: AbortSignal): Promise<PingResult> {
    try {
      const res = await fetch(`${this.base}/ping`, { signal: this.signal(signal) });
      await res.arrayBuffer();
      const version = res.headers.get('x-influxdb-version');
      const ok = res.status >= 200 && res.status < 300;
      return { ok, version, reason: ok ? null : `InfluxDB answered ${res.status} to /ping` };
    } catch (err) {
      return { ok: false, version: null, reason: networkReason(err) };
    }
  }

  private addQueryCredentials(params: URLSearchParams): void {
    if (this.options.credentialsIn !== 'query') return;
    if (this.options.username !== undefined) params.set('u', this.options.username);
    if (this.options.password !== undefined) params.set('p', this.options.password);
  }

  private signal(outer: AbortSignal | undefined): AbortSignal {
    const timeout = AbortSignal.timeout(this.options.requestTimeoutMs ?? 10_000);
    return outer === undefined ? timeout : AbortSignal.any([outer, timeout]);
  }
}

/** The error message of an InfluxDB answer (`{"error": …}`, a statement error, or 3.x's `{"message": …}`). */
function errorText(body: string): string {
  const text = body.trim();
  if (text === '') return '';
  try {
    const json = JSON.parse(text) as {
      error?: unknown;
      message?: unknown;
      results?: { error?: unknown }[];
    };
    const e = json.error ?? json.message ?? json.results?.find((r) => r.error !== undefined)?.error;
    if (typeof e === 'string') return e.slice(0, 500);
    if (json.results !== undefined) return '';
  } catch {
    // not JSON: a proxy's page or plain text
  }
  return text.slice(0, 500);
}

function networkReason(err: unknown): string {
  const e = err as { name?: string; cause?: { code?: string; message?: string } };
  if (e.name === 'TimeoutError') return 'InfluxDB did not answer in time';
  if (e.name === 'AbortError') return 'the request was abandoned (the sink is stopping)';
  const cause = e.cause?.code ?? e.cause?.message;
  return `InfluxDB cannot be reached: ${cause ?? messageOf(err)}`;
}

function splitCredentials(url: string): { url: string; username?: string; password?: string } {
  try {
    const u = new URL(url);
    if (u.username === '' && u.password === '') return { url };
    const username = decodeURIComponent(u.username);
    const password = u.password === '' ? undefined : decodeURIComponent(u.password);
    u.username = '';
    u.password = '';
    return { url: u.toString(), username, ...(password === undefined ? {} : { password }) };
  } catch {
    return { url };
  }
}

/** the URL without user info */
function safeUrl(url: string): string {
  try {
    const u = new URL(url);
    u.username = '';
    u.password = '';
    return u.toString().replace(/\/+$/, '');
  } catch {
    return url;
  }
}
