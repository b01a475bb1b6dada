export * from './constants';
export * from './spec';
export * from './topology';
export { parseCidr, cidrsOverlap, cidrContains } from './cidr';
export { parseStorageQuantity } from './quantity';
