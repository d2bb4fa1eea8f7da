// Time-bucket chart in plain SVG: stacked bars of allowed (blue) and denied (red) tokens, a green
// line of requests on its own scale. Buckets come from GET /api/v1/analytics/trends.
import { h, s } from './dom.js';

const W = 480, H = 160, PAD_L = 40, PAD_B = 20, PAD_T = 8;

export function trendChart(buckets, { anomaly = false } = {}) {
  const n = Math.max(buckets.length, 1);
  const maxTokens = Math.max(1, ...buckets.map((b) => b.totalTokens + b.deniedTokens));
  const maxReq = Math.max(1, ...buckets.map((b) => b.totalEvents));
  const plotW = W - PAD_L - 8, plotH = H - PAD_B - PAD_T;
  const bw = plotW / n;
  const y = (v, max) => PAD_T + plotH - (v / max) * plotH;
  const bars = [];
  const points = [];
  buckets.forEach((b, i) => {
    const x = PAD_L + i * bw;
    const allowedTop = y(b.totalTokens, maxTokens);
    const deniedTop = y(b.totalTokens + b.deniedTokens, maxTokens);
    const title = `${b.start}\n${b.totalTokens} tokens allowed, ${b.deniedTokens} denied, ${b.totalEvents} requests`;
    if (b.totalTokens > 0) bars.push(s('rect', { x: x + 1, y: allowedTop, width: Math.max(bw - 2, 1), height: PAD_T + plotH - allowedTop, fill: '#2f5bd3' }, s('title', {}, title)));
    if (b.deniedTokens > 0) bars.push(s('rect', { x: x + 1, y: deniedTop, width: Math.max(bw - 2, 1), height: allowedTop - deniedTop, fill: '#d64545' }, s('title', {}, title)));
    points.push(`${x + bw / 2},${y(b.totalEvents, maxReq)}`);
  });
  const svg = s('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': 'tokens and requests over time' },
    s('rect', { x: PAD_L, y: PAD_T, width: plotW, height: plotH, fill: anomaly ? '#fff5f5' : '#fafbfc', stroke: '#d9dde5' }),
    s('text', { x: PAD_L - 4, y: PAD_T + 10, 'text-anchor': 'end', 'font-size': 10, fill: '#667085' }, String(maxTokens)),
    s('text', { x: PAD_L - 4, y: PAD_T + plotH, 'text-anchor': 'end', 'font-size': 10, fill: '#667085' }, '0'),
    buckets.length ? s('text', { x: PAD_L, y: H - 4, 'font-size': 10, fill: '#667085' }, shortTime(buckets[0].start)) : null,
    buckets.length ? s('text', { x: W - 8, y: H - 4, 'text-anchor': 'end', 'font-size': 10, fill: '#667085' }, 'now') : null,
    bars,
    s('polyline', { points: points.join(' '), fill: 'none', stroke: '#2f9e5b', 'stroke-width': 1.5 }));
  return h('div', { class: 'chart' }, svg,
    h('div', { class: 'legend' },
      h('span', {}, h('span', { class: 'swatch allowed' }), 'tokens allowed'),
      h('span', {}, h('span', { class: 'swatch denied' }), 'tokens denied'),
      h('span', {}, h('span', { class: 'swatch requests' }), `requests (max ${maxReq})`)));
}

function shortTime(iso) { return iso ? iso.slice(11, 16) : ''; }
