// The runner's timers, by key: one pending wait and one readiness deadline per child; setting a key replaces
// its timer, so a stale one can never fire into a later state.
import type { Scheduler } from './effects.js';
import type { TimerKey } from './machine-types.js';

export function timerScheduler(): Scheduler {
  const timers = new Map<TimerKey, NodeJS.Timeout>();
  const clear = (key: TimerKey) => {
    clearTimeout(timers.get(key));
    timers.delete(key);
  };
  return {
    set(key, afterMs, fire) {
      clear(key);
      const timer = setTimeout(
        () => {
          timers.delete(key);
          fire();
        },
        Math.max(0, afterMs),
      );
      timers.set(key, timer);
    },
    clear,
    clearAll() {
      for (const key of [...timers.keys()]) clear(key);
    },
  };
}
