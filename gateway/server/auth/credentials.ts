/**
 * The secrets a client holds after signing in: session ids (in a cookie) and
 * API tokens (in `Authorization: Bearer`). Both are 256 random bits; the
 * store keeps only their SHA-256, so a copy of the database signs nobody in.
 * A fast hash is enough here: the secrets are random, not chosen by people.
 */
import { createHash, randomBytes } from 'node:crypto';

export const TOKEN_PREFIX = 'glt_';
const SECRET = /^[A-Za-z0-9_-]{43}$/;

/** 32 random bytes, base64url (43 characters) */
export const newSessionId = (): string => randomBytes(32).toString('base64url');

export const newApiToken = (): string => `${TOKEN_PREFIX}${randomBytes(32).toString('base64url')}`;

export const isSessionId = (x: string): boolean => SECRET.test(x);

export const isApiToken = (x: string): boolean =>
  x.startsWith(TOKEN_PREFIX) && SECRET.test(x.slice(TOKEN_PREFIX.length));

export const secretHash = (secret: string): string => createHash('sha256').update(secret, 'utf8').digest('hex');

/** enough of a token to tell it apart in a list, far too little to guess the rest */
export const tokenHint = (token: string): string => token.slice(0, TOKEN_PREFIX.length + 4);
