// Kubernetes storage quantities ("5Gi", "500M") as bytes; pure.

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
