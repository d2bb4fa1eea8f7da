#!/usr/bin/env python3
"""Stream helper of scripts/bench/openai.sh (standard library only).

  openai_stream.py upstream PORT CHUNKS INTERVAL_MS
      A canned OpenAI-compatible upstream: POST .../chat/completions answers CHUNKS one-word chunks
      INTERVAL_MS apart as server-sent events (chunked, keep-alive), with the usage chunk when asked;
      a non-streamed request gets one JSON completion.
  openai_stream.py measure URL KEY MODEL CONCURRENCY STREAMS
      Runs STREAMS streamed chat completions, CONCURRENCY at a time, and prints one JSON line:
      {"ttfc_ms_p50", "ttfc_ms_p99", "gap_ms_p50", "gap_ms_p99", "streams", "errors"}: time from
      sending the request to the first content chunk, and the gaps between consecutive content chunks.
"""
import asyncio
import json
import re
import sys
import time

CONTENT = re.compile(rb'"content": ?" w')


async def upstream(port, chunks, interval):
    async def handle(reader, writer):
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":")[1])
                body = json.loads(await reader.readexactly(length) or b"{}")
                n = min(chunks, body.get("max_tokens") or chunks)
                usage = {"prompt_tokens": 11, "completion_tokens": n, "total_tokens": 11 + n}
                base = {"id": "chatcmpl-bench", "created": 1700000000, "model": body.get("model")}
                if not body.get("stream"):
                    payload = json.dumps({**base, "object": "chat.completion", "usage": usage, "choices": [
                        {"index": 0, "message": {"role": "assistant", "content": " ".join("w" * n)},
                         "finish_reason": "stop"}]}).encode()
                    writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n"
                                 % len(payload) + payload)
                    await writer.drain()
                    continue
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n")

                def send(obj):
                    data = ("data: " + (obj if isinstance(obj, str) else json.dumps(obj)) + "\n\n").encode()
                    writer.write(b"%x\r\n%s\r\n" % (len(data), data))

                def chunk(delta, finish):
                    return {**base, "object": "chat.completion.chunk",
                            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
                send(chunk({"role": "assistant", "content": ""}, None))
                await writer.drain()
                for i in range(n):
                    await asyncio.sleep(interval / 1000)
                    send(chunk({"content": " w%d" % i}, None))
                    await writer.drain()
                send(chunk({}, "stop"))
                if (body.get("stream_options") or {}).get("include_usage"):
                    send({**base, "object": "chat.completion.chunk", "choices": [], "usage": usage})
                send("[DONE]")
                writer.write(b"0\r\n\r\n")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", port, backlog=1024)
    async with server:
        await server.serve_forever()


def percentile(values, p):
    if not values:
        return None
    values = sorted(values)
    return round(values[min(len(values) - 1, int(p / 100 * len(values)))], 2)


async def measure(url, key, model, concurrency, streams):
    host, port_path = url.split("://", 1)[1].split(":", 1)
    port, path = port_path.split("/", 1)
    path = "/" + path
    body = json.dumps({"model": model, "stream": True, "stream_options": {"include_usage": True},
                       "messages": [{"role": "user", "content": "Benchmark stream"}]}).encode()
    request = (b"POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
               b"Authorization: Bearer %s\r\nContent-Length: %d\r\n\r\n" % (path.encode(), key.encode(), len(body))) + body
    ttfc, gaps, errors = [], [], 0
    queue = asyncio.Queue()
    for _ in range(streams):
        queue.put_nowait(1)

    async def worker():
        nonlocal errors
        reader, writer = await asyncio.open_connection(host, int(port))
        while not queue.empty():
            queue.get_nowait()
            start = time.perf_counter()
            writer.write(request)
            await writer.drain()
            seen, last, buf = 0, None, b""
            while True:
                data = await reader.read(65536)
                if not data:
                    errors += 1
                    return
                now = time.perf_counter()
                buf += data
                count = len(CONTENT.findall(buf))
                for _ in range(count - seen):
                    if last is None:
                        ttfc.append((now - start) * 1000)
                    else:
                        gaps.append((now - last) * 1000)
                    last = now
                seen = count
                if b"0\r\n\r\n" in buf[-16:] and b"[DONE]" in buf:
                    break
            if b" 200 " not in buf[:16]:
                errors += 1
        writer.close()

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    print(json.dumps({"ttfc_ms_p50": percentile(ttfc, 50), "ttfc_ms_p99": percentile(ttfc, 99),
                      "gap_ms_p50": percentile(gaps, 50), "gap_ms_p99": percentile(gaps, 99),
                      "streams": len(ttfc), "errors": errors}))


if __name__ == "__main__":
    if sys.argv[1] == "upstream":
        asyncio.run(upstream(int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])))
    else:
        asyncio.run(measure(sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]), int(sys.argv[6])))
