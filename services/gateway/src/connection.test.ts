import { describe, expect, it } from 'vitest';

import { Connection } from './connection.ts';

describe('Connection', () => {
  it('keeps closed, awaitingPong and authFailures apart in its one state field', () => {
    const conn = new Connection();
    expect([conn.closed, conn.awaitingPong, conn.authFailures]).toEqual([false, false, 0]);
    conn.authFailures++;
    conn.authFailures++;
    conn.awaitingPong = true;
    expect([conn.closed, conn.awaitingPong, conn.authFailures]).toEqual([false, true, 2]);
    conn.closed = true;
    conn.awaitingPong = false;
    expect([conn.closed, conn.awaitingPong, conn.authFailures]).toEqual([true, false, 2]);
    conn.authFailures = 0;
    expect([conn.closed, conn.awaitingPong, conn.authFailures]).toEqual([true, false, 0]);
  });
});
