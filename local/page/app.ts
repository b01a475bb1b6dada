// The page of `npm run local`: runs the election module in the browser against the local relays,
// draws each candidate's RTT, and sends a test packet a second so two tabs see each other.
import { ConnectionManager, Diagnostics, ServerEntry } from '../../rtt-client';
import { MediaType, PacketType, decodeMediaPacket, decodePacketWrapper, encodeMediaPacket, encodePacketWrapper, utf8 } from '../../protocol';

interface RelayState {
  id: string;
  region: string;
  url: string;
  running: boolean;
  clientRttMs: number;
}

interface PageState {
  elected: Array<{ url: string; region: string; rttMs: number }>;
  switched: Array<{ from: string; to: string; reason: string; code?: number; at: number }>;
  active: { url: string; region: string } | null;
  received: string[];
  lost: number;
}

const COLORS = ['#2463eb', '#d97706', '#059669', '#db2777', '#7c3aed', '#0891b2'];
const HISTORY_S = 60;
const $ = (id: string) => document.getElementById(id)!;

const params = new URLSearchParams(location.search);
const room = params.get('room') ?? 'demo';
const user = params.get('user') ?? `tab-${Math.random().toString(36).slice(2, 7)}`;
// `?only=singapore` keeps one region's relays: a quick way to be "a user in Singapore" in a second tab.
const only = params.get('only');
const state: PageState = { elected: [], switched: [], active: null, received: [], lost: 0 };
(window as unknown as { videocall: PageState }).videocall = state;
const history = new Map<string, Array<number | null>>();
let relays: RelayState[] = [];
let lastDiagnostics: Diagnostics | null = null;

function log(line: string): void {
  const el = $('log');
  el.textContent += `${new Date().toLocaleTimeString()} ${line}\n`;
  el.scrollTop = el.scrollHeight;
}

async function main(): Promise<void> {
  $('me').textContent = user;
  $('room').textContent = room;
  const { servers: all } = (await (await fetch('/servers.json')).json()) as { servers: ServerEntry[] };
  const servers = only ? all.filter((s) => only.split(',').includes(s.region)) : all;
  if (only) log(`only ${only}: ${servers.length} of ${all.length} relays`);
  const manager = new ConnectionManager({ servers, userId: user, path: `/lobby/${user}/${room}` });
  manager.on('elected', (e) => {
    state.elected.push({ url: e.server.url, region: e.server.region, rttMs: e.rttMs });
    state.active = { url: e.server.url, region: e.server.region };
    $('winner').textContent = `${e.server.region} ${e.server.url} (${e.rttMs.toFixed(1)} ms)`;
    log(`elected ${e.server.region} ${e.server.url} at ${e.rttMs.toFixed(1)} ms${e.provisional ? ' (provisional: measuring the others until the election timeout)' : ''}`);
  });
  manager.on('switched', (e) => {
    state.switched.push({ from: e.from.url, to: e.to.url, reason: e.reason, code: e.code, at: Date.now() });
    state.active = { url: e.to.url, region: e.to.region };
    $('winner').textContent = `${e.to.region} ${e.to.url} (${e.rttMs.toFixed(1)} ms)`;
    $('failovers').textContent = String(state.switched.length);
    log(`failover ${e.from.region} → ${e.to.region} (${e.reason}${e.code ? ` ${e.code}` : ''})`);
  });
  manager.on('lost', (e) => {
    state.lost++;
    state.active = null;
    $('winner').textContent = '–';
    log(`no relay reachable; retry #${e.attempt} in ${Math.round(e.retryInMs)} ms`);
  });
  manager.on('diagnostics', (d) => {
    lastDiagnostics = d;
    $('state').textContent = d.state;
    $('standby').textContent = d.standby ?? '–';
    for (const c of d.candidates) {
      const series = history.get(c.url) ?? [];
      series.push(c.lastRttMs);
      if (series.length > HISTORY_S) series.shift();
      history.set(c.url, series);
    }
    drawChart(d);
    renderRelays();
  });
  manager.on('message', (bytes) => {
    try {
      const packet = decodePacketWrapper(bytes);
      if (packet.packetType !== PacketType.MEDIA) return;
      const media = decodeMediaPacket(packet.data);
      if (media.mediaType !== MediaType.HEARTBEAT || media.data.length === 0) return;
      const line = `${new Date().toLocaleTimeString()} ${utf8.decode(packet.userId)}: ${utf8.decode(media.data)}`;
      state.received.push(line);
      const el = $('received');
      el.textContent += `${line}\n`;
      el.scrollTop = el.scrollHeight;
    } catch {
      // not a packet of ours
    }
  });
  manager.start();

  let n = 0;
  setInterval(() => {
    if (!state.active) return;
    n++;
    const text = `test packet #${n} via ${state.active.region}`;
    manager.send(
      encodePacketWrapper({
        packetType: PacketType.MEDIA,
        userId: user,
        data: encodeMediaPacket({ mediaType: MediaType.HEARTBEAT, userId: user, data: utf8.encode(text), timestamp: Date.now() }),
      }),
    );
  }, 1000);

  const refresh = async () => {
    relays = (await (await fetch('/api/relays')).json()) as RelayState[];
    renderRelays();
  };
  await refresh();
  setInterval(() => void refresh().catch(() => undefined), 1000);
  await setUpFaults();
}

