import { expect } from 'vitest';
import { TokenError } from '../../../src/token/errors.js';

/** The TokenError a promise rejects with; fails the test when it resolves or rejects with anything else. */
export async function rejection(promise: Promise<unknown>): Promise<TokenError> {
  const outcome = await promise.then(
    (value) => ({ resolved: value }),
    (err: unknown) => ({ rejected: err }),
  );
  expect(outcome).toHaveProperty('rejected');
  const err = (outcome as { rejected: unknown }).rejected;
  expect(err).toBeInstanceOf(TokenError);
  return err as TokenError;
}
