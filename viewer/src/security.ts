/**
 * Response headers and access control. The headers are set by hand rather than
 * through helmet: the viewer needs a handful of fixed values, and spelling them
 * out keeps the policy readable next to the reasons for each exception.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { RequestHandler } from 'express';

/**
 * The Content-Security-Policy of every answer. Scripts only from the viewer
 * itself (no inline script, no eval). Styles allow 'unsafe-inline' because
 * Mermaid writes a `<style>` element into each SVG it renders; images allow
 * data: and blob: URLs for the PNG export, which paints the SVG onto a canvas.
 */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data: blob:",
  "font-src 'self' data:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

/** Fewest characters an access token may have: 16 random hex digits are 64 bits. */
export const MIN_TOKEN_LENGTH = 16;

/** A fresh access token: 32 hex digits (128 bits) from the system's CSPRNG. */
export function generateToken(): string {
  return randomBytes(16).toString('hex');
}

/**
 * Why a token is too weak to protect traces, or undefined when it is fine:
 * empty, only white space, or shorter than {@link MIN_TOKEN_LENGTH}
 * characters (a one-character token is guessed in a few dozen requests).
 */
export function weakTokenReason(token: string): string | undefined {
  if (token.trim() === '') return 'the token is empty or only white space';
  if (token.length < MIN_TOKEN_LENGTH) {
    return `the token has ${token.length} character${token.length === 1 ? '' : 's'}; use at least ${MIN_TOKEN_LENGTH}`;
  }
  return undefined;
}

/** Sets the security headers on every response. */
export function securityHeaders(): RequestHandler {
  return (_request, response, next) => {
    response.setHeader('Content-Security-Policy', CONTENT_SECURITY_POLICY);
    response.setHeader('X-Content-Type-Options', 'nosniff');
    response.setHeader('X-Frame-Options', 'DENY');
    response.setHeader('Referrer-Policy', 'no-referrer');
    response.setHeader('Cross-Origin-Opener-Policy', 'same-origin');
    response.setHeader('Cross-Origin-Resource-Policy', 'same-origin');
    response.setHeader('Permissions-Policy', 'camera=(), microphone=(), geolocation=()');
    next();
  };
}

const COOKIE = 'lifeline_token';

/**
 * Requires the access token on every request: `Authorization: Bearer <token>`,
 * `?token=<token>`, or the cookie set after a successful `?token=` visit. The
 * cookie exists because the browser fetches scripts, lazily loaded Mermaid
 * chunks and the event stream without a way to add headers to all of them.
 */
export function requireToken(token: string): RequestHandler {
  const expected = digest(token);
  return (request, response, next) => {
    const header = request.headers.authorization;
    const bearer = header?.startsWith('Bearer ') ? header.slice('Bearer '.length).trim() : undefined;
    const query = typeof request.query.token === 'string' ? request.query.token : undefined;
    const cookie = readCookie(request.headers.cookie, COOKIE);
    const offered = [bearer, query, cookie].filter((value): value is string => value !== undefined);
    if (offered.some((value) => timingSafeEqual(digest(value), expected))) {
      if (query !== undefined && cookie !== query) {
        response.setHeader('Set-Cookie', `${COOKIE}=${encodeURIComponent(query)}; Path=/; HttpOnly; SameSite=Strict`);
      }
      next();
      return;
    }
    response.setHeader('WWW-Authenticate', 'Bearer realm="lifeline"');
    response
      .status(401)
      .json({ error: 'this Lifeline server requires a token (Authorization: Bearer <token> or ?token=)' });
  };
}

/**
 * Without a token the server is reachable from loopback only, but a web page
 * could still reach it through DNS rebinding (a hostile name resolving to
 * 127.0.0.1). Accepting only loopback Host headers closes that door.
 */
export function requireLoopbackHost(): RequestHandler {
  return (request, response, next) => {
    const host = (request.headers.host ?? '').toLowerCase();
    const name = host.startsWith('[') ? host.slice(0, host.indexOf(']') + 1) : host.split(':')[0];
    // A Host header writes an IPv6 address in brackets; a bare `::1` is not a Host name.
    if (name !== undefined && (name.startsWith('[') ? name === '[::1]' : isLoopbackHost(name))) {
      next();
      return;
    }
    response.status(403).json({ error: `Host "${host}" is not allowed: this server only answers on loopback names` });
  };
}

/**
 * True when `host` names only this machine: `localhost`, any address of
 * 127.0.0.0/8 (RFC 1122, section 3.2.1.3), or `::1`, bare or in brackets
 * (RFC 4291, section 2.5.3). The CLI and the server both decide with this, so
 * an address one accepts the other accepts too.
 */
export function isLoopbackHost(host: string): boolean {
  const bare = host.replace(/^\[|\]$/g, '').toLowerCase();
  return bare === 'localhost' || bare === '::1' || /^127(\.\d{1,3}){3}$/.test(bare);
}

function digest(value: string): Buffer {
  // Hashing first gives equal-length buffers, which timingSafeEqual requires.
  return createHash('sha256').update(value).digest();
}

function readCookie(header: string | undefined, name: string): string | undefined {
  if (header === undefined) return undefined;
  for (const part of header.split(';')) {
    const [key, ...rest] = part.trim().split('=');
    if (key === name) {
      try {
        return decodeURIComponent(rest.join('='));
      } catch {
        return undefined;
      }
    }
  }
  return undefined;
}
