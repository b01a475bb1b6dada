// JSON-lines logging. Tokens travel in query strings: every string is scrubbed of them, and
// fields whose names suggest secrets are never written.
import type { LogLevelName } from './config';

const RANK: Record<LogLevelName, number> = { debug: 10, info: 20, warn: 30, error: 40 };
const SECRET_FIELD = /token|secret|password|authorization|jwt/i;
// `token=...` in a query string, and anything that looks like a JWT (three base64url parts).
const TOKEN_IN_TEXT = /((?:^|[?&\s])(?:token|access_token|jwt)=)[^&\s"]*/gi;
const JWT_SHAPE = /\beyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*/g;

export function redact(text: string): string {
  return text.replace(TOKEN_IN_TEXT, '$1[redacted]').replace(JWT_SHAPE, '[redacted-jwt]');
}

function scrub(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return redact(value);
  if (typeof value === 'bigint') return value.toString(10);
  if (value instanceof Error) return { name: value.name, message: redact(value.message) };
  if (value === null || typeof value !== 'object' || depth > 4) return value;
  if (Array.isArray(value)) return value.map((v) => scrub(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = SECRET_FIELD.test(k) ? '[redacted]' : scrub(v, depth + 1);
  return out;
}

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

export function createLogger(
  level: LogLevelName,
  base: Record<string, unknown> = {},
  write: (line: string) => void = (line) => process.stdout.write(line + '\n'),
): Logger {
  const emit = (lvl: LogLevelName, msg: string, fields?: Record<string, unknown>) => {
    if (RANK[lvl] < RANK[level]) return;
    const record = scrub({ time: new Date().toISOString(), level: lvl, msg, ...base, ...fields }) as Record<string, unknown>;
    write(JSON.stringify(record));
  };
  return {
    debug: (m, f) => emit('debug', m, f),
    info: (m, f) => emit('info', m, f),
    warn: (m, f) => emit('warn', m, f),
    error: (m, f) => emit('error', m, f),
  };
}
