// The handshake as the first RTT sample: its time divided by the fewest round trips opening the connection takes.
import { handshakeRoundTrips } from '../../rtt-client/candidate';
import type { ServerEntry } from '../../rtt-client';

describe('handshakeRoundTrips', () => {
  test.each([
    { url: 'ws://relay.example:8080/', transport: 'websocket', expected: 2, why: 'TCP, then the HTTP upgrade' },
    { url: 'wss://relay.example/', transport: 'websocket', expected: 3, why: 'TCP, TLS 1.3, then the upgrade' },
    { url: 'https://relay.example:4433/', transport: 'webtransport', expected: 2, why: 'QUIC, then the extended CONNECT' },
  ] as Array<{ url: string; transport: ServerEntry['transport']; expected: number; why: string }>)('$url: $expected ($why)', ({ url, transport, expected }) => {
    expect(handshakeRoundTrips({ url, transport, region: 'r' })).toBe(expected);
  });
});
