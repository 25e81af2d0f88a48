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
  'nav.label': 'Pages',
  'nav.overview': 'Plant overview',
  'nav.live': 'Live tags',
  'overview.title': 'Plant overview',
  'overview.loading': 'Loading metrics…',
  'overview.failed': 'Cannot load metrics from the gateway ({detail}). Trying again…',
  'overview.rebuilding': 'Rebuilding metrics from the store…',
  'overview.noLines': 'No production lines are configured.',
  'overview.noWindow': 'No shift in this period: there are no figures to show.',
  'window.label': 'Period',
  'window.shift': 'Current shift',
  'window.prev-shift': 'Previous shift',
  'window.hour': 'Last hour',
  'window.today': 'Today',
  'window.shiftName': 'Shift {name}',
  'window.asOf': 'as of {time}',
  'line.output': 'Output: {name}',
  'machine.output': 'Output',
  'machine.outputHint': 'The line’s figures are this machine’s times and counts',
  'metric.oee': 'OEE',
  'metric.a': 'A',
  'metric.p': 'P',
  'metric.q': 'Q',
  'metric.availability': 'Availability',
  'metric.performance': 'Performance',
  'metric.quality': 'Quality',
  'metric.goodTotal': 'Good / total units',
  'metric.goodTotalShort': 'Good / total',
  'metric.kwhPerUnit': 'Energy per good unit',
  'metric.kwhPerUnitShort': 'kWh per good unit',
  'metric.co2PerUnit': 'Carbon per good unit',
  'metric.co2Location': 'location-based',
  'metric.co2Market': 'market-based {value}',
  'metric.idleShare': 'Idle energy share',
  'metric.idleShareHint': 'Energy used while idle or stopped, as a share of all energy with a known state',
  'unit.kwh': 'kWh',
  'unit.kgco2e': 'kg CO₂e',
  'flag.perfOver100': 'P > 100 %',
  'flag.perfOver100.long': 'Counted faster than the ideal cycle time allows: check the ideal cycle time',
  'state.unknown': 'Waiting for data',
  'state.noData': 'No data',
  'state.noData.long': 'No usable state reading: the device is not answering or its value is bad',
  'state.for': 'for {d}',
  'state.minorStop': 'short stop so far',
  'state.minorStop.long': 'Counted as a minor stop (performance) until it reaches the stop threshold',
  'state.unmappedRaw': 'unknown state code {raw}',
  'duration.s': '{s} s',
  'duration.ms': '{m} min {s} s',
  'duration.hm': '{h} h {m} min',
  'duration.dh': '{d} d {h} h',
  'why.not-ready': 'rebuilding',
  'why.not-ready.long': 'Metrics are being rebuilt from the store after a start',
  'why.no-window': 'no data',
  'why.no-window.long': 'No shift in this period, or nothing is known yet',
  'why.no-planned-time': 'no planned time',
  'why.no-planned-time.long': 'No planned production time in this period (off shift, break or planned stop)',
  'why.no-run-time': 'no run time',
  'why.no-run-time.long': 'The machine has not run during planned time in this period',
  'why.no-counters': 'no counters',
  'why.no-counters.long': 'No production counters are configured for this machine',
  'why.nothing-made': 'nothing made yet',
  'why.nothing-made.long': 'No units counted yet in this period',
  'why.no-good-units': 'no good units yet',
  'why.no-good-units.long': 'No good units counted yet in this period, so there is nothing to divide by',
  'why.no-meter': 'no meter',
  'why.no-meter.long': 'No energy meter is configured for this machine or line',
  'why.no-energy-yet': 'no energy yet',
  'why.no-energy-yet.long': 'No energy with a known machine state measured yet in this period',
  'why.no-location-factor': 'no emission factor',
  'why.no-location-factor.long': 'No location-based emission factor is in force for this period',
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
  'nav.label': '頁面',
  'nav.overview': '廠區總覽',
  'nav.live': '即時標籤',
  'overview.title': '廠區總覽',
  'overview.loading': '正在載入指標…',
  'overview.failed': '無法從閘道器載入指標（{detail}），正在重試…',
  'overview.rebuilding': '正在從資料庫重建指標…',
  'overview.noLines': '尚未設定任何產線。',
  'overview.noWindow': '此時段沒有班次，沒有可顯示的數據。',
  'window.label': '時段',
  'window.shift': '本班次',
  'window.prev-shift': '上一班次',
  'window.hour': '最近一小時',
  'window.today': '今日',
  'window.shiftName': '班次 {name}',
  'window.asOf': '截至 {time}',
  'line.output': '產出機台：{name}',
  'machine.output': '產出',
  'machine.outputHint': '產線數據取自此機台的時間與計數',
  'metric.oee': 'OEE',
  'metric.a': 'A',
  'metric.p': 'P',
  'metric.q': 'Q',
  'metric.availability': '可用率',
  'metric.performance': '表現率',
  'metric.quality': '良率',
  'metric.goodTotal': '良品／總數（件）',
  'metric.goodTotalShort': '良品／總數',
  'metric.kwhPerUnit': '每件良品耗電',
  'metric.kwhPerUnitShort': '每件良品耗電 (kWh)',
  'metric.co2PerUnit': '每件良品碳排放',
  'metric.co2Location': '按地點計算',
  'metric.co2Market': '按市場計算 {value}',
  'metric.idleShare': '閒置耗電佔比',
  'metric.idleShareHint': '閒置或停機時的耗電，佔所有已知狀態耗電的比例',
  'unit.kwh': 'kWh',
  'unit.kgco2e': 'kg CO₂e',
  'flag.perfOver100': 'P > 100%',
  'flag.perfOver100.long': '計數快於理想週期時間所允許：請檢查理想週期時間',
  'state.unknown': '等候資料',
  'state.noData': '無資料',
  'state.noData.long': '沒有可用的狀態讀數：設備未回應或數值不良',
  'state.for': '已持續 {d}',
  'state.minorStop': '目前為短暫停機',
  'state.minorStop.long': '未達停機門檻前，計為短暫停機（表現損失）',
  'state.unmappedRaw': '未知狀態代碼 {raw}',
  'duration.s': '{s} 秒',
  'duration.ms': '{m} 分 {s} 秒',
  'duration.hm': '{h} 小時 {m} 分',
  'duration.dh': '{d} 天 {h} 小時',
  'why.not-ready': '重建中',
  'why.not-ready.long': '啟動後正在從資料庫重建指標',
  'why.no-window': '無資料',
  'why.no-window.long': '此時段沒有班次，或尚無任何資料',
  'why.no-planned-time': '無計劃時間',
  'why.no-planned-time.long': '此時段沒有計劃生產時間（非班次、休息或計劃停機）',
  'why.no-run-time': '無運轉時間',
  'why.no-run-time.long': '此時段的計劃時間內機台尚未運轉',
  'why.no-counters': '無計數器',
  'why.no-counters.long': '此機台未設定生產計數器',
  'why.nothing-made': '尚未生產',
  'why.nothing-made.long': '此時段尚未計得任何產品',
  'why.no-good-units': '尚無良品',
  'why.no-good-units.long': '此時段尚未計得良品，無法按件計算',
  'why.no-meter': '無電錶',
  'why.no-meter.long': '此機台或產線未設定電錶',
  'why.no-energy-yet': '尚無耗電',
  'why.no-energy-yet.long': '此時段尚未量得已知機台狀態下的耗電',
  'why.no-location-factor': '無排放係數',
  'why.no-location-factor.long': '此時段沒有生效的按地點排放係數',
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
