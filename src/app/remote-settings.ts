/**
 * Advanced setting: train on a remote service instead of this tab. A Tinker-compatible service
 * (`loops-web serve`, or any service that speaks the Tinker REST protocol) takes the base URL and
 * key; the rest of the lab works the same, through `Lab.useService`. The key stays in this page's
 * memory only, unless the user ticks "Remember on this device" (then the URL and key are kept in
 * this browser's localStorage until "Forget"). A service on another origin must allow this page's
 * origin (`loops-web serve --allow-origin <origin>`).
 */
import { byId, el, messageOf, setStatus } from './dom';
import { showBackend } from './engine-status';
import type { Lab } from './lab';

const REMEMBER_KEY = 'loops-web:remote-service';

interface Remembered {
  readonly base_url: string;
  readonly api_key: string;
}

function remembered(storage: Storage): Remembered | null {
  try {
    const value = JSON.parse(storage.getItem(REMEMBER_KEY) ?? 'null') as Remembered | null;
    return value && typeof value.base_url === 'string' ? value : null;
  } catch {
    return null;
  }
}

/** Adds the setting to the header, next to the engine details. */
export function initRemoteSettings(lab: Lab, storage: Storage = localStorage): void {
  const url = el('input', {
    id: 'remote-url',
    type: 'url',
    placeholder: 'http://127.0.0.1:8000',
    spellcheck: 'false',
  });
  const key = el('input', {
    id: 'remote-key',
    type: 'password',
    autocomplete: 'off',
    spellcheck: 'false',
  });
  const remember = el('input', { id: 'remote-remember', type: 'checkbox' });
  const connect = el('button', {
    id: 'remote-connect',
    type: 'button',
    class: 'primary',
    text: 'Train there',
  });
  const back = el('button', {
    id: 'remote-back',
    type: 'button',
    text: 'Back to this tab',
    hidden: true,
  });
  const status = el('p', {
    id: 'remote-status',
    class: 'status',
    role: 'status',
    'aria-live': 'polite',
  });
  const box = el(
    'details',
    { id: 'remote-settings', class: 'engine-more' },
    el('summary', { text: 'Train on a remote service' }),
    el('label', {
      for: 'remote-url',
      text: 'Service URL (loops-web serve or a Tinker-compatible service)',
    }),
    url,
    el('label', { for: 'remote-key', text: 'API key (kept in this page’s memory only)' }),
    key,
    el(
      'label',
      { class: 'check' },
      remember,
      ' Remember on this device (stores the key in this browser)',
    ),
    el('div', { class: 'row' }, connect, back),
    status,
  );
  byId('engine-status').parentElement!.append(box);

  const saved = remembered(storage);
  if (saved) {
    url.value = saved.base_url;
    key.value = saved.api_key;
    remember.checked = true;
  }
  remember.addEventListener('change', () => {
    if (!remember.checked) storage.removeItem(REMEMBER_KEY);
  });

  const run = async (remote: boolean) => {
    connect.disabled = back.disabled = true;
    const target = url.value.trim().replace(/\/+$/, '');
    setStatus(status, remote ? `Connecting to ${target}…` : 'Starting the engine in this tab…');
    try {
      const report = await lab.useService(
        remote ? { engine: 'remote', base_url: target, api_key: key.value || undefined } : {},
      );
      showBackend(report);
      if (remote && remember.checked)
        storage.setItem(REMEMBER_KEY, JSON.stringify({ base_url: target, api_key: key.value }));
      back.hidden = !remote;
      const models = remote
        ? (await lab.service.get_server_capabilities()).supported_models.map((m) => m.model_name)
        : [];
      setStatus(
        status,
        remote
          ? `Training on ${target}. It offers ${models.slice(0, 6).join(', ') || 'no listed models'}; load one in panel 1 (add its name under "Model source" if it is not listed).`
          : 'Training in this tab again.',
        'ok',
      );
    } catch (error) {
      setStatus(
        status,
        `Could not use ${remote ? target : 'this tab'}: ${messageOf(error)}`,
        'error',
      );
    } finally {
      connect.disabled = back.disabled = false;
    }
  };
  connect.addEventListener('click', () => void run(true));
  back.addEventListener('click', () => void run(false));
}
