import { Hl7ParseError } from '../src/hl7.errors';

/** Runs `run`, asserts it threw an Hl7ParseError and returns it for further assertions. */
export function expectParseError(run: () => unknown): Hl7ParseError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(Hl7ParseError);
    return error as Hl7ParseError;
  }
  throw new Error('expected an Hl7ParseError');
}
