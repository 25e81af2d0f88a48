/**
 * HTTPS for the server: the certificate and key files of `server.tls`, read
 * and checked before the server is built, with an error naming the file and
 * the setting when one cannot be used.
 */
import { readFileSync } from 'node:fs';
import { createSecureContext } from 'node:tls';

export interface TlsFiles {
  readonly certFile: string;
  readonly keyFile: string;
}

export interface TlsMaterial {
  readonly cert: Buffer;
  readonly key: Buffer;
}

export class TlsError extends Error {
  readonly code = 'GL_ERR_TLS';

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'TlsError';
  }
}

const reason = (err: unknown) => (err instanceof Error ? err.message : String(err));

export function readTlsFiles(files: TlsFiles): TlsMaterial {
  const read = (setting: string, path: string): Buffer => {
    try {
      return readFileSync(path);
    } catch (err) {
      throw new TlsError(
        `cannot read ${setting} ${path}: ${reason(err)}. Check the path (relative paths start at the config file's folder) and that greenline may read the file.`,
        { cause: err },
      );
    }
  };
  const cert = read('server.tls.certFile', files.certFile);
  const key = read('server.tls.keyFile', files.keyFile);
  try {
    createSecureContext({ cert, key });
  } catch (err) {
    throw new TlsError(
      `cannot use server.tls.certFile ${files.certFile} with server.tls.keyFile ${files.keyFile}: ${reason(err)}. Both must be PEM, and the key must be the certificate's.`,
      { cause: err },
    );
  }
  return { cert, key };
}
