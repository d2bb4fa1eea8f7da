// A canned OpenAI-compatible upstream for the npm client test: POST /v1/chat/completions answers 6
// one-word chunks 20 ms apart as server-sent events (with the usage chunk when asked), or one JSON
// completion. Usage: prompt_tokens 11, completion_tokens 6. Prints its port on stdout.
import http from 'node:http';

const server = http.createServer((req, res) => {
  let raw = '';
  req.on('data', (d) => { raw += d; });
  req.on('end', async () => {
    const body = JSON.parse(raw || '{}');
    const n = Math.min(6, body.max_tokens ?? 6);
    const usage = { prompt_tokens: 11, completion_tokens: n, total_tokens: 11 + n };
    const base = { id: 'chatcmpl-fake', created: 1700000000, model: body.model };
    if (!body.stream) {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ ...base, object: 'chat.completion', usage,
        choices: [{ index: 0, message: { role: 'assistant', content: 'w '.repeat(n).trim() }, finish_reason: 'stop' }] }));
      return;
    }
    res.writeHead(200, { 'Content-Type': 'text/event-stream' });
    const send = (o) => res.write(`data: ${typeof o === 'string' ? o : JSON.stringify(o)}\n\n`);
    const chunk = (delta, finish) => ({ ...base, object: 'chat.completion.chunk', choices: [{ index: 0, delta, finish_reason: finish }] });
    send(chunk({ role: 'assistant', content: '' }, null));
    for (let i = 0; i < n; i++) {
      await new Promise((r) => setTimeout(r, 20));
      send(chunk({ content: i ? ` w${i}` : 'w0' }, null));
    }
    send(chunk({}, 'stop'));
    if (body.stream_options?.include_usage) send({ ...base, object: 'chat.completion.chunk', choices: [], usage });
    send('[DONE]');
    res.end();
  });
});
server.listen(0, '127.0.0.1', () => console.log(server.address().port));
