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
