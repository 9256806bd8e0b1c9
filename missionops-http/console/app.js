// MissionOps operator console (SPEC §10): a small single-page app over the JSON API and the
// event stream. Plain ES module, no build step.
//
// Escaping happens in one place: `h()` builds elements and puts every string it is given into
// a text node, and no code here ever assigns markup (`innerHTML`) — names, titles, values and
// messages from the API can only ever be text. Documents go through markdown.js, which builds
// DOM nodes the same way.

import { renderMarkdown } from './markdown.js';

const ROLES = ['viewer', 'operator', 'engineer', 'admin'];
const EVENT_TYPES = ['ANOMALY', 'ANOMALY_CLEARED', 'ALARM_ACKNOWLEDGED', 'CONFIG_CHANGED',
  'DOCUMENT_PUBLISHED', 'DOCUMENT_UPDATED', 'SPACECRAFT_REGISTERED', 'CONTACT_LOST',
  'MODE_CHANGE', 'COMMAND_SENT', 'INFO'];
const STATUS_RANK = { CRITICAL: 0, WARNING: 1, NOMINAL: 2 };
const MAX_BUCKETS = 1500;

/** What the page holds: the session, the current page, the event stream; `__mo` is read by the tests. */
const S = { session: null, page: null, stream: null, timers: [] };
const probe = { seriesRequests: [], fleetRenderMs: null, plot: null, plotOf: null, events: 0, tailsAnswered: 0, alarmAnswers: 0, fleetAnswers: 0, docAnswers: 0 };
window.__mo = probe;

// ---------------------------------------------------------------------------------------------
// DOM and API helpers

