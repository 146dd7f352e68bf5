import { describe, expect, it } from 'vitest';
import { hashedId, IdReader, parseId } from './ids.js';
import { TraceFileError } from './trace-file-error.js';

describe('parseId', () => {
  it('left-pads short hex ids, odd lengths included, and lowercases them', () => {
    expect(parseId('86154A4BA6E91385', 16)).toBe('000000000000000086154a4ba6e91385');
    expect(parseId('abc', 8)).toBe('0000000000000abc');
    expect(parseId('1', 8)).toBe('0000000000000001');
  });

  it('reads the base64 of protobuf JSON when it decodes to the right width', () => {
    expect(parseId('t61rcWkgMzE=', 8)).toBe('b7ad6b7169203331');
    expect(parseId('CvdlGRbNQ92ESOshHIAxnA==', 16)).toBe('0af7651916cd43dd8448eb211c80319c');
  });

  it('gives up on text, hex that is too long and base64 of the wrong width', () => {
    for (const text of ['', 'span-a', 'trace-1', '0123456789abcdef0', 'CvdlGRbNQ92ESOshHIAxnA==']) {
      expect(parseId(text, 8), text).toBeUndefined();
    }
  });
});

describe('IdReader', () => {
  it('refuses ids that are not hex in strict mode, naming the place', () => {
    const ids = new IdReader({ lenient: false });
    expect(() => ids.spanId('span-a', 'spans[0].spanID')).toThrow(TraceFileError);
    expect(() => ids.spanId('span-a', 'spans[0].spanID')).toThrow(
      'at spans[0].spanID: expected a 16-digit hex id, found string "span-a"',
    );
  });

  it('maps an id that is not hex to a hash of its text: the same text the same id, another text another id', () => {
    const ids = new IdReader({ lenient: true });
    const a = ids.spanId('span-a', 'x');
    expect(a).toMatch(/^[0-9a-f]{16}$/);
    expect(a).toBe(hashedId('span-a', 8));
    expect(ids.spanId('span-a', 'y')).toBe(a);
    expect(new IdReader({ lenient: true }).spanId('span-a', 'x')).toBe(a);
    expect(ids.spanId('span-b', 'x')).not.toBe(a);
    expect(ids.traceId('trace-1', 'x')).toMatch(/^[0-9a-f]{32}$/);
    expect(ids.originals('trace-1', 'span-a')).toEqual({
      'lifeline.import.original_trace_id': 'trace-1',
      'lifeline.import.original_span_id': 'span-a',
    });
    expect(ids.originals('trace-1', '00f067aa0ba902b7')).toEqual({ 'lifeline.import.original_trace_id': 'trace-1' });
    expect(ids.notes()).toEqual([
      '1 trace id was not a valid id (e.g. "trace-1"): replaced by ids hashed from their text; the originals are kept in lifeline.import.original_trace_id',
      '2 span ids were not valid ids (e.g. "span-a"): replaced by ids hashed from their text; the originals are kept in lifeline.import.original_span_id',
    ]);
  });

  it('still refuses a missing or empty id, which no hash could tell apart', () => {
    const ids = new IdReader({ lenient: true });
    expect(() => ids.spanId('', 'id')).toThrow('expected a 16-digit hex id, found string ""');
    expect(() => ids.traceId(undefined, 'traceId')).toThrow('expected a 32-digit hex id, found undefined');
  });

  it('reads a 64-bit trace id as the 128-bit id with the same lower bits, and warns when that is ambiguous', () => {
    const ids = new IdReader({ lenient: true });
    ids.learnTraceIds([
      { traceId: '463ac35c9f6413ad48485a3953bb6124' },
      { nested: { traceID: '00000000000000010000000000000001' } },
      { trace_id: '00000000000000020000000000000001' },
    ]);
    expect(ids.traceId('48485a3953bb6124', 'x')).toBe('463ac35c9f6413ad48485a3953bb6124');
    expect(ids.traceId('000000000000000048485a3953bb6124', 'x')).toBe('463ac35c9f6413ad48485a3953bb6124');
    expect(ids.traceId('0000000000000001', 'x')).toBe('00000000000000010000000000000001');
    expect(ids.traceId('99', 'x')).toBe('00000000000000000000000000000099');
    expect(ids.notes()).toEqual([
      '1 trace id was shorter than 32 hex digits (e.g. "99"): left-padded with zeros',
      'trace id 48485a3953bb6124 (64-bit) read as 463ac35c9f6413ad48485a3953bb6124, the 128-bit id other spans of the trace carry',
      'trace id 0000000000000001 (64-bit) read as 00000000000000010000000000000001, the 128-bit id other spans of the trace carry (several 128-bit ids share these lower 64 bits; used the first)',
    ]);
  });
});
