// Leaky Tokens admin console: served by leaky-tokens at /admin, talking only to the public API.
import './style.css';
import { api, isAdmin, q, session, setSession } from './api.js';
import { error, form, h, notice, table } from './dom.js';
import { trendChart } from './chart.js';

const PROVIDERS = ['openai', 'qwen', 'gemini'];
const app = document.getElementById('app');
let current = 'usage';
let refreshTimer = null;

window.addEventListener('lt-signed-out', () => render());

function render() {
  clearInterval(refreshTimer);
  const s = session();
  if (!s) return app.replaceChildren(loginView());
  const tabs = [['usage', 'Usage'], ['keys', 'API keys'], ['quotas', 'Quotas'], ['purchases', 'Purchases']];
  if (isAdmin()) tabs.push(['users', 'Users & roles'], ['orgs', 'Organizations']);
  const main = h('main');
  app.replaceChildren(
    h('header', {},
      h('h1', {}, 'Leaky Tokens'),
      h('nav', {}, tabs.map(([id, title]) => h('button', {
        class: id === current ? 'active' : '', 'data-tab': id,
        onclick: () => { current = id; render(); },
      }, title))),
      h('span', { class: 'who' }, `${s.username} (${s.roles.join(', ')})`),
      h('button', { class: 'plain', onclick: () => { setSession(null); render(); } }, 'Sign out')),
    main);
  const views = { usage: usageView, keys: keysView, quotas: quotasView, purchases: purchasesView, users: usersView, orgs: orgsView };
  main.append(...[].concat(views[current]()));
}

function loginView() {
  return h('section', { class: 'card login' },
    h('h2', {}, 'Sign in'),
    form([
      { name: 'username', label: 'Username', autocomplete: 'username' },
      { name: 'password', label: 'Password', type: 'password', autocomplete: 'current-password' },
    ], 'Sign in', async (v) => {
      const r = await api('POST', '/api/v1/auth/login', { username: v.username, password: v.password });
      setSession({ token: r.token, userId: r.userId, username: r.username, roles: r.roles });
      current = 'usage';
      render();
    }, { testid: 'login' }));
}

// ---- usage ---------------------------------------------------------------------------------------

function usageView() {
  const body = h('div', { 'data-testid': 'usage' });
  const windowSel = h('select', { name: 'window' }, [['60', 'last hour'], ['360', 'last 6 hours'], ['1440', 'last day']]
    .map(([v, t]) => h('option', { value: v }, t)));
  const load = async () => {
    const w = Number(windowSel.value);
    const bucket = w <= 60 ? 2 : w <= 360 ? 10 : 30;
    try {
      const cards = await Promise.all(PROVIDERS.map((p) => providerCard(p, w, bucket)));
      const extra = isAdmin() ? await topUsersCard(w) : await ownUsageCard(w);
      body.replaceChildren(h('div', { class: 'grid' }, cards), extra, await recentCard());
    } catch (err) { body.replaceChildren(error(err)); }
  };
  windowSel.addEventListener('change', load);
  load();
  refreshTimer = setInterval(load, 5000);
  return [h('section', { class: 'card' },
    h('h2', {}, 'Usage ', h('span', { class: 'muted' }, isAdmin() ? '(everyone)' : '(yours)')),
    h('form', { class: 'row' }, h('label', {}, 'Window', windowSel),
      h('button', { class: 'plain', type: 'button', 'data-testid': 'refresh', onclick: load }, 'Refresh'),
      h('span', { class: 'muted' }, 'A request reaches these charts once the outbox relay has published it (usually within a second).'))),
    body];
}

async function providerCard(provider, windowMinutes, bucketMinutes) {
  const [trend, anomaly] = await Promise.all([
    api('GET', `/api/v1/analytics/trends?${q({ provider, windowMinutes, bucketMinutes })}`),
    api('GET', `/api/v1/analytics/anomalies?${q({ provider, windowMinutes: Math.min(windowMinutes, 60) })}`).catch(() => null),
  ]);
  const tokens = trend.buckets.reduce((a, b) => a + b.totalTokens, 0);
  const denied = trend.buckets.reduce((a, b) => a + b.deniedTokens, 0);
  const requests = trend.buckets.reduce((a, b) => a + b.totalEvents, 0);
  const isAnomaly = !!(anomaly && anomaly.anomaly);
  return h('section', {
    class: `card${isAnomaly ? ' anomaly' : ''}`, 'data-testid': `chart-${provider}`,
    'data-tokens': tokens, 'data-requests': requests,
  },
  h('h2', {}, provider, ' ',
    isAnomaly ? h('span', { class: 'badge bad', title: 'current window ≥ threshold × baseline average' },
      `anomaly ×${anomaly.ratio.toFixed(1)}`) : null),
  h('div', { class: 'muted' }, `${tokens} tokens allowed · ${denied} denied · ${requests} requests`),
  trendChart(trend.buckets, { anomaly: isAnomaly }));
}

