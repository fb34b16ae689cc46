import { PermanentError, RetriableError } from '@ancillary/messaging-kafka';
import {
  classifyDatabaseError,
  InvalidLabResultError,
  RepositoryConflictError,
  RepositoryDataError,
  RepositoryInternalError,
  RepositoryUnavailableError,
} from './errors';

const pgError = (code: string, message = 'pg says no') =>
  Object.assign(new Error(message), { code });

describe('classifyDatabaseError', () => {
  it.each([
    ['40001', RepositoryConflictError],
    ['40P01', RepositoryConflictError],
    ['23505', RepositoryConflictError],
    ['55P03', RepositoryConflictError],
    ['08006', RepositoryUnavailableError],
    ['57P01', RepositoryUnavailableError],
    ['53300', RepositoryUnavailableError],
    ['ECONNREFUSED', RepositoryUnavailableError],
    ['22P05', RepositoryDataError],
    ['22003', RepositoryDataError],
    ['54000', RepositoryDataError],
    ['42P01', RepositoryInternalError],
  ])('SQLSTATE/errno %s is a %p', (code, type) => {
    const classified = classifyDatabaseError(pgError(code), 'writing');
    expect(classified).toBeInstanceOf(type);
    expect(classified.message).toContain(`writing: pg says no`);
  });

  it('says which errors to retry', () => {
    expect(classifyDatabaseError(pgError('40P01'), 'x')).toBeInstanceOf(RetriableError);
    expect(classifyDatabaseError(pgError('22P05'), 'x')).toBeInstanceOf(PermanentError);
  });

  it('recognises transport failures that carry no code, and keeps platform errors as they are', () => {
    expect(
      classifyDatabaseError(new Error('Connection terminated unexpectedly'), 'x'),
    ).toBeInstanceOf(RepositoryUnavailableError);
    expect(
      classifyDatabaseError(new Error('timeout exceeded when trying to connect'), 'x'),
    ).toBeInstanceOf(RepositoryUnavailableError);
    expect(classifyDatabaseError(new TypeError('x is undefined'), 'x')).toBeInstanceOf(
      RepositoryInternalError,
    );
    const own = new InvalidLabResultError('no patient');
    expect(classifyDatabaseError(own, 'x')).toBe(own);
  });
});
