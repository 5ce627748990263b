/** sysexits (DESIGN §2): what every command and the daemon exit with. */
export const EXIT = {
  ok: 0,
  usage: 64,
  unavailable: 69,
  internal: 70,
  cantCreate: 73,
  noPerm: 77,
  config: 78,
} as const;