interface ClusterState {
  regions: Array<{ name: string; pods: Array<{ name: string; ready: boolean; running: boolean; paused: boolean; restarts: number }> }>;
  links: Array<{ from: string; to: string; up: boolean }>;
  partitions: Array<{ a: string; b: string; mode: string }>;
}

async function fault(command: string): Promise<void> {
  const res = await fetch(`/api/fault?do=${encodeURIComponent(command)}`, { method: 'POST' });
  const body = (await res.json()) as { done?: string; error?: string };
  log(body.done ?? `fault refused: ${body.error}`);
}

/** Fault buttons are built once (re-created buttons would swallow clicks); the state below them is redrawn. */
async function setUpFaults(): Promise<void> {
  const first = (await (await fetch('/api/cluster')).json()) as ClusterState;
  const controls = $('faults');
  const button = (label: string, command: string) => {
    const b = document.createElement('button');
    b.textContent = label;
    b.onclick = () => void fault(command);
    controls.appendChild(b);
  };
  for (const r of first.regions) {
    button(`stop ${r.name}`, `stop-region ${r.name}`);
    button(`start ${r.name}`, `start-region ${r.name}`);
  }
  const names = first.regions.map((r) => r.name);
  names.forEach((a, i) => names.slice(i + 1).forEach((b) => {
    button(`black-hole ${a}↔${b}`, `partition ${a} ${b} blackhole`);
    button(`reset ${a}↔${b}`, `partition ${a} ${b} reset`);
    button(`heal ${a}↔${b}`, `heal ${a} ${b}`);
  }));
  ($('fault-form') as HTMLFormElement).onsubmit = (e) => {
    e.preventDefault();
    void fault(($('fault-input') as HTMLInputElement).value);
  };
  const draw = async () => {
    const state = (await (await fetch('/api/cluster')).json()) as ClusterState;
    const pods = state.regions.map((r) => `${r.name}: ${r.pods.map((p) => `${p.name} ${!p.running ? 'down' : p.ready ? 'Ready' : 'not Ready'}${p.paused ? ' (SIGSTOP)' : ''}${p.restarts ? ` ↻${p.restarts}` : ''}`).join(', ')}`);
    const links = state.links.map((l) => `${l.from} → ${l.to}: ${l.up ? 'up' : 'DOWN'}`);
    const parts = state.partitions.map((p) => `${p.a} ↔ ${p.b} partitioned (${p.mode})`);
    $('cluster').textContent = [...pods, ...links, ...parts].join('\n');
  };
  $('cluster').style.whiteSpace = 'pre';
  setInterval(() => void draw().catch(() => undefined), 1000);
}