/** `h('td', {class: 'x'}, 'text', child)`: an element; strings become text nodes, never markup. */
function h(tag, props, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === 'class') el.className = value;
    else if (key.startsWith('on') && typeof value === 'function') el.addEventListener(key.slice(2), value);
    else if (key === 'value') el.value = value;
    else el.setAttribute(key, value === true ? '' : String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

const main = () => document.getElementById('main');
function show(...nodes) {
  main().replaceChildren(...nodes.flat());
}

class ApiError extends Error {
  constructor(status, body) {
    super((body && body.message) || `the server answered ${status}`);
    this.status = status;
    this.body = body;
  }
}

/** A JSON request with the session cookie; a non-2xx answer throws an ApiError. */
async function api(path, options) {
  return (await exchange(path, options)).data;
}

/**
 * One page of a paged list (`limit` in `path`): its items, how many pass the filter in all
 * (`X-Total-Count`) and the path of the next page (`Link: <…>; rel="next"`), or null.
 */
async function apiPage(path) {
  const { data, response } = await exchange(path);
  const link = /<([^>]*)>\s*;\s*rel="next"/.exec(response.headers.get('link') || '');
  return { items: data, total: Number(response.headers.get('x-total-count') || data.length), next: link ? link[1] : null };
}

/** [`api`] with the response too, for its headers. */
async function exchange(path, { method = 'GET', body, headers = {} } = {}) {
  const init = { method, credentials: 'same-origin', headers: { accept: 'application/json', ...headers } };
  if (body !== undefined) {
    init.headers['content-type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  if (path.startsWith('/telemetry/series')) probe.seriesRequests.push(path);
  const response = await fetch(path, init);
  if (response.status === 204) return null;
  const type = response.headers.get('content-type') || '';
  const data = type.includes('json') ? await response.json() : await response.text();
  if (!response.ok) {
    if (response.status === 401 && S.session && S.session.authRequired && path !== '/session') {
      signInPage('Your session has ended: sign in again.');
    }
    throw new ApiError(response.status, data);
  }
  return { data, response };
}

const q = (params) => new URLSearchParams(Object.entries(params).filter(([, v]) => v !== '' && v != null)).toString();
const enc = encodeURIComponent;
const may = (role) => S.session && ROLES.indexOf(S.session.role) >= ROLES.indexOf(role);
/** The `by` of an alarm action: the key's name is used with a key; open mode needs one. */
const actor = () => (S.session && S.session.authRequired ? {} : { by: 'console' });

function age(timestamp) {
  if (!timestamp) return 'no telemetry';
  const secs = Math.max(0, Math.round((Date.now() - Date.parse(timestamp)) / 1000));
  if (secs < 60) return `${secs}s ago`;
  if (secs < 3600) return `${Math.floor(secs / 60)}m ago`;
  if (secs < 86400) return `${Math.floor(secs / 3600)}h ago`;
  return `${Math.floor(secs / 86400)}d ago`;
}
const time = (t) => (t ? new Date(t).toISOString().replace('T', ' ').slice(0, 19) : '—');
const errorText = (e) => h('p', { class: 'error' }, e instanceof Error ? e.message : String(e));

function every(ms, fn) {
  const id = setInterval(fn, ms);
  S.timers.push(id);
}

/**
 * `fn` (async) run once for a burst of calls: `ms` after the first call, not after the last, so
 * that a stream of events that never pauses (a busy fleet) still refreshes the page every `ms`
 * or so; calls while it runs run it once more when it ends, never two at a time. When the last
 * run took longer than half of `ms` (a fleet of thousands), the wait is twice that run (at most
 * 5 s): under a stream of events a slow page spends at most a third of its time reloading, and
 * leaves the server (which every open console shares) the rest.
 */
function coalesced(ms, fn) {
  let timer = null;
  let running = false;
  let again = false;
  let lastRunMs = 0;
  const run = async () => {
    timer = null;
    running = true;
    const started = performance.now();
    try {
      await fn();
    } finally {
      lastRunMs = performance.now() - started;
      running = false;
      if (again) {
        again = false;
        schedule();
      }
    }
  };
  const schedule = () => {
    if (running) again = true;
    else if (timer === null) timer = setTimeout(run, Math.max(ms, Math.min(2 * lastRunMs, 5000)));
  };
  return schedule;
}

// ---------------------------------------------------------------------------------------------
// Session and navigation

async function start() {
  document.getElementById('sign-out').addEventListener('click', signOut);
  window.addEventListener('hashchange', route);
  try {
    S.session = await api('/session');
  } catch (e) {
    show(errorText(e));
    return;
  }
  if (!S.session.signedIn) {
    signInPage();
    return;
  }
  signedIn();
}

function signInPage(message) {
  stopPage();
  closeStream();
  document.getElementById('nav').hidden = true;
  document.getElementById('sign-out').hidden = true;
  document.getElementById('who').textContent = '';
  const key = h('input', { id: 'key', type: 'password', autocomplete: 'off', placeholder: 'mo_…', required: true });
  const status = h('p', { class: 'error', id: 'sign-in-error' }, message || '');
  const form = h('form', { class: 'signin', id: 'sign-in' },
    h('h1', null, 'Sign in'),
    h('p', { class: 'muted' }, 'Paste an API key. It is sent once; the browser then keeps only a session cookie.'),
    key, h('button', { type: 'submit', id: 'sign-in-button' }, 'Sign in'), status);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    try {
      S.session = await api('/session', { method: 'POST', body: { key: key.value } });
      key.value = '';
      signedIn();
    } catch (e) {
      status.textContent = e.status === 401 ? 'That key is not valid.' : e.message;
    }
  });
  show(form);
  key.focus();
}

async function signOut() {
  try {
    await api('/session', { method: 'DELETE' });
  } catch (e) {
    // Signed out on this side whatever the server said.
  }
  S.session = { authRequired: true, signedIn: false };
  signInPage();
}

function signedIn() {
  const s = S.session;
  document.getElementById('nav').hidden = false;
  document.getElementById('sign-out').hidden = !s.authRequired;
  document.getElementById('who').textContent = s.authRequired
    ? `${s.name} · ${s.role}${s.tenant && s.tenant !== 'default' ? ` · ${s.tenant}` : ''}`
    : 'open mode (no keys) · admin';
  openStream();
  route();
}

function openStream() {
  if (S.stream) return;
  const stream = new EventSource('/events/stream');
  const dot = document.getElementById('live');
  stream.onopen = () => dot.classList.add('on');
  stream.onerror = () => dot.classList.remove('on');
  for (const type of EVENT_TYPES) {
    stream.addEventListener(type, (message) => {
      let event;
      try {
        event = JSON.parse(message.data);
      } catch (e) {
        return;
      }
      probe.events += 1;
      if (S.page && S.page.onEvent) S.page.onEvent(type, event);
    });
  }
  S.stream = stream;
}

function closeStream() {
  if (S.stream) S.stream.close();
  S.stream = null;
}

function stopPage() {
  for (const id of S.timers) clearInterval(id);
  S.timers = [];
  if (S.page && S.page.stop) S.page.stop();
  S.page = null;
}

const ROUTES = [
  [/^#\/fleet$/, 'fleet', () => fleetPage()],
  [/^#\/alarms$/, 'alarms', () => alarmsPage()],
  [/^#\/spacecraft\/([^/]+)$/, 'fleet', (m) => spacecraftPage(decodeURIComponent(m[1]))],
  [/^#\/config\/([^/]+)$/, 'fleet', (m) => configPage(decodeURIComponent(m[1]))],
  [/^#\/docs$/, 'docs', () => docsPage()],
  [/^#\/docs\/([^/]+)$/, 'docs', (m) => documentPage(decodeURIComponent(m[1]))],
];

async function route() {
  if (!S.session || !S.session.signedIn) return;
  stopPage();
  const hash = location.hash || '#/fleet';
  const found = ROUTES.map(([re, nav, page]) => [re.exec(hash), nav, page]).find(([m]) => m);
  const [match, nav, page] = found || [[], 'fleet', () => fleetPage()];
  for (const a of document.querySelectorAll('nav a')) a.classList.toggle('current', a.dataset.page === nav);
  show(h('p', { class: 'muted' }, 'Loading…'));
  try {
    S.page = (await page(match)) || null;
  } catch (e) {
    show(errorText(e));
  }
}

// ---------------------------------------------------------------------------------------------
// Fleet: a tile per spacecraft, worst first, live.

/** A tile's telemetry line: how long ago the last snapshot arrived, or that none has. */
const lastTelemetry = (timestamp) => (timestamp ? `last telemetry ${age(timestamp)}` : 'no telemetry yet');

/** One tile, cloned for each spacecraft (cheaper than building each from scratch). */
const TILE = h('a', { class: 'tile' },
  h('div', { class: 'name' }), h('div', { class: 'id' }), h('div', { class: 'status' }),
  h('div', { class: 'alarms' }), h('div', { class: 'age' }));

/** Renders the fleet's tiles into `grid`, worst first; returns the age cells to refresh. */
export function renderFleet(grid, entries) {
  const started = performance.now();
  const byName = (a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
  const sorted = [...entries].sort((a, b) =>
    (STATUS_RANK[a.overallStatus] ?? 3) - (STATUS_RANK[b.overallStatus] ?? 3)
    || (b.activeAlarms || 0) - (a.activeAlarms || 0)
    || byName(a, b));
  const ages = [];
  const fragment = document.createDocumentFragment();
  for (const sc of sorted) {
    const tile = TILE.cloneNode(true);
    const status = String(sc.overallStatus);
    tile.className = `tile status-${status.toLowerCase()}`;
    tile.href = `#/spacecraft/${enc(sc.spacecraftId)}`;
    tile.dataset.id = sc.spacecraftId;
    tile.dataset.status = status;
    const [name, id, label, alarms, ageCell] = tile.children;
    name.textContent = sc.name;
    id.textContent = sc.spacecraftId;
    label.textContent = status;
    alarms.textContent = `${sc.activeAlarms || 0} active alarm${sc.activeAlarms === 1 ? '' : 's'}`;
    ageCell.textContent = lastTelemetry(sc.lastTelemetryTimestamp);
    ages.push([ageCell, sc.lastTelemetryTimestamp]);
    // The server says both: contact lost with no telemetry since, a stale parameter not back.
    if (sc.contactLostAt) tile.append(h('span', { class: 'mark contact-lost' }, 'CONTACT LOST'));
    if (sc.stale) tile.append(h('span', { class: 'mark stale' }, 'STALE'));
    fragment.append(tile);
  }
  grid.replaceChildren(fragment);
  // Layout included: the figure is what an operator waits for.
  void grid.offsetHeight;
  probe.fleetRenderMs = performance.now() - started;
  return ages;
}

/** Which tiles the fleet page's "Show" choice keeps. */
const FLEET_SHOWS = {
  all: () => true,
  'not nominal': (sc) => sc.overallStatus !== 'NOMINAL' || sc.stale || !!sc.contactLostAt,
  critical: (sc) => sc.overallStatus === 'CRITICAL',
};

async function fleetPage() {
  const grid = h('div', { class: 'tiles', id: 'fleet' });
  const summary = h('span', { class: 'muted', id: 'fleet-summary' });
  // A fleet of thousands: find a spacecraft by name or id, or keep only those that need a look.
  const search = h('input', { id: 'fleet-search', type: 'search', placeholder: 'name or id' });
  const showing = h('select', { id: 'fleet-show' }, Object.keys(FLEET_SHOWS).map((s) => h('option', { value: s }, s)));
  show(h('h1', null, 'Fleet'), h('div', { class: 'toolbar' }, 'Find', search, 'Show', showing, summary), grid);
  let ages = [];
  let fleet = [];
  const draw = () => {
    const text = search.value.trim().toLowerCase();
    const kept = fleet.filter((sc) => FLEET_SHOWS[showing.value](sc)
      && (!text || String(sc.name).toLowerCase().includes(text) || String(sc.spacecraftId).toLowerCase().includes(text)));
    ages = renderFleet(grid, kept);
    const worst = fleet.filter((f) => f.overallStatus === 'CRITICAL').length;
    const shown = kept.length === fleet.length ? '' : ` · showing ${kept.length}`;
    summary.textContent = `${fleet.length} spacecraft · ${worst} critical${shown} · rendered in ${probe.fleetRenderMs.toFixed(1)} ms`;
  };
  search.addEventListener('input', draw);
  showing.addEventListener('change', draw);
  // Loads run one at a time (the first, then `coalesced` reloads), so an older fleet never
  // replaces a newer one.
  const load = async () => {
    fleet = await api('/fleet/status');
    probe.fleetAnswers += 1;
    draw();
  };
  await load();
  const reload = coalesced(300, () => load().catch(() => {}));
  every(1000, () => {
    for (const [cell, t] of ages) cell.textContent = lastTelemetry(t);
  });
  every(15000, reload);
  return { onEvent: reload };
}

// ---------------------------------------------------------------------------------------------
// Alarms: filter, acknowledge, shelve, unshelve; live; by pages.

/** Alarms shown at first, and added by each "Show more". */
const ALARM_PAGE = 100;
/** The most alarms the API gives in one page. */
const ALARM_API_PAGE = 1000;

/**
 * The first `count` alarms passing `filter`, read by pages, with how many pass it in all and
 * whether there are more than `count`.
 */
async function firstAlarms(filter, count) {
  const items = [];
  let total = 0;
  let more = false;
  let path = `/alarms?${q({ ...filter, limit: Math.min(count, ALARM_API_PAGE) })}`;
  while (path) {
    const page = await apiPage(path);
    items.push(...page.items);
    total = page.total;
    more = page.next !== null;
    path = more && items.length < count ? page.next : null;
  }
  return { items, total, more };
}

async function alarmsPage() {
  const params = new URLSearchParams(location.search);
  const spacecraft = h('input', { id: 'alarm-spacecraft', placeholder: 'spacecraft id', value: params.get('spacecraftId') || '' });
  const state = h('select', { id: 'alarm-state' },
    ['OPEN', 'ACTIVE', 'ACKNOWLEDGED', 'SHELVED', 'CLEARED', 'ALL'].map((s) => h('option', { value: s }, s)));
  const body = h('tbody', { id: 'alarm-rows' });
  const note = h('p', { class: 'error', id: 'alarm-error' });
  const count = h('span', { class: 'muted', id: 'alarm-count' });
  // A fleet can hold thousands of open alarms: the page shows the most recent first, a page
  // at a time, and live reloads read again as many as are shown.
  let wanted = ALARM_PAGE;
  const more = h('button', { type: 'button', id: 'alarm-more', hidden: true, onclick: () => {
    wanted += ALARM_PAGE;
    load().catch((e) => { note.textContent = e.message; });
  } }, `Show ${ALARM_PAGE} more`);
  const table = h('table', { id: 'alarms' },
    h('thead', null, h('tr', null, ['Severity', 'Spacecraft', 'Parameter', 'Kind', 'State', 'Opened', 'Last value',
      'Violations', 'Acknowledged by', 'Shelved until', 'Comment', ''].map((c) => h('th', null, c)))), body);
  show(h('h1', null, 'Alarms'),
    h('div', { class: 'toolbar' }, 'Spacecraft', spacecraft, 'State', state, count), note, table,
    h('div', { class: 'toolbar' }, more));
  let editing = false;
  let pending = false;
  const act = async (path, payload) => {
    note.textContent = '';
    try {
      await api(path, { method: 'POST', body: payload });
      editing = false;
      await load();
    } catch (e) {
      note.textContent = e.message;
    }
  };
  const shelveForm = (alarm, cell) => {
    editing = true;
    const until = h('input', { type: 'datetime-local', class: 'shelve-until', required: true });
    const soon = new Date(Date.now() + 3600 * 1000);
    until.value = new Date(soon.getTime() - soon.getTimezoneOffset() * 60000).toISOString().slice(0, 16);
    const comment = h('input', { class: 'shelve-comment', placeholder: 'comment' });
    const form = h('form', { class: 'shelve-form' }, 'until', until, comment,
      h('button', { type: 'submit', class: 'shelve-confirm' }, 'Shelve'),
      h('button', { type: 'button', onclick: () => { editing = false; load(); } }, 'Cancel'));
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      const payload = { ...actor(), until: new Date(until.value).toISOString() };
      if (comment.value) payload.comment = comment.value;
      act(`/alarms/${enc(alarm.id)}/shelve`, payload);
    });
    cell.append(form);
    until.focus();
  };
  const row = (a) => {
    const actions = h('td', { class: 'actions' });
    if (may('operator')) {
      if (a.state === 'ACTIVE') {
        actions.append(h('button', { type: 'button', class: 'ack', onclick: () => act(`/alarms/${enc(a.id)}/acknowledge`, actor()) }, 'Acknowledge'));
      }
      if (a.state === 'ACTIVE' || a.state === 'ACKNOWLEDGED') {
        actions.append(h('button', { type: 'button', class: 'shelve', onclick: () => shelveForm(a, actions) }, 'Shelve…'));
      }
      if (a.state === 'SHELVED') {
        actions.append(h('button', { type: 'button', class: 'unshelve', onclick: () => act(`/alarms/${enc(a.id)}/unshelve`, actor()) }, 'Unshelve'));
      }
    }
    return h('tr', { 'data-id': a.id, 'data-state': a.state },
      h('td', { class: `sev sev-${a.severity}` }, a.severity),
      h('td', null, h('a', { href: `#/spacecraft/${enc(a.spacecraftId)}` }, a.spacecraftId)),
      h('td', { class: 'parameter' }, a.parameter), h('td', null, a.kind), h('td', { class: 'state' }, a.state),
      h('td', null, time(a.openedAt)), h('td', null, a.lastValue === undefined ? '' : JSON.stringify(a.lastValue)),
      h('td', null, a.violationCount), h('td', { class: 'acked-by' }, a.acknowledgedBy || ''),
      h('td', null, a.shelvedUntil ? time(a.shelvedUntil) : ''), h('td', null, a.comment || ''), actions);
  };
  // Each load is numbered: an answer that comes after a later load began (another filter, an
  // action's refresh) is dropped, so the rows always match the filter shown; one that comes
  // while a shelve form is open is held back until the form closes, not drawn over it.
  let loads = 0;
  const load = async () => {
    if (editing) {
      pending = true;
      return;
    }
    pending = false;
    const mine = ++loads;
    const { items: alarms, total, more: hasMore } = await firstAlarms(
      { spacecraftId: spacecraft.value.trim(), state: state.value }, wanted);
    probe.alarmAnswers += 1;
    if (mine !== loads) return;
    if (editing) {
      pending = true;
      return;
    }
    body.replaceChildren(...(alarms.length ? alarms.map(row) : [h('tr', null, h('td', { colspan: 12, class: 'muted' }, 'No alarms.'))]));
    const all = total.toLocaleString('en');
    count.textContent = hasMore ? `${alarms.length.toLocaleString('en')} most recent of ${all} alarms` : `${all} alarm${total === 1 ? '' : 's'}`;
    more.hidden = !hasMore;
  };
  const refilter = () => {
    wanted = ALARM_PAGE;
    load().catch((e) => { note.textContent = e.message; });
  };
  spacecraft.addEventListener('change', refilter);
  state.addEventListener('change', refilter);
  await load();
  const reload = coalesced(150, () => load().catch(() => {}));
  every(10000, () => { if (!editing || pending) reload(); });
  return {
    // Alarms open with an ANOMALY event and clear with ANOMALY_CLEARED; an operator's action
    // on one (acknowledge, or shelve and unshelve, recorded as INFO) names it in its metadata.
    onEvent: (type, event) => {
      if (type === 'ANOMALY' || type === 'ANOMALY_CLEARED'
        || (event && event.metadata && event.metadata.alarmId)) reload();
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Spacecraft: latest values, a plot of one parameter, events and anomalies.

const LIMITS = [['critLow', '#d93b3b'], ['warnLow', '#e0a100'], ['warnHigh', '#e0a100'], ['critHigh', '#d93b3b']];
const RANGES = { '1h': 3600, '24h': 86400, '7d': 7 * 86400 };

function stateClass(p) {
  if (!p.state || p.state === 'NOMINAL') return 'state-nominal';
  return p.severity === 'HIGH' || p.severity === 'CRITICAL' || String(p.state).startsWith('CRIT') ? 'state-critical' : 'state-warning';
}

async function spacecraftPage(id) {
  const [spacecraft, latest, config, events, anomalies] = await Promise.all([
    api(`/spacecraft/${enc(id)}`),
    api(`/telemetry/latest?${q({ spacecraftId: id })}`),
    api(`/spacecraft/${enc(id)}/config`).catch((e) => (e.status === 404 ? null : Promise.reject(e))),
    api(`/events?${q({ spacecraftId: id, limit: 20 })}`),
    api(`/anomalies?${q({ spacecraftId: id, limit: 20 })}`),
  ]);
  const rules = (config && config.config && config.config.parameters) || {};
  const params = Object.entries(latest.parameters || {}).sort(([a], [b]) => a.localeCompare(b));
  const numeric = params.filter(([, p]) => typeof p.value === 'number').map(([name]) => name);
  let selected = numeric[0] || null;
  const plotBox = h('div', { class: 'plot', id: 'plot' });
  const plotTitle = h('h2', { id: 'plot-title' });
  const rows = h('tbody');
  const renderRows = (parameters) => {
    rows.replaceChildren(...Object.entries(parameters).sort(([a], [b]) => a.localeCompare(b)).map(([name, p]) => h('tr', {
      class: `${stateClass(p)}${typeof p.value === 'number' ? ' selectable' : ''}${name === selected ? ' selected' : ''}`,
      'data-parameter': name,
      onclick: () => { if (typeof p.value === 'number') { selected = name; renderRows(parameters); plot.range(plot.rangeName); } },
    },
    h('td', null, name), h('td', { class: 'value' }, typeof p.value === 'string' ? p.value : JSON.stringify(p.value)),
    h('td', null, (rules[name] && rules[name].unit) || ''), h('td', null, p.state || ''), h('td', null, time(p.timestamp)))));
  };
  const from = h('input', { type: 'datetime-local', id: 'range-from' });
  const to = h('input', { type: 'datetime-local', id: 'range-to' });
  const plot = makePlot(id, () => selected, () => rules[selected] || {}, plotBox, plotTitle);
  // Its events and anomalies, live: an event of this spacecraft on the stream reloads both,
  // and its latest values and the plot's tail with them (the values that caused the event).
  const eventsBox = h('div', { id: 'spacecraft-events' });
  const anomaliesBox = h('div', { id: 'spacecraft-anomalies' });
  const renderLists = (eventList, anomalyList) => {
    eventsBox.replaceChildren(list(eventList, (e) => [time(e.timestamp), ' ', h('span', { class: `sev sev-${e.severity}` }, e.type), ' ', e.message]));
    anomaliesBox.replaceChildren(list(anomalyList, (a) => [time(a.timestamp), ' ', h('span', { class: `sev sev-${a.severity}` }, a.severity), ' ', a.description]));
  };
  renderLists(events, anomalies);
  const reloadLists = coalesced(300, async () => {
    try {
      const [fresh, eventList, anomalyList] = await Promise.all([
        api(`/telemetry/latest?${q({ spacecraftId: id })}`),
        api(`/events?${q({ spacecraftId: id, limit: 20 })}`),
        api(`/anomalies?${q({ spacecraftId: id, limit: 20 })}`)]);
      renderRows(fresh.parameters || {});
      renderLists(eventList, anomalyList);
      await plot.tail();
    } catch (e) {
      // The next event or visit tries again.
    }
  });
  show(
    h('h1', null, spacecraft.name, ' ', h('span', { class: 'muted' }, `${spacecraft.id} · ${spacecraft.missionType}`)),
    h('div', { class: 'toolbar' }, h('a', { href: `#/config/${enc(id)}` }, 'Configuration'),
      h('a', { href: `#/alarms` }, 'Alarms')),
    h('h2', null, 'Latest values'),
    h('table', { id: 'latest' }, h('thead', null, h('tr', null, ['Parameter', 'Value', 'Unit', 'State', 'Time'].map((c) => h('th', null, c)))), rows),
    plotTitle,
    h('div', { class: 'toolbar' },
      Object.keys(RANGES).map((r) => h('button', { type: 'button', 'data-range': r, onclick: () => plot.range(r) }, r)),
      'from', from, 'to', to,
      h('button', { type: 'button', id: 'range-apply', onclick: () => plot.custom(new Date(from.value), new Date(to.value)) }, 'Show')),
    plotBox,
    h('div', { class: 'columns' },
      h('div', null, h('h2', null, 'Events'), eventsBox),
      h('div', null, h('h2', null, 'Anomalies'), anomaliesBox)));
  renderRows(latest.parameters || {});
  probe.tail = () => plot.tail();
  if (selected) await plot.range('24h');
  else plotBox.append(h('p', { class: 'muted' }, 'No numeric parameter to plot.'));
  every(5000, async () => {
    try {
      const fresh = await api(`/telemetry/latest?${q({ spacecraftId: id })}`);
      renderRows(fresh.parameters || {});
      await plot.tail();
    } catch (e) {
      // The next round tries again.
    }
  });
  return {
    stop: () => plot.destroy(),
    onEvent: (type, event) => { if (event && event.spacecraftId === id) reloadLists(); },
  };
}

function list(items, render) {
  if (!items.length) return h('p', { class: 'muted' }, 'None.');
  return h('ul', null, items.map((item) => h('li', null, render(item))));
}

/** The plot of one parameter from the series route: min–max band, average, limit lines. */
function makePlot(id, parameter, rule, box, title) {
  let u = null;
  let window = null; // [fromMs, toMs]
  const state = { rangeName: '24h' };
  const bucketFor = (fromMs, toMs) => Math.max(1, Math.ceil((toMs - fromMs) / 1000 / MAX_BUCKETS));
  const fetchSeries = (fromMs, toMs) => api(`/telemetry/series?${q({
    spacecraftId: id, parameter: parameter(), from: new Date(fromMs).toISOString(),
    to: new Date(toMs).toISOString(), bucket: `${bucketFor(fromMs, toMs)}s`,
  })}`);
  const toData = (buckets, fromMs, toMs) => {
    const xs = buckets.map((b) => Date.parse(b.start) / 1000);
    const data = [xs, buckets.map((b) => b.min), buckets.map((b) => b.max), buckets.map((b) => b.avg)];
    const limits = LIMITS.filter(([k]) => typeof rule()[k] === 'number');
    for (const [k] of limits) data.push(xs.map(() => rule()[k]));
    return { data, limits };
  };
  const draw = (buckets, fromMs, toMs) => {
    const { data, limits } = toData(buckets, fromMs, toMs);
    if (u) u.destroy();
    box.replaceChildren();
    const width = Math.max(400, box.clientWidth - 16);
    u = new uPlot({
      width, height: 300,
      scales: { x: { time: true, min: fromMs / 1000, max: toMs / 1000 } },
      series: [{},
        { label: 'min', stroke: 'rgba(74,163,255,0.5)' },
        { label: 'max', stroke: 'rgba(74,163,255,0.5)' },
        { label: 'avg', stroke: '#4aa3ff', width: 2 },
        ...limits.map(([k, colour]) => ({ label: k, stroke: colour, dash: [6, 4], points: { show: false } }))],
      bands: [{ series: [2, 1], fill: 'rgba(74,163,255,0.15)' }],
      axes: [{ stroke: '#8a98a8', grid: { stroke: '#2a3545' } }, { stroke: '#8a98a8', grid: { stroke: '#2a3545' } }],
      cursor: { drag: { x: true, y: false, setScale: false } },
      hooks: {
        setSelect: [(plot) => {
          if (plot.select.width < 2) return;
          const a = plot.posToVal(plot.select.left, 'x') * 1000;
          const b = plot.posToVal(plot.select.left + plot.select.width, 'x') * 1000;
          plot.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false);
          state.rangeName = null;
          load(a, b);
        }],
      },
    }, data, box);
    probe.plot = u;
    probe.plotOf = parameter();
  };
  // Each load is numbered: a series answered after a later range was asked for is dropped, so
  // a slow answer to an earlier click never draws over the range the operator chose last.
  let loads = 0;
  let shown = 0; // the number of the load drawn last
  let tailing = false;
  const load = async (fromMs, toMs) => {
    const mine = ++loads;
    window = [fromMs, toMs];
    title.textContent = `${parameter()} · ${time(fromMs)} – ${time(toMs)} UTC (drag to zoom)`;
    const buckets = await fetchSeries(fromMs, toMs);
    if (mine !== loads) return;
    draw(buckets, fromMs, toMs);
    shown = mine;
  };
  return Object.assign(state, {
    range: (name) => {
      state.rangeName = name;
      const now = Date.now();
      return load(now - RANGES[name] * 1000, now);
    },
    custom: (a, b) => {
      if (Number.isNaN(a.getTime()) || Number.isNaN(b.getTime()) || a >= b) {
        title.textContent = 'Choose a start before the end.';
        return null;
      }
      state.rangeName = null;
      return load(a.getTime(), b.getTime());
    },
    /**
     * Live tail: for a range that ends now, the buckets since the last one are appended. A
     * range asked for while the tail's request is out (a zoom, another button) wins: the tail's
     * answer belongs to the plot it was asked for and is dropped once that plot is gone; no tail
     * starts while a range is loading or another tail is out.
     */
    tail: async () => {
      const mine = loads;
      if (!u || !state.rangeName || !window || shown !== mine || tailing) return;
      const now = Date.now();
      const span = window[1] - window[0];
      const xs = u.data[0];
      const lastStart = xs.length ? xs[xs.length - 1] * 1000 : window[0];
      tailing = true;
      let fresh;
      try {
        fresh = await api(`/telemetry/series?${q({
          spacecraftId: id, parameter: parameter(), from: new Date(lastStart).toISOString(),
          to: new Date(now).toISOString(), bucket: `${bucketFor(window[0], window[1])}s`,
        })}`);
      } finally {
        tailing = false;
        probe.tailsAnswered += 1;
      }
      if (mine !== loads || !u) return;
      window = [now - span, now];
      const keep = xs.filter((x) => x * 1000 < lastStart && x * 1000 >= window[0]).length;
      const drop = xs.length - keep - (xs.length && xs[xs.length - 1] * 1000 >= lastStart ? 1 : 0);
      const old = u.data.map((s) => s.slice(drop, drop + keep));
      const { data } = toData(fresh, lastStart, now);
      const merged = old.map((s, i) => s.concat(data[i] || []));
      u.setScale('x', { min: window[0] / 1000, max: window[1] / 1000 });
      u.setData(merged, false);
    },
    destroy: () => { if (u) u.destroy(); u = null; },
  });
}

// ---------------------------------------------------------------------------------------------
// Documents: search and read.

async function docsPage() {
  const search = h('input', { id: 'doc-query', type: 'search', placeholder: 'search documents' });
  const results = h('ul', { class: 'doc-list', id: 'doc-results' });
  // Numbered: the answer to an earlier search that comes after a later one began is dropped,
  // so the list always answers the words in the box.
  let loads = 0;
  const load = async () => {
    const mine = ++loads;
    const text = search.value.trim();
    const docs = text ? await api(`/docs/search?${q({ q: text, limit: 50 })}`) : await api('/docs?limit=50');
    probe.docAnswers += 1;
    if (mine !== loads) return;
    results.replaceChildren(...(docs.length ? docs.map((d) => h('li', null,
      h('a', { href: `#/docs/${enc(d.id)}`, class: 'doc-link' }, d.title), ' ',
      h('span', { class: 'muted' }, `${d.spacecraftId || ''} · ${d.category || ''}`), ' ',
      (d.tags || []).map((t) => h('span', { class: 'tag' }, t)))) : [h('li', { class: 'muted' }, 'No documents.')]));
  };
  const form = h('form', { class: 'toolbar' }, search, h('button', { type: 'submit' }, 'Search'));
  form.addEventListener('submit', (event) => { event.preventDefault(); load().catch((e) => results.replaceChildren(errorText(e))); });
  show(h('h1', null, 'Documents'), form, results);
  await load();
  return null;
}

async function documentPage(id) {
  const doc = await api(`/docs/${enc(id)}`);
  show(h('p', null, h('a', { href: '#/docs' }, '← Documents')),
    h('h1', { id: 'doc-title' }, doc.title),
    h('p', { class: 'muted' }, `${doc.spacecraftId || ''} · ${doc.category || ''} · version ${doc.version ?? ''} · ${time(doc.updatedAt || doc.createdAt)}`, ' ',
      (doc.tags || []).map((t) => h('span', { class: 'tag' }, t))),
    h('div', { class: 'doc-body', id: 'doc-body' }, renderMarkdown(doc.body)));
  return null;
}

// ---------------------------------------------------------------------------------------------
// Configuration: history; for engineers an editor whose errors appear beside their field.

const THRESHOLDS = ['critLow', 'warnLow', 'warnHigh', 'critHigh'];

async function configPage(id) {
  const path = `/spacecraft/${enc(id)}/config/history`;
  const history = await api(path);
  const newestOf = (versions) => (versions.length ? versions[versions.length - 1] : null);
  const current = newestOf(history) ? newestOf(history).config : { parameters: {} };
  const editedFrom = newestOf(history) ? newestOf(history).version : 0;
  const shown = h('pre', { class: 'json', id: 'config-json' }, JSON.stringify(current, null, 2));
  const rows = h('tbody');
  const renderHistory = (versions) => rows.replaceChildren(...[...versions].reverse().map((v) => h('tr', null,
    h('td', null, v.version), h('td', null, time(v.createdAt)), h('td', null, v.status), h('td', null, v.source),
    h('td', null, h('button', { type: 'button', onclick: () => { shown.textContent = JSON.stringify(v.config, null, 2); } }, 'Show')))));
  renderHistory(history);
  const versions = h('table', { id: 'config-history' },
    h('thead', null, h('tr', null, ['Version', 'Created', 'Status', 'Source', ''].map((c) => h('th', null, c)))), rows);
  const parts = [h('p', null, h('a', { href: `#/spacecraft/${enc(id)}` }, `← ${id}`)),
    h('h1', null, `Configuration of ${id}`), h('h2', null, 'History'), versions, shown];
  // A version saved elsewhere while the page is open joins the history, and an engineer who is
  // editing is told at once; a save over it is refused (the editor sends the version it was
  // made from as `If-Match`), as saves are whole versions, not merged.
  const newer = h('p', { class: 'error', id: 'config-newer' });
  const editing = may('engineer');
  if (editing) parts.push(h('h2', null, 'Edit'), newer, configEditor(id, current, editedFrom));
  show(parts);
  const reloadHistory = coalesced(300, async () => {
    try {
      const fresh = await api(path);
      renderHistory(fresh);
      const newest = newestOf(fresh);
      if (editing && newest && newest.version > editedFrom) {
        newer.textContent = `Version ${newest.version} was saved while you were editing version ${editedFrom}: `
          + 'open the page again to edit from it (a save from here is refused).';
      }
    } catch (e) {
      // The next event or visit tries again.
    }
  });
  return {
    onEvent: (type, event) => {
      if (type === 'CONFIG_CHANGED' && event && event.spacecraftId === id) reloadHistory();
    },
  };
}

/** The editor of `current`, version `editedFrom`: a save over a version saved since is refused. */
function configEditor(id, current, editedFrom) {
  const rows = h('tbody');
  const general = h('p', { class: 'error', id: 'config-error' });
  const saved = h('p', { class: 'muted', id: 'config-saved' });
  const addRow = (name, rule) => {
    const cells = THRESHOLDS.map((k) => {
      const input = h('input', { type: 'text', 'data-key': k, value: rule[k] === undefined ? '' : String(rule[k]) });
      return h('td', null, input, h('span', { class: 'field-error' }));
    });
    const unit = h('input', { type: 'text', 'data-key': 'unit', value: rule.unit || '' });
    const nameInput = h('input', { type: 'text', class: 'param', value: name, placeholder: 'parameter' });
    rows.append(h('tr', { 'data-rule': JSON.stringify(rule) },
      h('td', null, nameInput, h('span', { class: 'field-error' })), ...cells, h('td', null, unit, h('span', { class: 'field-error' }))));
  };
  for (const [name, rule] of Object.entries(current.parameters || {})) addRow(name, rule || {});
  const collect = () => {
    const parameters = {};
    for (const tr of rows.children) {
      const name = tr.querySelector('input.param').value.trim();
      if (!name) continue;
      const rule = JSON.parse(tr.dataset.rule || '{}');
      for (const input of tr.querySelectorAll('input[data-key]')) {
        const key = input.dataset.key;
        const raw = input.value.trim();
        if (raw === '') delete rule[key];
        else if (key === 'unit') rule[key] = raw;
        else rule[key] = Number.isNaN(Number(raw)) ? raw : Number(raw);
      }
      parameters[name] = rule;
    }
    return { ...current, parameters };
  };
  const showErrors = (error) => {
    const details = (error.body && error.body.details) || [];
    let placed = false;
    for (const d of details) {
      const m = /^parameters\.(.+?)(?:\.([A-Za-z]+))?$/.exec(d.field || '');
      if (!m) continue;
      for (const tr of rows.children) {
        if (tr.querySelector('input.param').value.trim() !== m[1]) continue;
        const input = m[2] ? tr.querySelector(`input[data-key="${m[2]}"]`) : tr.querySelector('input.param');
        if (input) {
          input.nextSibling.textContent = d.reason || error.message;
          input.setAttribute('aria-invalid', 'true');
          placed = true;
        }
      }
    }
    general.textContent = placed ? '' : error.message;
  };
  const form = h('form', { class: 'config-editor', id: 'config-editor' },
    h('table', null, h('thead', null, h('tr', null, ['Parameter', ...THRESHOLDS, 'unit'].map((c) => h('th', null, c)))), rows),
    h('div', { class: 'toolbar' },
      h('button', { type: 'button', onclick: () => addRow('', {}) }, 'Add parameter'),
      h('button', { type: 'submit', id: 'config-save' }, 'Save new version')),
    general, saved);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    for (const span of form.querySelectorAll('.field-error')) span.textContent = '';
    general.textContent = '';
    saved.textContent = '';
    try {
      await api(`/spacecraft/${enc(id)}/config`, {
        method: 'PUT', body: collect(), headers: { 'if-match': `"${editedFrom}"` },
      });
      saved.textContent = 'Saved.';
      route();
    } catch (e) {
      showErrors(e);
    }
  });
  return form;
}

start();