async function topUsersCard(windowMinutes) {
  const reports = await Promise.all(PROVIDERS.map((provider) =>
    api('GET', `/api/v1/analytics/report?${q({ provider, windowMinutes })}`)));
  const rows = [];
  for (const r of reports) for (const u of r.topUsers) rows.push({ provider: r.provider, ...u });
  rows.sort((a, b) => b.totalTokens - a.totalTokens);
  return h('section', { class: 'card' }, h('h2', {}, 'By user'),
    table([{ title: 'Provider', key: 'provider' }, { title: 'User', render: (r) => h('code', {}, r.userId) },
      { title: 'Tokens', key: 'totalTokens' }, { title: 'Requests', key: 'events' }], rows));
}

async function ownUsageCard(windowMinutes) {
  const u = await api('GET', `/api/v1/analytics/users/${session().userId}?${q({ windowMinutes })}`);
  return h('section', { class: 'card' }, h('h2', {}, 'By provider'),
    table([{ title: 'Provider', key: 'provider' }, { title: 'Tokens', key: 'totalTokens' },
      { title: 'Denied', key: 'deniedTokens' }, { title: 'Requests', key: 'totalEvents' }], u.providers),
    h('p', { class: 'muted' }, `Purchases: ${u.purchases.completed} completed, ${u.purchases.purchasedTokens} tokens`));
}

async function recentCard() {
  const lists = await Promise.all(PROVIDERS.map((provider) =>
    api('GET', `/api/v1/analytics/usage?${q({ provider, limit: 10 })}`).catch(() => ({ items: [] }))));
  const items = lists.flatMap((l) => l.items).sort((a, b) => b.key.timestamp.localeCompare(a.key.timestamp)).slice(0, 15);
  const badge = (o) => h('span', { class: `badge ${o === 'allowed' ? 'good' : 'bad'}` }, o);
  return h('section', { class: 'card' }, h('h2', {}, 'Recent requests by outcome'),
    table([{ title: 'Time', render: (r) => r.key.timestamp }, { title: 'Provider', render: (r) => r.key.provider },
      { title: 'User', render: (r) => h('code', {}, r.userId) }, { title: 'Tokens', key: 'tokens' },
      { title: 'Outcome', render: (r) => badge(r.outcome) }], items));
}

// ---- keys ----------------------------------------------------------------------------------------

function userPicker(onChange) {
  if (!isAdmin()) return null;
  return form([{ name: 'userId', label: 'User id', value: session().userId }], 'Show', (v) => onChange(v.userId.trim()));
}

function keysView() {
  let userId = session().userId;
  const list = h('div');
  const secret = h('div');
  const load = async () => {
    try {
      const keys = await api('GET', `/api/v1/auth/api-keys?${q({ userId })}`);
      list.replaceChildren(table([
        { title: 'Name', key: 'name' }, { title: 'Id', render: (k) => h('code', {}, k.id) },
        { title: 'Created', key: 'createdAt' }, { title: 'Expires', render: (k) => k.expiresAt || 'never' },
        { title: '', render: (k) => h('button', { class: 'danger', 'data-testid': 'revoke-key', onclick: async () => {
          if (!confirm(`Revoke key ${k.name || k.id}? Requests with it fail from now on.`)) return;
          try { await api('DELETE', `/api/v1/auth/api-keys?${q({ userId, apiKeyId: k.id })}`); load(); } catch (err) { list.prepend(error(err)); }
        } }, 'Revoke') }], keys));
    } catch (err) { list.replaceChildren(error(err)); }
  };
  load();
  return h('section', { class: 'card' }, h('h2', {}, 'API keys'),
    userPicker((id) => { userId = id; secret.replaceChildren(); load(); }),
    form([{ name: 'name', label: 'New key name', required: false, placeholder: 'ci' },
      { name: 'expiresAt', label: 'Expires (RFC 3339, optional)', required: false, placeholder: '2027-01-01T00:00:00Z' }],
    'Create key', async (v) => {
      const body = { userId };
      if (v.name) body.name = v.name;
      if (v.expiresAt) body.expiresAt = v.expiresAt;
      const k = await api('POST', '/api/v1/auth/api-keys', body);
      secret.replaceChildren(h('div', { class: 'secret', 'data-testid': 'new-key' },
        h('strong', {}, 'Copy this key now: it is shown only once. '),
        h('div', {}, h('code', { 'data-testid': 'new-key-value' }, k.apiKey)),
        h('div', { class: 'muted' }, 'Use it as X-Api-Key: … or Authorization: Bearer …')));
      load();
    }, { testid: 'create-key' }),
    secret, list);
}

