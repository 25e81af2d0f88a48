/** The alarm actions: JSON POSTs in the signed-in user's name (the gateway takes the name from the sign-in). */
import type {
  AlarmActionResponse,
  AlarmCommentRequest,
  AlarmOutOfServiceRequest,
  AlarmShelveRequest,
} from '../../../gateway/server/contract.js';
import { signInEnded } from '../account.js';
import { ApiRequestError } from '../api.js';
import type { AlarmActionName } from './alarm-model.js';

export type AlarmActionBody = AlarmCommentRequest | AlarmShelveRequest | AlarmOutOfServiceRequest;

export async function postAlarmAction(
  alarmId: string,
  action: AlarmActionName,
  body: AlarmActionBody,
): Promise<AlarmActionResponse> {
  const res = await fetch(new URL(`api/alarms/${encodeURIComponent(alarmId)}/${action}`, document.baseURI), {
    method: 'POST',
    // JSON: the gateway refuses state changes without it (cross-site defence)
    headers: { 'content-type': 'application/json', accept: 'application/json' },
    body: JSON.stringify(body),
  });
  if (res.status === 401) signInEnded();
  if (!res.ok) {
    let code: string | null = null;
    let message = `HTTP ${res.status}`;
    try {
      const err = (await res.json()) as { error?: { code?: string; message?: string } };
      code = err.error?.code ?? null;
      if (err.error?.message) message = err.error.message;
    } catch {
      // not JSON: the status says enough
    }
    throw new ApiRequestError(res.status, code, message);
  }
  return (await res.json()) as AlarmActionResponse;
}
