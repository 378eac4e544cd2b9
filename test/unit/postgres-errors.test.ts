import { describe, expect, it } from 'vitest';
import { postgresFailureReason } from '../../src/backends/postgres/errors.js';

const pgError = (code: string, message = 'x') => Object.assign(new Error(message), { code });

describe('postgresFailureReason', () => {
  it.each([
    [pgError('42501', 'permission denied for table jobwatch_instances'), 'noperm'],
    [pgError('25006', 'cannot execute INSERT in a read-only transaction'), 'readonly'],
    [pgError('53100', 'could not extend file: No space left on device'), 'oom'],
    [pgError('57014', 'canceling statement due to statement timeout'), 'timeout'],
    [pgError('57P01', 'terminating connection due to administrator command'), 'connection'],
    [pgError('08006', 'connection failure'), 'connection'],
    [
      Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' }),
      'connection',
    ],
    [new Error('Connection terminated unexpectedly'), 'connection'],
    [new Error('reading the worker registry timed out after 500 ms'), 'timeout'],
    [pgError('22P02', 'invalid input syntax'), 'other'],
  ])('%s → %s', (err, reason) => {
    expect(postgresFailureReason(err)).toBe(reason);
  });
});
