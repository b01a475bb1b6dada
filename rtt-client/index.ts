// Public API of the election module. Browser-safe: nothing here imports a Node module
// (in Node 20, import rtt-client/node instead, which supplies `ws`).
export {
  ConnectionManager,
  type ConnectionManagerOptions, type ConnectionManagerEvents, type ManagerState, type CandidateRole, type SwitchReason,
  type ElectedEvent, type SwitchedEvent, type LostEvent, type Diagnostics, type CandidateDiagnostics, type OnlineEventSource,
} from './manager';
export {
  type ServerEntry, type TransportKind, type Transport, type TransportHandlers, type TransportClose, type TransportFactory,
  CLOSE_NORMAL, CLOSE_GOING_AWAY, CLOSE_ABNORMAL, redactUrl,
} from './transport';
export { WebSocketTransport, type WebSocketConstructor, type WebSocketLike } from './websocket-transport';
export { WebTransportTransport, type WebTransportConstructor, type WebTransportLike } from './webtransport-transport';
export { DEFAULT_ELECTION_RULES, decide, rank, type ElectionRules, type CandidateEvidence, type Decision } from './election';
export { SampleWindow, median, p90, quantile, rttEstimate } from './stats';
export { systemClock, type Clock } from './clock';
