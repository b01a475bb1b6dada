// IPv4 CIDR arithmetic for topology validation; pure.

export interface Cidr {
  readonly text: string;
  readonly base: number; // network address as an unsigned 32-bit integer
  readonly prefix: number;
}

const IPV4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

export function parseIpv4(text: string): number | undefined {
  const m = IPV4.exec(text);
  if (!m) return undefined;
  const octets = m.slice(1).map(Number);
  if (octets.some((o) => o > 255) || m.slice(1).some((o) => o.length > 1 && o.startsWith('0'))) return undefined;
  return octets.reduce((acc, o) => acc * 256 + o, 0);
}

/** Parses `a.b.c.d/n`; undefined when malformed or when host bits are set (`10.0.0.1/16`). */
export function parseCidr(text: string): Cidr | undefined {
  const [ip, prefixText, extra] = text.split('/');
  if (extra !== undefined || prefixText === undefined || !/^\d{1,2}$/.test(prefixText)) return undefined;
  const base = parseIpv4(ip);
  const prefix = Number(prefixText);
  if (base === undefined || prefix > 32) return undefined;
  if (base % size(prefix) !== 0) return undefined;
  return { text, base, prefix };
}

function size(prefix: number): number {
  return 2 ** (32 - prefix);
}

export function cidrContains(cidr: Cidr, ip: number): boolean {
  return ip >= cidr.base && ip < cidr.base + size(cidr.prefix);
}

export function cidrsOverlap(a: Cidr, b: Cidr): boolean {
  return a.base < b.base + size(b.prefix) && b.base < a.base + size(a.prefix);
}
