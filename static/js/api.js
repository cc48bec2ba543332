// The admin JSON API client: every call goes through `api()`, which sends JSON, reads the
// `{"error": {"message"}}` shape into an ApiError, and announces a lost session (401) so the
// shell can show the sign-in form. It knows no page and touches no DOM.

/** An admin API failure: HTTP status plus the server's own message. */
export class ApiError extends Error {
  constructor(status, message, body) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.body = body;
  }

  /** The route does not exist on this server (yet). */
  get missing() {
    return this.status === 404 && /no admin route/i.test(this.message);
  }
}

/** Fired on `window` when an admin call answers 401. */
export const UNAUTHORIZED = "og:unauthorized";

/** `path` with `query`'s non-empty entries appended. */
export function withQuery(path, query = {}) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) {
    if (v !== undefined && v !== null && v !== "") q.set(k, String(v));
  }
  const s = q.toString();
  return s ? `${path}${path.includes("?") ? "&" : "?"}${s}` : path;
}

/** The error message inside an error body, whatever its dialect. */
export function errorMessage(body, fallback) {
  if (!body || typeof body !== "object") return fallback;
  const e = body.error;
  if (typeof e === "string") return e;
  if (e && typeof e.message === "string") return e.message;
  if (typeof body.message === "string") return body.message;
  return fallback;
}

/**
 * Calls the admin API. `body` (if any) is sent as JSON. Resolves to the parsed JSON (or null for
 * an empty answer); rejects with ApiError.
 */
export async function api(path, { method = "GET", body, query, signal } = {}) {
  const init = { method, credentials: "same-origin", headers: { accept: "application/json" }, signal };
  if (body !== undefined) {
    init.headers["content-type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(withQuery(path, query), init);
  } catch (e) {
    if (e.name === "AbortError") throw e;
    throw new ApiError(0, "The gateway did not answer (network error). Is it running?", null);
  }
  const text = await res.text();
  let data = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = text;
    }
  }
  if (res.status === 401 && path !== "/api/login") {
    window.dispatchEvent(new CustomEvent(UNAUTHORIZED));
  }
  if (!res.ok) {
    throw new ApiError(res.status, errorMessage(data, `${method} ${path} failed: HTTP ${res.status}`), data);
  }
  return data;
}

export const get = (path, query, signal) => api(path, { query, signal });
export const post = (path, body) => api(path, { method: "POST", body });
export const put = (path, body) => api(path, { method: "PUT", body });
export const patch = (path, body) => api(path, { method: "PATCH", body });
export const del = (path) => api(path, { method: "DELETE" });

/** Encodes one path segment (names may hold `/`, e.g. aliases). */
export const seg = (s) => encodeURIComponent(String(s));

/**
 * Reads a server-sent-events response body, calling `onEvent({event, data})` for each event as it
 * arrives. Resolves when the stream ends.
 */
export async function readSse(res, onEvent) {
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  let buf = "";
  const flush = (block) => {
    let event = "message";
    const data = [];
    for (const line of block.split(/\r?\n/)) {
      if (line.startsWith(":")) continue;
      const i = line.indexOf(":");
      const field = i < 0 ? line : line.slice(0, i);
      const value = i < 0 ? "" : line.slice(i + 1).replace(/^ /, "");
      if (field === "event") event = value;
      else if (field === "data") data.push(value);
    }
    if (data.length) onEvent({ event, data: data.join("\n") });
  };
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buf += decoder.decode(value, { stream: true });
    let m;
    while ((m = /\r?\n\r?\n/.exec(buf))) {
      flush(buf.slice(0, m.index));
      buf = buf.slice(m.index + m[0].length);
    }
  }
  buf += decoder.decode();
  if (buf.trim()) flush(buf);
}
