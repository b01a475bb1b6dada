// Relay settings: defaults, parsing, errors that name the variable, --help listing every setting.
import { IDLE_TIMEOUT_MS, LEAVE_GRACE_MS, MAX_FRAME_BYTES, PING_INTERVAL_MS } from '../../protocol';
import { ConfigError, DEFAULT_MEMORY_LIMIT_BYTES, SETTING_NAMES, helpText, memoryBudgets, parseConfig } from '../../relay/config';
import { createLogger, redact } from '../../relay/log';

test('defaults', () => {
  const c = parseConfig({});
  expect(c).toMatchObject({
    port: 8080, natsUrls: ['nats://127.0.0.1:4222'], jwtSecret: undefined, allowPathLobby: true,
    maxFrameBytes: MAX_FRAME_BYTES, leaveGraceMs: LEAVE_GRACE_MS, idleTimeoutMs: IDLE_TIMEOUT_MS, pingIntervalMs: PING_INTERVAL_MS,
  });
  expect(c.serverId).toMatch(/^[a-zA-Z0-9_-]+$/);
});

test('values are parsed', () => {
  const c = parseConfig({ PORT: '9000', NATS_URL: 'nats://a:4222, nats://b:4222', REGION: 'us-east', SERVER_ID: 'relay-0', JWT_SECRET: 's', ALLOW_PATH_LOBBY: 'false', MAX_BUFFERED_BYTES: '65536' });
  expect(c).toMatchObject({ port: 9000, natsUrls: ['nats://a:4222', 'nats://b:4222'], region: 'us-east', serverId: 'relay-0', jwtSecret: 's', allowPathLobby: false, maxBufferedBytes: 65536 });
});

test.each([
  ['PORT', '80x', /PORT="80x" must be a whole number/],
  ['PORT', '70000', /PORT="70000"/],
  ['NATS_URL', 'http://x:1', /NATS_URL="http:\/\/x:1".*nats:\/\//],
  ['REGION', 'us.east', /REGION="us.east" must match/],
  ['SERVER_ID', 'a b', /SERVER_ID="a b"/],
  ['ALLOW_PATH_LOBBY', 'maybe', /ALLOW_PATH_LOBBY="maybe"/],
  ['MAX_FRAME_BYTES', String(MAX_FRAME_BYTES + 1), /MAX_FRAME_BYTES=/],
  ['LOG_LEVEL', 'loud', /LOG_LEVEL="loud"/],
  ['MEMORY_LIMIT_BYTES', '512Mi', /MEMORY_LIMIT_BYTES="512Mi" must be a whole number/],
  ['MEMORY_LIMIT_BYTES', '1000', /MEMORY_LIMIT_BYTES="1000"/],
])('%s=%s is refused with a message naming it', (name, value, message) => {
  expect(() => parseConfig({ [name]: value })).toThrow(ConfigError);
  expect(() => parseConfig({ [name]: value })).toThrow(message);
});

test('MEMORY_LIMIT_BYTES: the downward API\'s byte count, 640 MiB when unset; budgets are half of it, a quarter of that for NATS', () => {
  expect(parseConfig({}).memoryLimitBytes).toBe(DEFAULT_MEMORY_LIMIT_BYTES);
  expect(DEFAULT_MEMORY_LIMIT_BYTES).toBe(640 * 1024 * 1024);
  expect(parseConfig({ MEMORY_LIMIT_BYTES: '1073741824' }).memoryLimitBytes).toBe(1073741824);
  expect(memoryBudgets(512 * 1024 * 1024)).toEqual({ socketBytes: 192 * 1024 * 1024, natsOutboundBytes: 64 * 1024 * 1024 });
});

test('--help lists every setting', () => {
  const text = helpText();
  for (const name of SETTING_NAMES) expect(text).toContain(name);
  expect(SETTING_NAMES).toEqual(expect.arrayContaining(['PORT', 'NATS_URL', 'REGION', 'SERVER_ID', 'JWT_SECRET', 'ALLOW_PATH_LOBBY', 'MEMORY_LIMIT_BYTES']));
});

test('logs are JSON lines without tokens', () => {
  const lines: string[] = [];
  const log = createLogger('info', { region: 'r' }, (l) => lines.push(l));
  const jwt = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhIn0.c2lnbmF0dXJl';
  log.info('upgrade', { path: `/lobby?token=${jwt}`, token: jwt, nested: { url: `ws://x/lobby?a=1&token=${jwt}` } });
  log.debug('hidden');
  expect(lines).toHaveLength(1);
  const rec = JSON.parse(lines[0]);
  expect(rec).toMatchObject({ level: 'info', msg: 'upgrade', region: 'r', token: '[redacted]' });
  expect(lines[0]).not.toContain(jwt);
  expect(lines[0]).not.toContain('c2lnbmF0dXJl');
  expect(redact('text with eyJa.eyJb.cc inside')).toBe('text with [redacted-jwt] inside');
});