// ---- quotas --------------------------------------------------------------------------------------

function quotaTable(rows) {
  return table([{ title: 'Provider', key: 'provider' }, { title: 'Allowance', key: 'totalTokens' },
    { title: 'Remaining', key: 'remainingTokens' }, { title: 'Purchased', key: 'purchasedTokens' },
    { title: 'Window resets', key: 'resetTime' }], rows);
}

function quotasView() {
  let owner = { kind: 'user', id: session().userId };
  const list = h('div', { 'data-testid': 'quotas' });
  const load = async () => {
    const path = owner.kind === 'org'
      ? (provider) => `/api/v1/tokens/quota/org?${q({ orgId: owner.id, provider })}`
      : (provider) => `/api/v1/tokens/quota?${q({ userId: owner.id, provider })}`;
    const rows = await Promise.all(PROVIDERS.map((provider) => api('GET', path(provider)).catch(() => null)));
    const pools = rows.filter(Boolean);
    list.replaceChildren(quotaTable(pools), pools.length ? '' : h('p', { class: 'muted' },
      'No pool yet: tokens come from a purchase (Purchases tab) or an allocation by an admin.'));
  };
  load();
  const picker = form([{ name: 'kind', label: 'Pool of', options: ['user', 'org'] },
    { name: 'id', label: 'User or org id', value: session().userId }], 'Show', (v) => {
    owner = { kind: v.kind, id: v.id.trim() };
    return load();
  });
  const out = [h('section', { class: 'card' }, h('h2', {}, 'Quotas'), picker, list)];
  if (isAdmin()) {
    out.push(h('section', { class: 'card' }, h('h2', {}, 'Allocate (set the allowance per window)'),
      form([{ name: 'target', label: 'User or org', options: ['user', 'org'] },
        { name: 'id', label: 'Id', value: session().userId },
        { name: 'provider', label: 'Provider', options: PROVIDERS },
        { name: 'allowanceTokens', label: 'Tokens', type: 'number', value: '1000' }],
      'Allocate', async (v, msg) => {
        const body = { provider: v.provider, allowanceTokens: Number(v.allowanceTokens) };
        body[v.target === 'org' ? 'orgId' : 'userId'] = v.id.trim();
        const r = await api('PUT', '/api/v1/tokens/quota', body);
        msg.replaceChildren(notice(`${r.provider}: ${r.remainingTokens} of ${r.totalTokens} tokens remaining`));
        load();
      }, { testid: 'allocate' })));
  }
  return out;
}

// ---- purchases -----------------------------------------------------------------------------------

function sagaView(saga) {
  const rows = Object.entries(saga).filter(([, v]) => typeof v !== 'object' || v === null)
    .map(([k, v]) => ({ k, v: v === null ? '' : String(v) }));
  const nested = Object.entries(saga).filter(([, v]) => v && typeof v === 'object');
  return h('div', { 'data-testid': 'saga' },
    table([{ title: 'Field', key: 'k' }, { title: 'Value', render: (r) => h('code', {}, r.v) }], rows),
    nested.map(([k, v]) => h('div', {}, h('h2', {}, k), h('pre', { class: 'mono' }, JSON.stringify(v, null, 2)))));
}

