// Main-thread work per task from a Chromium trace: what the responsiveness and lab-bounds tests
// assert and the page quantize benchmark prints (CPU time of each task on the renderer's main
// thread, not wall time, which on a shared 2-core machine includes waiting for a core).
import type { CDPSession } from 'playwright-core';

interface TraceEvent {
  name: string;
  ph: string;
  pid: number;
  tid: number;
  /** Wall and thread clocks (µs) at the event; durations of complete (X) events. */
  ts: number;
  tts?: number;
  dur?: number;
  tdur?: number;
  args?: { name?: string };
}

/** Records a Chromium trace around `body`; returns the CPU ms of every task on the page's main thread. */
export async function mainThreadTasks(
  cdp: CDPSession,
  body: () => Promise<void>,
): Promise<{ cpuMs: number; wallMs: number }[]> {
  const events: TraceEvent[] = [];
  const onData = (d: { value: object[] }) => events.push(...(d.value as TraceEvent[]));
  cdp.on('Tracing.dataCollected', onData);
  await cdp.send('Tracing.start', {
    traceConfig: { includedCategories: ['toplevel', 'disabled-by-default-devtools.timeline'] },
    transferMode: 'ReportEvents',
  });
  // Tracing.start may answer before every process traces: give the renderer time to start.
  await new Promise((resolve) => setTimeout(resolve, 1000));
  await body();
  // Let the task that just ended write its end event before tracing stops (a long task seen as a
  // begin without its end once lost the control test its 2 s task).
  await new Promise((resolve) => setTimeout(resolve, 300));
  const complete = new Promise((resolve) => cdp.once('Tracing.tracingComplete', resolve));
  await cdp.send('Tracing.end');
  await complete;
  cdp.off('Tracing.dataCollected', onData);
  const mains = new Set(
    events.filter((e) => e.name === 'thread_name' && e.args?.name === 'CrRendererMain').map((e) => `${e.pid}:${e.tid}`),
  );
  if (mains.size === 0) throw new Error(`The trace has no renderer main thread (${events.length} events)`);
  // A task comes as one complete event (X), or as a begin and an end (B, E) when the trace was
  // cut into chunks while it ran, which happens to long tasks: pair those per thread.
  const tasks: { cpuMs: number; wallMs: number }[] = [];
  const open = new Map<string, TraceEvent[]>();
  for (const e of events) {
    const thread = `${e.pid}:${e.tid}`;
    if (e.name !== 'RunTask' || !mains.has(thread)) continue;
    if (e.ph === 'X' && e.tdur !== undefined) tasks.push({ cpuMs: e.tdur / 1000, wallMs: (e.dur ?? 0) / 1000 });
    else if (e.ph === 'B') open.set(thread, [...(open.get(thread) ?? []), e]);
    else if (e.ph === 'E') {
      const begin = open.get(thread)?.pop();
      if (begin?.tts !== undefined && e.tts !== undefined)
        tasks.push({ cpuMs: (e.tts - begin.tts) / 1000, wallMs: (e.ts - begin.ts) / 1000 });
    }
  }
  // A begin still without its end when the trace stopped: counted up to the thread's last clock
  // reading in the trace (at least that much CPU, possibly more).
  const lastTts = new Map<string, number>();
  for (const e of events) {
    const thread = `${e.pid}:${e.tid}`;
    const t = e.tts === undefined ? undefined : e.tts + (e.tdur ?? 0);
    if (mains.has(thread) && t !== undefined) lastTts.set(thread, Math.max(lastTts.get(thread) ?? 0, t));
  }
  for (const [thread, begins] of open)
    for (const b of begins)
      if (b.tts !== undefined) tasks.push({ cpuMs: ((lastTts.get(thread) ?? b.tts) - b.tts) / 1000, wallMs: NaN });
  const names = new Map<string, number>();
  for (const e of events)
    if (mains.has(`${e.pid}:${e.tid}`)) names.set(`${e.name}/${e.ph}`, (names.get(`${e.name}/${e.ph}`) ?? 0) + 1);
  lastTrace = `${events.length} events, main thread: ${[...names]
    .sort((a, b) => b[1] - a[1])
    .slice(0, 8)
    .map(([k, n]) => `${k} ${n}`)
    .join(', ')}`;
  return tasks;
}

/** What the last trace held, for a failure message. */
export let lastTrace = '';
