import { spawnSync } from 'node:child_process';
import { parseClientRtt } from '../../local/deployment';

describe('--client-rtt', () => {
  it('reads REGION=MS pairs', () => {
    expect(parseClientRtt('us-east=30,singapore=240')).toEqual({ 'us-east': 30, singapore: 240 });
    expect(parseClientRtt(undefined)).toBeUndefined();
  });

  it.each(['us-east', 'us-east=', 'us-east=-5', 'us-east=fast'])('rejects "%s" with a message naming it', (raw) => {
    expect(() => parseClientRtt(raw)).toThrow(`--client-rtt: "${raw}" is not REGION=MS`);
  });
});

describe('npm run local options', () => {
  const run = (args: string[]) =>
    spawnSync(process.execPath, ['--import', 'tsx', 'local/main.ts', ...args], { cwd: `${__dirname}/../..`, encoding: 'utf8', timeout: 30_000 });

  it.each([
    [['--deploy', 'diagonal'], '--deploy must be sequential or parallel, got "diagonal"'],
    [['--time-scale', '0'], '--time-scale must be a number ≥ 0.01, got "0"'],
  ])('refuses %j before starting anything', (args, message) => {
    const r = run(args);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(message);
  });
});
