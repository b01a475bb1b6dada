export * from './packets';
export * from './codec';
export { utf8 } from './protobuf';
export * from './limits';
