// One pod of the emulation, run as kubelet runs it: the container's startup probe first, then
// readiness and liveness; a failed startup or liveness probe, or an exit, restarts the container
// (restartPolicy Always, with kubelet's crash back-off). Times are the manifest's, times `timeScale`.
import { ContainerSpec, HttpProbe, containerPort } from './manifests';
import { ManagedProcess } from './processes';

export interface PodOptions {
  readonly name: string;
  readonly container: ContainerSpec;
  /** The loopback port standing for a container port of this pod. */
  readonly hostPort: (containerPort: number) => number;
  /** Starts the container's process (the same data directory every time: the PVC). */
  readonly launch: () => ManagedProcess;
  /** 1 runs the manifest's seconds as seconds; 0.1 runs them ten times faster. */
  readonly timeScale: number;
  readonly terminationGracePeriodSeconds: number;
  /** Called whenever started, ready, running or restarts change. */
  readonly onChange?: (pod: EmulatedPod) => void;
}

export interface PodStatus {
  readonly name: string;
  /** The container process is up (it may still be failing its probes). */
  readonly running: boolean;
  /** The startup probe has passed (or there is none). */
  readonly started: boolean;
  readonly ready: boolean;
  /** SIGSTOPped by a fault. */
  readonly paused: boolean;
  readonly restarts: number;
  /** Why kubelet last restarted the container. */
  readonly lastRestartReason: string | null;
  readonly pid: number | null;
}

/** kubelet's container restart back-off: 10 s doubling to 5 min (pkg/kubelet/kubelet.go). */
const BACKOFF_INITIAL_S = 10;
const BACKOFF_MAX_S = 300;

