// Drives a running `leaky-tokens serve` (base URL in LT_BASE_URL) with the official openai npm client:
// models.list, a plain chat completion, a streamed one with include_usage, and an error; asserts the
// pool is charged exactly the reported usage. Exit 0 on success.
import OpenAI from 'openai';
import assert from 'node:assert/strict';

const base = process.env.LT_BASE_URL;
if (!base) throw new Error('LT_BASE_URL is not set');

async function call(method, path, body, token) {
  const headers = { 'Content-Type': 'application/json' };
  if (token) headers.Authorization = `Bearer ${token}`;
  const r = await fetch(base + path, { method, headers, body: body ? JSON.stringify(body) : undefined });
  const text = await r.text();
  return { status: r.status, body: text ? JSON.parse(text) : null };
}

const name = `sdk${Date.now()}`;
const reg = await call('POST', '/api/v1/auth/register', { username: name, email: `${name}@example.com`, password: 'pw-sdk-12345' });
assert.equal(reg.status, 201, JSON.stringify(reg.body));
const user = reg.body;
const root = await call('POST', '/api/v1/auth/login', { username: 'root', password: 'root-password-1' });
assert.equal(root.status, 200);
const alloc = await call('PUT', '/api/v1/tokens/quota', { userId: user.userId, provider: 'openai', allowanceTokens: 1000 }, root.body.token);
assert.equal(alloc.status, 200, JSON.stringify(alloc.body));
const key = await call('POST', '/api/v1/auth/api-keys', { userId: user.userId, name: 'sdk' }, user.token);
assert.equal(key.status, 201);

async function remaining() {
  const q = await call('GET', `/api/v1/tokens/quota?userId=${user.userId}&provider=openai`, null, user.token);
  return q.body.remainingTokens;
}

const client = new OpenAI({ apiKey: key.body.apiKey, baseURL: `${base}/v1`, maxRetries: 0 });

const models = await client.models.list();
assert.ok(models.data.some((m) => m.id === 'gpt-4o-mini'), 'gpt-4o-mini is listed');

let before = await remaining();
const plain = await client.chat.completions.create({
  model: 'gpt-4o-mini',
  messages: [{ role: 'user', content: 'Say hello' }],
  max_completion_tokens: 50,
});
assert.equal(plain.object, 'chat.completion');
assert.ok(plain.choices[0].message.content.length > 0);
assert.equal(before - (await remaining()), plain.usage.prompt_tokens + plain.usage.completion_tokens);

before = await remaining();
const stream = await client.chat.completions.create({
  model: 'openai/gpt-4o',
  messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Stream please' }],
  stream: true,
  stream_options: { include_usage: true },
});
let text = '';
let usage = null;
let finish = null;
for await (const chunk of stream) {
  if (chunk.usage) usage = chunk.usage;
  const c = chunk.choices[0];
  if (c?.delta?.content) text += c.delta.content;
  if (c?.finish_reason) finish = c.finish_reason;
}
assert.ok(text.length > 0, 'streamed content');
assert.equal(finish, 'stop');
assert.ok(usage, 'usage chunk');
assert.equal(before - (await remaining()), usage.prompt_tokens + usage.completion_tokens);

// A client that goes away mid-stream (AbortController) is charged the prompt plus what was produced:
// the pool drops by exactly the tokens of the usage event analytics records for it.
async function usageCount(atLeast) {
  for (let i = 0; i < 100; i++) {
    const u = await call('GET', '/api/v1/analytics/usage?provider=openai&limit=200', null, user.token);
    if (u.body.count >= atLeast) return u.body;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`fewer than ${atLeast} usage events reached analytics`);
}
await usageCount(2); // the plain and the streamed call, relayed through the outbox
before = await remaining();
const controller = new AbortController();
const aborted = await client.chat.completions.create(
  { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'A long answer please' }], stream: true, max_tokens: 1000 },
  { signal: controller.signal },
);
let seen = 0;
try {
  for await (const chunk of aborted) {
    if (chunk.choices[0]?.delta?.content) seen += 1;
    if (seen === 2) controller.abort();
  }
} catch (err) {
  assert.ok(err instanceof OpenAI.APIUserAbortError || err.name === 'AbortError', String(err));
}
const event = (await usageCount(3)).items[0];
const charged = before - (await remaining());
assert.ok(charged > 0, 'the aborted stream was charged');
assert.equal(event.tokens, charged);

// A streamed call served live by an openai-compatible upstream (provider gemini → fake-upstream.mjs):
// the chunks are the upstream's and the pool is charged exactly the upstream's reported usage.
const galloc = await call('PUT', '/api/v1/tokens/quota', { userId: user.userId, provider: 'gemini', allowanceTokens: 500 }, root.body.token);
assert.equal(galloc.status, 200, JSON.stringify(galloc.body));
const live = await client.chat.completions.create({
  model: 'gemini/fake-model',
  messages: [{ role: 'user', content: 'Stream from upstream' }],
  stream: true,
  stream_options: { include_usage: true },
});
let liveText = '';
let liveUsage = null;
for await (const chunk of live) {
  if (chunk.usage) liveUsage = chunk.usage;
  if (chunk.choices[0]?.delta?.content) liveText += chunk.choices[0].delta.content;
}
assert.equal(liveText, 'w0 w1 w2 w3 w4 w5');
assert.deepEqual([liveUsage.prompt_tokens, liveUsage.completion_tokens], [11, 6]);
const gq = await call('GET', `/api/v1/tokens/quota?userId=${user.userId}&provider=gemini`, null, user.token);
assert.equal(gq.body.remainingTokens, 500 - 17);

await assert.rejects(
  client.chat.completions.create({ model: 'no-such-model', messages: [{ role: 'user', content: 'x' }] }),
  (err) => err instanceof OpenAI.NotFoundError && err.code === 'model_not_found',
);
const bad = new OpenAI({ apiKey: 'sk-invalid', baseURL: `${base}/v1`, maxRetries: 0 });
await assert.rejects(bad.models.list(), (err) => err instanceof OpenAI.AuthenticationError);

console.log('openai npm client: models.list, plain, streamed (usage exact), aborted mid-stream (charged exactly), live upstream stream (charged exactly), 404 and 401 OK');
