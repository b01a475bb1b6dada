// One load-generator process (bench/generators.ts starts several): holds whole rooms of
// participants and runs bench/load.ts's runLoad over them when told to, over the IPC channel.
import { closeAll, connectAll, natsParticipant, runLoad, wsParticipant, type Participant, type RunOptions } from './load';

export interface RoomAssignment {
  room: string;
  /** participant indices, unique across every room of the run */
  indices: number[];
  /** per participant, the server it joins (a room split over relays); its group is that URL's place in the list */
  urls?: string[];
}

export type WorkerRequest =
  | { op: 'open'; id: number; tag: string; system: 'ws' | 'nats'; url: string; rooms: RoomAssignment[] }
  | { op: 'run'; id: number; tag: string; opts: Omit<RunOptions, 'participants' | 'rooms' | 'cpuPids'> }
  | { op: 'close'; id: number; tag: string };

export type WorkerReply = { id: number; ok: true; result?: unknown } | { id: number; ok: false; error: string };

/** rooms by tag: several systems' rooms stay open side by side and take turns */
const rooms = new Map<string, Participant[][]>();

async function handle(req: WorkerRequest): Promise<unknown> {
  switch (req.op) {
    case 'open': {
      const mine = rooms.get(req.tag) ?? [];
      rooms.set(req.tag, mine);
      for (const r of req.rooms) {
        const byPos = r.indices;
        const groups = [...new Set(r.urls ?? [req.url])];
        const urlOf = (k: number) => r.urls?.[k] ?? req.url;
        mine.push(await connectAll(byPos.length, (k) => (req.system === 'ws'
          ? wsParticipant(urlOf(k), r.room, byPos[k], groups.indexOf(urlOf(k)))
          : natsParticipant(urlOf(k), r.room, byPos[k]))));
      }
      return undefined;
    }
    case 'run':
      return runLoad({ ...req.opts, rooms: rooms.get(req.tag) ?? [] });
    case 'close': {
      const all = (rooms.get(req.tag) ?? []).flat();
      rooms.delete(req.tag);
      await closeAll(all);
      return undefined;
    }
  }
}

process.on('message', (req: WorkerRequest) => {
  handle(req).then(
    (result) => process.send!({ id: req.id, ok: true, result } satisfies WorkerReply),
    (err: unknown) => process.send!({ id: req.id, ok: false, error: err instanceof Error ? err.stack ?? err.message : String(err) } satisfies WorkerReply),
  );
});
// the parent going away ends the worker (nothing may outlive the benchmark)
process.on('disconnect', () => process.exit(0));
