// The Terraform stack: the DigitalOcean provider, state backend, one Region per region and the
// peering mesh between them.
import { DigitaloceanProvider } from '@cdktf/provider-digitalocean/lib/provider';
import { LocalBackend, S3Backend, TerraformStack } from 'cdktf';
import { Construct } from 'constructs';
import { Topology } from '../topology/topology';
import { PeeringMesh } from './peering-mesh';
import { Region } from './region';

/** Terraform state in a DigitalOcean Spaces bucket (S3-compatible). */
export interface SpacesBackendProps {
  readonly bucket: string;
  /** @default 'videocall-global/terraform.tfstate' */
  readonly key?: string;
  /** Spaces region, e.g. nyc3. */
  readonly region: string;
}

export interface VideocallStackProps {
  readonly topology: Topology;
  /** @default - local state in terraform.<stack>.tfstate */
  readonly spacesBackend?: SpacesBackendProps;
}

export const STACK_NAME = 'videocall-global';

/** Construct IDs: digitalocean (provider), one Region per region name, peering. */
export class VideocallStack extends TerraformStack {
  readonly regions: ReadonlyMap<string, Region>;

  constructor(scope: Construct, id: string, props: VideocallStackProps) {
    super(scope, id);
    // The token comes from DIGITALOCEAN_TOKEN at plan time, never from synthesized JSON.
    new DigitaloceanProvider(this, 'digitalocean', {});

    const spaces = props.spacesBackend;
    if (spaces) {
      new S3Backend(this, {
        bucket: spaces.bucket,
        key: spaces.key ?? 'videocall-global/terraform.tfstate',
        region: 'us-east-1', // required by the S3 client; Spaces ignores it
        endpoints: { s3: `https://${spaces.region}.digitaloceanspaces.com` },
        skipCredentialsValidation: true,
        skipRegionValidation: true,
        skipRequestingAccountId: true,
        skipMetadataApiCheck: true,
        skipS3Checksum: true,
      });
    } else {
      new LocalBackend(this, { path: `terraform.${id}.tfstate` });
    }

    const regions = new Map<string, Region>();
    for (const plan of props.topology.regions) regions.set(plan.name, new Region(this, plan.name, { plan }));
    this.regions = regions;
    const mesh = new PeeringMesh(this, 'peering', { topology: props.topology, regions });
    for (const [name, region] of regions) {
      region.createClusterAfter(props.topology.peerings.flatMap(([a, b], i) => (a === name || b === name ? [mesh.peerings[i]] : [])));
    }
  }
}
