/**
 * Starts the dashboard: the shared frame, the page the URL's hash names, the
 * plant and live snapshot over REST, then changes over the live WebSocket
 * (tag values for the live tags page, metrics for the overview).
 */
import type { LiveResponse, MetricsOverview, MetricsWindowName, PlantView } from '../../gateway/server/contract.js';
import {
  accountTools,
  currentAccount,
  ensureSignedIn,
  saveAccountLanguage,
  signInEnded,
  watchSignIn,
} from './account.js';
import { AlarmBoard } from './alarms/alarm-board.js';
import { countsByLine, rightsOf, unacknowledgedCount } from './alarms/alarm-model.js';
import { AlarmsPage } from './alarms/alarms-page.js';
import { initialLang, type Lang, languageFor, saveLang } from './i18n.js';
import { LiveConnection, liveUrl } from './live-connection.js';
import { LivePage } from './live-page.js';
import { loadWindow, saveWindow, shouldReplace } from './overview-model.js';
import { OverviewPage } from './overview-page.js';
import { MorePages } from './pages.js';
import { navRoutesFor, parseRoute, type Route } from './router.js';
import { Shell } from './shell.js';

/** without a metrics push for this long while the overview shows, it asks over REST */
const METRICS_FALLBACK_MS = 5000;

async function getJson<T>(path: string): Promise<T> {
  const res = await fetch(new URL(path, document.baseURI), { headers: { accept: 'application/json' } });
  if (res.status === 401) signInEnded();
  if (!res.ok) throw new Error(`HTTP ${res.status}`);
  return (await res.json()) as T;
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function storage(): Storage | null {
  try {
    return window.localStorage;
  } catch {
    return null;
  }
}

async function loadPlant(shell: Shell, live: LivePage, overview: OverviewPage): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      const [plant, values] = await Promise.all([getJson<PlantView>('api/plant'), getJson<LiveResponse>('api/live')]);
      shell.setSiteName(plant.site.name);
      live.setPlant(plant, values.tags, values.serverTime);
      overview.setPlant(plant);
      return;
    } catch (err) {
      live.setLoadError(errorText(err));
      await new Promise((r) => setTimeout(r, Math.min(15_000, 1000 * 2 ** attempt)));
    }
  }
}

async function main(): Promise<void> {
  const root = document.getElementById('app');
  if (!root) return;
  // the sign-in page until someone is signed in (null: a gateway without sign-in), in this browser's language
  const me = await ensureSignedIn(root, initialLang(), saveLang);
  const onLangChange = (lang: Lang) => {
    saveLang(lang);
    // shown at once; the account keeps it for the user's other screens, or the note says it did not
    saveAccountLanguage(lang).catch((err: unknown) => shell.notify('lang.notSaved', { detail: errorText(err) }));
  };
  const shell = new Shell(root, {
    lang: languageFor(me, initialLang()),
    onLangChange,
    navRoutes: navRoutesFor(me === null ? null : me.capabilities),
  });
  if (me !== null) shell.setAccount((t) => accountTools(me, t));
  watchSignIn();
  const live = new LivePage(shell.language);
  const more = new MorePages({
    lang: () => shell.language,
    window: () => overview.selectedWindow,
    me: currentAccount,
  });

  let current: MetricsOverview | null = null;
  let lastMetricsAt = 0;
  let route: Route = parseRoute(window.location.hash);
  /** the overview itself shows (not a detail page reached from it) */
  let onOverview = false;
  let connection: LiveConnection | null = null;

  const acceptOverview = (o: MetricsOverview) => {
    if (!shouldReplace(current, o, overview.selectedWindow)) return;
    current = o;
    lastMetricsAt = Date.now();
    overview.setOverview(o);
  };

  let fetching = false;
  const fetchOverview = async () => {
    if (fetching) return;
    fetching = true;
    const wanted = overview.selectedWindow;
    try {
      acceptOverview(await getJson<MetricsOverview>(`api/metrics?window=${encodeURIComponent(wanted)}`));
    } catch (err) {
      // only worth saying while nothing is on screen; otherwise the connection state says it
      if (current === null || current.window !== wanted) overview.setLoadError(errorText(err));
    } finally {
      fetching = false;
    }
  };

  const overview = new OverviewPage({
    lang: shell.language,
    window: loadWindow(storage()),
    onWindowChange: (w: MetricsWindowName) => {
      saveWindow(storage(), w);
      current = null;
      connection?.setMetricsWindow(w);
      void fetchOverview();
    },
  });

  // alarms are followed on every page: the header counts the unacknowledged ones, the overview each line's
  const board = new AlarmBoard();
  const alarmsPage = new AlarmsPage({ lang: shell.language, board, rights: rightsOf(me?.capabilities) });
  board.onChange(() => {
    const known = board.ready === true;
    shell.setAlarmCount(known ? unacknowledgedCount(board.list()) : null);
    overview.setAlarmCounts(known ? countsByLine(board.list()) : null);
  });

  const showRoute = () => {
    route = parseRoute(window.location.hash);
    const other = more.pageFor(window.location.hash);
    onOverview = other === null && route === 'overview';
    shell.show(route, other ?? (route === 'live' ? live : route === 'alarms' ? alarmsPage : overview));
    // metrics are pushed only while someone looks at them
    connection?.setMetricsWindow(onOverview ? overview.selectedWindow : null);
    if (onOverview) void fetchOverview();
  };
  window.addEventListener('hashchange', showRoute);

  connection = new LiveConnection(liveUrl(), {
    onHello: (hello) => {
      shell.setDemo(hello.demo);
      live.setHello(hello.serverTime, hello.heartbeatMs);
    },
    onValues: (values) => {
      live.applyValues(values);
      more.applyValues(values);
    },
    onMetrics: acceptOverview,
    onAlarms: (m) => board.setList(m.alarms, m.serverTime, m.ready),
    onAlarm: (m) => board.apply(m.alarm),
    onState: (state) => shell.setConnection(state),
    onSignInEnded: signInEnded,
  });
  connection.followAlarms(true);
  showRoute();
  window.setInterval(() => {
    shell.tick();
    if (onOverview && Date.now() - lastMetricsAt > METRICS_FALLBACK_MS) {
      lastMetricsAt = Date.now();
      void fetchOverview();
    }
  }, 1000);

  // the live page needs the plant before values make sense; the overview has its figures over REST meanwhile
  await loadPlant(shell, live, overview);
  connection.start();
}

void main();
