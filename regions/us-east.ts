import { RegionSpec } from '../topology/spec';

export const usEast: RegionSpec = {
  name: 'us-east',
  slug: 'nyc1',
  vpcCidr: '10.100.0.0/16',
  nodePool: { size: 's-4vcpu-8gb', minNodes: 2, maxNodes: 4 },
  nats: {
    replicas: 3,
    jetstreamStorage: '5Gi',
    gatewayEndpoints: ['10.100.0.2:30722'],
  },
  relay: { hosts: ['us-east.relay.videocall.example'] },
  webtransport: { host: 'us-east.webtransport.videocall.example' },
};