// Rows are kept and updated in place: re-creating them every second would swallow clicks.
const rows = new Map<string, { tr: HTMLTableRowElement; cells: HTMLTableCellElement[]; button: HTMLButtonElement }>();

function renderRelays(): void {
  const body = ($('relays') as HTMLTableElement).tBodies[0];
  for (const r of relays) {
    let row = rows.get(r.id);
    if (!row) {
      const tr = document.createElement('tr');
      tr.dataset.relay = r.id;
      const cells = Array.from({ length: 5 }, () => tr.appendChild(document.createElement('td')));
      const button = document.createElement('button');
      button.dataset.relay = r.id;
      button.onclick = async () => {
        const current = relays.find((x) => x.id === r.id)!;
        button.disabled = true;
        log(`${current.running ? 'stopping' : 'restarting'} ${r.id}`);
        relays = (await (await fetch(`/api/relays/${encodeURIComponent(r.id)}/${current.running ? 'stop' : 'start'}`, { method: 'POST' })).json()) as RelayState[];
        button.disabled = false;
        renderRelays();
      };
      tr.appendChild(document.createElement('td')).appendChild(button);
      body.appendChild(tr);
      row = { tr, cells, button };
      rows.set(r.id, row);
    }
    const c = lastDiagnostics?.candidates.find((x) => x.url.replace(/\/$/, '') === r.url);
    const role = c && c.state !== 'closed' ? c.role : '';
    const measured = c?.medianMs != null && c.state !== 'closed' ? `${c.medianMs.toFixed(1)} ms` : '–';
    const texts = [r.id, r.region, `${r.clientRttMs} ms`, measured, r.running ? role : 'stopped'];
    texts.forEach((text, i) => {
      if (row!.cells[i].textContent !== text) row!.cells[i].textContent = text;
    });
    row.cells[4].className = r.running ? `role-${role}` : 'down';
    if (!row.button.disabled) row.button.textContent = r.running ? 'stop' : 'restart';
  }
}

function drawChart(d: Diagnostics): void {
  const svg = $('chart');
  const all = [...history.values()].flat().filter((x): x is number => x !== null);
  const max = Math.max(50, ...all) * 1.1;
  const w = 600;
  const h = 260;
  const x = (i: number) => (i / (HISTORY_S - 1)) * w;
  const y = (v: number) => h - (v / max) * h;
  const parts: string[] = [];
  for (let g = 0; g <= 4; g++) {
    const v = (max / 4) * g;
    parts.push(`<line x1="0" x2="${w}" y1="${y(v)}" y2="${y(v)}" stroke="#eef0f4"/><text x="2" y="${y(v) - 2}" font-size="10" fill="#889">${Math.round(v)}</text>`);
  }
  const legend: string[] = [];
  d.candidates.forEach((c, i) => {
    const color = COLORS[i % COLORS.length];
    const series = history.get(c.url) ?? [];
    const offset = HISTORY_S - series.length;
    let path = '';
    series.forEach((v, j) => {
      if (v === null) return;
      path += `${path && series[j - 1] !== null ? 'L' : 'M'}${x(offset + j).toFixed(1)},${y(v).toFixed(1)} `;
    });
    const width = c.role === 'active' && c.state !== 'closed' ? 3 : 1.5;
    if (path) parts.push(`<path d="${path}" fill="none" stroke="${color}" stroke-width="${width}"/>`);
    legend.push(`<span><i class="swatch" style="background:${color}"></i>${c.region} ${c.url}${c.role !== 'candidate' && c.state !== 'closed' ? ` (${c.role})` : ''}</span>`);
  });
  svg.innerHTML = parts.join('');
  $('legend').innerHTML = legend.join('');
}

main().catch((e) => log(`error: ${(e as Error).message}`));
