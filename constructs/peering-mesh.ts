// A VPC peering for every pair of regions: gateways dial each other's node private IPs directly.
import { VpcPeering } from '@cdktf/provider-digitalocean/lib/vpc-peering';
import { Construct } from 'constructs';
import { Topology } from '../topology/topology';
import { Region } from './region';

export interface PeeringMeshProps {
  readonly topology: Topology;
  /** The Region constructs by region name. */
  readonly regions: ReadonlyMap<string, Region>;
}

/** Construct IDs: `<a>--<b>` for each pair, in topology order. */
export class PeeringMesh extends Construct {
  readonly peerings: VpcPeering[];

  constructor(scope: Construct, id: string, props: PeeringMeshProps) {
    super(scope, id);
    this.peerings = props.topology.peerings.map(([a, b]) => {
      const va = props.regions.get(a)?.vpc;
      const vb = props.regions.get(b)?.vpc;
      if (!va || !vb) throw new Error(`PeeringMesh: no Region construct for "${va ? b : a}"`);
      return new VpcPeering(this, `${a}--${b}`, { name: `videocall-${a}--${b}`, vpcIds: [va.id, vb.id] });
    });
  }
}
