/**
 * The dashboard's words in English and Traditional Chinese. Names from the
 * plant config (sites, lines, machines, tags) are shown as written.
 */

export const LANGUAGES = ['en', 'zh-Hant'] as const;
export type Lang = (typeof LANGUAGES)[number];

const en = {
  'app.title': 'Live tags',
  'lang.label': 'Language',
  'conn.connecting': 'Connecting…',
  'conn.live': 'Live',
  'conn.reconnecting': 'Reconnecting…',
  'demo.tag': 'DEMO',
  'demo.banner': 'Demo plant: simulated devices, not a real factory',
  'stale.banner': 'Connection lost. Values shown are the last received and may be out of date.',
  'load.loading': 'Loading the plant…',
  'load.failed': 'Cannot reach the gateway ({detail}). Trying again…',
  'summary.tags': '{n} tags',
  'summary.bad': '{n} bad',
  'summary.uncertain': '{n} uncertain',
  'summary.stale': '{n} stale',
  'section.lineMeter': 'Line meter',
  'section.devices': 'Other devices',
  'section.otherValues': 'Other values',
  'col.tag': 'Tag',
  'col.value': 'Value',
  'col.quality': 'Quality',
  'col.updated': 'Updated',
  'quality.good': 'Good',
  'quality.bad': 'Bad',
  'quality.uncertain': 'Uncertain',
  'quality.stale': 'Stale',
  'reason.no data yet': 'no data yet',
  'role.state': 'Machine state',
  'role.stopReason': 'Stop reason',
  'role.countTotal': 'Total count',
  'role.countGood': 'Good count',
  'role.countReject': 'Reject count',
  'role.energyKwh': 'Energy',
  'role.energyKw': 'Power',
  'state.running': 'Running',
  'state.idle': 'Idle',
  'state.unplanned-stop': 'Unplanned stop',
  'state.planned-stop': 'Planned stop',
  'state.offline': 'Offline',
  'state.unmapped': 'Unknown state',
  'bool.true': 'On',
  'bool.false': 'Off',
  'age.never': '—',
  'age.now': 'just now',
  'age.s': '{n} s ago',
  'age.min': '{n} min ago',
  'age.h': '{n} h ago',
  'age.d': '{n} d ago',
  'age.old': 'No update for longer than expected',
  'device.disabled': 'disabled',
} as const;

export type MessageKey = keyof typeof en;

const zhHant: Record<MessageKey, string> = {
  'app.title': '即時標籤',
  'lang.label': '語言',
  'conn.connecting': '連線中…',
  'conn.live': '即時連線',
  'conn.reconnecting': '重新連線中…',
  'demo.tag': '示範',
  'demo.banner': '示範工廠：模擬設備，並非真實工廠',
  'stale.banner': '連線中斷。顯示的是最後收到的數值，可能已經過時。',
  'load.loading': '正在載入工廠資料…',
  'load.failed': '無法連線至閘道器（{detail}），正在重試…',
  'summary.tags': '{n} 個標籤',
  'summary.bad': '{n} 個不良',
  'summary.uncertain': '{n} 個不確定',
  'summary.stale': '{n} 個過時',
  'section.lineMeter': '產線電錶',
  'section.devices': '其他設備',
  'section.otherValues': '其他數值',
  'col.tag': '標籤',
  'col.value': '數值',
  'col.quality': '品質',
  'col.updated': '更新時間',
  'quality.good': '良好',
  'quality.bad': '不良',
  'quality.uncertain': '不確定',
  'quality.stale': '過時',
  'reason.no data yet': '尚無資料',
  'role.state': '機台狀態',
  'role.stopReason': '停機原因',
  'role.countTotal': '總產量',
  'role.countGood': '良品數',
  'role.countReject': '不良品數',
  'role.energyKwh': '電能',
  'role.energyKw': '功率',
  'state.running': '運轉中',
  'state.idle': '閒置',
  'state.unplanned-stop': '非計劃停機',
  'state.planned-stop': '計劃停機',
  'state.offline': '離線',
  'state.unmapped': '未知狀態',
  'bool.true': '開',
  'bool.false': '關',
  'age.never': '—',
  'age.now': '剛剛',
  'age.s': '{n} 秒前',
  'age.min': '{n} 分鐘前',
  'age.h': '{n} 小時前',
  'age.d': '{n} 天前',
  'age.old': '超過預期時間未更新',
  'device.disabled': '已停用',
};

const dictionaries: Record<Lang, Record<MessageKey, string>> = { en, 'zh-Hant': zhHant };

/** how each language names itself on the toggle */
export const LANGUAGE_NAMES: Record<Lang, string> = { en: 'EN', 'zh-Hant': '繁體中文' };

const STORAGE_KEY = 'greenline.lang';

export function isLang(x: unknown): x is Lang {
  return typeof x === 'string' && (LANGUAGES as readonly string[]).includes(x);
}

export function initialLang(): Lang {
  try {
    const stored = localStorage.getItem(STORAGE_KEY);
    if (isLang(stored)) return stored;
  } catch {
    // storage can be off (private mode, kiosk policy): fall back to the browser's language
  }
  return navigator.language.toLowerCase().startsWith('zh') ? 'zh-Hant' : 'en';
}

export function saveLang(lang: Lang): void {
  try {
    localStorage.setItem(STORAGE_KEY, lang);
  } catch {
    // not persisted; the choice still holds for this page
  }
}

export type Translate = (key: MessageKey, vars?: Record<string, string | number>) => string;

export function translator(lang: Lang): Translate {
  const dict = dictionaries[lang];
  return (key, vars) => {
    const text = dict[key] ?? en[key];
    return vars ? text.replace(/\{(\w+)\}/g, (m, name: string) => (name in vars ? String(vars[name]) : m)) : text;
  };
}

/** a reason from the gateway, translated when it is one we know */
export function translateReason(t: Translate, reason: string): string {
  const key = `reason.${reason}`;
  return key in en ? t(key as MessageKey) : reason;
}
