/**
 * Where the end-to-end tests leave files for people to look at: every
 * screenshot in one folder, artifacts/screenshots/ at the repository's root
 * (artifacts/ is ignored by git).
 */
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';

export const ARTIFACTS_DIR = join(resolve(import.meta.dirname, '../..'), 'artifacts');
export const SCREENSHOTS_DIR = join(ARTIFACTS_DIR, 'screenshots');

/** the screenshots folder, made when missing */
export function screenshotsDir(): string {
  mkdirSync(SCREENSHOTS_DIR, { recursive: true });
  return SCREENSHOTS_DIR;
}
