// The public API (docs/api.md), called with the signed-in user's JWT. Nothing else is used.
const state = { session: JSON.parse(sessionStorage.getItem('lt.session') || 'null') };

export function session() { return state.session; }
export function isAdmin() { return !!state.session && state.session.roles.includes('ADMIN'); }

export function setSession(s) {
  state.session = s;
  if (s) sessionStorage.setItem('lt.session', JSON.stringify(s));
  else sessionStorage.removeItem('lt.session');
}

export class ApiError extends Error {
  constructor(status, message) { super(message); this.status = status; }
}

/** fetch + JSON; throws ApiError with the server's `message`. */
export async function api(method, path, body, extraHeaders = {}) {
  const headers = { ...extraHeaders };
  if (state.session) headers.Authorization = `Bearer ${state.session.token}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = text; }
  if (!res.ok) {
    if (res.status === 401 && state.session && !path.startsWith('/api/v1/auth/login')) {
      setSession(null);
      window.dispatchEvent(new Event('lt-signed-out'));
    }
    throw new ApiError(res.status, (data && data.message) || `${res.status} ${res.statusText}`);
  }
  return data;
}

export const q = (params) => new URLSearchParams(Object.entries(params).filter(([, v]) => v !== '' && v != null)).toString();
