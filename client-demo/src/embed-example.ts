// The example court platform page (/embed-example): what a platform's own page does with the SDK. The
// token would come from the platform's server; here it comes in the address's fragment (never sent to
// any server) and leaves the address bar at once.
import { mountHearing, type HearingEvent } from './sdk.ts';

const params = new URLSearchParams(location.hash.slice(1));
history.replaceState(null, '', location.pathname);
const token = params.get('token');
const lang = params.get('lang') === 'en' ? 'en' : 'zh-CN';
const list = document.getElementById('events')!;
const show = (e: HearingEvent): void => {
  const item = document.createElement('li');
  item.dataset.type = e.type;
  item.textContent = `${new Date().toLocaleTimeString()} ${e.type} ${JSON.stringify(e.data)}`;
  list.append(item);
};
if (!token) show({ type: 'error', data: { message: 'no token: open /embed-example#token=…' } });
else mountHearing(document.getElementById('hearing')!, { token, lang, server: location.origin, onEvent: show });
