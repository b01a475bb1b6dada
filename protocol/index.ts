export * from './packets';
export * from './codec';
export { allocBytes, bytesEqual, copyBytes, utf8 } from './protobuf';
export * from './limits';
