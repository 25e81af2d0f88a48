/**
 * The pages beside the overview and the live tags: machine and line detail,
 * energy & carbon, health, user management and one's own account. Each is
 * made the first time it is opened and kept; they share one load of the
 * plant model.
 */
import type { LiveValue, Me, MetricsWindowName, PlantView } from '../../gateway/server/contract.js';
import './pages.css';
import { getJson } from './api.js';
import { DetailPage } from './detail/detail-page.js';
import { EnergyPage } from './energy/energy-page.js';
import { HealthPage } from './health/health-page.js';
import type { Lang } from './i18n.js';
import { parseDetail, parseRoute } from './router.js';
import type { Page } from './shell.js';
import { AccountPage } from './users/account-page.js';
import { UsersPage } from './users/users-page.js';

/** GET /api/plant once, tried again with growing pauses until it answers */
function plantOnce(): () => Promise<PlantView> {
  let pending: Promise<PlantView> | null = null;
  return () => {
    pending ??= (async () => {
      for (let attempt = 0; ; attempt++) {
        try {
          return await getJson<PlantView>('api/plant');
        } catch {
          await new Promise((r) => setTimeout(r, Math.min(15_000, 1000 * 2 ** attempt)));
        }
      }
    })();
    return pending;
  };
}

export interface MorePagesOptions {
  /** the language when a page is first made (later changes reach it through the shell) */
  readonly lang: () => Lang;
  /** the overview's window, the first window a detail page shows */
  readonly window: () => MetricsWindowName;
  /** the signed-in user; null on a gateway without sign-in */
  readonly me: () => Me | null;
}

export class MorePages {
  private readonly plant = plantOnce();
  private detail: DetailPage | null = null;
  private energy: EnergyPage | null = null;
  private health: HealthPage | null = null;
  private users: UsersPage | null = null;
  private account: AccountPage | null = null;

  constructor(private readonly opts: MorePagesOptions) {}

  /** the page a hash names, or null for the overview and the live tags */
  pageFor(hash: string): Page | null {
    const detail = parseDetail(hash);
    if (detail) {
      this.detail ??= new DetailPage({ lang: this.opts.lang(), window: this.opts.window(), plant: this.plant });
      this.detail.show(detail.kind, detail.id);
      return this.detail;
    }
    switch (parseRoute(hash)) {
      case 'energy':
        this.energy ??= new EnergyPage({ lang: this.opts.lang(), plant: this.plant });
        return this.energy;
      case 'health':
        this.health ??= new HealthPage({ lang: this.opts.lang(), plant: this.plant });
        return this.health;
      case 'users':
        this.users ??= new UsersPage({ lang: this.opts.lang(), plant: this.plant, me: this.opts.me });
        return this.users;
      case 'account':
        this.account ??= new AccountPage({ lang: this.opts.lang(), plant: this.plant, me: this.opts.me });
        return this.account;
      default:
        return null;
    }
  }

  /** live values for the detail page's process values and state timeline */
  applyValues(values: readonly LiveValue[]): void {
    this.detail?.applyValues(values);
  }
}
