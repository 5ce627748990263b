// Events raised while one is being handled (an effect that completes at once) wait their turn: the machine sees
// one event at a time, in the order they were raised, never one inside another's transition.

/** Calls `step` for each event pushed, one after another. */
export function eventQueue<E>(step: (event: E) => void): (event: E) => void {
  const queue: E[] = [];
  let draining = false;
  return (event) => {
    queue.push(event);
    if (draining) return;
    draining = true;
    try {
      for (let next = queue.shift(); next !== undefined; next = queue.shift()) step(next);
    } finally {
      draining = false;
    }
  };
}