function purchasesView() {
  const out = h('div');
  return [h('section', { class: 'card' }, h('h2', {}, 'Buy tokens'),
    form([{ name: 'userId', label: 'User id', value: session().userId },
      { name: 'provider', label: 'Provider', options: PROVIDERS },
      { name: 'tokens', label: 'Tokens', type: 'number', value: '5000' }],
    'Purchase', async (v) => {
      const key = `console-${crypto.randomUUID()}`;
      const r = await api('POST', '/api/v1/tokens/purchase',
        { userId: v.userId.trim(), provider: v.provider, tokens: Number(v.tokens) }, { 'Idempotency-Key': key });
      out.replaceChildren(notice(`saga ${r.sagaId}: ${r.status}`), sagaView(r));
    }, { testid: 'purchase' })),
  h('section', { class: 'card' }, h('h2', {}, 'Look up a purchase saga'),
    form([{ name: 'sagaId', label: 'Saga id' }], 'Show', async (v) => {
      out.replaceChildren(sagaView(await api('GET', `/api/v1/tokens/purchase/${encodeURIComponent(v.sagaId.trim())}`)));
    })), out];
}

// ---- users & roles (ADMIN) -----------------------------------------------------------------------

function usersView() {
  return [h('section', { class: 'card' }, h('h2', {}, 'Create a user'),
    form([{ name: 'username', label: 'Username' }, { name: 'email', label: 'Email', type: 'email' },
      { name: 'password', label: 'Password', type: 'password', autocomplete: 'new-password' }],
    'Create', async (v, msg) => {
      const r = await api('POST', '/api/v1/auth/register', v);
      msg.replaceChildren(notice(`created ${r.username}: user id ${r.userId}`));
    }, { testid: 'create-user' })),
  h('section', { class: 'card' }, h('h2', {}, 'Roles'),
    h('p', { class: 'muted' }, 'The public API has no user list; `leaky-tokens users list` prints one from the data directory, and the Usage tab lists active users.'),
    form([{ name: 'userId', label: 'User id' }, { name: 'role', label: 'Role', options: ['ADMIN', 'USER'] },
      { name: 'action', label: 'Action', options: ['grant', 'revoke'] }],
    'Apply', async (v, msg) => {
      await api(v.action === 'grant' ? 'PUT' : 'DELETE', `/api/v1/auth/users/${encodeURIComponent(v.userId.trim())}/roles/${v.role}`);
      msg.replaceChildren(notice(`${v.action === 'grant' ? 'granted' : 'revoked'} ${v.role}; it applies to tokens issued from now on`));
    }, { testid: 'roles' }))];
}

// ---- organizations (ADMIN) -----------------------------------------------------------------------

function orgsView() {
  const known = JSON.parse(sessionStorage.getItem('lt.orgs') || '[]');
  const members = h('div');
  const show = async (orgId) => {
    const r = await api('GET', `/api/v1/tokens/orgs/${encodeURIComponent(orgId)}/members`);
    members.replaceChildren(h('h2', {}, `Members of ${orgId}`),
      table([{ title: 'User', render: (m) => h('code', {}, m) }, { title: '', render: (m) => h('button', { class: 'danger', onclick: async () => {
        await api('DELETE', `/api/v1/tokens/orgs/${encodeURIComponent(orgId)}/members/${encodeURIComponent(m)}`); show(orgId);
      } }, 'Remove') }], r.members.map((m) => m)));
  };
  return [h('section', { class: 'card' }, h('h2', {}, 'Create an organization'),
    form([{ name: 'name', label: 'Name' }], 'Create', async (v, msg) => {
      const r = await api('POST', '/api/v1/tokens/orgs', { name: v.name });
      known.push({ orgId: r.orgId, name: r.name });
      sessionStorage.setItem('lt.orgs', JSON.stringify(known));
      msg.replaceChildren(notice(`created ${r.name}: org id ${r.orgId}`));
    }, { testid: 'create-org' }),
    known.length ? table([{ title: 'Created here', key: 'name' }, { title: 'Org id', render: (o) => h('code', {}, o.orgId) }], known) : null),
  h('section', { class: 'card' }, h('h2', {}, 'Members'),
    form([{ name: 'orgId', label: 'Org id', value: known.length ? known[known.length - 1].orgId : '' },
      { name: 'userId', label: 'User id to add (optional)', required: false }],
    'Show / add', async (v) => {
      if (v.userId.trim()) await api('PUT', `/api/v1/tokens/orgs/${encodeURIComponent(v.orgId.trim())}/members/${encodeURIComponent(v.userId.trim())}`);
      await show(v.orgId.trim());
    }, { testid: 'members' }), members)];
}

render();
