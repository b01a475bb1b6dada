export * from './packets';
export * from './codec';
export { allocBytes, bytesEqual, utf8 } from './protobuf';
export * from './limits';
