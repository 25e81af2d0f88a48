/**
 * Password hashes with Node's scrypt: a random salt per password, the cost
 * parameters stored with the hash (so they can be raised later: a password
 * hashed with weaker ones is re-hashed at its next sign-in), compared in
 * constant time.
 *
 * Format (PHC string): `$scrypt$ln=15,r=8,p=1$<salt>$<hash>`, salt and hash
 * in unpadded base64. N = 2^15, r = 8 costs 32 MiB and some 50–100 ms per
 * hash on a small gateway box; at most two hashes run at once, so a burst
 * of sign-ins cannot take the memory of the process.
 */
import { randomBytes, randomInt, scrypt, timingSafeEqual } from 'node:crypto';

export interface ScryptCost {
  /** log2 of N, the CPU and memory cost */
  readonly ln: number;
  /** block size */
  readonly r: number;
  /** parallelization */
  readonly p: number;
}

export const DEFAULT_COST: ScryptCost = { ln: 15, r: 8, p: 1 };

const SALT_BYTES = 16;
const HASH_BYTES = 32;
/** passwords longer than this are refused before hashing (bytes of UTF-8) */
export const MAX_PASSWORD_BYTES = 1024;
/** stored parameters beyond these are refused: a damaged row must not take all memory */
const LIMITS = { ln: [10, 20], r: [1, 32], p: [1, 16] } as const;
const MAX_CONCURRENT = 2;

interface Parsed {
  readonly cost: ScryptCost;
  readonly salt: Buffer;
  readonly hash: Buffer;
}

const b64 = (b: Buffer) => b.toString('base64').replace(/=+$/, '');

export function formatHash(cost: ScryptCost, salt: Buffer, hash: Buffer): string {
  return `$scrypt$ln=${cost.ln},r=${cost.r},p=${cost.p}$${b64(salt)}$${b64(hash)}`;
}

export function parseHash(text: string): Parsed | null {
  const m = /^\$scrypt\$ln=(\d{1,2}),r=(\d{1,2}),p=(\d{1,2})\$([A-Za-z0-9+/]{16,})\$([A-Za-z0-9+/]{16,})$/.exec(text);
  if (!m) return null;
  const cost = { ln: Number(m[1]), r: Number(m[2]), p: Number(m[3]) };
  for (const key of ['ln', 'r', 'p'] as const) {
    const [lo, hi] = LIMITS[key];
    if (cost[key] < lo || cost[key] > hi) return null;
  }
  return { cost, salt: Buffer.from(m[4]!, 'base64'), hash: Buffer.from(m[5]!, 'base64') };
}

let running = 0;
const waiting: (() => void)[] = [];

async function derive(password: string, salt: Buffer, cost: ScryptCost, length: number): Promise<Buffer> {
  if (running >= MAX_CONCURRENT) await new Promise<void>((go) => waiting.push(go));
  running++;
  try {
    const N = 2 ** cost.ln;
    return await new Promise<Buffer>((resolve, reject) =>
      scrypt(
        password.normalize('NFC'),
        salt,
        length,
        { N, r: cost.r, p: cost.p, maxmem: 256 * N * cost.r + 1024 * 1024 },
        (err, key) => (err ? reject(err) : resolve(key)),
      ),
    );
  } finally {
    running--;
    waiting.shift()?.();
  }
}

export async function hashPassword(password: string, cost: ScryptCost = DEFAULT_COST): Promise<string> {
  const salt = randomBytes(SALT_BYTES);
  return formatHash(cost, salt, await derive(password, salt, cost, HASH_BYTES));
}

/**
 * Whether the password matches the stored hash. A hash that does not parse
 * matches nothing, after the same work as a real check.
 */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const parsed = parseHash(stored);
  const target = parsed ?? parseHash(DUMMY_HASH)!;
  const key = await derive(password, target.salt, target.cost, target.hash.length);
  return timingSafeEqual(key, target.hash) && parsed !== null;
}

/** true when the hash was made with parameters weaker than `cost` (re-hash it at the next sign-in) */
export function needsRehash(stored: string, cost: ScryptCost = DEFAULT_COST): boolean {
  const parsed = parseHash(stored);
  if (parsed === null) return true;
  return parsed.cost.ln < cost.ln || parsed.cost.r < cost.r || parsed.cost.p < cost.p;
}

/**
 * Checked against when a username is unknown, so that an unknown user costs
 * as much time as a wrong password. Random: it matches no password.
 */
export function dummyHash(cost: ScryptCost = DEFAULT_COST): string {
  return formatHash(cost, randomBytes(SALT_BYTES), randomBytes(HASH_BYTES));
}
const DUMMY_HASH = dummyHash();

/** letters and digits that cannot be mistaken for one another (no 0/o, 1/l/i) */
const PASSWORD_ALPHABET = 'abcdefghjkmnpqrstuvwxyz23456789';

/** A random password to read off a screen and type: 5 groups of 4, about 99 bits. */
export function randomPassword(): string {
  const groups: string[] = [];
  for (let g = 0; g < 5; g++) {
    let group = '';
    for (let i = 0; i < 4; i++) group += PASSWORD_ALPHABET[randomInt(PASSWORD_ALPHABET.length)];
    groups.push(group);
  }
  return groups.join('-');
}
