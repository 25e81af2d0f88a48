import { afterEach, describe, expect, it, vi } from 'vitest';
import { LANGUAGES as CONTRACT_LANGUAGES } from '../../gateway/server/contract.js';
import {
  initialLang,
  isLang,
  LANGUAGE_NAMES,
  LANGUAGES,
  languageFor,
  saveLang,
  storesLanguage,
  translator,
} from '../../dashboard/src/i18n.js';

/** a browser's storage and language, for the functions that read them */
function browser(language: string, stored: Record<string, string> = {}): Map<string, string> {
  const items = new Map(Object.entries(stored));
  vi.stubGlobal('navigator', { language });
  vi.stubGlobal('localStorage', {
    getItem: (k: string) => items.get(k) ?? null,
    setItem: (k: string, v: string) => items.set(k, v),
  });
  return items;
}

afterEach(() => {
  vi.unstubAllGlobals();
});

describe('dashboard language: one list with the gateway', () => {
  it('offers exactly the languages the gateway stores', () => {
    expect(LANGUAGES).toBe(CONTRACT_LANGUAGES);
    expect(Object.keys(LANGUAGE_NAMES).sort()).toEqual([...CONTRACT_LANGUAGES].sort());
    for (const lang of CONTRACT_LANGUAGES) expect(isLang(lang)).toBe(true);
    expect(isLang('zh-Hans')).toBe(false);
    expect(isLang(null)).toBe(false);
  });
});

describe('dashboard language: who decides', () => {
  it('follows the user’s stored choice when there is one, else this browser’s', () => {
    expect(languageFor({ language: 'zh-Hant' }, 'en')).toBe('zh-Hant');
    expect(languageFor({ language: 'en' }, 'zh-Hant')).toBe('en');
    expect(languageFor({ language: null }, 'zh-Hant')).toBe('zh-Hant');
    expect(languageFor(null, 'en')).toBe('en');
    // a value the dashboard does not know (a newer gateway) does not break the page
    expect(languageFor({ language: 'fr' as never }, 'en')).toBe('en');
  });

  it('stores the choice on the account only for a sign-in with a password', () => {
    expect(storesLanguage({ via: 'session' })).toBe(true);
    expect(storesLanguage({ via: 'token' })).toBe(false);
    expect(storesLanguage(null)).toBe(false);
  });

  it('remembers this browser’s choice, else follows the browser’s language', () => {
    browser('zh-HK');
    expect(initialLang()).toBe('zh-Hant');
    browser('en-GB');
    expect(initialLang()).toBe('en');
    const items = browser('en-GB', { 'greenline.lang': 'zh-Hant' });
    expect(initialLang()).toBe('zh-Hant');
    saveLang('en');
    expect(items.get('greenline.lang')).toBe('en');
    expect(initialLang()).toBe('en');
    browser('zh-TW', { 'greenline.lang': 'klingon' });
    expect(initialLang()).toBe('zh-Hant');
  });

  it('has the words of the users link, the account link and a choice that was not kept, in both languages', () => {
    const en = translator('en');
    const zh = translator('zh-Hant');
    expect(en('nav.users')).toBe('Users');
    expect(zh('nav.users')).toBe('用戶');
    expect(zh('account.open')).toContain('我的帳戶');
    expect(en('lang.notSaved', { detail: 'HTTP 503' })).toContain('HTTP 503');
    expect(zh('lang.notSaved', { detail: 'HTTP 503' })).toContain('HTTP 503');
  });
});
