import { RegionSpec } from '../topology/spec';

export const singapore: RegionSpec = {
  name: 'singapore',
  slug: 'sgp1',
  vpcCidr: '10.110.0.0/16',
  nodePool: { size: 's-4vcpu-8gb', minNodes: 2, maxNodes: 4 },
  nats: {
    replicas: 2,
    jetstreamStorage: '3Gi',
    gatewayEndpoints: ['10.110.0.2:30722'],
  },
  relay: { hosts: ['singapore.relay.videocall.example'] },
  webtransport: { host: 'singapore.webtransport.videocall.example' },
};
