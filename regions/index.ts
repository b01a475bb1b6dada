import { RegionSpec } from '../topology/spec';
import { singapore } from './singapore';
import { usEast } from './us-east';

/** The built-in regions, in the order they are listed everywhere (gateways, peerings, servers.json). */
export const regions: readonly RegionSpec[] = [usEast, singapore];
