import { describe, expect, it } from 'vitest';
import { createNotifier, notifyDatagram, phaseStatus, watchdogInterval } from '../../../src/daemon/notify.js';

// The in-process path (the single executable's addon), with the sender injected; the addon itself is exercised
// end to end by test/e2e/packaged.test.ts against a stand-in for systemd's socket.
function sender() {
  const sent: { socket: string; message: string }[] = [];
  return {
    sent,
    send: (socket: string, message: string) => {
      sent.push({ socket, message });
      return 0;
    },
  };
}

describe('notifyDatagram', () => {
  it.each([
    [{ ready: true, status: 'ready' }, 'READY=1\nSTATUS=ready'],
    [{ stopping: true, status: 'stopping' }, 'STOPPING=1\nSTATUS=stopping'],
    [{ watchdog: true }, 'WATCHDOG=1'],
    [{ status: 'two\nlines' }, 'STATUS=two lines'],
  ])('%j → %j', (message, expected) => {
    expect(notifyDatagram(message)).toBe(expected);
  });
});

describe('watchdogInterval', () => {
  it('pings at half of WatchdogSec=, only for the process systemd named', () => {
    expect(watchdogInterval({ WATCHDOG_USEC: '60000000' }, 7)).toBe(30_000);
    expect(watchdogInterval({ WATCHDOG_USEC: '60000000', WATCHDOG_PID: '7' }, 7)).toBe(30_000);
    expect(watchdogInterval({ WATCHDOG_USEC: '60000000', WATCHDOG_PID: '8' }, 7)).toBeNull();
    expect(watchdogInterval({}, 7)).toBeNull();
    expect(watchdogInterval({ WATCHDOG_USEC: 'soon' }, 7)).toBeNull();
  });
});

describe('createNotifier with the in-process sender', () => {
  it('sends READY, STATUS per phase and STOPPING as datagrams to $NOTIFY_SOCKET, no command run', async () => {
    const { sent, send } = sender();
    const exec = () => Promise.reject(new Error('no command may run'));
    const notifier = createNotifier({ env: { NOTIFY_SOCKET: '@notify' }, datagram: send, exec });
    expect(notifier.transport).toBe('datagram');
    await notifier.phase('acquire-token');
    await notifier.ready('ready');
    await notifier.stopping('stopping');
    expect(sent).toEqual([
      { socket: '@notify', message: `STATUS=${phaseStatus('acquire-token')}` },
      { socket: '@notify', message: 'READY=1\nSTATUS=ready' },
      { socket: '@notify', message: 'STOPPING=1\nSTATUS=stopping' },
    ]);
  });

  it('pings the watchdog at once when WatchdogSec= is set, and logs a refused datagram', async () => {
    const warnings: string[] = [];
    const notifier = createNotifier({
      env: { NOTIFY_SOCKET: '/run/systemd/notify', WATCHDOG_USEC: '600000000' },
      datagram: () => 111,
      log: { warn: (_obj, msg) => warnings.push(msg) },
    });
    try {
      expect(notifier.watchdogMs).toBe(300_000);
      await notifier.ready();
      expect(warnings).toEqual(['systemd notification failed', 'systemd notification failed']);
    } finally {
      notifier.close();
    }
  });

  it('does nothing without $NOTIFY_SOCKET', async () => {
    const { sent, send } = sender();
    const notifier = createNotifier({ env: { WATCHDOG_USEC: '1000000' }, datagram: send });
    expect([notifier.transport, notifier.watchdogMs]).toEqual(['none', null]);
    await notifier.ready('ready');
    expect(sent).toEqual([]);
  });
});
