export * from './packets';
export * from './codec';
export { allocBytes, copyBytes, utf8 } from './protobuf';
export * from './limits';
