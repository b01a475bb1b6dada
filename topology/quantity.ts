// Kubernetes quantities ("5Gi", "500M", "250m") as numbers; pure.

const SUFFIX: Record<string, number> = {
  '': 1,
  k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15,
  Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50,
};

/** Bytes of a quantity, or undefined when it is not one Kubernetes would accept for storage. */
export function parseStorageQuantity(text: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)([kMGTP]i?|Ki)?$/.exec(text);
  if (!m) return undefined;
  const unit = SUFFIX[m[2] ?? ''];
  if (unit === undefined) return undefined;
  const bytes = Math.floor(Number(m[1]) * unit);
  return bytes > 0 ? bytes : undefined;
}

/** Millicores of a CPU quantity (`250m`, `1`, `0.5`), or undefined. */
export function parseCpuQuantity(text: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)(m?)$/.exec(text);
  if (!m) return undefined;
  const millis = m[2] === 'm' ? Number(m[1]) : Number(m[1]) * 1000;
  return millis > 0 ? Math.round(millis) : undefined;
}