/** kubelet counts 200 ≤ status < 400 as success (pkg/probe/http). */
async function httpProbe(port: number, probe: HttpProbe, timeoutMs: number): Promise<boolean> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}${probe.path}`, { signal: AbortSignal.timeout(timeoutMs), redirect: 'manual' });
    await res.arrayBuffer();
    return res.status >= 200 && res.status < 400;
  } catch {
    return false;
  }
}

class Cancelled extends Error {}

export class EmulatedPod {
  readonly name: string;
  private process?: ManagedProcess;
  private started = false;
  private ready = false;
  private paused = false;
  private restarts = 0;
  /** Aborted when this run of the container ends (restart or delete). */
  private run = new AbortController();
  private deleted = false;
  private readonly deletion = new AbortController();
  private lastRestartReason: string | null = null;
  private loop?: Promise<void>;

  constructor(private readonly options: PodOptions) {
    this.name = options.name;
  }

  get status(): PodStatus {
    return {
      name: this.name,
      running: this.process?.running ?? false,
      started: this.started,
      ready: this.ready,
      paused: this.paused,
      restarts: this.restarts,
      lastRestartReason: this.lastRestartReason,
      pid: this.process?.running ? this.process.pid ?? null : null,
    };
  }

  get managedProcess(): ManagedProcess | undefined {
    return this.process;
  }

  /** Creates the pod: runs its container until delete(). */
  start(): void {
    if (this.loop) throw new Error(`pod ${this.name} already started`);
    this.loop = this.supervise();
  }

  /** Deletes the pod: SIGTERM, SIGKILL after the (scaled) grace period; or SIGKILL at once, as a node lost. */
  async delete(how: 'graceful' | 'kill' = 'graceful'): Promise<void> {
    this.deleted = true;
    this.deletion.abort();
    this.run.abort();
    await this.stopContainer(how);
    await this.loop;
  }

  /** SIGSTOP / SIGCONT the container: it hangs with its sockets open, and its probes time out. */
  pause(): void {
    if (this.process?.running) {
      this.process.kill('SIGSTOP');
      this.paused = true;
      this.changed();
    }
  }

  resume(): void {
    if (this.paused && this.process?.running) this.process.kill('SIGCONT');
    this.paused = false;
    this.changed();
  }

  private changed(): void {
    this.options.onChange?.(this);
  }

  private scaled(seconds: number): number {
    return seconds * 1000 * this.options.timeScale;
  }

  private sleep(ms: number, signal: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      if (signal.aborted) return reject(new Cancelled());
      const timer = setTimeout(() => {
        signal.removeEventListener('abort', onAbort);
        resolve();
      }, ms);
      const onAbort = () => {
        clearTimeout(timer);
        reject(new Cancelled());
      };
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  private async stopContainer(how: 'graceful' | 'kill'): Promise<void> {
    const p = this.process;
    if (!p?.running) return;
    if (how === 'kill') {
      p.kill('SIGKILL');
      await p.exited;
    } else {
      // A SIGSTOPped container keeps its SIGTERM pending, as under kubelet: the grace period runs
      // out and SIGKILL ends it.
      await p.stop(Math.max(1000, this.scaled(this.options.terminationGracePeriodSeconds)));
    }
    this.paused = false;
    this.started = false;
    this.ready = false;
    this.changed();
  }

  /** Runs the container, restarts it when it exits or fails a probe, until the pod is deleted. */
  private async supervise(): Promise<void> {
    let backoffS = 0;
    while (!this.deleted) {
      this.run = new AbortController();
      const signal = this.run.signal;
      this.started = false;
      this.ready = false;
      const startedAt = Date.now();
      this.process = this.options.launch();
      this.changed();
      const exited = this.process.exited.then(() => {
        this.ready = false;
        this.run.abort();
      });
      let why: string;
      try {
        why = await this.probeUntilRestart(signal, startedAt);
      } catch (e) {
        if (!(e instanceof Cancelled)) throw e;
        why = 'exited';
      }
      if (this.deleted) break;
      await this.stopContainer('graceful');
      await exited;
      this.restarts++;
      this.changed();
      // A container that ran 10 min (kubelet's reset time) starts over from the initial back-off.
      if (Date.now() - startedAt > this.scaled(600)) backoffS = 0;
      backoffS = backoffS === 0 ? BACKOFF_INITIAL_S : Math.min(BACKOFF_MAX_S, backoffS * 2);
      this.lastRestartReason = why;
      try {
        await this.sleep(this.scaled(backoffS), this.deletion.signal);
      } catch {
        // deleted during the back-off
      }
    }
  }

  /** Resolves with the reason kubelet would restart the container; throws Cancelled when it exits or is deleted. */
  private async probeUntilRestart(signal: AbortSignal, startedAt: number): Promise<string> {
    const { container } = this.options;
    const portOf = (p: HttpProbe) => this.options.hostPort(containerPort(container, p.port));
    const attempt = (p: HttpProbe) => httpProbe(portOf(p), p, Math.max(500, this.scaled(p.timeoutSeconds)));
    const untilDue = (p: HttpProbe) => Math.max(0, startedAt + this.scaled(p.initialDelaySeconds) - Date.now());

    const startup = container.startupProbe;
    if (startup) {
      await this.sleep(untilDue(startup), signal);
      for (let failures = 0; ; ) {
        if (await attempt(startup)) break;
        if (signal.aborted) throw new Cancelled();
        if (++failures >= startup.failureThreshold) return `startup probe ${startup.path} failed ${failures} times`;
        await this.sleep(this.scaled(startup.periodSeconds), signal);
      }
    }
    if (signal.aborted) throw new Cancelled();
    this.started = true;
    if (!container.readinessProbe) this.ready = true;
    this.changed();

    const readiness = container.readinessProbe
      ? this.readinessLoop(container.readinessProbe, signal, untilDue(container.readinessProbe), attempt)
      : new Promise<never>(() => undefined);
    const liveness = container.livenessProbe
      ? this.livenessLoop(container.livenessProbe, signal, untilDue(container.livenessProbe), attempt)
      : new Promise<never>(() => undefined);
    const cancelled = new Promise<never>((_, reject) => {
      if (signal.aborted) reject(new Cancelled());
      signal.addEventListener('abort', () => reject(new Cancelled()), { once: true });
    });
    return Promise.race([readiness, liveness, cancelled]);
  }

  private async readinessLoop(p: HttpProbe, signal: AbortSignal, delayMs: number, attempt: (p: HttpProbe) => Promise<boolean>): Promise<never> {
    await this.sleep(delayMs, signal);
    let successes = 0;
    let failures = 0;
    for (;;) {
      const ok = await attempt(p);
      if (signal.aborted) throw new Cancelled();
      if (ok) {
        failures = 0;
        if (++successes >= p.successThreshold && !this.ready) {
          this.ready = true;
          this.changed();
        }
      } else {
        successes = 0;
        if (++failures >= p.failureThreshold && this.ready) {
          this.ready = false;
          this.changed();
        }
      }
      await this.sleep(this.scaled(p.periodSeconds), signal);
    }
  }

  private async livenessLoop(p: HttpProbe, signal: AbortSignal, delayMs: number, attempt: (p: HttpProbe) => Promise<boolean>): Promise<string> {
    await this.sleep(delayMs, signal);
    for (let failures = 0; ; ) {
      const ok = await attempt(p);
      if (signal.aborted) throw new Cancelled();
      failures = ok ? 0 : failures + 1;
      if (failures >= p.failureThreshold) return `liveness probe ${p.path} failed ${failures} times`;
      await this.sleep(this.scaled(p.periodSeconds), signal);
    }
  }
}
