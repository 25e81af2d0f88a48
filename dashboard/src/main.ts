/**
 * Starts the dashboard: loads the plant and the live snapshot, then follows
 * changes over the live WebSocket.
 */
import type { LiveResponse, PlantView } from '../../gateway/server/contract.js';
import { initialLang, saveLang } from './i18n.js';
import { LiveConnection, liveUrl } from './live-connection.js';
import { LivePage } from './live-page.js';

async function getJson<T>(path: string): Promise<T> {
  const res = await fetch(new URL(path, document.baseURI), { headers: { accept: 'application/json' } });
  if (!res.ok) throw new Error(`HTTP ${res.status}`);
  return (await res.json()) as T;
}

async function loadPlant(page: LivePage): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      const [plant, live] = await Promise.all([getJson<PlantView>('api/plant'), getJson<LiveResponse>('api/live')]);
      page.setPlant(plant, live.tags, live.serverTime);
      return;
    } catch (err) {
      page.setLoadError(err instanceof Error ? err.message : String(err));
      await new Promise((r) => setTimeout(r, Math.min(15_000, 1000 * 2 ** attempt)));
    }
  }
}

async function main(): Promise<void> {
  const root = document.getElementById('app');
  if (!root) return;
  const page = new LivePage(root, { lang: initialLang(), onLangChange: saveLang });
  page.setLoadError(null);
  await loadPlant(page);

  const connection = new LiveConnection(liveUrl(), {
    onHello: (hello) => page.setHello(hello.serverTime, hello.demo, hello.heartbeatMs),
    onValues: (values) => page.applyValues(values),
    onState: (state) => page.setConnection(state),
  });
  connection.start();
  window.setInterval(() => page.tick(), 1000);
}

void main();
