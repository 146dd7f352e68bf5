import { describe, expect, it } from 'vitest';
import { assertCalls, assertNoNPlusOne, checkCalls, type RecordedFlow } from './flow.js';
import './vitest.js';

const empty: RecordedFlow = {
  result: undefined,
  traces: [],
  analyses: [],
  flows: [],
  counts: { entry: 0, database: 0, cache: 0, http: 0, queue: 0, consume: 0, internal: 0 },
  mermaid: '',
};

describe('flow checks on a flow without a request', () => {
  it('fail every matcher, negated or not, saying nothing was recorded and why', () => {
    const said = /no request was recorded .*started after the app's imports/;
    expect(() => expect(empty).toHaveNoNPlusOne()).toThrow(said);
    expect(() => expect(empty).not.toHaveNoNPlusOne()).toThrow(said);
    expect(() => expect(empty).toMakeCalls({ database: 0 })).toThrow(said);
    expect(() => expect(empty).not.toMakeCalls({ database: 1 })).toThrow(said);
    expect(() => expect(empty).toRunConcurrently('a', 'b')).toThrow(said);
    expect(() => expect(empty).toMatchFlowSnapshot()).toThrow(said);
    expect(() => assertNoNPlusOne(empty)).toThrow(said);
    expect(() => assertCalls(empty, { http: 0 })).toThrow(said);
  });

  it('names the valid kinds when one is misspelt', () => {
    expect(() => checkCalls(empty, { databse: 1 } as never)).toThrow(
      'unknown call kind databse: the kinds are database, cache, http, queue',
    );
  });
});
